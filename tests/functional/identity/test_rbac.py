"""Who may do what: the system administrator, project members, and isolation between projects."""

from __future__ import annotations

import json

import pytest

from tests.conftest import RunningCloud
from tests.functional.identity.keystone import Keystone, unique

pytestmark = pytest.mark.functional


def test_system_scoped_admin_lists_users_and_projects(cloud: RunningCloud) -> None:
    users = json.loads(cloud.openstack("user", "list", "-f", "json", cloud="litestack-system").stdout)
    assert {"admin", "demo"} <= {u["Name"] for u in users}
    projects = json.loads(cloud.openstack("project", "list", "-f", "json", cloud="litestack-system").stdout)
    assert {"admin", "demo", "service"} <= {p["Name"] for p in projects}
    token = json.loads(cloud.openstack("token", "issue", "-f", "json", cloud="litestack-system").stdout)
    assert "project_id" not in token or not token["project_id"]


def test_project_member_cannot_create_or_list_users(cloud: RunningCloud) -> None:
    create = cloud.openstack("user", "create", "x", cloud="litestack", check=False)
    assert create.returncode != 0
    assert "403" in create.stderr and "identity:create_user" in create.stderr
    listing = cloud.openstack("user", "list", cloud="litestack", check=False)
    assert listing.returncode != 0 and "403" in listing.stderr


def test_member_of_one_project_cannot_reach_another(keystone: Keystone) -> None:
    project_a, user_a, password_a = keystone.new_member("iso-a")
    project_b, user_b, password_b = keystone.new_member("iso-b")
    token_a = keystone.token(user_a["name"], password_a, project=project_a["name"])
    token_b = keystone.token(user_b["name"], password_b, project=project_b["name"])
    cred = keystone.request("POST", f"/users/{user_b['id']}/application_credentials", token_b,
                            json={"application_credential": {"name": "b-cred"}})
    assert cred.status_code == 201
    cred_id = cred.json()["application_credential"]["id"]

    # Their own project is visible to them ...
    assert keystone.get(f"/projects/{project_a['id']}", token_a).status_code == 200
    # ... the other one is not, nor its user, nor that user's credentials.
    assert keystone.get(f"/projects/{project_b['id']}", token_a).status_code in (403, 404)
    assert keystone.get(f"/users/{user_b['id']}", token_a).status_code == 403
    assert keystone.get(f"/users/{user_b['id']}/application_credentials", token_a).status_code == 403
    assert keystone.get(f"/users/{user_b['id']}/application_credentials/{cred_id}",
                        token_a).status_code == 403
    assert keystone.request("DELETE", f"/users/{user_b['id']}/application_credentials/{cred_id}",
                            token_a).status_code == 403
    assert keystone.get(f"/users/{user_b['id']}/credentials/OS-EC2", token_a).status_code == 403
    assert keystone.get(f"/users/{user_b['id']}/projects", token_a).status_code == 403
    assert keystone.get("/role_assignments", token_a,
                        params={"scope.project.id": project_b["id"]}).status_code == 403
    assert keystone.get("/auth/tokens", token_a, headers={"X-Subject-Token": token_b}).status_code == 403

    # Nor can a member raise their own privileges.
    admin_role = keystone.role_id("admin")
    for path in (f"/projects/{project_a['id']}/users/{user_a['id']}/roles/{admin_role}",
                 f"/projects/{project_b['id']}/users/{user_a['id']}/roles/{admin_role}",
                 f"/system/users/{user_a['id']}/roles/{admin_role}"):
        assert keystone.request("PUT", path, token_a).status_code == 403
    assert keystone.request("PATCH", f"/projects/{project_a['id']}", token_a,
                            json={"project": {"description": "mine now"}}).status_code == 403
    assert keystone.request("PATCH", f"/users/{user_a['id']}", token_a,
                            json={"user": {"enabled": True}}).status_code == 403

    # B's credential is untouched.
    assert keystone.get(f"/users/{user_b['id']}/application_credentials/{cred_id}").status_code == 200


def test_member_sees_themselves_and_their_own_things(keystone: Keystone) -> None:
    project, user, password = keystone.new_member("self")
    token = keystone.token(user["name"], password, project=project["name"])
    assert keystone.get(f"/users/{user['id']}", token).json()["user"]["name"] == user["name"]
    own = keystone.get(f"/users/{user['id']}/projects", token).json()["projects"]
    assert [p["id"] for p in own] == [project["id"]]
    assert keystone.get(f"/users/{user['id']}/groups", token).status_code == 200
    assert keystone.get(f"/users/{user['id']}/application_credentials", token).json()[
        "application_credentials"] == []
    assert keystone.get("/roles/" + keystone.role_id("member"), token).status_code == 200


def test_domain_reader_reads_their_domain_only(keystone: Keystone) -> None:
    domain = keystone.create("/domains", "domain", {"name": unique("readdom")})
    reader = keystone.create("/users", "user", {"name": "reader", "domain_id": domain["id"], "password": "pw-r"})
    project = keystone.create("/projects", "project", {"name": "inside", "domain_id": domain["id"]})
    keystone.grant(keystone.role_id("reader"), user=reader["id"], domain=domain["id"])
    token = keystone.token("reader", "pw-r", domain=domain["name"], user_domain=domain["name"])

    users = keystone.get("/users", token)
    assert users.status_code == 200 and [u["id"] for u in users.json()["users"]] == [reader["id"]]
    projects = keystone.get("/projects", token)
    assert projects.status_code == 200 and [p["id"] for p in projects.json()["projects"]] == [project["id"]]
    assert keystone.get("/groups", token).status_code == 200
    grants = keystone.get("/role_assignments", token, params={"scope.domain.id": domain["id"]})
    assert grants.status_code == 200
    assert [a["user"]["id"] for a in grants.json()["role_assignments"]] == [reader["id"]]

    # Other domains stay out of reach, and reading is not writing.
    assert keystone.get("/users", token, params={"domain_id": "default"}).status_code == 403
    assert keystone.get("/projects", token, params={"domain_id": "default"}).status_code == 403
    assert keystone.request("POST", "/users", token,
                            json={"user": {"name": "x", "domain_id": domain["id"]}}).status_code == 403
