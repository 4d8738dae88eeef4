"""Microversion negotiation (``OpenStack-API-Version`` and the legacy Nova header)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.routing import get_route_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from litestack.common import errors

_VERSION = re.compile(r"^([1-9]\d*)\.(0|[1-9]\d*)$")


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> Version:
        m = _VERSION.match(text.strip())
        if not m:
            raise errors.BadRequest(f"Version string '{text}' is not valid; expected X.Y.")
        return cls(int(m.group(1)), int(m.group(2)))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


@dataclass(frozen=True)
class Range:
    """The microversions a service implements, and the names its header may carry."""

    service_type: str
    minimum: Version
    maximum: Version
    legacy_header: str | None = None  # e.g. "x-openstack-nova-api-version"

    def negotiate(self, headers: dict[str, str]) -> Version:
        """The version a request asks for. No header means the minimum; ``latest`` the maximum.

        Raises ``NotAcceptable`` (406) for a version out of range and ``BadRequest`` for junk.
        """
        requested: str | None = None
        raw = headers.get("openstack-api-version")
        if raw:
            for item in raw.split(","):
                parts = item.strip().split(None, 1)
                if len(parts) == 2 and parts[0].lower() == self.service_type:
                    requested = parts[1].strip()
                    break
        if requested is None and self.legacy_header:
            requested = headers.get(self.legacy_header)
        if requested is None:
            return self.minimum
        if requested.lower() == "latest":
            return self.maximum
        version = Version.parse(requested)
        if not (self.minimum <= version <= self.maximum):
            raise errors.NotAcceptable(
                f"Version {version} is not supported by the API. Minimum is {self.minimum} "
                f"and maximum is {self.maximum}.")
        return version

    def response_headers(self, version: Version) -> dict[str, str]:
        """Headers that echo the negotiated version and tell caches it varies the response."""
        h = {"OpenStack-API-Version": f"{self.service_type} {version}",
             "Vary": "OpenStack-API-Version"}
        if self.legacy_header:
            h["X-OpenStack-Nova-API-Version"] = str(version)
            h["Vary"] = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
        return h


#: Headers a service adds to a response besides the version echo: ``extra(scope, version, start)``,
#: with the ``http.response.start`` message (its status and the headers it has already).
ExtraHeaders = Callable[[Scope, Version, Message], list[tuple[bytes, bytes]]]


def negotiation(versions: Range, prefix: str = "", extra: ExtraHeaders | None = None) -> Callable[[ASGIApp], ASGIApp]:
    """The middleware every microversioned API uses: each request whose path (below the service's
    mount point) starts with ``prefix`` gets its version negotiated (406 out of range, 400 for junk),
    kept for the handlers (``requested``), and echoed on the response with ``Vary``; an error raised
    below carries the echo too. ``extra`` adds a service's own response headers."""
    return lambda app: _Negotiation(app, versions, prefix, extra)


def requested(request: Request, versions: Range) -> Version:
    """The version negotiated for ``request`` (the minimum outside the negotiated paths)."""
    found: Version = request.scope.get("state", {}).get("microversion", versions.minimum)
    return found


class _Negotiation:
    def __init__(self, app: ASGIApp, versions: Range, prefix: str, extra: ExtraHeaders | None) -> None:
        self.app, self.versions, self.prefix, self.extra = app, versions, prefix, extra

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not get_route_path(scope).startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        version = self.versions.negotiate(headers)
        scope.setdefault("state", {})["microversion"] = version
        echo = self.versions.response_headers(version)
        raw = [(k.lower().encode(), v.encode()) for k, v in echo.items()]
        extra = self.extra

        async def send_with(message: Message) -> None:
            if message["type"] == "http.response.start":
                more = extra(scope, version, message) if extra is not None else []
                message = {**message, "headers": [*message.get("headers", []), *raw, *more]}
            await send(message)

        try:
            await self.app(scope, receive, send_with)
        except errors.LitestackError as exc:  # answered by the error boundary above: echo there too
            exc.headers = {**(exc.headers or {}), **echo}
            raise
