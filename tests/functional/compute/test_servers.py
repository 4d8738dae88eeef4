"""The server lifecycle through the real ``openstack`` CLI and openstacksdk: boot on the
project's network, addresses and ports, console output, power actions and their states, lock,
metadata, delete; key pairs and flavors; Nova's errors for bad requests and wrong states."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningCloud, until
from tests.functional.compute.conftest import Nova, nova_error, unique

pytestmark = pytest.mark.functional


def cli_json(cloud: RunningCloud, *args: str, cloud_name: str = "litestack") -> Any:
    return json.loads(cloud.openstack(*args, "-f", "json", cloud=cloud_name).stdout)


def test_cli_boot_show_console_power_actions_and_delete(cloud: RunningCloud, nova: Nova, tmp_path: Path) -> None:
    _, net_name = nova.network
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    kp = cli_json(cloud, "keypair", "create", "--public-key", f"{key}.pub", unique("kp"))
    md5 = subprocess.run(["ssh-keygen", "-l", "-E", "md5", "-f", f"{key}.pub"], capture_output=True, text=True,
                         check=True).stdout.split()[1]
    assert kp["fingerprint"] == md5.removeprefix("MD5:")
    name = unique("cli")
    srv = cli_json(cloud, "server", "create", "--image", nova.image, "--flavor", "m1.tiny", "--key-name", kp["name"],
                   "--property", "role=web", "--wait", name)
    assert srv["status"] == "ACTIVE" and srv["OS-EXT-STS:power_state"] == 1 and srv["key_name"] == kp["name"]
    assert srv["properties"] == {"role": "web"}
    ip = srv["addresses"][net_name][0]
    ports = nova.ports(srv["id"])
    assert [p["fixed_ips"][0]["ip_address"] for p in ports] == [ip]
    assert ports[0]["device_owner"] == "compute:nova" and ports[0]["binding:host_id"]
    listed = cli_json(cloud, "server", "list", "--name", name)
    assert [s["Networks"] for s in listed] == [{net_name: [ip]}]
    console = cloud.openstack("console", "log", "show", name).stdout
    assert ip in console and f"local-hostname {name}" in console
    for action, status in (("stop", "SHUTOFF"), ("start", "ACTIVE"), ("pause", "PAUSED"), ("unpause", "ACTIVE"),
                           ("suspend", "SUSPENDED"), ("resume", "ACTIVE"), ("reboot", "ACTIVE")):
        cloud.openstack("server", action, name)
        shown = nova.wait(srv["id"], status)
        assert shown["OS-EXT-STS:task_state"] is None
    assert nova.server(srv["id"])["OS-EXT-STS:power_state"] == 1
    other_image = nova.make_image(unique("alt"))
    cloud.openstack("server", "rebuild", "--image", other_image, "--wait", name)
    rebuilt = nova.wait(srv["id"], "ACTIVE")
    assert rebuilt["image"]["id"] == other_image and rebuilt["addresses"][net_name][0]["addr"] == ip
    assert [p["id"] for p in nova.ports(srv["id"])] == [ports[0]["id"]]  # same port, same address
    actions = cli_json(cloud, "server", "event", "list", name)
    assert {"create", "stop", "start", "pause", "reboot", "rebuild"} <= {a["Action"] for a in actions}
    cloud.openstack("server", "delete", "--wait", name)
    assert nova.gone(srv["id"])
    assert nova.ports(srv["id"]) == []  # the port the compute service made is deleted with the server


def test_sdk_boot_with_a_user_port_keeps_it_unbound_after_delete(cloud: RunningCloud, nova: Nova) -> None:
    conn = cloud.sdk()
    net_id, _ = nova.network
    port = conn.network.create_port(network_id=net_id, name=unique("own"))
    server = conn.compute.create_server(name=unique("sdk"), image_id=nova.image, flavor_id="d1",
                                        networks=[{"port": port.id}], metadata={"a": "b"})
    server = conn.compute.wait_for_server(server, wait=30)
    assert server.status == "ACTIVE"
    bound = nova.ports(server.id)  # as admin: the binding is hidden from project users, as in Neutron
    assert [p["id"] for p in bound] == [port.id]
    assert bound[0]["device_owner"] == "compute:nova" and bound[0]["binding:host_id"]
    conn.compute.set_server_metadata(server, owner="me")
    assert conn.compute.get_server_metadata(server).metadata == {"a": "b", "owner": "me"}
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=30)
    kept = nova.request("GET", f"/networking/v2.0/ports/{port.id}", nova.admin).json()["port"]
    assert kept["device_id"] == "" and kept["device_owner"] == "" and kept["binding:host_id"] == ""
    conn.network.delete_port(port)


def test_flavors_and_keypairs(cloud: RunningCloud, nova: Nova) -> None:
    names = {f["Name"] for f in cli_json(cloud, "flavor", "list")}
    assert {"m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge", "ds512M", "ds1G", "ds2G", "ds4G"} <= names
    flavor = cli_json(cloud, "flavor", "create", "--ram", "256", "--vcpus", "1", "--disk", "1", "--private",
                      "--property", "hw:cpu_policy=shared", unique("flv"), cloud_name="litestack-admin")
    assert flavor["properties"] == {"hw:cpu_policy": "shared"} and flavor["os-flavor-access:is_public"] is False
    assert flavor["name"] not in {f["Name"] for f in cli_json(cloud, "flavor", "list")}  # private: not the demo's
    cloud.openstack("flavor", "set", "--project", nova.demo_project, flavor["id"], cloud="litestack-admin")
    assert flavor["name"] in {f["Name"] for f in cli_json(cloud, "flavor", "list", "--all")}
    cloud.openstack("flavor", "delete", flavor["id"], cloud="litestack-admin")
    r = nova.compute("POST", "/flavors", json={"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1}})
    nova_error(r, 403, "forbidden")
    generated = nova.compute("POST", "/os-keypairs", json={"keypair": {"name": unique("gen")}}).json()["keypair"]
    assert generated["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert generated["public_key"].startswith("ssh-rsa ")
    x509 = nova.compute("POST", "/os-keypairs", json={"keypair": {"name": unique("x509"), "type": "x509"}},
                        headers={"OpenStack-API-Version": "compute 2.2"})
    assert x509.status_code == 201 and x509.json()["keypair"]["type"] == "x509"
    assert x509.json()["keypair"]["public_key"].startswith("-----BEGIN CERTIFICATE-----")
    bad = nova.compute("POST", "/os-keypairs", json={"keypair": {"name": unique("bad"), "public_key": "ssh-rsa xx"}})
    nova_error(bad, 400, "badRequest", "Keypair data is invalid")
    dup = nova.compute("POST", "/os-keypairs", json={"keypair": {"name": generated["name"]}})
    nova_error(dup, 409, "conflictingRequest")


def test_bad_flavor_image_network_are_400(nova: Nova) -> None:
    base = {"name": "bad", "flavorRef": "1", "imageRef": nova.image}
    for change, text in (({"flavorRef": "nope"}, "Flavor nope could not be found."),
                         ({"imageRef": "8c2d2d2e-9a35-4a47-a6b4-2d3d0f8c1e77"}, "could not be found"),
                         ({"networks": [{"uuid": "8c2d2d2e-9a35-4a47-a6b4-2d3d0f8c1e77"}]}, "could not be found"),
                         ({"key_name": "missing"}, "Invalid key_name provided."),
                         ({"min_count": 0}, "Invalid input")):
        r = nova.compute("POST", "/servers", json={"server": {**base, **change}})
        nova_error(r, 400, "badRequest", text)


def test_wrong_state_is_409_and_other_projects_server_is_404(nova: Nova) -> None:
    srv = nova.boot()
    r = nova.compute("POST", f"/servers/{srv['id']}/action", json={"os-start": None})
    nova_error(r, 409, "conflictingRequest", "while it is in vm_state active")
    token, _ = nova.other
    for method, path, body in (("GET", "", None), ("DELETE", "", None), ("POST", "/action", {"os-stop": None})):
        r = nova.compute(method, f"/servers/{srv['id']}{path}", token, json=body)
        nova_error(r, 404, "itemNotFound")
    assert nova.compute("GET", "/servers", token).json()["servers"] == []
    r = nova.compute("POST", f"/servers/{srv['id']}/action", json={"lock": {"locked_reason": "maintenance"}})
    assert r.status_code == 202
    other_admin = nova.compute("GET", "/servers/detail?all_tenants=1", nova.admin).json()["servers"]
    assert srv["id"] in {s["id"] for s in other_admin}
    nova.compute("POST", f"/servers/{srv['id']}/action", json={"unlock": None})
    assert nova.compute("DELETE", f"/servers/{srv['id']}").status_code == 204
    assert nova.gone(srv["id"])


def test_no_valid_host_is_error_with_the_fault_and_releases_everything(nova: Nova) -> None:
    big = nova.compute("POST", "/flavors", nova.admin, json={"flavor": {
        "name": unique("huge"), "ram": 1024, "vcpus": 64, "disk": 1}}).json()["flavor"]
    srv = nova.boot(flavorRef=big["id"], wait="ERROR")
    assert srv["fault"]["message"].startswith("No valid host was found.")
    assert srv["fault"]["code"] == 500
    assert nova.ports(srv["id"]) == []
    assert nova.placement(f"/allocations/{srv['id']}").json()["allocations"] == {}
    assert nova.compute("DELETE", f"/servers/{srv['id']}").status_code == 204
    assert nova.gone(srv["id"])


def test_a_failing_spawn_is_retried_on_other_hosts_then_error(nova: Nova) -> None:
    image = nova.make_image(unique("broken"), litestack_fake_fail="spawn")
    srv = nova.boot(imageRef=image, wait="ERROR")
    assert "No valid host was found" in srv["fault"]["message"]
    assert "Exceeded maximum number of retries" in srv["fault"]["message"]
    assert nova.ports(srv["id"]) == []
    assert nova.placement(f"/allocations/{srv['id']}").json()["allocations"] == {}
    nova.compute("DELETE", f"/servers/{srv['id']}")
    assert nova.gone(srv["id"])


def test_quota_exceeded_is_403(nova: Nova) -> None:
    token, project = nova.other
    r = nova.compute("PUT", f"/os-quota-sets/{project}", nova.admin, json={"quota_set": {"instances": 1}})
    assert r.status_code == 200 and r.json()["quota_set"]["instances"] == 1
    r = nova.compute("POST", "/servers", token, json={"server": {
        "name": "q", "flavorRef": "1", "imageRef": nova.image, "min_count": 2, "networks": []}})
    # The image is the demo project's (shared visibility, not a member): 400 before quota is counted.
    assert r.status_code == 400
    r = nova.request("POST", "/image/v2/images", token, json={"name": "o", "disk_format": "raw",
                                                              "container_format": "bare"})
    iid = r.json()["id"]
    nova.request("PUT", f"/image/v2/images/{iid}/file", token, content=b"\0" * 64,
                 headers={"Content-Type": "application/octet-stream"})
    r = nova.compute("POST", "/servers", token, json={"server": {
        "name": "q", "flavorRef": "1", "imageRef": iid, "min_count": 2}})
    nova_error(r, 403, "forbidden", "Quota exceeded for instances: Requested 2, but already used 0 of 1 instances")
    limits = nova.compute("GET", "/limits", token).json()["limits"]["absolute"]
    assert limits["maxTotalInstances"] == 1 and limits["totalInstancesUsed"] == 0


def test_services_hypervisors_and_zones(cloud: RunningCloud, nova: Nova) -> None:
    services = cli_json(cloud, "compute", "service", "list", "--service", "nova-compute", cloud_name="litestack-admin")
    assert len(services) == 10 and {s["State"] for s in services} == {"up"}
    stats = nova.compute("GET", "/os-hypervisors/statistics", nova.admin).json()["hypervisor_statistics"]
    assert stats["count"] == 10 and stats["vcpus"] == 80
    zones = nova.compute("GET", "/os-availability-zone").json()["availabilityZoneInfo"]
    assert zones == [{"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}]
    host = services[0]["Host"]
    cloud.openstack("compute", "service", "set", "--disable", "--disable-reason", "test", host, "nova-compute",
                    cloud="litestack-admin")
    try:
        shown = [s for s in cli_json(cloud, "compute", "service", "list", "--long", cloud_name="litestack-admin")
                 if s["Host"] == host]
        assert shown[0]["Status"] == "disabled" and shown[0]["Disabled Reason"] == "test"
        srv = nova.boot(hints={"same_host": []}, availability_zone=f"nova:{host}", wait="ERROR")
        assert "No valid host" in srv["fault"]["message"]
        nova.compute("DELETE", f"/servers/{srv['id']}")
    finally:
        cloud.openstack("compute", "service", "set", "--enable", host, "nova-compute", cloud="litestack-admin")
    r = nova.compute("GET", "/os-hypervisors")
    nova_error(r, 403, "forbidden")


def test_external_event_reaches_the_server_host(nova: Nova) -> None:
    srv = nova.boot()
    port = nova.ports(srv["id"])[0]["id"]
    event = {"name": "network-vif-plugged", "server_uuid": srv["id"], "tag": port, "status": "completed"}
    r = nova.compute("POST", "/os-server-external-events", nova.admin, json={"events": [event]})
    assert r.status_code == 200 and r.json()["events"][0]["code"] == 200
    nova_error(nova.compute("POST", "/os-server-external-events", json={"events": [event]}), 403, "forbidden")
    missing = {**event, "server_uuid": "8c2d2d2e-9a35-4a47-a6b4-2d3d0f8c1e77"}
    nova_error(nova.compute("POST", "/os-server-external-events", nova.admin, json={"events": [missing]}), 404,
               "itemNotFound")
    nova.compute("DELETE", f"/servers/{srv['id']}")
    assert nova.gone(srv["id"])


def test_versions_and_microversions(nova: Nova) -> None:
    root = nova.http.get("/compute/").json()["versions"]
    assert [v["id"] for v in root] == ["v2.0", "v2.1"] and root[1]["version"] == "2.19"
    r = nova.compute("GET", "/flavors", headers={"OpenStack-API-Version": "compute 2.99"})
    nova_error(r, 406, "computeFault", "Version 2.99 is not supported by the API")
    r = nova.compute("GET", "/flavors", headers={"OpenStack-API-Version": "compute latest"})
    assert r.headers["OpenStack-API-Version"] == "compute 2.19"
    assert r.headers["X-OpenStack-Nova-API-Version"] == "2.19"


def test_security_groups_of_a_server_through_the_cli_and_the_proxy(cloud: RunningCloud, nova: Nova) -> None:
    group = cli_json(cloud, "security", "group", "create", unique("sg"))
    srv = nova.boot()
    cloud.openstack("server", "add", "security", "group", srv["id"], group["name"])
    port = nova.ports(srv["id"])[0]
    assert group["id"] in port["security_groups"]
    listed = nova.compute("GET", f"/servers/{srv['id']}/os-security-groups").json()["security_groups"]
    assert group["name"] in {g["name"] for g in listed}
    rule = nova.compute("POST", "/os-security-group-rules", json={"security_group_rule": {
        "parent_group_id": group["id"], "ip_protocol": "tcp", "from_port": 22, "to_port": 22,
        "cidr": "10.0.0.0/8"}})
    assert rule.status_code == 200, rule.text
    assert rule.json()["security_group_rule"]["ip_range"] == {"cidr": "10.0.0.0/8"}
    bad = nova.compute("POST", "/os-security-group-rules", json={"security_group_rule": {
        "parent_group_id": group["id"], "ip_protocol": "tcp", "from_port": 22, "to_port": 21}})
    nova_error(bad, 400, "badRequest", "Invalid port range")
    cloud.openstack("server", "remove", "security", "group", srv["id"], group["name"])
    assert group["id"] not in nova.ports(srv["id"])[0]["security_groups"]
    assert nova.compute("DELETE", f"/servers/{srv['id']}").status_code == 204
    assert nova.gone(srv["id"])
    assert nova.compute("DELETE", f"/os-security-groups/{group['id']}").status_code == 202


def test_floating_ip_shows_in_the_addresses_after_network_changed(cloud: RunningCloud, nova: Nova) -> None:
    """The network service sends ``network-changed`` when a server's port gains or loses a floating
    IP; the compute service refreshes its cache (Nova's info cache) and the addresses show it."""
    net_id, net_name = nova.network
    admin = nova.admin
    r = nova.request("POST", "/networking/v2.0/networks", admin, json={"network": {
        "name": unique("ext"), "router:external": True, "provider:network_type": "local"}})
    assert r.status_code == 201, r.text
    ext = r.json()["network"]["id"]
    r = nova.request("POST", "/networking/v2.0/subnets", admin, json={"subnet": {
        "network_id": ext, "cidr": "192.0.2.0/24", "ip_version": 4, "enable_dhcp": False}})
    assert r.status_code == 201, r.text
    subnets = nova.request("GET", "/networking/v2.0/subnets", params={"network_id": net_id}).json()["subnets"]
    r = nova.request("POST", "/networking/v2.0/routers", json={"router": {
        "name": unique("rtr"), "external_gateway_info": {"network_id": ext}}})
    assert r.status_code == 201, r.text
    router = r.json()["router"]["id"]
    r = nova.request("PUT", f"/networking/v2.0/routers/{router}/add_router_interface",
                     json={"subnet_id": subnets[0]["id"]})
    assert r.status_code == 200, r.text
    srv = nova.boot()
    fixed = srv["addresses"][net_name][0]["addr"]
    fip = cli_json(cloud, "floating", "ip", "create", ext)["floating_ip_address"]
    cloud.openstack("server", "add", "floating", "ip", srv["id"], fip)

    def kinds() -> list[tuple[str, str]]:
        return [(a["addr"], a["OS-EXT-IPS:type"]) for a in nova.server(srv["id"])["addresses"].get(net_name, [])]

    assert until(lambda: kinds() == [(fixed, "fixed"), (fip, "floating")], 10), kinds()
    r = nova.compute("GET", f"/servers/{srv['id']}/ips")
    assert r.json()["addresses"][net_name] == [{"version": 4, "addr": fixed}, {"version": 4, "addr": fip}]
    cloud.openstack("server", "remove", "floating", "ip", srv["id"], fip)
    assert until(lambda: kinds() == [(fixed, "fixed")], 10), kinds()
    cloud.openstack("server", "delete", "--wait", srv["id"])


def test_server_lists_page_in_sql_and_the_next_link_keeps_the_filters(nova: Nova) -> None:
    made = nova.compute("POST", "/servers", json={"server": {
        "name": unique("page"), "flavorRef": "c1", "imageRef": nova.image, "min_count": 5, "max_count": 5,
        "return_reservation_id": True}})
    assert made.status_code == 202, made.text
    rid = made.json()["reservation_id"]
    path = f"/servers?reservation_id={rid}&sort_key=display_name&sort_dir=asc&limit=2"
    everything = nova.compute("GET", f"/servers?reservation_id={rid}").json()["servers"]
    assert len(everything) == 5 and "servers_links" not in nova.compute(
        "GET", f"/servers?reservation_id={rid}").json()  # under max_limit: one page, no link
    names: list[str] = []
    page = nova.compute("GET", path).json()
    while True:
        names += [s["name"] for s in page["servers"]]
        links = page.get("servers_links")
        if not links:
            break
        href = links[0]["href"]
        assert f"reservation_id={rid}" in href and "sort_key=display_name" in href  # the filters go along
        page = nova.request("GET", href.removeprefix(nova.cloud.url), nova.demo).json()
    assert names == sorted(s["name"] for s in everything) and len(set(names)) == 5
    # the Python path (a name regex) pages the same way
    first = nova.compute("GET", f"/servers?reservation_id={rid}&name=page&sort_key=display_name&sort_dir=asc"
                                f"&limit=3").json()["servers"]
    assert [s["name"] for s in first] == names[:3]
    after = nova.compute("GET", f"/servers?reservation_id={rid}&sort_key=display_name&sort_dir=asc"
                                f"&marker={first[-1]['id']}").json()["servers"]
    assert [s["name"] for s in after] == names[3:]
    nova_error(nova.compute("GET", "/servers?marker=00000000-0000-0000-0000-000000000000"), 400,
               "badRequest", "marker [00000000-0000-0000-0000-000000000000] not found")
    for s in everything:
        assert nova.compute("DELETE", f"/servers/{s['id']}").status_code == 204
