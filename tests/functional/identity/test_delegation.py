"""Delegation limits: what a token acting through a delegation (a trust, an OAuth1 access token or a
restricted application credential) may create, and that nothing it creates outlives the delegation.

One table: each delegation kind against each thing that can be created. A delegated token may not
create application credentials, trusts or credentials other than ec2 (a totp credential would let
its holder sign in as the user, with no delegation at all); the ec2 credentials it creates record
the delegation in their blob (Keystone's ``trust_id``, ``access_token_id``, ``app_cred_id``) and are
deleted with it.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1.extras import oauth1 as ka_oauth1
from keystoneauth1.identity import v3
from keystoneclient.v3 import client as ks_client

from tests.conftest import RunningCloud
from tests.functional.identity.keystone import Keystone, password_auth, unique

pytestmark = pytest.mark.functional


@dataclass
class Delegated:
    """A token acting through one delegation, for ``user`` on ``project`` with the role reader only
    (the user also holds member there)."""

    kind: str
    token: str
    user: dict[str, Any]
    project: dict[str, Any]
    blob_key: str  # the ec2 blob field that records the delegation
    delegation_id: str
    end: Callable[[], None]  # delete the delegation


def _user_with_two_roles(keystone: Keystone, prefix: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    project, user, password = keystone.new_member(prefix, role="member")
    keystone.grant(keystone.role_id("reader"), user=user["id"], project=project["id"])
    return project, user, password


def _trust(cloud: RunningCloud, keystone: Keystone) -> Delegated:
    project, trustor, password = _user_with_two_roles(keystone, "dlg-trust")
    trustee_pw = uuid.uuid4().hex
    trustee = keystone.create("/users", "user", {"name": unique("dlg-trustee"), "password": trustee_pw})
    trustor_token = keystone.token(trustor["name"], password, project=project["name"])
    trust = keystone.create("/OS-TRUST/trusts", "trust", {
        "trustor_user_id": trustor["id"], "trustee_user_id": trustee["id"], "project_id": project["id"],
        "impersonation": True, "roles": [{"name": "reader"}]}, trustor_token)
    body = password_auth(trustee["name"], trustee_pw)
    body["auth"]["scope"] = {"OS-TRUST:trust": {"id": trust["id"]}}
    r = keystone.authenticate(body)
    assert r.status_code == 201, r.text

    def end() -> None:
        assert keystone.request("DELETE", f"/OS-TRUST/trusts/{trust['id']}", trustor_token).status_code == 204

    return Delegated("trust", r.headers["x-subject-token"], trustor, project, "trust_id", trust["id"], end)


def _oauth1(cloud: RunningCloud, keystone: Keystone) -> Delegated:
    project, user, password = _user_with_two_roles(keystone, "dlg-oauth")
    consumer = keystone.create("/OS-OAUTH1/consumers", "consumer", {"description": "delegation"})
    key, secret = consumer["id"], consumer["secret"]
    auth = v3.Password(auth_url=cloud.auth_url + "/v3", username=user["name"], password=password,
                       user_domain_id="default", project_id=project["id"])
    ks = ks_client.Client(session=ks_session.Session(auth=auth))
    request_token = ks.oauth1.request_tokens.create(key, secret, project["id"])
    verifier = ks.oauth1.request_tokens.authorize(request_token.key, [keystone.role_id("reader")]).oauth_verifier
    access = ks.oauth1.access_tokens.create(key, secret, request_token.key, request_token.secret, verifier)
    token = ks_session.Session(auth=ka_oauth1.V3OAuth1(cloud.auth_url + "/v3", key, secret, access.key,
                                                       access.secret)).get_token()
    assert token is not None
    user_token = keystone.token(user["name"], password, project=project["name"])

    def end() -> None:
        r = keystone.request("DELETE", f"/users/{user['id']}/OS-OAUTH1/access_tokens/{access.key}", user_token)
        assert r.status_code == 204

    return Delegated("oauth1", token, user, project, "access_token_id", access.key, end)


def _app_cred(cloud: RunningCloud, keystone: Keystone) -> Delegated:
    project, user, password = _user_with_two_roles(keystone, "dlg-appcred")
    user_token = keystone.token(user["name"], password, project=project["name"])
    cred = keystone.create(f"/users/{user['id']}/application_credentials", "application_credential",
                           {"name": unique("restricted"), "roles": [{"name": "reader"}]}, user_token)
    assert cred["unrestricted"] is False
    r = keystone.authenticate({"auth": {"identity": {"methods": ["application_credential"], "application_credential": {
        "id": cred["id"], "secret": cred["secret"]}}}})
    assert r.status_code == 201, r.text

    def end() -> None:
        r = keystone.request("DELETE", f"/users/{user['id']}/application_credentials/{cred['id']}", user_token)
        assert r.status_code == 204

    return Delegated("app_cred", r.headers["x-subject-token"], user, project, "app_cred_id", cred["id"], end)


KINDS = {"trust": _trust, "oauth1": _oauth1, "app_cred": _app_cred}


def _create_app_cred(keystone: Keystone, d: Delegated) -> Any:
    return keystone.request("POST", f"/users/{d.user['id']}/application_credentials", d.token, json={
        "application_credential": {"name": unique("escalate"), "unrestricted": True}})


def _create_trust(keystone: Keystone, d: Delegated) -> Any:
    other = keystone.create("/users", "user", {"name": unique("dlg-other"), "password": uuid.uuid4().hex})
    return keystone.request("POST", "/OS-TRUST/trusts", d.token, json={"trust": {
        "trustor_user_id": d.user["id"], "trustee_user_id": other["id"], "project_id": d.project["id"],
        "impersonation": True, "roles": [{"name": "reader"}]}})


def _create_totp(keystone: Keystone, d: Delegated) -> Any:
    secret = base64.b32encode(os.urandom(20)).decode()
    return keystone.request("POST", "/credentials", d.token, json={"credential": {
        "user_id": d.user["id"], "type": "totp", "blob": secret}})


def _create_ec2(keystone: Keystone, d: Delegated) -> Any:
    return keystone.request("POST", f"/users/{d.user['id']}/credentials/OS-EC2", d.token,
                            json={"tenant_id": d.project["id"]})


def _create_ec2_credential(keystone: Keystone, d: Delegated) -> Any:
    blob = json.dumps({"access": uuid.uuid4().hex, "secret": uuid.uuid4().hex})
    return keystone.request("POST", "/credentials", d.token, json={"credential": {
        "user_id": d.user["id"], "project_id": d.project["id"], "type": "ec2", "blob": blob}})


#: What a delegated token gets when it creates each thing: refused, or an ec2 credential tied to it.
REFUSED = {"application credential": _create_app_cred, "trust": _create_trust, "totp credential": _create_totp}
TIED = {"OS-EC2 credential": _create_ec2, "ec2 credential": _create_ec2_credential}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("what", list(REFUSED))
def test_delegated_token_cannot_create(cloud: RunningCloud, keystone: Keystone, kind: str, what: str) -> None:
    d = KINDS[kind](cloud, keystone)
    r = REFUSED[what](keystone, d)
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == 403
    # Nothing was left behind for later, either.
    creds = keystone.get(f"/users/{d.user['id']}/application_credentials").json()["application_credentials"]
    assert all(c["unrestricted"] is False for c in creds)
    totps = keystone.get("/credentials", params={"user_id": d.user["id"], "type": "totp"}).json()["credentials"]
    assert totps == []


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("what", list(TIED))
def test_delegated_ec2_credential_records_and_dies_with_the_delegation(
        cloud: RunningCloud, keystone: Keystone, kind: str, what: str) -> None:
    d = KINDS[kind](cloud, keystone)
    r = TIED[what](keystone, d)
    assert r.status_code == 201, r.text
    made = r.json()["credential"]
    blob = made if what == "OS-EC2 credential" else json.loads(made["blob"])
    assert blob[d.blob_key] == d.delegation_id
    access = blob["access"]
    ec2_path = f"/users/{d.user['id']}/credentials/OS-EC2/{access}"
    stored = keystone.get(ec2_path)
    assert stored.status_code == 200 and stored.json()["credential"][d.blob_key] == d.delegation_id

    # Its owner cannot cut the tie by rewriting the blob.
    owner_cred = next(c for c in keystone.get("/credentials", params={"user_id": d.user["id"]}).json()["credentials"]
                      if json.loads(c["blob"])["access"] == access)
    untied = json.dumps({"access": access, "secret": "s"})
    r = keystone.request("PATCH", f"/credentials/{owner_cred['id']}", json={"credential": {"blob": untied}})
    assert r.status_code == 400, r.text

    d.end()
    assert keystone.get(ec2_path).status_code == 404
    assert keystone.get(f"/credentials/{owner_cred['id']}").status_code == 404


def _unrestricted_parent(keystone: Keystone, prefix: str, **extra: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A user with reader and member, its unrestricted application credential with reader only (and
    ``extra``), and a token of that credential."""
    project, user, password = _user_with_two_roles(keystone, prefix)
    user_token = keystone.token(user["name"], password, project=project["name"])
    parent = keystone.create(f"/users/{user['id']}/application_credentials", "application_credential",
                             {"name": unique("parent"), "roles": [{"name": "reader"}], "unrestricted": True,
                              **extra}, user_token)
    r = keystone.authenticate({"auth": {"identity": {"methods": ["application_credential"], "application_credential": {
        "id": parent["id"], "secret": parent["secret"]}}}})
    assert r.status_code == 201, r.text
    return user, parent, r.headers["x-subject-token"]


