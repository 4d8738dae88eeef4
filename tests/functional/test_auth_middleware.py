"""The auth middleware every non-identity service uses, validating over REST against a live identity."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from litestack.common.api.app import JSON, Op, build_app, ctx
from litestack.common.auth import AuthMiddleware, HTTPTokenValidator, TokenCache
from tests.conftest import RunningCloud

pytestmark = pytest.mark.functional


def _token(cloud: RunningCloud, user: str, password: str, project: str) -> str:
    r = httpx.post(f"{cloud.auth_url}/v3/auth/tokens?nocatalog", json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}})
    assert r.status_code == 201, r.text
    return r.headers["x-subject-token"]


def test_rest_validation_service_tokens_and_revocation(shared_cloud: RunningCloud) -> None:
    admin = shared_cloud.sdk("litestack-admin")
    service_project = admin.identity.find_project("service", domain_id="default")
    svc = admin.identity.create_user(name="probe-svc", password="probe-pw", domain_id="default")
    admin.identity.assign_project_role_to_user(service_project, svc, admin.identity.find_role("service"))
    demo = shared_cloud.clouds()["litestack"]["auth"]
    assert isinstance(demo, dict)
    user_token = _token(shared_cloud, "demo", str(demo["password"]), "demo")

    async def whoami(request: Request) -> Response:
        c = ctx(request)
        return JSON({"user": c.user_name, "project": c.project_name, "roles": sorted(c.roles),
                     "service_roles": sorted(c.service_roles)})

    validator = HTTPTokenValidator(shared_cloud.auth_url, "probe-svc", "probe-pw")
    cache = TokenCache(300, 100)
    app = build_app("compute", [Op("GET", "/whoami", whoami)],
                    middleware=[lambda a: AuthMiddleware(a, validator, cache, shared_cloud.auth_url)])

    async def scenario() -> list[tuple[int, Any]]:
        out: list[tuple[int, Any]] = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as c:
            for headers in ({"X-Auth-Token": user_token},
                            {"X-Auth-Token": "gAAAAAbogus"},
                            {},
                            {"X-Auth-Token": user_token, "X-Service-Token": _token(
                                shared_cloud, "probe-svc", "probe-pw", "service")},
                            {"X-Auth-Token": user_token, "X-Service-Token": user_token}):
                r = await c.get("/whoami", headers=headers)
                out.append((r.status_code, r.json()))
        await validator.aclose()
        return out

    ok, bogus, missing, with_service, fake_service = asyncio.run(scenario())
    assert ok == (200, {"user": "demo", "project": "demo", "roles": ["member", "reader"], "service_roles": []})
    assert bogus[0] == 401 and missing[0] == 401
    assert "computeFault" not in bogus[1] and bogus[1]["unauthorized"]["code"] == 401
    assert with_service[0] == 200 and "service" in with_service[1]["service_roles"]
    assert fake_service[0] == 200 and fake_service[1]["service_roles"] == []  # a member is not a service

    # Revocation: the identity service refuses the token at once; a cache fed by revocation events
    # (the bus does that in a running cloud) drops it.
    r = httpx.delete(f"{shared_cloud.auth_url}/v3/auth/tokens",
                     headers={"X-Auth-Token": user_token, "X-Subject-Token": user_token})
    assert r.status_code == 204
    assert cache.get(user_token) is not None
    demo_user = admin.identity.find_user("demo", domain_id="default")
    assert cache.evict({"user_id": demo_user.id}) == 1
    assert cache.get(user_token) is None


def test_expired_user_token_accepted_only_with_a_service_token(shared_cloud: RunningCloud) -> None:
    """Keystone's allow_expired: a service finishing a user's operation may use the expired token."""
    from datetime import UTC, datetime, timedelta

    from litestack.identity.keys import KeyRepository
    from litestack.identity.tokens import TokenFormatter, TokenPayload, generate_audit_id

    admin = shared_cloud.sdk("litestack-admin")
    service_project = admin.identity.find_project("service", domain_id="default")
    svc = admin.identity.create_user(name="expiry-svc", password="expiry-pw", domain_id="default")
    admin.identity.assign_project_role_to_user(service_project, svc, admin.identity.find_role("service"))
    demo = admin.identity.find_user("demo", domain_id="default")
    demo_project = admin.identity.find_project("demo", domain_id="default")

    # Real Fernet tokens from the cloud's own key repository, issued in the past.
    keys = KeyRepository(shared_cloud.data_dir / "fernet-keys", 3)
    now = datetime.now(UTC)

    def old_token(expired_ago: timedelta) -> str:
        expires = (now - expired_ago).replace(microsecond=0)
        return TokenFormatter(keys.keys).create(TokenPayload(
            user_id=demo.id, methods=("password",), expires_at=expires, audit_ids=(generate_audit_id(),),
            scope=("project", demo_project.id), issued_at=expires - timedelta(hours=1)))

    recent, ancient = old_token(timedelta(minutes=10)), old_token(timedelta(days=3))
    admin_token = admin.session.get_token()
    base = f"{shared_cloud.auth_url}/v3/auth/tokens"

    def check(token: str, query: str = "", auth: str = admin_token) -> int:
        return httpx.get(base + query, headers={"X-Auth-Token": auth, "X-Subject-Token": token}).status_code

    assert check(recent) == 404
    assert check(recent, "?allow_expired=1") == 200
    assert check(ancient, "?allow_expired=1") == 404  # older than allow_expired_window (48 h)
    demo_auth = shared_cloud.clouds()["litestack"]["auth"]
    assert isinstance(demo_auth, dict)
    member = _token(shared_cloud, "demo", str(demo_auth["password"]), "demo")
    other = _token(shared_cloud, "expiry-svc", "expiry-pw", "service")
    assert check(other, "?allow_expired=1", member) == 403  # validating others' tokens needs a service

    async def whoami(request: Request) -> Response:
        c = ctx(request)
        return JSON({"user": c.user_name, "service_roles": sorted(c.service_roles)})

    validator = HTTPTokenValidator(shared_cloud.auth_url, "expiry-svc", "expiry-pw")
    app = build_app("compute", [Op("GET", "/whoami", whoami)],
                    middleware=[lambda a: AuthMiddleware(a, validator, TokenCache(300, 100), shared_cloud.auth_url)])

    async def scenario() -> list[int]:
        out = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as c:
            for headers in ({"X-Auth-Token": recent},
                            {"X-Auth-Token": recent, "X-Service-Token": other},
                            {"X-Auth-Token": recent, "X-Service-Token": member},
                            {"X-Auth-Token": ancient, "X-Service-Token": other}):
                r = await c.get("/whoami", headers=headers)
                out.append(r.status_code)
                if r.status_code == 200:
                    assert r.json() == {"user": "demo", "service_roles": ["service"]}
        await validator.aclose()
        return out

    # Alone the expired token is refused; with a service's token it is accepted; a member's
    # token is no service token; a token past the window is refused whatever comes with it.
    assert asyncio.run(scenario()) == [401, 200, 401, 401]
