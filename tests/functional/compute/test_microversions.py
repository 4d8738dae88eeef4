"""The microversion ladder of the compute API: what each version changes in the views and the
validation, asked for over HTTP with ``OpenStack-API-Version`` (and through the real clients).

Tests of versions above the advertised maximum (``VERSIONS``) are skipped until it is raised:
they run as they are when it is."""

from __future__ import annotations

from typing import Any

import pytest

from litestack.compute.api.base import VERSIONS, v
from tests.conftest import RunningCloud
from tests.functional.compute.conftest import Nova, nova_error, unique

pytestmark = pytest.mark.functional


def at(minor: int) -> dict[str, str]:
    return {"OpenStack-API-Version": f"compute 2.{minor}"}


def above(minor: int) -> Any:
    return pytest.mark.skipif(VERSIONS.maximum < v(minor), reason=f"2.{minor} is not advertised yet")


def test_server_views_from_2_1_to_2_13(nova: Nova) -> None:
    srv = nova.boot(user_data="aGVsbG8=")
    sid = srv["id"]
    old = nova.compute("GET", f"/servers/{sid}", nova.admin, headers=at(1)).json()["server"]
    assert "OS-EXT-SRV-ATTR:hostname" not in old and "locked" not in old
    new = nova.compute("GET", f"/servers/{sid}", nova.admin, headers=at(3)).json()["server"]
    assert new["OS-EXT-SRV-ATTR:hostname"] == srv["name"] and new["OS-EXT-SRV-ATTR:user_data"] == "aGVsbG8="
    assert new["OS-EXT-SRV-ATTR:launch_index"] == 0 and new["OS-EXT-SRV-ATTR:reservation_id"].startswith("r-")
    assert new["OS-EXT-SRV-ATTR:root_device_name"] == "/dev/vda" and "locked" not in new
    as_user = nova.compute("GET", f"/servers/{sid}", headers=at(3)).json()["server"]
    assert "OS-EXT-SRV-ATTR:user_data" not in as_user  # the extended attributes are the admin's
    nova.compute("POST", f"/servers/{sid}/action", json={"lock": None})
    listed = nova.compute("GET", "/servers/detail", headers=at(9)).json()["servers"]
    assert [s["locked"] for s in listed if s["id"] == sid] == [True]
    nova.compute("POST", f"/servers/{sid}/action", json={"unlock": None})
    assert nova.compute("GET", f"/servers/{sid}", headers=at(9)).json()["server"]["locked"] is False
    # 2.5: ip6 is a user filter (this network has IPv4 only: nothing matches)
    assert nova.compute("GET", "/servers?ip6=.*", headers=at(5)).json()["servers"] == []
    # Fields of later versions are refused below them, as Nova's schemas do.
    r = nova.compute("PUT", f"/servers/{sid}", json={"server": {"description": "d"}}, headers=at(13))
    nova_error(r, 400, "badRequest", "'description' was unexpected")
    nova_error(nova.compute("GET", f"/servers/{sid}/tags", headers=at(13)), 404, "itemNotFound")
    r = nova.compute("POST", f"/servers/{sid}/action", json={"trigger_crash_dump": None}, headers=at(13))
    nova_error(r, 400, "badRequest", "There is no such action: trigger_crash_dump")
    nova.compute("DELETE", f"/servers/{sid}")
    assert nova.gone(sid)


