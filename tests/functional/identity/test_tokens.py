"""Tokens: version discovery, issue, validate, check, revoke and the /v3/auth/* listings."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.functional.identity.keystone import Keystone, password_auth, unique

pytestmark = pytest.mark.functional


def test_version_discovery_at_the_unversioned_and_v3_urls(cloud: RunningCloud) -> None:
    root = httpx.get(cloud.auth_url)
    assert root.status_code == 300
    (version,) = root.json()["versions"]["values"]
    assert version["id"].startswith("v3.") and version["status"] == "stable"
    assert {"rel": "self", "href": f"{cloud.auth_url}/v3/"} in version["links"]
    assert version["media-types"][0]["type"] == "application/vnd.openstack.identity-v3+json"
    for url in (f"{cloud.auth_url}/v3", f"{cloud.auth_url}/v3/"):
        v3 = httpx.get(url)
        assert v3.status_code == 200
        assert v3.json()["version"]["id"] == version["id"]


def test_cli_token_issue_validate_and_revoke(cloud: RunningCloud, keystone: Keystone) -> None:
    issued = json.loads(cloud.openstack("token", "issue", "-f", "json").stdout)
    token = issued["id"]
    demo_project = keystone.get("/projects", params={"name": "demo"}).json()["projects"][0]
    assert issued["project_id"] == demo_project["id"]

    ok = keystone.get("/auth/tokens", headers={"X-Subject-Token": token})
    assert ok.status_code == 200
    assert ok.headers["x-subject-token"] == token
    body = ok.json()["token"]
    assert body["user"]["id"] == issued["user_id"] and body["user"]["name"] == "demo"
    assert body["project"]["id"] == issued["project_id"]
    assert {r["name"] for r in body["roles"]} == {"member", "reader"}  # member implies reader
    assert keystone.request("HEAD", "/auth/tokens", headers={"X-Subject-Token": token}).status_code == 200

    cloud.openstack("token", "revoke", token)

    gone = keystone.get("/auth/tokens", headers={"X-Subject-Token": token})
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == 404
    assert keystone.request("HEAD", "/auth/tokens", headers={"X-Subject-Token": token}).status_code == 404
    refused = keystone.get("/auth/projects", token=token)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == f'Keystone uri="{cloud.auth_url}"'


def test_token_response_has_everything_clients_read(cloud: RunningCloud, keystone: Keystone) -> None:
    demo = cloud.clouds()["litestack"]["auth"]
    r = keystone.http.post("/v3/auth/tokens", json=password_auth("demo", demo["password"],  # type: ignore[index]
                                                                 project="demo"))
    assert r.status_code == 201
    assert r.headers["x-subject-token"].startswith("gAAAAA")
    token = r.json()["token"]
    assert token["methods"] == ["password"]
    assert token["user"]["domain"] == {"id": "default", "name": "Default"}
    assert "password_expires_at" in token["user"]
    assert token["project"]["name"] == "demo" and token["project"]["domain"]["id"] == "default"
    assert token["expires_at"] > token["issued_at"]
    assert len(token["audit_ids"]) == 1
    identity = [s for s in token["catalog"] if s["type"] == "identity"]
    assert identity and {e["interface"] for e in identity[0]["endpoints"]} == {"public", "internal", "admin"}
    assert all(e["url"] == cloud.auth_url for e in identity[0]["endpoints"])


def test_validate_check_and_delete_tokens_over_raw_http(keystone: Keystone) -> None:
    project, user, password = keystone.new_member("tok")
    mine = keystone.token(user["name"], password, project=project["name"])
    other = keystone.token(user["name"], password, project=project["name"])
    # A user may validate and revoke their own tokens, not anyone else's.
    own = keystone.get("/auth/tokens", token=mine, headers={"X-Subject-Token": other})
    assert own.status_code == 200 and own.json()["token"]["user"]["id"] == user["id"]
    foreign = keystone.get("/auth/tokens", token=mine, headers={"X-Subject-Token": keystone.admin})
    assert foreign.status_code == 403
    missing = keystone.get("/auth/tokens", token=mine)
    assert missing.status_code == 400

    deleted = keystone.request("DELETE", "/auth/tokens", token=mine, headers={"X-Subject-Token": other})
    assert deleted.status_code == 204
    assert keystone.request("HEAD", "/auth/tokens", headers={"X-Subject-Token": other}).status_code == 404
    # Revoking one token leaves the user's other tokens alone.
    assert keystone.request("HEAD", "/auth/tokens", headers={"X-Subject-Token": mine}).status_code == 200
    again = keystone.request("DELETE", "/auth/tokens", headers={"X-Subject-Token": other})
    assert again.status_code == 404


def test_rescoping_an_unscoped_token_keeps_its_audit_chain(keystone: Keystone) -> None:
    project, user, password = keystone.new_member("rescope")
    keystone.request("PATCH", f"/users/{user['id']}", json={"user": {"default_project_id": None}})
    r = keystone.authenticate(password_auth(user["name"], password))
    assert r.status_code == 201
    unscoped = r.json()["token"]
    assert "project" not in unscoped and "roles" not in unscoped
    rescoped = keystone.authenticate({"auth": {
        "identity": {"methods": ["token"], "token": {"id": r.headers["x-subject-token"]}},
        "scope": {"project": {"id": project["id"]}}}})
    assert rescoped.status_code == 201
    body = rescoped.json()["token"]
    assert body["project"]["id"] == project["id"]
    assert body["audit_ids"][1] == unscoped["audit_ids"][0]
    assert body["expires_at"] == unscoped["expires_at"]


def test_scoping_to_a_project_without_a_role_is_refused(keystone: Keystone) -> None:
    _, user, password = keystone.new_member("norole")
    r = keystone.authenticate(password_auth(user["name"], password, project="admin"))
    assert r.status_code == 401
    assert r.json()["error"]["title"] == "Unauthorized"


def test_auth_catalog_projects_domains_and_system(cloud: RunningCloud, keystone: Keystone) -> None:
    project, user, password = keystone.new_member("auth")
    domain = keystone.create("/domains", "domain", {"name": unique("authdom")})
    keystone.grant(keystone.role_id("reader"), user=user["id"], domain=domain["id"])
    token = keystone.token(user["name"], password, project=project["name"])

    catalog = keystone.get("/auth/catalog", token=token)
    assert catalog.status_code == 200
    assert [s["name"] for s in catalog.json()["catalog"] if s["type"] == "identity"] == ["keystone"]

    projects = keystone.get("/auth/projects", token=token).json()["projects"]
    assert [p["id"] for p in projects] == [project["id"]]
    domains = keystone.get("/auth/domains", token=token).json()["domains"]
    assert [d["id"] for d in domains] == [domain["id"]]
    assert keystone.get("/auth/system", token=token).json()["system"] == []
    admin_system = keystone.get("/auth/system").json()["system"]
    assert admin_system == [{"all": True}]

    # Once granted, a domain-scoped token works and lists the same domain.
    dom_token = keystone.token(user["name"], password, domain=domain["name"])
    body = keystone.get("/auth/tokens", headers={"X-Subject-Token": dom_token}).json()["token"]
    assert body["domain"]["id"] == domain["id"] and [r["name"] for r in body["roles"]] == ["reader"]


def test_sdk_authenticates_and_reads_its_own_token(cloud: RunningCloud) -> None:
    conn = cloud.sdk("litestack")
    try:
        token = conn.session.get_token()
        access = conn.session.auth.get_access(conn.session)
        assert access.username == "demo" and access.project_name == "demo"
        assert token == access.auth_token
        assert conn.session.get_endpoint(service_type="identity", interface="public") == cloud.auth_url
    finally:
        conn.close()
