"""Users (self-service password change) and groups with their members."""

from __future__ import annotations

import json

import pytest

from tests.conftest import RunningCloud
from tests.functional.identity.keystone import Keystone, password_auth, unique

pytestmark = pytest.mark.functional


def test_user_changes_own_password_with_cli(cloud: RunningCloud, keystone: Keystone) -> None:
    project, user, old = keystone.new_member("pw")
    token = keystone.token(user["name"], old, project=project["name"])
    keystone.openstack_as(user["name"], old, project["name"], "user", "password", "set",
                          "--original-password", old, "--password", "brand-new-password")

    assert keystone.authenticate(password_auth(user["name"], old, project=project["name"])).status_code == 401
    keystone.token(user["name"], "brand-new-password", project=project["name"])
    # Tokens issued with the old password end with it.
    assert keystone.request("HEAD", "/auth/tokens", headers={"X-Subject-Token": token}).status_code == 404


def test_password_change_needs_the_original_password(keystone: Keystone) -> None:
    _, user, password = keystone.new_member("pwwrong")
    r = keystone.http.post(f"/v3/users/{user['id']}/password", json={"user": {
        "original_password": "not-it", "password": "whatever-else"}})
    assert r.status_code == 401
    keystone.token(user["name"], password)


def test_admin_user_crud_with_cli(cloud: RunningCloud, keystone: Keystone) -> None:
    name = unique("cliuser")
    user = json.loads(cloud.openstack("user", "create", "--password", "pw-12345", "--email", "a@example.com",
                                      "--description", "functional", name, "-f", "json",
                                      cloud="litestack-admin").stdout)
    assert user["name"] == name and user["enabled"] is True and user["email"] == "a@example.com"
    cloud.openstack("user", "set", "--disable", name, cloud="litestack-admin")
    assert keystone.get(f"/users/{user['id']}").json()["user"]["enabled"] is False
    assert keystone.authenticate(password_auth(name, "pw-12345")).status_code == 401
    cloud.openstack("user", "delete", name, cloud="litestack-admin")
    missing = keystone.get(f"/users/{user['id']}")
    assert missing.status_code == 404


def test_duplicate_user_name_is_a_conflict(keystone: Keystone) -> None:
    name = unique("dupuser")
    keystone.create("/users", "user", {"name": name})
    r = keystone.request("POST", "/users", json={"user": {"name": name}})
    assert r.status_code == 409 and r.json()["error"]["title"] == "Conflict"


def test_group_membership_with_cli(cloud: RunningCloud, keystone: Keystone) -> None:
    _, user, _ = keystone.new_member("grp")
    group = unique("group")
    cloud.openstack("group", "create", "--description", "functional", group, cloud="litestack-admin")
    cloud.openstack("group", "add", "user", group, user["name"], cloud="litestack-admin")
    contains = cloud.openstack("group", "contains", "user", group, user["name"], cloud="litestack-admin")
    assert "in group" in contains.stdout and "not in group" not in contains.stdout
    members = cloud.openstack("user", "list", "--group", group, "-f", "value", "-c", "Name",
                              cloud="litestack-admin").stdout.split()
    assert members == [user["name"]]
    groups = keystone.get(f"/users/{user['id']}/groups").json()["groups"]
    assert [g["name"] for g in groups] == [group]

    cloud.openstack("group", "remove", "user", group, user["name"], cloud="litestack-admin")
    gid = groups[0]["id"]
    assert keystone.request("HEAD", f"/groups/{gid}/users/{user['id']}").status_code == 404
    assert keystone.get(f"/groups/{gid}/users").json()["users"] == []
