"""TOTP authentication and multi-factor rules with auth receipts, through the real clients."""

from __future__ import annotations

import json
import time
from typing import Any

import openstack
import pyotp
import pytest

from tests.conftest import RunningCloud
from tests.functional.identity.keystone import Keystone

pytestmark = pytest.mark.functional


def totp_auth(user_id: str, passcode: str) -> dict[str, Any]:
    return {"auth": {"identity": {"methods": ["totp"], "totp": {"user": {"id": user_id, "passcode": passcode}}}}}


def password_auth_by_id(user_id: str, password: str) -> dict[str, Any]:
    return {"auth": {"identity": {"methods": ["password"],
                                  "password": {"user": {"id": user_id, "password": password}}}}}


def test_totp_and_mfa_rules(cloud: RunningCloud, keystone: Keystone) -> None:
    project, user, password = keystone.new_member("mfa")
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    # The real CLI stores the TOTP secret as a credential.
    cloud.openstack("credential", "create", "--type", "totp", user["id"], secret, cloud="litestack-admin")

    r = keystone.authenticate(totp_auth(user["id"], totp.now()))
    assert r.status_code == 201, r.text
    assert r.json()["token"]["methods"] == ["totp"]
    wrong = str((int(totp.now()) + 1) % 1_000_000).zfill(6)
    assert keystone.authenticate(totp_auth(user["id"], wrong)).status_code == 401
    assert keystone.authenticate(totp_auth(user["id"], "12")).status_code == 401

    # Require password and TOTP (the real CLI sets the rule).
    cloud.openstack("user", "set", "--multi-factor-auth-rule", "password,totp", "--enable-multi-factor-auth",
                    user["id"], cloud="litestack-admin")
    shown = json.loads(cloud.openstack("user", "show", user["id"], "-f", "json", cloud="litestack-admin").stdout)
    assert shown["options"]["multi_factor_auth_rules"] == [["password", "totp"]]

    # The password alone: 401 with an auth receipt naming what is still needed.
    r = keystone.authenticate(password_auth_by_id(user["id"], password))
    assert r.status_code == 401
    receipt = r.headers["openstack-auth-receipt"]
    body = r.json()
    assert body["receipt"]["methods"] == ["password"] and body["receipt"]["user"]["id"] == user["id"]
    assert body["required_auth_methods"] == [["password", "totp"]]
    assert keystone.authenticate(totp_auth(user["id"], totp.now())).status_code == 401  # TOTP alone neither

    # The receipt plus TOTP completes it; a forged or foreign receipt does not.
    r = keystone.http.post("/v3/auth/tokens?nocatalog", json=totp_auth(user["id"], totp.now()),
                           headers={"Openstack-Auth-Receipt": receipt})
    assert r.status_code == 201, r.text
    assert r.json()["token"]["methods"] == ["password", "totp"]
    r = keystone.http.post("/v3/auth/tokens?nocatalog", json=totp_auth(user["id"], totp.now()),
                           headers={"Openstack-Auth-Receipt": receipt[:-4] + "AAAA"})
    assert r.status_code == 401 and "receipt" in r.json()["error"]["message"]
    _, other, other_password = keystone.new_member("mfa-other")
    r = keystone.http.post("/v3/auth/tokens?nocatalog", json=password_auth_by_id(other["id"], other_password),
                           headers={"Openstack-Auth-Receipt": receipt})
    assert r.status_code == 401 and "receipt" in r.json()["error"]["message"]

    # keystoneauth's multi-factor plugin (openstacksdk) does both methods in one request.
    conn = openstack.connect(auth_type="v3multifactor", auth={
        "auth_url": cloud.auth_url, "auth_methods": ["v3password", "v3totp"], "user_id": user["id"],
        "password": password, "passcode": totp.now(), "project_id": project["id"]},
        identity_api_version="3", region_name="RegionOne")
    try:
        token = conn.session.get_token()
    finally:
        conn.close()
    validated = keystone.get("/auth/tokens", headers={"X-Subject-Token": token}).json()["token"]
    assert validated["methods"] == ["password", "totp"] and validated["project"]["id"] == project["id"]

    # A token that met the rules may be rescoped; disabling the rules lets the password alone in.
    rescope = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}}, "scope": "unscoped"}}
    assert keystone.authenticate(rescope).status_code == 201
    cloud.openstack("user", "set", "--disable-multi-factor-auth", user["id"], cloud="litestack-admin")
    assert keystone.authenticate(password_auth_by_id(user["id"], password)).status_code == 201
    # Neither the TOTP secret, the receipt, the password nor a token reached the server log.
    log = (cloud.data_dir / "logs" / "litestack.log").read_text()
    for value in (secret, receipt, password, token):
        assert value and value not in log


def test_totp_and_mfa_bad_input(keystone: Keystone) -> None:
    _, user, _ = keystone.new_member("mfa-bad")
    r = keystone.request("POST", "/credentials", json={"credential": {
        "type": "totp", "user_id": user["id"], "blob": "not base32 at all!"}})
    assert r.status_code == 400
    bad_rules: list[Any] = ["password", [["password", "password"]], [[]], [["password"], "totp"]]
    for rules in bad_rules:
        r = keystone.request("PATCH", f"/users/{user['id']}",
                             json={"user": {"options": {"multi_factor_auth_rules": rules}}})
        assert r.status_code == 400, rules
    r = keystone.request("PATCH", f"/users/{user['id']}", json={"user": {"options": {"lock_password": "yes"}}})
    assert r.status_code == 400
    # A user with no TOTP credential fails like a wrong passcode; a malformed body is a 400.
    assert keystone.authenticate(totp_auth(user["id"], "123456")).status_code == 401
    assert keystone.authenticate({"auth": {"identity": {"methods": ["totp"], "totp": {"user": {
        "id": user["id"]}}}}}).status_code == 400

    # Passcode guessing is cut off: after 5 wrong passcodes in a 30-second step even the right one fails.
    secret = pyotp.random_base32()
    keystone.create("/credentials", "credential", {"type": "totp", "user_id": user["id"], "blob": secret})
    totp = pyotp.TOTP(secret)
    if 30 - time.time() % 30 < 8:
        time.sleep(30 - time.time() % 30 + 0.5)  # all of it within one step
    right = totp.now()
    wrong = str((int(right) + 1) % 1_000_000).zfill(6)
    for _ in range(5):
        assert keystone.authenticate(totp_auth(user["id"], wrong)).status_code == 401
    assert keystone.authenticate(totp_auth(user["id"], right)).status_code == 401
