"""The API toolkit: routing table, validation, error bodies, request IDs, auth middleware."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, build_app, ctx, json_body
from litestack.common.auth import AuthMiddleware, TokenCache, revocation_matches

pytestmark = pytest.mark.unit
REQ_ID = re.compile(r"^req-[0-9a-f-]{36}$")
SCHEMA = {"type": "object", "required": ["thing"], "properties": {"thing": {
    "type": "object", "required": ["name"], "properties": {"name": {"type": "string", "maxLength": 5}}}}}
GOOD = {"user": {"id": "u1", "name": "alice", "domain": {"id": "default"}},
        "project": {"id": "p1", "name": "demo", "domain": {"id": "default"}},
        "roles": [{"id": "r1", "name": "member"}], "audit_ids": ["aud1"],
        "expires_at": "2999-01-01T00:00:00.000000Z"}


class FakeValidator:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def validate(self, token: str, allow_expired: bool = False) -> dict[str, Any]:
        self.calls.append(token)
        if token == "good":
            return GOOD
        raise errors.Unauthorized("bad token")


class Client:
    """A synchronous client over httpx's ASGI transport (no server, no sockets)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: dict[str, Any] = {}

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://t") as c:
                return await c.request(method, url, **kw)
        return asyncio.run(go())

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    def delete(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", url, **kw)


def make(style: str = "identity", cache: TokenCache | None = None) -> tuple[Client, FakeValidator]:
    seen: dict[str, Any] = {}

    async def create(request: Request) -> Response:
        body = await json_body(request, SCHEMA)
        return JSON({"thing": body["thing"], "user": ctx(request).user_id}, status_code=201)

    async def whoami(request: Request) -> Response:
        c = ctx(request)
        seen["headers"] = dict(request.headers)
        return JSON({"user": c.user_id, "project": c.project_id, "roles": c.roles,
                     "global": c.global_request_id})

    async def boom(request: Request) -> Response:
        raise RuntimeError("secret internals")

    async def conflict(request: Request) -> Response:
        raise errors.Conflict("already there")

    ops = [Op("POST", "/things", create, body=SCHEMA, status=201), Op("GET", "/me", whoami),
           Op("GET", "/boom", boom, public=True), Op("GET", "/conflict", conflict, public=True)]
    v = FakeValidator()
    app = build_app(style, ops, middleware=[lambda a: AuthMiddleware(a, v, cache or TokenCache(60, 100),
                                                                     "http://id/identity")])
    client = Client(app)
    client.seen = seen
    return client, v


def test_every_response_carries_a_request_id() -> None:
    c, _ = make()
    for r in (c.get("/me", headers={"X-Auth-Token": "good"}), c.get("/nowhere"), c.get("/boom")):
        assert REQ_ID.match(r.headers["x-openstack-request-id"])


def test_missing_token_is_401_with_www_authenticate() -> None:
    c, _ = make()
    r = c.get("/me")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Keystone uri="http://id/identity"'
    assert r.json()["error"]["code"] == 401


def test_bad_token_is_401() -> None:
    c, _ = make()
    assert c.get("/me", headers={"X-Auth-Token": "bad"}).status_code == 401


def test_context_from_token_and_spoofed_headers_are_stripped() -> None:
    c, _ = make()
    r = c.get("/me", headers={"X-Auth-Token": "good", "X-Roles": "admin", "X-User-Id": "root",
                              "X-Openstack-Request-Id": "req-11111111-2222-3333-4444-555555555555"})
    assert r.json() == {"user": "u1", "project": "p1", "roles": ["member"],
                        "global": "req-11111111-2222-3333-4444-555555555555"}
    assert "x-roles" not in c.seen["headers"] and "x-user-id" not in c.seen["headers"]


def test_validation_cache_and_revocation_eviction() -> None:
    cache = TokenCache(60, 100)
    c, v = make(cache=cache)
    for _ in range(3):
        c.get("/me", headers={"X-Auth-Token": "good"})
    assert v.calls == ["good"]
    assert cache.evict({"user_id": "u1"}) == 1
    c.get("/me", headers={"X-Auth-Token": "good"})
    assert v.calls == ["good", "good"]


@pytest.mark.parametrize("event, hit", [
    ({"user_id": "u1"}, True), ({"user_id": "u2"}, False), ({"project_id": "p1"}, True),
    ({"user_id": "u1", "project_id": "p2"}, False), ({"role_id": "r1"}, True), ({"audit_id": "aud1"}, True),
    ({"domain_id": "default"}, True), ({}, False),
])
def test_revocation_matching(event: dict[str, str], hit: bool) -> None:
    assert revocation_matches(event, GOOD) is hit


def test_schema_violation_and_malformed_json_are_400() -> None:
    c, _ = make()
    h = {"X-Auth-Token": "good"}
    r = c.post("/things", headers=h, json={"thing": {"name": "far too long"}})
    assert r.status_code == 400 and "thing/name" in r.json()["error"]["message"]
    r = c.post("/things", headers=h, content=b"{not json", )
    assert r.status_code == 400 and r.json()["error"]["title"] == "Bad Request"
    assert c.post("/things", headers=h, json={"thing": {"name": "ok"}}).status_code == 201


def test_one_trailing_slash_routes_like_the_path_itself() -> None:
    c, _ = make()
    r = c.get("/me/", headers={"X-Auth-Token": "good"})
    assert r.status_code == 200 and r.json()["user"] == "u1"
    assert c.get("/me//", headers={"X-Auth-Token": "good"}).status_code == 404


TRUST_BODY = {**GOOD, "user": {"id": "u1", "name": "alice", "domain": {"id": "default"}},
              "OS-TRUST:trust": {"id": "t1", "impersonation": True, "trustor_user": {"id": "u1"},
                                 "trustee_user": {"id": "u9"}}}


@pytest.mark.parametrize("event, hit", [
    ({"trust_id": "t1"}, True), ({"trust_id": "t2"}, False), ({"user_id": "u9"}, True), ({"user_id": "u1"}, True),
    ({"user_id": "u5"}, False),
])
def test_revocation_matching_of_trust_tokens(event: dict[str, str], hit: bool) -> None:
    assert revocation_matches(event, TRUST_BODY) is hit


def test_wrong_method_is_405_with_allow() -> None:
    c, _ = make()
    r = c.delete("/things")
    assert r.status_code == 405 and r.headers["allow"] == "POST"


def test_unexpected_error_is_a_500_in_the_service_format_without_internals() -> None:
    c, _ = make("compute")
    r = c.get("/boom")
    assert r.status_code == 500
    body = r.json()["computeFault"]
    assert body["code"] == 500 and "secret internals" not in body["message"]
    assert r.headers["x-openstack-request-id"] in body["message"]


@pytest.mark.parametrize("style, check", [
    ("identity", lambda b: b["error"]["code"] == 409),
    ("compute", lambda b: b["conflictingRequest"]["message"] == "already there"),
    ("network", lambda b: b["NeutronError"]["type"] == "Conflict"),
    ("placement", lambda b: b["errors"][0]["status"] == 409),
    ("image", lambda b: b["code"] == "409 Conflict"),
])
def test_error_bodies_per_service(style: str, check: Any) -> None:
    c, _ = make(style)
    r = c.get("/conflict")
    assert r.status_code == 409 and check(r.json())


def test_openapi_document_lists_operations() -> None:
    c, _ = make()
    doc = c.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert doc["paths"]["/things"]["post"]["requestBody"]["content"]["application/json"]["schema"] == SCHEMA
