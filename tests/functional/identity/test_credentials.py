"""Application credentials and ec2 credentials, through the real CLI and SDK."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import openstack
import pytest

from tests.conftest import RunningCloud
from tests.functional.identity.keystone import Keystone, unique

pytestmark = pytest.mark.functional

ACCESS_RULES = [{"service": "identity", "method": "GET", "path": "/v3/auth/projects"}]


def _naive(timestamp: str) -> datetime:
    dt = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo else dt


def test_application_credential_lifecycle(cloud: RunningCloud, keystone: Keystone) -> None:
    project, user, password = keystone.new_member("appcred")
    expires = (datetime.now(UTC) + timedelta(minutes=30)).replace(microsecond=0, tzinfo=None)

    def as_user(*args: str, check: bool = True) -> Any:
        out = keystone.openstack_as(user["name"], password, project["name"], *args, check=check)
        return json.loads(out.stdout) if check else {"stderr": out.stderr, "rc": out.returncode}

    created = as_user("application", "credential", "create", "--role", "reader", "--secret", "app-secret",
                      "--expiration", expires.isoformat(), "--access-rules", json.dumps(ACCESS_RULES),
                      "--description", "ci", "ci-cred", "-f", "json")
    assert created["Secret"] == "app-secret" and created["Project ID"] == project["id"]
    assert [r["name"] for r in created["Roles"]] == ["reader"]
    assert _naive(str(created["Expires At"])) == expires
    assert [{k: r[k] for k in ("service", "method", "path")} for r in created["Access Rules"]] == ACCESS_RULES
    cred_id = str(created["ID"])

    listed = keystone.openstack_as(user["name"], password, project["name"], "application", "credential",
                                   "list", "-f", "json").stdout
    assert [c["Name"] for c in json.loads(listed)] == ["ci-cred"]

    # Authenticating with it gives a token on the credential's project, with only its roles,
    # ending no later than the credential.
    issued = keystone.openstack_app_cred(cred_id, "app-secret", "token", "issue", "-f", "json")
    assert issued.returncode == 0, issued.stderr
    token = json.loads(issued.stdout)
    assert token["project_id"] == project["id"] and token["user_id"] == user["id"]
    # Its access rules are enforced by whoever validates it, so identity validates it only for a
    # caller that says it enforces them.
    assert keystone.get("/auth/tokens", headers={"X-Subject-Token": token["id"]}).status_code == 404
    body = keystone.get("/auth/tokens", headers={"X-Subject-Token": token["id"],
                                                 "OpenStack-Identity-Access-Rules": "1"}).json()["token"]
    assert [r["name"] for r in body["roles"]] == ["reader"]
    assert body["methods"] == ["application_credential"]
    assert body["application_credential"]["id"] == cred_id
    assert body["application_credential"]["restricted"] is True
    assert _naive(body["expires_at"]) <= expires

    # Its access rules allow only GET /v3/auth/projects (test_access_rules.py; a restricted
    # credential without rules cannot mint another one either: test_delegation.py).
    again = keystone.request("POST", f"/users/{user['id']}/application_credentials", token["id"],
                             json={"application_credential": {"name": "child"}})
    assert again.status_code == 401

    # The SDK authenticates with it too.
    conn = openstack.connect(auth_type="v3applicationcredential", auth={
        "auth_url": cloud.auth_url, "application_credential_id": cred_id,
        "application_credential_secret": "app-secret"}, identity_api_version="3")
    try:
        assert conn.session.get_user_id() == user["id"]
        assert conn.session.get_project_id() == project["id"]
    finally:
        conn.close()

    as_user("application", "credential", "delete", "ci-cred", check=False)
    gone = keystone.openstack_app_cred(cred_id, "app-secret", "token", "issue")
    assert gone.returncode != 0 and "401" in gone.stderr
    assert keystone.request("HEAD", "/auth/tokens", headers={"X-Subject-Token": token["id"]}).status_code == 404


def test_application_credential_role_subset_is_enforced(keystone: Keystone) -> None:
    project, user, password = keystone.new_member("appsub")
    token = keystone.token(user["name"], password, project=project["name"])
    path = f"/users/{user['id']}/application_credentials"
    too_much = keystone.request("POST", path, token, json={"application_credential": {
        "name": "greedy", "roles": [{"name": "admin"}]}})
    assert too_much.status_code == 403
    past = keystone.request("POST", path, token, json={"application_credential": {
        "name": "stale", "expires_at": "2001-01-01T00:00:00Z"}})
    assert past.status_code == 400
    wrong = keystone.request("POST", path, token, json={"application_credential": {"name": "ok"}})
    assert wrong.status_code == 201
    cred = wrong.json()["application_credential"]
    assert sorted(r["name"] for r in cred["roles"]) == ["member", "reader"]
    bad_secret = keystone.authenticate({"auth": {"identity": {"methods": ["application_credential"],
                                                              "application_credential": {
                                                                  "id": cred["id"], "secret": "nope"}}}})
    assert bad_secret.status_code == 401
    by_name = keystone.authenticate({"auth": {"identity": {"methods": ["application_credential"],
                                                           "application_credential": {
        "name": "ok", "secret": cred["secret"], "user": {"id": user["id"]}}}}})
    assert by_name.status_code == 201


def test_ec2_credentials_with_cli(cloud: RunningCloud, keystone: Keystone) -> None:
    project, user, password = keystone.new_member("ec2")
    other = keystone.create("/projects", "project", {"name": unique("ec2-other")})

    def as_user(*args: str, check: bool = True) -> Any:
        return keystone.openstack_as(user["name"], password, project["name"], "ec2", "credentials", *args,
                                     check=check)

    created = json.loads(as_user("create", "-f", "json").stdout)
    assert created["project_id"] == project["id"] and created["user_id"] == user["id"]
    assert len(created["access"]) == 32 and len(created["secret"]) == 32
    listed = json.loads(as_user("list", "-f", "json").stdout)
    assert [(c["Access"], c["Project ID"]) for c in listed] == [(created["access"], project["id"])]

    # Not for a project other than the token's.
    token = keystone.token(user["name"], password, project=project["name"])
    foreign = keystone.request("POST", f"/users/{user['id']}/credentials/OS-EC2", token,
                               json={"tenant_id": other["id"]})
    assert foreign.status_code == 403
    cli = as_user("create", "--project", other["id"], check=False)
    assert cli.returncode != 0 and "403" in cli.stderr
    # Nor for another user.
    admin_id = keystone.get("/users", params={"name": "admin"}).json()["users"][0]["id"]
    theirs = keystone.request("POST", f"/users/{admin_id}/credentials/OS-EC2", token,
                              json={"tenant_id": project["id"]})
    assert theirs.status_code == 403

    as_user("delete", created["access"])
    assert json.loads(as_user("list", "-f", "json").stdout) == []
    shown = keystone.get(f"/users/{user['id']}/credentials/OS-EC2/{created['access']}")
    assert shown.status_code == 404


def test_credential_type_change_to_ec2_needs_an_ec2_blob(keystone: Keystone) -> None:
    project, user, _ = keystone.new_member("cred")
    cred = keystone.create("/credentials", "credential", {"user_id": user["id"], "project_id": project["id"],
                                                          "type": "cert", "blob": "not json"})
    r = keystone.request("PATCH", f"/credentials/{cred['id']}", json={"credential": {"type": "ec2"}})
    assert r.status_code == 400
    listed = keystone.get(f"/users/{user['id']}/credentials/OS-EC2")
    assert listed.status_code == 200 and listed.json()["credentials"] == []


def test_only_unrestricted_application_credentials_manage_others(keystone: Keystone) -> None:
    project, user, password = keystone.new_member("unres")
    token = keystone.token(user["name"], password, project=project["name"])
    path = f"/users/{user['id']}/application_credentials"

    def app_cred_token(body: dict[str, object]) -> tuple[str, str]:
        r = keystone.request("POST", path, token, json={"application_credential": body})
        assert r.status_code == 201, r.text
        cred = r.json()["application_credential"]
        auth = keystone.authenticate({"auth": {"identity": {"methods": ["application_credential"],
                                                            "application_credential": {
                                                                "id": cred["id"], "secret": cred["secret"]}}}})
        assert auth.status_code == 201, auth.text
        return cred["id"], auth.headers["x-subject-token"]

    restricted_id, restricted = app_cred_token({"name": "restricted"})
    free_id, free = app_cred_token({"name": "free", "unrestricted": True, "roles": [{"name": "reader"}]})

    refused = keystone.request("POST", path, restricted, json={"application_credential": {"name": "x"}})
    assert refused.status_code == 403
    assert keystone.request("DELETE", f"{path}/{free_id}", restricted).status_code == 403

    child = keystone.request("POST", path, free, json={"application_credential": {"name": "child"}})
    assert child.status_code == 201, child.text
    # Never more than the credential it was made with.
    assert [r["name"] for r in child.json()["application_credential"]["roles"]] == ["reader"]
    greedy = keystone.request("POST", path, free, json={"application_credential": {
        "name": "greedy", "roles": [{"name": "member"}]}})
    assert greedy.status_code == 403
    assert keystone.request("DELETE", f"{path}/{restricted_id}", free).status_code == 204
