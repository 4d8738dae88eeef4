"""Application credential access rules are enforced: a token from a credential whose only rule is
``GET /v3/auth/projects`` on identity can make exactly that call, and gets 401 for every other.

The credential is made with the real CLI (``openstack application credential create
--access-rules``) and its token with keystoneauth's ``v3applicationcredential`` plugin. The rules are
enforced by the auth middleware every service uses, and a validator that does not declare it
enforces them (``OpenStack-Identity-Access-Rules``) is refused such tokens, as Keystone refuses them
to an old keystonemiddleware.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client as ks_client
from starlette.requests import Request
from starlette.responses import Response

from litestack.common.api.app import JSON, Op, build_app, ctx
from litestack.common.auth import AuthMiddleware, HTTPTokenValidator, TokenCache
from tests.conftest import RunningCloud
from tests.functional.identity.keystone import Keystone, unique

pytestmark = pytest.mark.functional

ONLY_MY_PROJECTS = [{"service": "identity", "method": "GET", "path": "/v3/auth/projects"}]


def _app_cred_with_rules(keystone: Keystone, rules: list[dict[str, str]]) -> tuple[dict[str, Any], str, str]:
    """A member (with its ``password`` and ``project``) and an application credential it made with the
    CLI with these access rules; returns (user, credential id, secret)."""
    project, user, password = keystone.new_member("rules")
    out = keystone.openstack_as(user["name"], password, project["name"], "application", "credential", "create",
                                "--access-rules", json.dumps(rules), unique("rules"), "-f", "json")
    cred = json.loads(out.stdout)  # the CLI's column names
    shown = cred["Access Rules"]
    assert [{k: r[k] for k in ("service", "method", "path")} for r in shown] == rules
    return {**user, "password": password, "project": project}, cred["ID"], cred["Secret"]


def _token(cloud: RunningCloud, cred_id: str, secret: str) -> str:
    auth = v3.ApplicationCredential(auth_url=cloud.auth_url + "/v3", application_credential_id=cred_id,
                                    application_credential_secret=secret)
    token = ks_session.Session(auth=auth).get_token()
    assert token is not None
    return str(token)


def test_token_does_exactly_what_its_rules_allow(cloud: RunningCloud, keystone: Keystone) -> None:
    user, cred_id, secret = _app_cred_with_rules(keystone, ONLY_MY_PROJECTS)
    token = _token(cloud, cred_id, secret)

    allowed = keystone.get("/auth/projects", token)
    assert allowed.status_code == 200, allowed.text
    assert [p["id"] for p in allowed.json()["projects"]] == [user["project"]["id"]]
    assert keystone.get("/auth/projects/", token).status_code == 200  # the same route

    refused = [
        keystone.get(f"/users/{user['id']}", token),
        keystone.get("/domains", token),
        keystone.get(f"/users/{user['id']}/application_credentials", token),
        keystone.request("HEAD", "/auth/projects", token),  # the rule says GET
        keystone.request("PATCH", f"/users/{user['id']}", token, json={"user": {"password": uuid.uuid4().hex}}),
        keystone.request("POST", f"/users/{user['id']}/application_credentials", token, json={
            "application_credential": {"name": unique("more")}}),
    ]
    for r in refused:
        assert r.status_code == 401, (r.request.method, r.request.url, r.text)
        if r.request.method != "HEAD":
            assert r.json()["error"]["code"] == 401
            assert r.json()["error"]["title"] == "Unauthorized"
    # The password did not change. (POST /v3/users/{id}/password is public, as in Keystone: the
    # original password is what authorizes it, with or without a token.)
    keystone.token(user["name"], user["password"], project=user["project"]["name"])

    # The real clients, authenticated by the credential: keystoneclient lists the projects through
    # GET /v3/auth/projects; the CLI's project list (GET /v3/users/{id}/projects) and user show are 401.
    auth = v3.ApplicationCredential(auth_url=cloud.auth_url + "/v3", application_credential_id=cred_id,
                                    application_credential_secret=secret)
    client = ks_client.Client(session=ks_session.Session(auth=auth))
    assert [p.id for p in client.auth.projects()] == [user["project"]["id"]]
    for args in (("project", "list", "--my-projects"), ("user", "show", user["id"])):
        other = keystone.openstack_app_cred(cred_id, secret, *args)
        assert other.returncode != 0 and "401" in other.stderr, (args, other.stdout, other.stderr)


def test_rules_of_another_service_allow_nothing_on_identity(cloud: RunningCloud, keystone: Keystone) -> None:
    _, cred_id, secret = _app_cred_with_rules(
        keystone, [{"service": "compute", "method": "GET", "path": "/v2.1/servers"}])
    token = _token(cloud, cred_id, secret)
    assert keystone.get("/auth/projects", token).status_code == 401


def test_identity_validates_restricted_tokens_only_for_services_that_enforce_rules(
        cloud: RunningCloud, keystone: Keystone) -> None:
    _, cred_id, secret = _app_cred_with_rules(keystone, ONLY_MY_PROJECTS)
    token = _token(cloud, cred_id, secret)
    plain = keystone.get("/auth/tokens", headers={"X-Subject-Token": token})
    assert plain.status_code == 404, plain.text
    assert keystone.request("HEAD", "/auth/tokens", headers={"X-Subject-Token": token}).status_code == 404
    declared = keystone.get("/auth/tokens", headers={"X-Subject-Token": token,
                                                      "OpenStack-Identity-Access-Rules": "1"})
    assert declared.status_code == 200, declared.text
    rules = declared.json()["token"]["application_credential"]["access_rules"]
    assert [{k: r[k] for k in ("service", "method", "path")} for r in rules] == ONLY_MY_PROJECTS
    # A token without rules validates for everyone, as before.
    unrestricted = keystone.create(f"/users/{_admin_id(keystone)}/application_credentials",
                                   "application_credential", {"name": unique("plain")})
    plain_token = _token(cloud, unrestricted["id"], unrestricted["secret"])
    assert keystone.get("/auth/tokens", headers={"X-Subject-Token": plain_token}).status_code == 200


def _admin_id(keystone: Keystone) -> str:
    body = keystone.get("/auth/tokens", headers={"X-Subject-Token": keystone.admin}).json()["token"]
    return str(body["user"]["id"])


def test_another_service_inherits_the_rules(cloud: RunningCloud, keystone: Keystone) -> None:
    """A compute-like service behind the shared auth middleware, validating over REST: the rule's
    path (with ``*``) is allowed, its neighbours are 401; a middleware with no service type refuses."""
    service_project = keystone.get("/projects", params={"name": "service"}).json()["projects"][0]
    probe = keystone.create("/users", "user", {"name": unique("probe-svc"), "password": "probe-pw"})
    keystone.grant(keystone.role_id("service"), user=probe["id"], project=service_project["id"])
    _, cred_id, secret = _app_cred_with_rules(
        keystone, [{"service": "compute", "method": "GET", "path": "/v2.1/servers/*"}])
    token = _token(cloud, cred_id, secret)

    async def show(request: Request) -> Response:
        return JSON({"user": ctx(request).user_id})

    ops = [Op("GET", "/v2.1/servers/{id}", show), Op("DELETE", "/v2.1/servers/{id}", show),
           Op("GET", "/v2.1/servers/{id}/ips", show)]

    async def scenario(service_type: str | None) -> list[int]:
        validator = HTTPTokenValidator(cloud.auth_url, probe["name"], "probe-pw")
        app = build_app("compute", ops, middleware=[
            lambda a: AuthMiddleware(a, validator, TokenCache(300, 100), cloud.auth_url, service_type)])
        codes = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as c:
            for method, path in (("GET", "/v2.1/servers/abc"), ("DELETE", "/v2.1/servers/abc"),
                                 ("GET", "/v2.1/servers/abc/ips")):
                r = await c.request(method, path, headers={"X-Auth-Token": token})
                codes.append(r.status_code)
                if r.status_code == 401:
                    assert r.json()["unauthorized"]["code"] == 401  # the service's own error body
        await validator.aclose()
        return codes

    assert asyncio.run(scenario("compute")) == [200, 401, 401]
    assert asyncio.run(scenario(None)) == [401, 401, 401]
