"""Unified limits (registered limits, project and domain limits) through the real CLI and SDK."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.conftest import RunningCloud
from tests.functional.identity.keystone import Keystone, unique

pytestmark = pytest.mark.functional


def test_limits_with_cli_and_sdk(cloud: RunningCloud, keystone: Keystone) -> None:
    admin = cloud.sdk("litestack-admin")
    service = admin.identity.create_service(name=unique("quota-svc"), type=unique("quota"))
    resource = unique("widgets")

    reg = json.loads(cloud.openstack("registered", "limit", "create", "--service", service.id,
                                     "--default-limit", "5", "--region", "RegionOne", resource, "-f", "json",
                                     cloud="litestack-admin").stdout)
    assert (reg["default_limit"], reg["region_id"], reg["resource_name"]) == (5, "RegionOne", resource)
    assert [r.id for r in admin.identity.registered_limits(service_id=service.id)] == [reg["id"]]

    project, user, password = keystone.new_member("limits")
    other_project, other_user, other_password = keystone.new_member("limits-other")
    lim = admin.identity.create_limit(service_id=service.id, project_id=project["id"], resource_name=resource,
                                      resource_limit=9, region_id="RegionOne", description="more widgets")
    assert (lim.resource_limit, lim.project_id, lim.service_id) == (9, project["id"], service.id)
    domain_limit = keystone.request("POST", "/limits", json={"limits": [{
        "service_id": service.id, "domain_id": "default", "resource_name": resource, "resource_limit": 7,
        "region_id": "RegionOne"}]})
    assert domain_limit.status_code == 201, domain_limit.text
    assert domain_limit.json()["limits"][0]["domain_id"] == "default"

    # A member sees its project's limits only (oslo.limit in a service reads them this way).
    mine = json.loads(keystone.openstack_as(user["name"], password, project["name"], "limit", "list",
                                            "-f", "json").stdout)
    assert [x["ID"] for x in mine] == [lim.id]
    member_token = keystone.token(other_user["name"], other_password, project=other_project["name"])
    assert keystone.get("/limits", member_token).json()["limits"] == []
    assert keystone.get(f"/limits/{lim.id}", member_token).status_code == 403
    assert keystone.get(f"/limits/{lim.id}", keystone.token(user["name"], password, project=project["name"])
                        ).json()["limit"]["resource_limit"] == 9
    assert keystone.get("/registered_limits", member_token).status_code == 200  # anyone reads defaults
    assert keystone.request("POST", "/limits", member_token, json={"limits": [{
        "service_id": service.id, "project_id": other_project["id"], "resource_name": resource,
        "resource_limit": 1000}]}).status_code == 403

    # Updating: values freely, the resource key only while no limit refers to it.
    assert admin.identity.update_limit(lim, resource_limit=11).resource_limit == 11
    r = keystone.request("PATCH", f"/registered_limits/{reg['id']}", json={"registered_limit": {"default_limit": 6}})
    assert r.status_code == 200 and r.json()["registered_limit"]["default_limit"] == 6
    r = keystone.request("PATCH", f"/registered_limits/{reg['id']}",
                         json={"registered_limit": {"resource_name": "gadgets"}})
    assert r.status_code == 403
    assert keystone.request("DELETE", f"/registered_limits/{reg['id']}").status_code == 403
    assert keystone.request("DELETE", f"/services/{service.id}").status_code == 403

    # Deleting the project deletes its limits; then the registered limit and the service can go.
    assert keystone.request("DELETE", f"/projects/{project['id']}").status_code == 204
    assert keystone.get(f"/limits/{lim.id}").status_code == 404
    assert keystone.request("DELETE", f"/limits/{domain_limit.json()['limits'][0]['id']}").status_code == 204
    assert keystone.request("DELETE", f"/registered_limits/{reg['id']}").status_code == 204
    assert keystone.request("DELETE", f"/services/{service.id}").status_code == 204


def test_limit_bad_input(keystone: Keystone) -> None:
    service = keystone.create("/services", "service", {"type": unique("quota"), "name": unique("svc")})
    project = keystone.create("/projects", "project", {"name": unique("limits-bad")})

    def registered(**item: object) -> int:
        body = {"service_id": service["id"], "resource_name": "cores", "default_limit": 4, **item}
        return keystone.request("POST", "/registered_limits", json={"registered_limits": [body]}).status_code

    assert registered(default_limit=-2) == 400
    assert registered(default_limit="4") == 400
    assert registered(service_id=uuid.uuid4().hex) == 400
    assert registered(region_id="NoSuchRegion") == 400
    assert registered(colour="red") == 400
    assert keystone.request("POST", "/registered_limits", json={"registered_limits": []}).status_code == 400
    assert registered() == 201
    assert registered() == 409

    def limit(**item: object) -> int:
        body = {"service_id": service["id"], "resource_name": "cores", "resource_limit": 8, **item}
        return keystone.request("POST", "/limits", json={"limits": [body]}).status_code

    assert limit() == 400  # neither project nor domain
    assert limit(project_id=project["id"], domain_id="default") == 400
    assert limit(project_id=uuid.uuid4().hex) == 400
    assert limit(project_id=project["id"], resource_name="ram") == 403  # nothing registered for it
    assert limit(project_id=project["id"]) == 201
    assert limit(project_id=project["id"]) == 409
    assert keystone.get("/limits/model").json()["model"]["name"] == "flat"
    r = keystone.request("PATCH", f"/limits/{uuid.uuid4().hex}", json={"limit": {"resource_limit": 1}})
    assert r.status_code == 404 and r.json()["error"]["code"] == 404