def test_unrestricted_app_cred_gives_no_more_than_it_has(cloud: RunningCloud, keystone: Keystone) -> None:
    expires = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0, tzinfo=None).isoformat()
    user, parent, token = _unrestricted_parent(keystone, "dlg-unrestricted", expires_at=expires)
    path = f"/users/{user['id']}/application_credentials"
    wider = keystone.request("POST", path, token, json={"application_credential": {
        "name": unique("wider"), "roles": [{"name": "member"}]}})
    assert wider.status_code == 403, wider.text
    later = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0, tzinfo=None).isoformat()
    longer = keystone.request("POST", path, token, json={"application_credential": {
        "name": unique("longer"), "expires_at": later}})
    assert longer.status_code == 403, longer.text
    child = keystone.request("POST", path, token, json={"application_credential": {"name": unique("child")}})
    assert child.status_code == 201, child.text
    made = child.json()["application_credential"]
    assert [r["name"] for r in made["roles"]] == ["reader"]
    assert made["expires_at"] == parent["expires_at"] == expires  # it ends when its parent does


def test_app_cred_with_access_rules_gives_no_other_rules(cloud: RunningCloud, keystone: Keystone) -> None:
    rules = [{"service": "identity", "method": "POST", "path": "/v3/users/*/application_credentials"},
             {"service": "identity", "method": "GET", "path": "/v3/auth/projects"}]
    user, _, token = _unrestricted_parent(keystone, "dlg-rules", access_rules=rules)
    path = f"/users/{user['id']}/application_credentials"
    other = keystone.request("POST", path, token, json={"application_credential": {
        "name": unique("other"), "access_rules": [{"service": "identity", "method": "GET", "path": "/v3/users/*"}]}})
    assert other.status_code == 403, other.text
    unruled = keystone.request("POST", path, token, json={"application_credential": {"name": unique("unruled")}})
    assert unruled.status_code == 201, unruled.text
    got = unruled.json()["application_credential"]["access_rules"]
    assert sorted((r["service"], r["method"], r["path"]) for r in got) == sorted(
        (r["service"], r["method"], r["path"]) for r in rules)
    narrower = keystone.request("POST", path, token, json={"application_credential": {
        "name": unique("narrower"), "access_rules": rules[1:]}})
    assert narrower.status_code == 201, narrower.text


