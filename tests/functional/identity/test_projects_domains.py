"""Projects (tags, hierarchy) and domains (create, disable, delete) through the real clients."""

from __future__ import annotations

import json

import pytest

from tests.conftest import RunningCloud
from tests.functional.identity.keystone import Keystone, unique

pytestmark = pytest.mark.functional


def test_project_tags_and_hierarchy_with_cli(cloud: RunningCloud, keystone: Keystone) -> None:
    parent_name, child_name = unique("parent"), unique("child")
    parent = json.loads(cloud.openstack("project", "create", "--tag", "prod", "--tag", "web", parent_name,
                                        "-f", "json", cloud="litestack-admin").stdout)
    assert sorted(parent["tags"]) == ["prod", "web"]
    assert parent["parent_id"] == "default" and parent["domain_id"] == "default"
    child = json.loads(cloud.openstack("project", "create", "--parent", parent_name, child_name,
                                       "-f", "json", cloud="litestack-admin").stdout)
    assert child["parent_id"] == parent["id"] and child["domain_id"] == "default"

    tagged = cloud.openstack("project", "list", "--tags", "prod", "-f", "value", "-c", "Name",
                             cloud="litestack-admin").stdout.split()
    assert tagged == [parent_name]

    grandchild = keystone.create("/projects", "project", {"name": unique("grandchild"), "parent_id": child["id"]})
    tree = keystone.get(f"/projects/{grandchild['id']}", params={"parents_as_ids": ""}).json()["project"]
    assert tree["parents"] == {child["id"]: {parent["id"]: None}}
    subtree = keystone.get(f"/projects/{parent['id']}", params={"subtree_as_ids": ""}).json()["project"]
    assert subtree["subtree"] == {child["id"]: {grandchild["id"]: None}}
    shown = json.loads(cloud.openstack("project", "show", "--children", parent_name, "-f", "json",
                                       cloud="litestack-admin").stdout)
    assert shown["subtree"] == {child["id"]: {grandchild["id"]: None}}

    # A project with children cannot go first.
    refused = keystone.request("DELETE", f"/projects/{parent['id']}")
    assert refused.status_code == 403
    cloud.openstack("project", "delete", grandchild["id"], child_name, parent_name, cloud="litestack-admin")
    assert keystone.get(f"/projects/{parent['id']}").status_code == 404


def test_project_tag_api(keystone: Keystone) -> None:
    project = keystone.create("/projects", "project", {"name": unique("tags"), "tags": ["a"]})
    base = f"/projects/{project['id']}/tags"
    assert keystone.request("PUT", f"{base}/b").status_code == 201
    assert keystone.request("GET", f"{base}/b").status_code == 204
    assert sorted(keystone.get(base).json()["tags"]) == ["a", "b"]
    assert keystone.request("PUT", base, json={"tags": ["x", "y"]}).json()["tags"] == ["x", "y"]
    assert keystone.request("DELETE", f"{base}/x").status_code == 204
    assert keystone.request("GET", f"{base}/x").status_code == 404
    bad = keystone.request("PUT", base, json={"tags": ["has/slash"]})
    assert bad.status_code == 400
    assert keystone.request("DELETE", base).status_code == 204
    assert keystone.get(base).json()["tags"] == []


def test_disabling_a_project_invalidates_its_tokens(keystone: Keystone) -> None:
    project, user, password = keystone.new_member("disable")
    token = keystone.token(user["name"], password, project=project["name"])
    r = keystone.request("PATCH", f"/projects/{project['id']}", json={"project": {"enabled": False}})
    assert r.status_code == 200 and r.json()["project"]["enabled"] is False
    assert keystone.request("HEAD", "/auth/tokens", headers={"X-Subject-Token": token}).status_code == 404
    again = keystone.authenticate({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {"id": user["id"], "password": password}}},
        "scope": {"project": {"id": project["id"]}}}})
    assert again.status_code == 401


def test_domain_create_disable_delete_with_cli(cloud: RunningCloud, keystone: Keystone) -> None:
    name = unique("dom")
    domain = json.loads(cloud.openstack("domain", "create", "--description", "functional", name,
                                        "-f", "json", cloud="litestack-admin").stdout)
    assert domain["enabled"] is True and domain["description"] == "functional"
    project = keystone.create("/projects", "project", {"name": "inside", "domain_id": domain["id"]})
    user = keystone.create("/users", "user", {"name": "inside", "domain_id": domain["id"], "password": "pw-1"})
    keystone.grant(keystone.role_id("member"), user=user["id"], project=project["id"])
    token = keystone.token("inside", "pw-1", project="inside", user_domain=name)

    enabled = cloud.openstack("domain", "delete", name, cloud="litestack-admin", check=False)
    assert enabled.returncode != 0 and "disable it first" in enabled.stderr

    cloud.openstack("domain", "set", "--disable", name, cloud="litestack-admin")
    # Disabling the domain ends its users' tokens and logins.
    assert keystone.request("HEAD", "/auth/tokens", headers={"X-Subject-Token": token}).status_code == 404
    login = keystone.authenticate({"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"id": user["id"], "password": "pw-1"}}}}})
    assert login.status_code == 401

    cloud.openstack("domain", "delete", name, cloud="litestack-admin")
    assert keystone.get(f"/domains/{domain['id']}").status_code == 404
    # Everything it owned is gone with it.
    assert keystone.get(f"/projects/{project['id']}").status_code == 404
    assert keystone.get(f"/users/{user['id']}").status_code == 404


def test_default_domain_cannot_be_disabled(keystone: Keystone) -> None:
    r = keystone.request("PATCH", "/domains/default", json={"domain": {"enabled": False}})
    assert r.status_code == 403
    assert keystone.get("/domains/default").json()["domain"]["enabled"] is True


def test_domain_tags_are_kept(keystone: Keystone) -> None:
    domain = keystone.create("/domains", "domain", {"name": unique("tagdom"), "tags": ["blue"]})
    assert domain["tags"] == ["blue"]
    assert keystone.get(f"/domains/{domain['id']}").json()["domain"]["tags"] == ["blue"]


def test_sdk_project_crud(cloud: RunningCloud) -> None:
    conn = cloud.sdk("litestack-admin")
    try:
        name = unique("sdk")
        project = conn.identity.create_project(name=name, description="made by sdk", tags=["t1"])
        found = conn.identity.find_project(name)
        assert found is not None and found.id == project.id and found.tags == ["t1"]
        conn.identity.update_project(project, description="changed")
        assert conn.identity.get_project(project.id).description == "changed"
        conn.identity.delete_project(project)
        assert conn.identity.find_project(name) is None
    finally:
        conn.close()