def test_services_force_down_keypairs_and_groups_at_2_10_to_2_13(cloud: RunningCloud, nova: Nova) -> None:
    services = nova.compute("GET", "/os-services", nova.admin, headers=at(11)).json()["services"]
    assert all(s["forced_down"] is False for s in services)
    assert "forced_down" not in nova.compute("GET", "/os-services", nova.admin).json()["services"][0]
    host = services[-1]["host"]
    r = nova.compute("PUT", "/os-services/force-down", nova.admin, headers=at(11),
                     json={"host": host, "binary": "nova-compute", "forced_down": True})
    assert r.json() == {"service": {"host": host, "binary": "nova-compute", "forced_down": True}}
    try:
        shown = nova.compute("GET", f"/os-services?host={host}", nova.admin, headers=at(11)).json()["services"]
        assert shown[0]["state"] == "down" and shown[0]["forced_down"] is True
    finally:
        nova.compute("PUT", "/os-services/force-down", nova.admin, headers=at(11),
                     json={"host": host, "binary": "nova-compute", "forced_down": False})
    nova_error(nova.compute("PUT", "/os-services/force-down", nova.admin, headers=at(10),
                            json={"host": host, "binary": "nova-compute", "forced_down": True}), 404, "itemNotFound")
    # 2.10: an admin makes and reads another user's key pair
    _token, _project = nova.other
    other_user = nova.keystone.http.get("/v3/auth/tokens", headers={
        "X-Auth-Token": nova.admin, "X-Subject-Token": _token}).json()["token"]["user"]["id"]
    name = unique("kp")
    r = nova.compute("POST", "/os-keypairs", nova.admin, headers=at(10),
                     json={"keypair": {"name": name, "user_id": other_user}})
    assert r.status_code == 201 and r.json()["keypair"]["user_id"] == other_user
    assert nova.compute("GET", f"/os-keypairs/{name}?user_id={other_user}", nova.admin,
                        headers=at(10)).json()["keypair"]["user_id"] == other_user
    assert name in [k["keypair"]["name"] for k in nova.compute("GET", "/os-keypairs", _token).json()["keypairs"]]
    r = nova.compute("POST", "/os-keypairs", nova.admin, headers=at(9),
                     json={"keypair": {"name": unique("kp"), "user_id": other_user}})
    nova_error(r, 400, "badRequest", "'user_id' was unexpected")
    # 2.13: server groups show their owner
    conn = cloud.sdk()
    group = conn.compute.create_server_group(name=unique("grp"), policies=["affinity"])
    shown = nova.compute("GET", f"/os-server-groups/{group.id}", headers=at(13)).json()["server_group"]
    assert shown["project_id"] == nova.demo_project and shown["user_id"]
    assert "project_id" not in nova.compute("GET", f"/os-server-groups/{group.id}").json()["server_group"]
    r = nova.compute("POST", "/os-server-groups", headers=at(13),
                     json={"server_group": {"name": "s", "policies": ["soft-affinity"]}})
    nova_error(r, 400, "badRequest")  # soft policies came with 2.15
    conn.compute.delete_server_group(group)


@above(52)
def test_tags_description_and_host_status_from_2_16_to_2_52(cloud: RunningCloud, nova: Nova) -> None:
    r = nova.compute("POST", "/servers", headers=at(52), json={"server": {
        "name": unique("srv"), "flavorRef": "1", "imageRef": nova.image, "networks": "auto",
        "description": "web tier", "tags": ["a"]}})
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    srv = nova.wait(sid, "ACTIVE")
    assert srv["addresses"]  # "auto": the project's one network
    made = nova.compute("GET", f"/servers/{sid}", headers=at(52)).json()["server"]
    assert made["description"] == "web tier" and made["tags"] == ["a"]
    nova.compute("DELETE", f"/servers/{sid}/tags", headers=at(26))
    r = nova.compute("POST", "/servers", headers=at(37), json={"server": {
        "name": unique("srv"), "flavorRef": "1", "imageRef": nova.image}})
    nova_error(r, 400, "badRequest", "'networks' is a required property")
    shown = nova.compute("GET", f"/servers/{sid}", nova.admin, headers=at(26)).json()["server"]
    assert shown["host_status"] == "UP" and "host_status" not in nova.compute(
        "GET", f"/servers/{sid}", headers=at(26)).json()["server"]
    r = nova.compute("PUT", f"/servers/{sid}", json={"server": {"description": "front"}}, headers=at(19))
    assert r.json()["server"]["description"] == "front"
    assert nova.compute("PUT", f"/servers/{sid}/tags", json={"tags": ["x", "y"]}, headers=at(26)).json() == {
        "tags": ["x", "y"]}
    r = nova.compute("PUT", f"/servers/{sid}/tags/z", headers=at(26))
    assert r.status_code == 201 and r.headers["Location"].endswith(f"/servers/{sid}/tags/z")
    assert nova.compute("PUT", f"/servers/{sid}/tags/z", headers=at(26)).status_code == 204
    assert nova.compute("GET", f"/servers/{sid}/tags/y", headers=at(26)).status_code == 204
    nova_error(nova.compute("GET", f"/servers/{sid}/tags/nope", headers=at(26)), 404, "itemNotFound")
    nova_error(nova.compute("PUT", f"/servers/{sid}/tags", json={"tags": ["a/b"]}, headers=at(26)), 400,
               "badRequest")
    found = nova.compute("GET", "/servers?tags=x,z", headers=at(26)).json()["servers"]
    assert [s["id"] for s in found] == [sid]
    assert sid not in [s["id"] for s in nova.compute("GET", "/servers?not-tags=x,y", headers=at(26)).json()["servers"]]
    assert nova.compute("GET", f"/servers/{sid}", headers=at(26)).json()["server"]["tags"] == ["x", "y", "z"]
    assert nova.compute("DELETE", f"/servers/{sid}/tags", headers=at(26)).status_code == 204
    token, _ = nova.other
    nova_error(nova.compute("GET", f"/servers/{sid}/tags", token, headers=at(26)), 404, "itemNotFound")
    cloud.openstack("--os-compute-api-version", "2.26", "server", "set", "--tag", "cli-tag", sid)
    assert nova.compute("GET", f"/servers/{sid}/tags", headers=at(26)).json()["tags"] == ["cli-tag"]
    nova.compute("DELETE", f"/servers/{sid}")
    assert nova.gone(sid)


