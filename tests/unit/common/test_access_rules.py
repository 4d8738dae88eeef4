"""Access rules in the shared auth middleware: path templates as keystonemiddleware matches them,
service tokens, and services that do not say which service type they are."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, build_app, ctx
from litestack.common.auth import AuthMiddleware, TokenCache, access_rules_supported, path_matches

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("template", "path", "matches"), [
    ("/v3/auth/projects", "/v3/auth/projects", True),
    ("/v3/auth/projects", "/v3/auth/projects/x", False),
    ("/v3/auth/projects", "/v3/auth/domains", False),
    ("/v2.1/servers/*", "/v2.1/servers/abc", True),
    ("/v2.1/servers/*", "/v2.1/servers/abc/ips", False),  # * is one segment
    ("/v2.1/servers/*", "/v2.1/servers/", False),  # and not an empty one
    ("/v2.1/servers/{server_id}/ips", "/v2.1/servers/abc/ips", True),
    ("/v2.1/servers/{server_id}/ips", "/v2.1/servers/a/b/ips", False),
    ("/v2.1/servers/**", "/v2.1/servers/abc/ips", True),  # ** is any number of segments
    ("/v2.1/servers/**", "/v2.1/servers/", True),
    ("/v2.1/servers/**", "/v2.1/serversX", False),
    ("/v2.1/**/ips", "/v2.1/servers/abc/ips", True),
    ("/v2.1/servers/*/ips", "/v2.1/servers/abc/ips", True),
    ("/v2.1/servers.json", "/v2.1/serversXjson", False),  # literal characters, not regex
    ("/v1/AUTH_*", "/v1/AUTH_abc", True),
])
def test_path_templates(template: str, path: str, matches: bool) -> None:
    assert path_matches(path, template) is matches


@pytest.mark.parametrize(("header", "supported"), [
    (None, False), ("", False), ("0.9", False), ("1", True), ("1.0", True), ("2", True), ("yes", False)])
def test_access_rules_header_versions(header: str | None, supported: bool) -> None:
    assert access_rules_supported(header) is supported


RULES = [{"service": "compute", "method": "GET", "path": "/v2.1/servers/*"},
         {"service": "compute", "method": "GET", "path": "/v2.1/flavors/"}]
TOKENS: dict[str, dict[str, Any]] = {
    "restricted": {"user": {"id": "u1"}, "roles": [{"id": "r", "name": "member"}],
                   "application_credential": {"id": "ac", "access_rules": RULES}},
    "restricted-admin": {"user": {"id": "u1"}, "roles": [{"id": "a", "name": "admin"}],
                         "application_credential": {"id": "ac2", "access_rules": RULES}},
    "service": {"user": {"id": "nova"}, "roles": [{"id": "s", "name": "service"}]},
}


class Validator:
    async def validate(self, token: str, allow_expired: bool = False) -> dict[str, Any]:
        if token not in TOKENS:
            raise errors.Unauthorized("bad token")
        return TOKENS[token]


async def _who(request: Request) -> Response:
    return JSON({"user": ctx(request).user_id})


def _codes(service_type: str | None, requests: list[tuple[str, str, dict[str, str]]]) -> list[int]:
    ops = [Op("GET", "/v2.1/servers/{id}", _who), Op("DELETE", "/v2.1/servers/{id}", _who),
           Op("GET", "/v2.1/flavors", _who)]
    app = build_app("compute", ops, middleware=[
        lambda a: AuthMiddleware(a, Validator(), TokenCache(60, 10), None, service_type)])

    async def run() -> list[int]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as c:
            return [(await c.request(m, p, headers=h)).status_code for m, p, h in requests]

    return asyncio.run(run())


def test_rules_allow_only_their_requests() -> None:
    token = {"X-Auth-Token": "restricted"}
    assert _codes("compute", [("GET", "/v2.1/servers/x", token), ("DELETE", "/v2.1/servers/x", token),
                              ("GET", "/v2.1/servers/x/", token), ("GET", "/v2.1/flavors", token),
                              ("GET", "/v2.1/flavors/", token)]) == [200, 401, 200, 200, 200]
    # A service that does not say which service it is cannot check rules: it refuses such tokens.
    assert _codes(None, [("GET", "/v2.1/servers/x", token)]) == [401]
    # The same rules name compute, not this service.
    assert _codes("image", [("GET", "/v2.1/servers/x", token)]) == [401]


def test_service_token_lifts_the_rules_but_a_restricted_token_is_no_service_token() -> None:
    chained = {"X-Auth-Token": "restricted", "X-Service-Token": "service"}
    assert _codes("compute", [("DELETE", "/v2.1/servers/x", chained)]) == [200]
    # An admin's restricted token passed as its own service token lifts nothing.
    self_served = {"X-Auth-Token": "restricted-admin", "X-Service-Token": "restricted-admin"}
    assert _codes("compute", [("DELETE", "/v2.1/servers/x", self_served)]) == [401]
