"""Roles, implied roles and role assignments on projects, domains and the system."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import RunningCloud
from tests.functional.identity.keystone import Keystone, unique

pytestmark = pytest.mark.functional


def _assignments(cloud: RunningCloud, *args: str) -> list[dict[str, Any]]:
    out = cloud.openstack("role", "assignment", "list", "--names", *args, "-f", "json", cloud="litestack-admin")
    rows: list[dict[str, Any]] = json.loads(out.stdout)
    return rows


def _rows(rows: list[dict[str, Any]]) -> set[tuple[str, str, str, str, str, bool]]:
    return {(r["Role"], r["User"], r["Project"], r["Domain"], r["System"], r["Inherited"]) for r in rows}


def test_implied_role_with_cli(cloud: RunningCloud, keystone: Keystone) -> None:
    prior, implied = unique("prior"), unique("implied")
    cloud.openstack("role", "create", prior, cloud="litestack-admin")
    cloud.openstack("role", "create", implied, cloud="litestack-admin")
    cloud.openstack("implied", "role", "create", prior, "--implied-role", implied, cloud="litestack-admin")
    rules = json.loads(cloud.openstack("implied", "role", "list", "-f", "json", cloud="litestack-admin").stdout)
    assert {"Prior Role Name": prior, "Implied Role Name": implied}.items() <= next(
        r for r in rules if r["Prior Role Name"] == prior).items()

    # A token scoped with the prior role carries the implied one too.
    project, user, password = keystone.new_member("implied", role=prior)
    token = keystone.token(user["name"], password, project=project["name"])
    roles = keystone.get("/auth/tokens", headers={"X-Subject-Token": token}).json()["token"]["roles"]
    assert {r["name"] for r in roles} == {prior, implied}

    # Loops are refused.
    loop = keystone.request("PUT", f"/roles/{keystone.role_id(implied)}/implies/{keystone.role_id(prior)}")
    assert loop.status_code == 403


def test_assignment_flows_with_cli(cloud: RunningCloud, keystone: Keystone) -> None:
    """Direct, domain, system, group and inherited grants, and what --effective makes of them."""
    suffix = unique("flow")
    parent = keystone.create("/projects", "project", {"name": f"parent-{suffix}"})
    child = keystone.create("/projects", "project", {"name": f"child-{suffix}", "parent_id": parent["id"]})
    user = keystone.create("/users", "user", {"name": f"user-{suffix}", "password": "pw-flow"})
    uname, pname, cname = f"user-{suffix}@Default", f"parent-{suffix}@Default", f"child-{suffix}@Default"
    group, extra = f"group-{suffix}", f"extra-{suffix}"
    gid = keystone.create("/groups", "group", {"name": group})["id"]
    assert keystone.request("PUT", f"/groups/{gid}/users/{user['id']}").status_code == 204
    keystone.create("/roles", "role", {"name": extra})

    def add(*args: str) -> None:
        cloud.openstack("role", "add", *args, cloud="litestack-admin")

    add("--user", user["name"], "--project", parent["name"], "member")
    add("--user", user["name"], "--domain", "default", "reader")
    add("--user", user["name"], "--system", "all", "reader")
    add("--group", group, "--project", parent["name"], extra)
    add("--user", user["name"], "--project", parent["name"], "--inherited", "admin")

    direct = _rows(_assignments(cloud, "--user", user["name"]))
    assert direct == {
        ("member", uname, pname, "", "", False),
        ("reader", uname, "", "Default", "", False),
        ("reader", uname, "", "", "all", False),
        ("admin", uname, pname, "", "", True),
    }
    by_group = _rows(_assignments(cloud, "--group", group))
    assert by_group == {(extra, "", pname, "", "", False)}

    effective = _rows(_assignments(cloud, "--user", user["name"], "--effective"))
    assert effective == {
        # direct on the parent, and the role it implies
        ("member", uname, pname, "", "", False), ("reader", uname, pname, "", "", False),
        # through the group
        (extra, uname, pname, "", "", False),
        # inherited from the parent to the child (admin implies member implies reader);
        # not on the parent itself
        ("admin", uname, cname, "", "", False), ("member", uname, cname, "", "", False),
        ("reader", uname, cname, "", "", False),
        ("reader", uname, "", "Default", "", False),
        ("reader", uname, "", "", "all", False),
    }

    # What the listing says is what tokens get.
    parent_token = keystone.token(user["name"], "pw-flow", project=parent["name"])
    body = keystone.get("/auth/tokens", headers={"X-Subject-Token": parent_token}).json()["token"]
    assert {r["name"] for r in body["roles"]} == {"member", "reader", extra}
    child_token = keystone.token(user["name"], "pw-flow", project=child["name"])
    body = keystone.get("/auth/tokens", headers={"X-Subject-Token": child_token}).json()["token"]
    assert {r["name"] for r in body["roles"]} == {"admin", "member", "reader"}
    system_token = keystone.token(user["name"], "pw-flow", system=True)
    body = keystone.get("/auth/tokens", headers={"X-Subject-Token": system_token}).json()["token"]
    assert body["system"] == {"all": True} and [r["name"] for r in body["roles"]] == ["reader"]

    # Removing the group grant takes the role out of new tokens and ends the old ones.
    cloud.openstack("role", "remove", "--group", group, "--project", parent["name"], extra,
                    cloud="litestack-admin")
    assert keystone.request("HEAD", "/auth/tokens", headers={"X-Subject-Token": parent_token}).status_code == 404
    parent_token = keystone.token(user["name"], "pw-flow", project=parent["name"])
    body = keystone.get("/auth/tokens", headers={"X-Subject-Token": parent_token}).json()["token"]
    assert {r["name"] for r in body["roles"]} == {"member", "reader"}


def test_effective_assignments_of_a_project_include_inherited_domain_grants(keystone: Keystone) -> None:
    domain = keystone.create("/domains", "domain", {"name": unique("inhdom")})
    project = keystone.create("/projects", "project", {"name": "p", "domain_id": domain["id"]})
    user = keystone.create("/users", "user", {"name": "u", "domain_id": domain["id"], "password": "pw-inh"})
    member = keystone.role_id("member")
    keystone.grant(member, user=user["id"], domain=domain["id"], inherited=True)

    r = keystone.get("/role_assignments", params={"scope.project.id": project["id"], "effective": "",
                                                   "include_names": "1"})
    assert r.status_code == 200
    rows = r.json()["role_assignments"]
    assert {(a["role"]["name"], a["user"]["name"], a["scope"]["project"]["name"]) for a in rows} == {
        ("member", "u", "p"), ("reader", "u", "p")}
    keystone.token("u", "pw-inh", project="p", user_domain=domain["name"])
    # There is no role on the domain itself: inherited grants apply to its projects only.
    refused = keystone.authenticate({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {"id": user["id"], "password": "pw-inh"}}},
        "scope": {"domain": {"id": domain["id"]}}}})
    assert refused.status_code == 401


def test_grant_listing_and_checks_over_raw_http(keystone: Keystone) -> None:
    project, user, _ = keystone.new_member("grants")
    base = f"/projects/{project['id']}/users/{user['id']}/roles"
    listed = keystone.get(base)
    assert listed.status_code == 200
    assert [r["name"] for r in listed.json()["roles"]] == ["member"]
    assert listed.json()["links"]["self"] == f"{keystone.cloud.auth_url}/v3{base}"
    member = keystone.role_id("member")
    assert keystone.request("HEAD", f"{base}/{member}").status_code == 204
    assert keystone.request("HEAD", f"{base}/{keystone.role_id('admin')}").status_code == 404
    assert keystone.request("DELETE", f"{base}/{member}").status_code == 204
    assert keystone.get(base).json()["roles"] == []
    system = keystone.get(f"/system/users/{user['id']}/roles")
    assert system.status_code == 200 and system.json()["roles"] == []


def test_sdk_role_assignment(cloud: RunningCloud, keystone: Keystone) -> None:
    project = keystone.create("/projects", "project", {"name": unique("sdkgrant")})
    user = keystone.create("/users", "user", {"name": unique("sdkgrant"), "password": "pw-sdk"})
    conn = cloud.sdk("litestack-admin")
    try:
        role = conn.identity.find_role("reader")
        conn.identity.assign_project_role_to_user(project["id"], user["id"], role.id)
        assert conn.identity.validate_user_has_project_role(project["id"], user["id"], role.id)
        found = list(conn.identity.role_assignments(user_id=user["id"]))
        assert [(a.role["id"], a.scope["project"]["id"]) for a in found] == [(role.id, project["id"])]
        conn.identity.unassign_project_role_from_user(project["id"], user["id"], role.id)
        assert not conn.identity.validate_user_has_project_role(project["id"], user["id"], role.id)
    finally:
        conn.close()
