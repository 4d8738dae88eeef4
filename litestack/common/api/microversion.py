"""Microversion negotiation (``OpenStack-API-Version`` and the legacy Nova header)."""

from __future__ import annotations

import re
from dataclasses import dataclass

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
