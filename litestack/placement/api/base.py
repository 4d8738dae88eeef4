"""What placement's handlers share: microversions (negotiated once per request by
``version_middleware``), links, query-string parsing and the request schemas' fragments."""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from litestack.common import errors as common_errors
from litestack.common.api.microversion import Range, Version, negotiation, requested
from litestack.common.api.middleware import error_for_http
from litestack.common.api.resource import ServiceAPI
from litestack.common.policy import Enforcer
from litestack.placement import errors
from litestack.placement.manager import Manager
from litestack.placement.manager.providers import AggregateFilter, TraitFilter

#: The microversions this service implements: each change up to the maximum works.
VERSIONS = Range("placement", Version(1, 0), Version(1, 39))


def v(text: str) -> Version:
    return Version.parse(text)


def _cache_headers(scope: Scope, version: Version, start: Message) -> list[tuple[bytes, bytes]]:
    """From 1.15, successful GETs say ``cache-control: no-cache`` and carry ``last-modified`` (now,
    unless the handler gave the resource's own)."""
    if version < Version(1, 15) or scope["method"] not in ("GET", "HEAD") or start["status"] >= 300:
        return []
    extra = [(b"cache-control", b"no-cache")]
    if b"last-modified" not in {k for k, _ in start.get("headers", [])}:
        extra.append((b"last-modified", formatdate(usegmt=True).encode()))
    return extra


class PlacementErrors:
    """Placement's error ``code``, shown from 1.23 (``placement.undefined_code`` when the error has
    none of its own), on every error raised below, the router's own 404 and 405 included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except (common_errors.LitestackError, HTTPException) as caught:
            exc = caught if isinstance(caught, common_errors.LitestackError) else error_for_http(
                caught.status_code, caught.detail if caught.status_code != 404 else None)
            exc.headers = {**(exc.headers or {}), **dict(getattr(caught, "headers", None) or {})}
            if scope.get("state", {}).get("microversion", VERSIONS.minimum) >= Version(1, 23):
                exc.data.setdefault("code", errors.DEFAULT)
            else:
                exc.data.pop("code", None)
            raise exc from None


def version_middleware() -> list[Callable[[ASGIApp], ASGIApp]]:
    """``OpenStack-API-Version: placement X.Y`` negotiated and echoed on every response, errors
    included (``common/api/microversion.negotiation``), then placement's error codes."""
    return [negotiation(VERSIONS, "", _cache_headers), PlacementErrors]


def version(request: Request) -> Version:
    return requested(request, VERSIONS)


def at_least(request: Request, text: str) -> bool:
    return version(request) >= v(text)


def need(request: Request, text: str) -> None:
    """404 below microversion ``text``, as placement answers a route it does not have yet."""
    if not at_least(request, text):
        raise errors.NotFound("The resource could not be found.")


class PlacementAPI(ServiceAPI):
    def __init__(self, enforcer: Enforcer, mgr: Manager) -> None:
        super().__init__(enforcer)
        self.mgr = mgr

    @staticmethod
    def path(request: Request, path: str) -> str:
        """A link as placement writes them: the path under the service's mount point."""
        return request.scope.get("root_path", "") + path

    def location(self, request: Request, path: str) -> dict[str, str]:
        """A ``Location`` header: absolute, as WSGI servers made placement's relative ones."""
        return {"Location": self.origin(request) + self.path(request, path)}


# --- query strings -------------------------------------------------------------------------

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
RC_NAME = re.compile(r"^[A-Z0-9_]+$")


def check_uuid(value: str, what: str = "uuid") -> str:
    if not _UUID.match(value):
        raise errors.bad_query(f"Invalid {what} value: {value}")
    return str(uuidlib.UUID(value))


def query(request: Request, allowed: Callable[[str], bool]) -> dict[str, list[str]]:
    """The query parameters, each with all its values; an unknown one is a 400."""
    out: dict[str, list[str]] = {}
    for k, val in request.query_params.multi_items():
        if not allowed(k):
            raise errors.BadRequest(f"Invalid query string parameters: Additional properties are not allowed "
                                    f"('{k}' was unexpected)")
        out.setdefault(k, []).append(val)
    return out


