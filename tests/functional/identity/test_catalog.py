"""The service catalog: listing it, and regions, services and endpoints managed by an admin."""

from __future__ import annotations

import json

import pytest

from tests.conftest import RunningCloud
from tests.functional.identity.keystone import Keystone, unique

pytestmark = pytest.mark.functional


def test_catalog_and_endpoint_list_show_identity(cloud: RunningCloud) -> None:
    catalog = json.loads(cloud.openstack("catalog", "list", "-f", "json").stdout)
    identity = next(s for s in catalog if s["Type"] == "identity")
    assert identity["Name"] == "keystone"
    assert {e["interface"] for e in identity["Endpoints"]} == {"public", "internal", "admin"}
    assert all(e["url"] == cloud.auth_url and e["region"] == "RegionOne" for e in identity["Endpoints"])

    endpoints = json.loads(cloud.openstack("endpoint", "list", "--service", "identity", "-f", "json",
                                           cloud="litestack-admin").stdout)
    assert sorted(e["Interface"] for e in endpoints) == ["admin", "internal", "public"]
    assert {e["URL"] for e in endpoints} == {cloud.auth_url}


def test_admin_creates_and_deletes_region_service_endpoint(cloud: RunningCloud, keystone: Keystone) -> None:
    # A type no service of the cloud has (image, network, … are real services of the cloud now).
    region, name, kind = unique("region"), unique("glance"), unique("imagery")

    def admin(*args: str) -> dict[str, object]:
        out: dict[str, object] = json.loads(cloud.openstack(*args, "-f", "json", cloud="litestack-admin").stdout)
        return out

    assert admin("region", "create", "--description", "second", region)["region"] == region
    service = admin("service", "create", "--name", name, "--description", "images", kind)
    assert service["type"] == kind and service["name"] == name
    endpoint = admin("endpoint", "create", "--region", region, str(service["id"]), "public",
                     "http://images.example:9292")
    assert endpoint["region"] == region and endpoint["service_name"] == name

    # Any user's next token carries the new endpoint.
    shown = json.loads(cloud.openstack("catalog", "show", kind, "-f", "json").stdout)
    assert shown["name"] == name
    assert [(e["interface"], e["url"], e["region_id"]) for e in shown["endpoints"]] == [
        ("public", "http://images.example:9292", region)]

    # A region in use cannot go; the service takes its endpoints with it.
    busy = cloud.openstack("region", "delete", region, cloud="litestack-admin", check=False)
    assert busy.returncode != 0
    cloud.openstack("service", "delete", str(service["id"]), cloud="litestack-admin")
    assert keystone.get(f"/endpoints/{endpoint['id']}").status_code == 404
    cloud.openstack("region", "delete", region, cloud="litestack-admin")
    assert keystone.get(f"/regions/{region}").status_code == 404
    catalog = keystone.get("/auth/catalog").json()["catalog"]
    assert all(s["type"] != kind for s in catalog)


def test_project_id_in_endpoint_urls_is_filled_in(keystone: Keystone) -> None:
    service = keystone.create("/services", "service", {"type": unique("objstore"), "name": "swift"})
    keystone.create("/endpoints", "endpoint", {"service_id": service["id"], "interface": "public",
                                               "url": "http://swift.example/v1/AUTH_$(project_id)s"})
    project, user, password = keystone.new_member("catalog")
    token = keystone.token(user["name"], password, project=project["name"])
    catalog = keystone.get("/auth/catalog", token=token).json()["catalog"]
    (svc,) = [s for s in catalog if s["id"] == service["id"]]
    assert [e["url"] for e in svc["endpoints"]] == [f"http://swift.example/v1/AUTH_{project['id']}"]
    keystone.request("DELETE", f"/services/{service['id']}")


def test_member_cannot_change_the_catalog(keystone: Keystone) -> None:
    project, user, password = keystone.new_member("nocat")
    token = keystone.token(user["name"], password, project=project["name"])
    r = keystone.request("POST", "/services", token, json={"service": {"type": "evil"}})
    assert r.status_code == 403
    assert keystone.request("POST", "/regions", token, json={"region": {"id": "evil"}}).status_code == 403
    # Regions are public knowledge; services and endpoints are for readers of the system.
    assert keystone.get("/regions", token).status_code == 200
    assert keystone.get("/endpoints", token).status_code == 403
