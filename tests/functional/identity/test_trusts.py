"""Trusts (OS-TRUST): delegation through the real CLI and SDK, and the rules around trust tokens."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import openstack
import pytest

from tests.conftest import RunningCloud
from tests.functional.identity.keystone import Keystone, password_auth, unique

pytestmark = pytest.mark.functional


def trust_auth(name: str, password: str, trust_id: str) -> dict[str, Any]:
    body = password_auth(name, password)
    body["auth"]["scope"] = {"OS-TRUST:trust": {"id": trust_id}}
    return body


def new_user(keystone: Keystone, prefix: str) -> tuple[dict[str, Any], str]:
    password = uuid.uuid4().hex
    return keystone.create("/users", "user", {"name": unique(prefix), "password": password}), password


def validate(keystone: Keystone, token: str) -> Any:
    return keystone.get("/auth/tokens", headers={"X-Subject-Token": token})


def test_trust_lifecycle_cli_and_sdk(cloud: RunningCloud, keystone: Keystone) -> None:
    project, trustor, trustor_pw = keystone.new_member("trust")
    trustee, trustee_pw = new_user(keystone, "trustee")

    def as_trustor(*args: str, check: bool = True) -> Any:
        return keystone.openstack_as(trustor["name"], trustor_pw, project["name"], *args, check=check)

    expires = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0, tzinfo=None)
    created = json.loads(as_trustor("trust", "create", "--project", project["id"], "--role", "member",
                                    "--impersonate", "--expiration", expires.isoformat(), trustor["id"],
                                    trustee["id"], "-f", "json").stdout)
    trust_id = str(created["id"])
    assert created["is_impersonation"] is True and created["project_id"] == project["id"]
    assert [r["name"] for r in created["roles"]] == ["member"]
    assert created["expires_at"] == expires.isoformat() + ".000000Z"

    shown = json.loads(as_trustor("trust", "show", trust_id, "-f", "json").stdout)
    assert shown["trustee_user_id"] == trustee["id"] and shown["trustor_user_id"] == trustor["id"]
    # A member may not list every trust (identity:list_trusts is admin/system-reader only) ...
    listed = as_trustor("trust", "list", check=False)
    assert listed.returncode != 0 and "403" in listed.stderr
    mine = keystone.get("/OS-TRUST/trusts", keystone.token(trustor["name"], trustor_pw, project=project["name"]),
                        params={"trustor_user_id": trustor["id"]})
    # ... but the trustor lists the trusts it gave.
    assert mine.status_code == 200 and [t["id"] for t in mine.json()["trusts"]] == [trust_id]
    assert "roles" not in mine.json()["trusts"][0]

    # The trustee authenticates through the trust with openstacksdk (keystoneauth's trust_id).
    conn = openstack.connect(auth_url=cloud.auth_url, username=trustee["name"], password=trustee_pw,
                             user_domain_name="Default", trust_id=trust_id, identity_api_version="3",
                             region_name="RegionOne")
    try:
        token = conn.session.get_token()
        assert token is not None
        identity: Any = conn.identity  # the v3 proxy (openstacksdk types it as v2 or v3)
        body = validate(keystone, token).json()["token"]
        # Impersonation: the token's user is the trustor; the trust names both.
        assert body["user"]["id"] == trustor["id"]
        assert body["OS-TRUST:trust"] == {"id": trust_id, "impersonation": True,
                                          "trustor_user": {"id": trustor["id"]},
                                          "trustee_user": {"id": trustee["id"]}}
        assert body["project"]["id"] == project["id"]
        assert sorted(r["name"] for r in body["roles"]) == ["member", "reader"]  # member implies reader
        assert datetime.fromisoformat(body["expires_at"].replace("Z", "")) <= expires
        # Acting as the trustor, the token may read the trustor's trusts.
        assert [t.id for t in identity.trusts(trustor_user_id=trustor["id"])] == [trust_id]
        assert identity.get_trust(trust_id).project_id == project["id"]
    finally:
        conn.close()

    # Deleting the trust revokes its tokens at once.
    assert as_trustor("trust", "delete", trust_id, check=False).returncode == 0
    assert validate(keystone, token).status_code == 404
    assert keystone.get(f"/OS-TRUST/trusts/{trust_id}").status_code == 404
    assert keystone.authenticate(trust_auth(trustee["name"], trustee_pw, trust_id)).status_code == 404


def test_trust_token_rules(keystone: Keystone) -> None:
    project, trustor, trustor_pw = keystone.new_member("trustrules")
    trustee_project, trustee, trustee_pw = keystone.new_member("trustee")
    stranger, stranger_pw = new_user(keystone, "stranger")
    trustor_token = keystone.token(trustor["name"], trustor_pw, project=project["name"])

    def create(token: str = trustor_token, **fields: Any) -> Any:
        body = {"trustor_user_id": trustor["id"], "trustee_user_id": trustee["id"], "project_id": project["id"],
                "impersonation": False, "roles": [{"name": "member"}], **fields}
        return keystone.request("POST", "/OS-TRUST/trusts", token, json={"trust": body})

    # Bad input is a 400; someone else's trust is a 403; a role the trustor lacks is a 404.
    assert create(expires_at="bad.123Z").status_code == 400
    assert create(remaining_uses=0).status_code == 400
    assert create(expires_at="2001-01-01T00:00:00Z").status_code == 400
    assert create(trustor_user_id=stranger["id"]).status_code == 403
    assert create(roles=[]).status_code == 403
    assert create(roles=[{"name": "admin"}]).status_code == 404
    assert create(trustee_user_id=uuid.uuid4().hex).status_code == 404

    r = create(remaining_uses=1)
    assert r.status_code == 201, r.text
    trust = r.json()["trust"]
    assert trust["remaining_uses"] == 1 and trust["impersonation"] is False
    assert create(remaining_uses=1).status_code == 409  # the same trust again

    # Only the trustee may use it; without impersonation the token's user is the trustee.
    assert keystone.authenticate(trust_auth(stranger["name"], stranger_pw, trust["id"])).status_code == 403
    issued = keystone.authenticate(trust_auth(trustee["name"], trustee_pw, trust["id"]))
    assert issued.status_code == 201, issued.text
    token = issued.headers["x-subject-token"]
    assert len(token) < 255
    assert issued.json()["token"]["user"]["id"] == trustee["id"]
    # One use: the trust is gone for new tokens, the token issued through it still validates.
    assert keystone.authenticate(trust_auth(trustee["name"], trustee_pw, trust["id"])).status_code == 404
    assert validate(keystone, token).status_code == 200

    # A trust token cannot be rescoped, nor used to mint another token.
    rescope = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}},
                        "scope": {"project": {"id": project["id"]}}}}
    assert keystone.authenticate(rescope).status_code == 403

    # Roles of a trust: listed, shown and checked; others are 404.
    r = create(remaining_uses=None, impersonation=True)
    assert r.status_code == 201, r.text
    tid = r.json()["trust"]["id"]
    member, admin = keystone.role_id("member"), keystone.role_id("admin")
    roles = keystone.get(f"/OS-TRUST/trusts/{tid}/roles", trustor_token)
    assert [x["id"] for x in roles.json()["roles"]] == [member]
    assert keystone.get(f"/OS-TRUST/trusts/{tid}/roles/{member}", trustor_token).json()["role"]["name"] == "member"
    assert keystone.request("HEAD", f"/OS-TRUST/trusts/{tid}/roles/{member}", trustor_token).status_code == 200
    assert keystone.request("HEAD", f"/OS-TRUST/trusts/{tid}/roles/{admin}", trustor_token).status_code == 404
    stranger_token = keystone.token(stranger["name"], stranger_pw)
    assert keystone.get(f"/OS-TRUST/trusts/{tid}", stranger_token).status_code == 403
    assert keystone.get(f"/OS-TRUST/trusts/{uuid.uuid4().hex}", stranger_token).status_code == 404
    trustee_token = keystone.token(trustee["name"], trustee_pw, project=trustee_project["name"])
    assert keystone.get(f"/OS-TRUST/trusts/{tid}", trustee_token).status_code == 200
    assert keystone.request("DELETE", f"/OS-TRUST/trusts/{tid}", trustee_token).status_code == 403

    # When the trustor loses the delegated role, the trust's tokens die and no new one is issued.
    issued = keystone.authenticate(trust_auth(trustee["name"], trustee_pw, tid))
    assert issued.status_code == 201, issued.text
    token = issued.headers["x-subject-token"]
    assert keystone.request("DELETE", f"/projects/{project['id']}/users/{trustor['id']}/roles/{member}"
                            ).status_code == 204
    assert validate(keystone, token).status_code == 404
    assert keystone.authenticate(trust_auth(trustee["name"], trustee_pw, tid)).status_code == 403
    keystone.grant(member, user=trustor["id"], project=project["id"])
    issued = keystone.authenticate(trust_auth(trustee["name"], trustee_pw, tid))
    assert issued.status_code == 201, issued.text

    # Disabling the trustor (which revokes the trustor's tokens) kills impersonating tokens too.
    token = issued.headers["x-subject-token"]
    assert keystone.request("PATCH", f"/users/{trustor['id']}", json={"user": {"enabled": False}}
                            ).status_code == 200
    assert validate(keystone, token).status_code == 404
    assert keystone.authenticate(trust_auth(trustee["name"], trustee_pw, tid)).status_code == 403

    # Deleting the trustee deletes the trusts it held.
    assert keystone.request("DELETE", f"/users/{trustee['id']}").status_code == 204
    assert keystone.get(f"/OS-TRUST/trusts/{tid}").status_code == 404


def test_trust_redelegation(keystone: Keystone) -> None:
    project, trustor, trustor_pw = keystone.new_member("redeleg")
    trustee, trustee_pw = new_user(keystone, "trustee")
    third, third_pw = new_user(keystone, "third")
    trustor_token = keystone.token(trustor["name"], trustor_pw, project=project["name"])
    r = keystone.request("POST", "/OS-TRUST/trusts", trustor_token, json={"trust": {
        "trustor_user_id": trustor["id"], "trustee_user_id": trustee["id"], "project_id": project["id"],
        "impersonation": True, "roles": [{"name": "member"}], "allow_redelegation": True,
        "redelegation_count": 2}})
    assert r.status_code == 201, r.text
    parent = r.json()["trust"]
    assert parent["redelegation_count"] == 2

    # The trustee, with a token through the trust (acting as the trustor), passes it on.
    issued = keystone.authenticate(trust_auth(trustee["name"], trustee_pw, parent["id"]))
    assert issued.status_code == 201, issued.text
    via = issued.headers["x-subject-token"]
    child_body = {"trustor_user_id": trustor["id"], "trustee_user_id": third["id"], "project_id": project["id"],
                  "impersonation": True, "roles": [{"name": "member"}], "allow_redelegation": True}
    assert keystone.request("POST", "/OS-TRUST/trusts", via, json={"trust": {
        **child_body, "roles": [{"name": "admin"}]}}).status_code == 404  # the trustor does not hold admin
    assert keystone.request("POST", "/OS-TRUST/trusts", via, json={"trust": {
        **child_body, "redelegation_count": 2}}).status_code == 403  # the count only goes down
    r = keystone.request("POST", "/OS-TRUST/trusts", via, json={"trust": child_body})
    assert r.status_code == 201, r.text
    child = r.json()["trust"]
    assert child["redelegated_trust_id"] == parent["id"] and child["redelegation_count"] == 1

    issued = keystone.authenticate(trust_auth(third["name"], third_pw, child["id"]))
    assert issued.status_code == 201, issued.text
    third_token = issued.headers["x-subject-token"]
    assert issued.json()["token"]["user"]["id"] == trustor["id"]

    # Deleting the first trust deletes the chain below it and revokes its tokens.
    assert keystone.request("DELETE", f"/OS-TRUST/trusts/{parent['id']}", trustor_token).status_code == 204
    assert keystone.get(f"/OS-TRUST/trusts/{child['id']}").status_code == 404
    assert validate(keystone, third_token).status_code == 404


def test_application_credential_cannot_manage_trusts(keystone: Keystone) -> None:
    project, user, password = keystone.new_member("trustappcred")
    token = keystone.token(user["name"], password, project=project["name"])
    cred = keystone.create(f"/users/{user['id']}/application_credentials", "application_credential",
                           {"name": "c", "unrestricted": True}, token)
    r = keystone.authenticate({"auth": {"identity": {"methods": ["application_credential"],
                                                     "application_credential": {"id": cred["id"],
                                                                                "secret": cred["secret"]}}}})
    assert r.status_code == 201, r.text
    app_token = r.headers["x-subject-token"]
    other, _ = new_user(keystone, "other")
    r = keystone.request("POST", "/OS-TRUST/trusts", app_token, json={"trust": {
        "trustor_user_id": user["id"], "trustee_user_id": other["id"], "project_id": project["id"],
        "impersonation": False, "roles": [{"name": "member"}]}})
    assert r.status_code == 403
    assert "application_credential" in r.json()["error"]["message"]