def test_member_cannot_move_its_ec2_credential_to_a_foreign_project(cloud: RunningCloud, keystone: Keystone) -> None:
    project, user, password = keystone.new_member("dlg-move")
    foreign = keystone.create("/projects", "project", {"name": unique("dlg-foreign")})
    token = keystone.token(user["name"], password, project=project["name"])
    r = keystone.request("POST", f"/users/{user['id']}/credentials/OS-EC2", token, json={"tenant_id": project["id"]})
    assert r.status_code == 201, r.text
    access = r.json()["credential"]["access"]
    cred = next(c for c in keystone.get("/credentials", token).json()["credentials"]
                if json.loads(c["blob"])["access"] == access)

    moved = keystone.request("PATCH", f"/credentials/{cred['id']}", token,
                             json={"credential": {"project_id": foreign["id"]}})
    assert moved.status_code == 403, moved.text
    assert moved.json()["error"]["code"] == 403
    assert keystone.get(f"/credentials/{cred['id']}", token).json()["credential"]["project_id"] == project["id"]
    # Creating it there is refused the same way.
    blob = json.dumps({"access": uuid.uuid4().hex, "secret": "s"})
    created = keystone.request("POST", "/credentials", token, json={"credential": {
        "user_id": user["id"], "project_id": foreign["id"], "type": "ec2", "blob": blob}})
    assert created.status_code == 403, created.text
    # An administrator still may.
    r = keystone.request("PATCH", f"/credentials/{cred['id']}", json={"credential": {"project_id": foreign["id"]}})
    assert r.status_code == 200, r.text