def single(q: dict[str, list[str]], key: str) -> str | None:
    values = q.get(key)
    if not values:
        return None
    if len(values) > 1:
        raise errors.bad_query(f"Query parameter {key!r} may be given once.", errors.QUERY_DUPLICATE_KEY)
    return values[0]


def parse_resources(text: str, key: str = "resources") -> dict[str, int]:
    out: dict[str, int] = {}
    bad = errors.bad_query(f"Badly formed {key} parameter. Expected {key} query string parameter in form: "
                           f"?{key}=VCPU:2,MEMORY_MB:1024. Got: {text}.")
    for item in text.split(","):
        rc, sep, amount = item.strip().partition(":")
        if not sep or not RC_NAME.match(rc) or not amount.isdigit():
            raise bad
        if rc in out:
            raise errors.bad_query(f"Badly formed {key} parameter. The resource class {rc} is given twice.")
        n = int(amount)
        if n < 1 or n > 2147483647:
            raise errors.bad_query(f"Requested resource {rc} expected positive integer amount. Got: {amount}.")
        out[rc] = n
    return out


def parse_traits(values: list[str], request: Request, key: str = "required") -> TraitFilter:
    f = TraitFilter()
    for text in values:
        any_of = text.startswith("in:")
        if any_of and not at_least(request, "1.39"):
            raise errors.bad_query(f"Invalid query string parameters: '{key}' does not take 'in:' at this "
                                   "microversion.")
        names = [n.strip() for n in (text[3:] if any_of else text).split(",")]
        if not all(names):
            raise errors.bad_query(f"Invalid query string parameters: Expected '{key}' parameter value of the "
                                   f"form: HW_CPU_X86_VMX,CUSTOM_MAGIC. Got: {text}")
        if any_of:
            f.required.append(set(names))
            continue
        for n in names:
            if n.startswith("!"):
                if not at_least(request, "1.22"):
                    raise errors.bad_query(f"Invalid query string parameters: Expected '{key}' parameter value of "
                                           f"the form: HW_CPU_X86_VMX,CUSTOM_MAGIC. Got: {text}")
                f.forbidden.add(n[1:])
            else:
                f.required.append({n})
    both = {n for s in f.required if len(s) == 1 for n in s} & f.forbidden
    if both:
        raise errors.bad_query(f"Conflicting required and forbidden traits found in the following traits keys: "
                               f"{key}: ({', '.join(sorted(both))})")
    return f


def parse_member_of(values: list[str], request: Request) -> AggregateFilter:
    if len(values) > 1 and not at_least(request, "1.24"):
        raise errors.bad_query("Multiple member_of parameters are not supported at this microversion.")
    f = AggregateFilter()
    for text in values:
        negated = text.startswith("!")
        if negated:
            if not at_least(request, "1.32"):
                raise errors.bad_query(f"Invalid query string parameters: Expected 'member_of' parameter to "
                                       f"contain valid UUID(s). Got: {text}")
            text = text[1:]
        any_of = text.startswith("in:")
        uuids = {check_uuid(u.strip(), "member_of") for u in (text[3:] if any_of else text).split(",")}
        if negated:
            f.forbidden |= uuids
        elif len(uuids) > 1 and not any_of:
            raise errors.bad_query(f"Invalid query string parameters: Expected 'member_of' parameter to contain "
                                   f"valid UUID(s). Got: {text}")
        else:
            f.any_of.append(uuids)
    return f


# --- request schema fragments --------------------------------------------------------------

UUID_STR: dict[str, Any] = {"type": "string", "format": "uuid"}
GENERATION: dict[str, Any] = {"type": "integer", "minimum": 0}
RC_KEY = r"^[A-Z0-9_]+$"
AMOUNTS: dict[str, Any] = {"type": "object", "minProperties": 1,
                           "patternProperties": {RC_KEY: {"type": "integer", "minimum": 1, "maximum": 2147483647}},
                           "additionalProperties": False}