@above(53)
def test_hypervisors_services_and_limits_from_2_28_to_2_53(nova: Nova) -> None:
    hyps = nova.compute("GET", "/os-hypervisors/detail?limit=2", nova.admin, headers=at(53)).json()
    assert len(hyps["hypervisors"]) == 2 and "hypervisors_links" in hyps
    first = hyps["hypervisors"][0]
    assert len(first["id"]) == 36 and isinstance(first["cpu_info"], dict) and len(first["service"]["id"]) == 36
    shown = nova.compute("GET", f"/os-hypervisors/{first['id']}?with_servers=true", nova.admin,
                         headers=at(53)).json()["hypervisor"]
    assert shown["servers"] is not None
    nova_error(nova.compute("GET", "/os-hypervisors/1", nova.admin, headers=at(53)), 400, "badRequest")
    nova_error(nova.compute("GET", f"/os-hypervisors/{first['hypervisor_hostname']}/search", nova.admin,
                            headers=at(53)), 404, "itemNotFound")
    svc = nova.compute("GET", "/os-services", nova.admin, headers=at(53)).json()["services"][0]
    r = nova.compute("PUT", f"/os-services/{svc['id']}", nova.admin, headers=at(53),
                     json={"status": "disabled", "disabled_reason": "maintenance"})
    assert r.json()["service"]["status"] == "disabled" and r.json()["service"]["disabled_reason"] == "maintenance"
    r = nova.compute("PUT", f"/os-services/{svc['id']}", nova.admin, headers=at(53), json={"status": "enabled"})
    assert r.json()["service"]["status"] == "enabled"
    absolute = nova.compute("GET", "/limits", headers=at(57)).json()["limits"]["absolute"]
    assert "maxImageMeta" not in absolute and "maxSecurityGroups" not in absolute and "maxPersonality" not in absolute
    quotas = nova.compute("GET", f"/os-quota-sets/{nova.demo_project}", headers=at(57)).json()["quota_set"]
    assert "floating_ips" not in quotas and "injected_files" not in quotas and "server_groups" in quotas


@above(58)
def test_flavor_description_embedded_flavor_and_action_paging_to_2_58(nova: Nova) -> None:
    flavor = nova.compute("POST", "/flavors", nova.admin, headers=at(55), json={"flavor": {
        "name": unique("desc"), "ram": 64, "vcpus": 1, "disk": 1, "description": "tiny"}}).json()["flavor"]
    assert flavor["description"] == "tiny"
    r = nova.compute("PUT", f"/flavors/{flavor['id']}", nova.admin, headers=at(55),
                     json={"flavor": {"description": "small"}})
    assert r.json()["flavor"]["description"] == "small"
    srv = nova.boot(flavorRef=flavor["id"])
    embedded = nova.compute("GET", f"/servers/{srv['id']}", headers=at(47)).json()["server"]["flavor"]
    assert embedded == {"vcpus": 1, "ram": 64, "disk": 1, "ephemeral": 0, "swap": 0,
                        "original_name": flavor["name"], "extra_specs": {}}
    for action in ("os-stop", "os-start"):
        nova.compute("POST", f"/servers/{srv['id']}/action", json={action: None})
        nova.wait(srv["id"], "SHUTOFF" if action == "os-stop" else "ACTIVE")
    page = nova.compute("GET", f"/servers/{srv['id']}/os-instance-actions?limit=1", headers=at(58)).json()
    assert [a["action"] for a in page["instanceActions"]] == ["start"] and page["links"]
    assert "updated_at" in page["instanceActions"][0]
    nova.compute("DELETE", f"/servers/{srv['id']}")
    assert nova.gone(srv["id"])
    # 2.21: the actions of a deleted server stay readable
    actions = nova.compute("GET", f"/servers/{srv['id']}/os-instance-actions", headers=at(21)).json()
    assert "delete" in [a["action"] for a in actions["instanceActions"]]


def test_project_id_in_the_url_is_accepted_when_it_is_the_callers(nova: Nova) -> None:
    r = nova.request("GET", f"/compute/v2.1/{nova.demo_project}/flavors")
    assert r.status_code == 200 and r.json()["flavors"]
    _token, other = nova.other
    nova_error(nova.request("GET", f"/compute/v2.1/{other}/flavors"), 400, "badRequest", "doesn't match")
