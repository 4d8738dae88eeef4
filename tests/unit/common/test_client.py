"""The internal REST client: who it calls as, where to, what it retries, what it passes on.

Driven through httpx's ``MockTransport``: the identity "server" here is a function that records
every request, so each header and each retry can be checked exactly.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from litestack.common import client as clientmod
from litestack.common.client import ServiceClient, ServiceUserSession
from litestack.common.context import RequestContext, reset_current, set_current
from litestack.common.limits import ProjectOverLimit, UnifiedLimits, check

pytestmark = pytest.mark.unit

CATALOG = [
    {"type": "identity", "id": "s-id", "endpoints": [
        {"interface": "internal", "region_id": "RegionOne", "url": "http://id.example/identity"}]},
    {"type": "image", "id": "s-img", "endpoints": [
        {"interface": "public", "region_id": "RegionOne", "url": "http://pub.example/image"},
        {"interface": "internal", "region_id": "RegionTwo", "url": "http://two.example/image"},
        {"interface": "internal", "region_id": "RegionOne", "url": "http://int.example/image/"}]},
]


class Identity:
    """Answers logins with a token and the catalog; records every request."""

    def __init__(self) -> None:
        self.seen: list[httpx.Request] = []
        self.logins = 0
        self.refuse_next: set[str] = set()  # paths answered 401 once
        self.connect_failures = 0
        self.answers: dict[str, Any] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.connect_failures:
            self.connect_failures -= 1
            raise httpx.ConnectError("refused", request=request)
        self.seen.append(request)
        if request.url.path.endswith("/v3/auth/tokens") and request.method == "POST":
            self.logins += 1
            token = {"expires_at": "2999-01-01T00:00:00.000000Z", "catalog": CATALOG}
            return httpx.Response(201, json={"token": token}, headers={"X-Subject-Token": f"svc-{self.logins}"})
        if request.url.path in self.refuse_next:
            self.refuse_next.discard(request.url.path)
            return httpx.Response(401, json={"error": {"code": 401}})
        return httpx.Response(200, json=self.answers.get(request.url.path, {}))


def make(identity: Identity, **kw: Any) -> ServiceClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(identity))
    session = ServiceUserSession("http://id.example/identity", "glance", lambda: "pw", http)
    return ServiceClient(session, region="RegionOne", endpoints={"identity": "http://id.example/identity"}, **kw)


def test_endpoint_is_the_internal_one_of_the_region() -> None:
    idn = Identity()
    c = make(idn)
    assert asyncio.run(c.endpoint("image")) == "http://int.example/image"
    assert asyncio.run(c.endpoint("identity")) == "http://id.example/identity"
    with pytest.raises(Exception, match="No internal endpoint of type network"):
        asyncio.run(c.endpoint("network"))


def test_for_itself_the_service_token_only_and_the_login_is_reused() -> None:
    idn = Identity()
    c = make(idn)

    async def go() -> None:
        await c.request("GET", "image", "/v2/images")
        await c.request("GET", "image", "/v2/images")

    asyncio.run(go())
    login, first, second = idn.seen
    import json

    body = json.loads(login.content)["auth"]
    assert login.method == "POST" and body["identity"]["password"]["user"] == {
        "name": "glance", "password": "pw", "domain": {"id": "default"}}
    assert body["scope"] == {"project": {"name": "service", "domain": {"id": "default"}}}
    assert first.url == "http://int.example/image/v2/images"
    assert first.headers["x-auth-token"] == "svc-1" and "x-service-token" not in first.headers
    assert second.headers["x-auth-token"] == "svc-1" and idn.logins == 1


def test_for_a_user_the_user_token_plus_the_service_token_and_the_request_id() -> None:
    idn = Identity()
    c = make(idn)
    token = set_current(RequestContext(request_id="req-here", global_request_id="req-origin"))
    try:
        asyncio.run(c.request("POST", "image", "/v2/images", user_token="user-tok", json={}))
    finally:
        reset_current(token)
    sent = idn.seen[-1]
    assert sent.headers["x-auth-token"] == "user-tok" and sent.headers["x-service-token"] == "svc-1"
    assert sent.headers["x-openstack-request-id"] == "req-origin"
    # A request that started here passes its own ID on.
    token = set_current(RequestContext(request_id="req-here"))
    try:
        asyncio.run(c.request("GET", "image", "/v2/images"))
    finally:
        reset_current(token)
    assert idn.seen[-1].headers["x-openstack-request-id"] == "req-here"


def test_a_refused_service_token_logs_in_again_once() -> None:
    idn = Identity()
    c = make(idn)
    idn.refuse_next = {"/image/v2/images"}
    r = asyncio.run(c.request("GET", "image", "/v2/images"))
    assert r.status_code == 200 and idn.logins == 2
    assert idn.seen[-1].headers["x-auth-token"] == "svc-2"


def test_only_connection_failures_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clientmod, "RETRY_PAUSES", (0, 0, 0))
    idn = Identity()
    c = make(idn)
    asyncio.run(c.session.token())
    idn.connect_failures = 2  # two refused connections, then it answers
    assert asyncio.run(c.request("GET", "image", "/v2/images")).status_code == 200
    idn.connect_failures = 10  # more than the retries: the error reaches the caller
    with pytest.raises(httpx.ConnectError):
        asyncio.run(c.request("GET", "image", "/v2/images"))

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    calls: list[int] = []

    def counting(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return timeout(request)

    c.session.http = httpx.AsyncClient(transport=httpx.MockTransport(counting))
    with pytest.raises(httpx.ReadTimeout):  # the request may have reached the server: never repeated
        asyncio.run(c.request("GET", "image", "/v2/images"))
    assert len(calls) == 1


def test_unified_limits_project_limit_overrides_the_default() -> None:
    idn = Identity()
    idn.answers = {
        "/identity/v3/registered_limits": {"registered_limits": [
            {"resource_name": "image_count_total", "default_limit": 100},
            {"resource_name": "image_size_total", "default_limit": 1000}]},
        "/identity/v3/limits": {"limits": [
            {"resource_name": "image_count_total", "resource_limit": 3, "project_id": "p1"}]},
    }
    lim = UnifiedLimits(make(idn), "image", "RegionOne")
    got = asyncio.run(lim.for_project("p1", ["image_count_total", "image_size_total", "unknown"]))
    assert got == {"image_count_total": 3, "image_size_total": 1000}
    q = next(r for r in idn.seen if r.url.path == "/identity/v3/limits").url.params
    assert (q["service_id"], q["project_id"], q["region_id"]) == ("s-img", "p1", "RegionOne")


def test_check_names_every_resource_over_its_limit() -> None:
    check("p", {"a": 2, "b": 5}, {"a": 1, "b": 5}, {"a": 1})  # exactly at the limit is allowed
    check("p", {}, {"a": 10**9}, {"a": 1})  # no limit: unlimited
    with pytest.raises(ProjectOverLimit) as e:
        check("p", {"a": 2, "b": 5}, {"a": 2, "b": 5}, {"a": 1, "b": 0, "c": 4})
    assert str(e.value) == ("Project p is over a limit for [Resource a is over limit of 2 due to current usage 2 "
                            "and delta 1]")
    with pytest.raises(ProjectOverLimit, match="Resource b is over limit of 4 due to current usage 5 and delta 0"):
        check("p", {"b": 4}, {"b": 5}, {"b": 0})
