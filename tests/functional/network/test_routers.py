"""Routers and floating IPs through the real CLI, openstacksdk and raw HTTP: the gateway on an
external network, interfaces by subnet and by port with Neutron's checks, extra routes, floating
IPs reachable only through a router, port forwardings, and Neutron's errors for each refusal."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import RunningCloud
from tests.functional.network.neutron import Neutron, neutron_error, unique

pytestmark = pytest.mark.functional


def cli_json(cloud: RunningCloud, *args: str, as_: str = "litestack") -> Any:
    return json.loads(cloud.openstack(*args, "-f", "json", cloud=as_).stdout)


@pytest.fixture(scope="module")
def external(neutron: Neutron) -> dict[str, Any]:
    """An external network (made by the admin) with a /24 for gateways and floating IPs."""
    net = neutron.network(neutron.admin, **{"router:external": True})
    sub = neutron.subnet(net["id"], "198.51.100.0/24", neutron.admin, enable_dhcp=False)
    return {"network": net, "subnet": sub}


def private(neutron: Neutron, cidr: str, token: str | None = None, **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    net = neutron.network(token)
    return net, neutron.subnet(net["id"], cidr, token, **kw)


def test_cli_router_gateway_interface_and_deletion_rules(cloud: RunningCloud, neutron: Neutron,
                                                         external: dict[str, Any]) -> None:
    _, sub = private(neutron, "10.50.0.0/24")
    name = unique("r")
    router = cli_json(cloud, "router", "create", name)
    assert router["status"] == "ACTIVE" and router["external_gateway_info"] is None
    assert router["distributed"] is False and router["ha"] is False and router["routes"] == []
    cloud.openstack("router", "set", "--external-gateway", external["network"]["id"], name)
    cloud.openstack("router", "add", "subnet", name, sub["id"])
    shown = neutron.get(f"/routers/{router['id']}").json()["router"]
    gw = shown["external_gateway_info"]
    assert gw["network_id"] == external["network"]["id"] and gw["enable_snat"] is True
    (ext_ip,) = gw["external_fixed_ips"]
    assert ext_ip["subnet_id"] == external["subnet"]["id"] and ext_ip["ip_address"].startswith("198.51.100.")
    # The interface is a port of the router's project at the subnet's gateway; the gateway port
    # belongs to no project, so the project does not see it.
    ports = neutron.get("/ports", params={"device_id": router["id"]}).json()["ports"]
    assert [(p["device_owner"], p["fixed_ips"][0]["ip_address"]) for p in ports] == \
        [("network:router_interface", "10.50.0.1")]
    admin_ports = neutron.get("/ports", neutron.admin, params={"device_id": router["id"]}).json()["ports"]
    assert sorted(p["device_owner"] for p in admin_ports) == ["network:router_gateway", "network:router_interface"]
    gw_port = next(p for p in admin_ports if p["device_owner"] == "network:router_gateway")
    assert gw_port["project_id"] == "" and gw_port["fixed_ips"] == [ext_ip]
    # What is in use cannot go.
    neutron_error(neutron.delete(f"/routers/{router['id']}"), 409, "RouterInUse", "still has ports")
    neutron_error(neutron.delete(f"/subnets/{sub['id']}"), 409, "SubnetInUse")
    neutron_error(neutron.delete(f"/ports/{ports[0]['id']}"), 409, "ServicePortInUse",
                  "cannot be deleted directly via the port API")
    neutron_error(neutron.delete(f"/networks/{external['network']['id']}", neutron.admin), 409, "NetworkInUse")
    cloud.openstack("router", "remove", "subnet", name, sub["id"])
    assert neutron.get("/ports", params={"device_id": router["id"]}).json()["ports"] == []
    cloud.openstack("router", "unset", "--external-gateway", name)
    assert neutron.get(f"/routers/{router['id']}").json()["router"]["external_gateway_info"] is None
    assert neutron.get("/ports", neutron.admin, params={"device_id": router["id"]}).json()["ports"] == []
    cloud.openstack("router", "delete", name)
    neutron_error(neutron.get(f"/routers/{router['id']}"), 404, "RouterNotFound")
    assert neutron.delete(f"/subnets/{sub['id']}").status_code == 204


def test_interface_checks_and_gateway_errors(neutron: Neutron, external: dict[str, Any]) -> None:
    router = neutron.create("routers", "router", {"name": unique("r")})
    rid = router["id"]

    def add(body: dict[str, Any], token: str | None = None) -> Any:
        return neutron.put(f"/routers/{rid}/add_router_interface", body, token)

    _, sub = private(neutron, "10.51.0.0/24")
    r = add({"subnet_id": sub["id"]})
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["id"] == rid and info["subnet_id"] == sub["id"] and info["subnet_ids"] == [sub["id"]]
    assert info["network_id"] == sub["network_id"] and info["port_id"]
    # The same subnet again, and an overlapping one on another network.
    neutron_error(add({"subnet_id": sub["id"]}), 400, "BadRequest", "Router already has a port on subnet")
    _, overlap = private(neutron, "10.51.0.0/25")
    neutron_error(add({"subnet_id": overlap["id"]}), 400, "BadRequest", "overlaps with cidr 10.51.0.0/24")
    _, no_gw = private(neutron, "10.52.0.0/24", gateway_ip=None)
    neutron_error(add({"subnet_id": no_gw["id"]}), 400, "BadRequest",
                  "Subnet for router interface must have a gateway IP")
    neutron_error(add({}), 400, "BadRequest", "Either subnet_id or port_id must be specified")
    neutron_error(add({"subnet_id": sub["id"], "port_id": info["port_id"]}), 400, "BadRequest",
                  "Cannot specify both subnet-id and port-id")
    # By port: a port with a device is in use; a free one becomes the interface.
    net3, sub3 = private(neutron, "10.53.0.0/24")
    used = neutron.port(net3["id"], device_id="some-server", device_owner="compute:nova")
    neutron_error(add({"port_id": used["id"]}), 409, "PortInUse", "Port already has an attached device")
    free = neutron.port(net3["id"])
    r = add({"port_id": free["id"]})
    assert r.status_code == 200 and r.json()["subnet_ids"] == [sub3["id"]], r.text
    port = neutron.get(f"/ports/{free['id']}").json()["port"]
    assert (port["device_owner"], port["device_id"]) == ("network:router_interface", rid)
    # Removing: an interface the router does not have is 404.
    neutron_error(neutron.put(f"/routers/{rid}/remove_router_interface", {"subnet_id": no_gw["id"]}), 404,
                  "RouterInterfaceNotFoundForSubnet")
    neutron_error(neutron.put(f"/routers/{rid}/remove_router_interface", {"port_id": used["id"]}), 404,
                  "RouterInterfaceNotFound")
    r = neutron.put(f"/routers/{rid}/remove_router_interface", {"port_id": free["id"]})
    assert r.status_code == 200 and r.json()["port_id"] == free["id"]
    neutron_error(neutron.get(f"/ports/{free['id']}"), 404, "PortNotFound")  # Neutron deletes it too
    # A gateway must be on an external network; snat and fixed IPs are the admin's to choose.
    plain, _ = private(neutron, "10.54.0.0/24")
    neutron_error(neutron.put(f"/routers/{rid}", {"router": {"external_gateway_info": {"network_id": plain["id"]}}}),
                  400, "BadRequest", "is not an external network")
    r = neutron.put(f"/routers/{rid}", {"router": {"external_gateway_info": {
        "network_id": external["network"]["id"], "enable_snat": False}}})
    assert r.status_code == 403, r.text
    r = neutron.put(f"/routers/{rid}", {"router": {"external_gateway_info": {
        "network_id": external["network"]["id"], "enable_snat": False,
        "external_fixed_ips": [{"ip_address": "198.51.100.200"}]}}}, neutron.admin)
    assert r.status_code == 200, r.text
    gw = r.json()["router"]["external_gateway_info"]
    assert gw["enable_snat"] is False and gw["external_fixed_ips"][0]["ip_address"] == "198.51.100.200"
    # Isolation: another project neither sees nor changes the router; a reader cannot write.
    other, _ = neutron.other
    neutron_error(neutron.get(f"/routers/{rid}", other), 404, "RouterNotFound")
    neutron_error(add({"subnet_id": sub["id"]}, other), 404, "RouterNotFound")
    assert rid not in {x["id"] for x in neutron.get("/routers", other).json()["routers"]}
    assert neutron.post("/routers", {"router": {"name": "x"}}, neutron.reader).status_code == 403
    neutron_error(neutron.post("/routers", {"router": {"name": "x", "ha": True}}, neutron.admin), 400, "BadRequest")
    neutron_error(neutron.post("/routers", {"router": {"bogus": 1}}), 400, "HTTPBadRequest",
                  "Unrecognized attribute(s) 'bogus'")


def test_extra_routes(neutron: Neutron) -> None:
    router = neutron.create("routers", "router", {"name": unique("r")})
    rid = router["id"]
    _, sub = private(neutron, "10.55.0.0/24")
    assert neutron.put(f"/routers/{rid}/add_router_interface", {"subnet_id": sub["id"]}).status_code == 200
    route = {"destination": "192.168.70.0/24", "nexthop": "10.55.0.20"}
    r = neutron.put(f"/routers/{rid}", {"router": {"routes": [route]}})
    assert r.status_code == 200 and r.json()["router"]["routes"] == [route], r.text
    neutron_error(neutron.put(f"/routers/{rid}", {"router": {"routes": [
        {"destination": "192.168.71.0/24", "nexthop": "10.99.0.1"}]}}), 400, "InvalidRoutes",
        "the nexthop is not connected with router")
    neutron_error(neutron.put(f"/routers/{rid}", {"router": {"routes": [
        {"destination": "192.168.71.0/24", "nexthop": "10.55.0.1"}]}}), 400, "InvalidRoutes",
        "the nexthop is used by router")
    neutron_error(neutron.put(f"/routers/{rid}", {"router": {"routes": [{"destination": "x", "nexthop": "y"}]}}),
                  400, "InvalidRoutes")
    second = {"destination": "192.168.72.0/24", "nexthop": "10.55.0.21"}
    r = neutron.put(f"/routers/{rid}/add_extraroutes", {"router": {"routes": [second, route]}})
    assert r.status_code == 200 and r.json()["router"]["routes"] == [route, second], r.text
    neutron_error(neutron.put(f"/routers/{rid}/remove_router_interface", {"subnet_id": sub["id"]}), 409,
                  "RouterInterfaceInUseByRoute")
    r = neutron.put(f"/routers/{rid}/remove_extraroutes", {"router": {"routes": [route, second]}})
    assert r.status_code == 200 and r.json()["router"]["routes"] == [], r.text
    assert neutron.put(f"/routers/{rid}/remove_router_interface", {"subnet_id": sub["id"]}).status_code == 200
    assert neutron.delete(f"/routers/{rid}").status_code == 204


def test_floating_ips_need_a_router_to_the_external_network(cloud: RunningCloud, neutron: Neutron,
                                                             external: dict[str, Any]) -> None:
    ext_id = external["network"]["id"]
    net, sub = private(neutron, "10.56.0.0/24")
    port = neutron.port(net["id"])
    fip = cli_json(cloud, "floating", "ip", "create", ext_id)
    assert fip["floating_ip_address"].startswith("198.51.100.") and fip["port_id"] is None
    assert fip["status"] == "DOWN" and fip["router_id"] is None
    # No router connects the subnet to the external network yet: Neutron's 404.
    neutron_error(neutron.put(f"/floatingips/{fip['id']}", {"floatingip": {"port_id": port["id"]}}), 404,
                  "ExternalGatewayForFloatingIPNotFound", f"External network {ext_id} is not reachable from subnet "
                  f"{sub['id']}")
    router = neutron.create("routers", "router", {"name": unique("r"),
                                                  "external_gateway_info": {"network_id": ext_id}})
    assert neutron.put(f"/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]}).status_code == 200
    cloud.openstack("floating", "ip", "set", "--port", port["id"], fip["id"])
    shown = neutron.get(f"/floatingips/{fip['id']}").json()["floatingip"]
    assert shown["port_id"] == port["id"] and shown["router_id"] == router["id"]
    assert shown["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"]
    assert shown["port_details"]["network_id"] == net["id"]
    # One floating IP per fixed IP and external network; the interface and the gateway it needs stay.
    second = neutron.create("floatingips", "floatingip", {"floating_network_id": ext_id})
    neutron_error(neutron.put(f"/floatingips/{second['id']}", {"floatingip": {"port_id": port["id"]}}), 409,
                  "FloatingIPPortAlreadyAssociated")
    neutron_error(neutron.put(f"/routers/{router['id']}/remove_router_interface", {"subnet_id": sub["id"]}), 409,
                  "RouterInterfaceInUseByFloatingIP")
    neutron_error(neutron.put(f"/routers/{router['id']}", {"router": {"external_gateway_info": {}}}), 409,
                  "RouterExternalGatewayInUseByFloatingIp")
    # Filters, isolation, errors.
    assert [f["id"] for f in neutron.get("/floatingips", params={"port_id": port["id"]}).json()["floatingips"]] \
        == [fip["id"]]
    other, _ = neutron.other
    neutron_error(neutron.get(f"/floatingips/{fip['id']}", other), 404, "FloatingIPNotFound")
    neutron_error(neutron.post("/floatingips", {"floatingip": {"floating_network_id": net["id"]}}), 400,
                  "BadRequest", "is not a valid external network")
    assert neutron.post("/floatingips", {"floatingip": {"floating_network_id": ext_id,
                                                        "floating_ip_address": "198.51.100.77"}}).status_code == 403
    by_address = neutron.post("/floatingips", {"floatingip": {"floating_network_id": ext_id,
                                                              "floating_ip_address": "198.51.100.77"}}, neutron.admin)
    assert by_address.status_code == 201 and by_address.json()["floatingip"]["floating_ip_address"] == "198.51.100.77"
    neutron_error(neutron.post("/floatingips", {"floatingip": {"floating_network_id": ext_id,
                                                               "floating_ip_address": "198.51.100.77"}},
                               neutron.admin), 409, "IpAddressInUse")
    # Deleting the port disassociates; the floating IP stays.
    assert neutron.delete(f"/ports/{port['id']}").status_code == 204
    after = neutron.get(f"/floatingips/{fip['id']}").json()["floatingip"]
    assert (after["port_id"], after["fixed_ip_address"], after["router_id"]) == (None, None, None)
    for f in (fip["id"], second["id"], by_address.json()["floatingip"]["id"]):
        cloud.openstack("floating", "ip", "delete", f, cloud="litestack-admin")
    neutron_error(neutron.get(f"/floatingips/{fip['id']}"), 404, "FloatingIPNotFound")
    assert neutron.put(f"/routers/{router['id']}/remove_router_interface", {"subnet_id": sub["id"]}).status_code == 200
    assert neutron.delete(f"/routers/{router['id']}").status_code == 204


def test_port_forwardings(cloud: RunningCloud, neutron: Neutron, external: dict[str, Any]) -> None:
    ext_id = external["network"]["id"]
    net, sub = private(neutron, "10.57.0.0/24")
    router = neutron.create("routers", "router", {"name": unique("r"), "external_gateway_info": {"network_id": ext_id}})
    assert neutron.put(f"/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]}).status_code == 200
    port = neutron.port(net["id"])
    ip = port["fixed_ips"][0]["ip_address"]
    fip = neutron.create("floatingips", "floatingip", {"floating_network_id": ext_id})
    pf = cli_json(cloud, "floating", "ip", "port", "forwarding", "create", "--internal-ip-address", ip,
                  "--port", port["id"], "--internal-protocol-port", "22", "--external-protocol-port", "2222",
                  "--protocol", "tcp", fip["id"])
    assert (pf["internal_port"], pf["external_port"], pf["protocol"]) == (22, 2222, "tcp")
    path = f"/floatingips/{fip['id']}/port_forwardings"
    listed = neutron.get(path).json()["port_forwardings"]
    assert [x["id"] for x in listed] == [pf["id"]]
    shown = neutron.get(f"/floatingips/{fip['id']}").json()["floatingip"]
    assert shown["router_id"] == router["id"] and shown["port_forwardings"][0]["external_port"] == 2222
    body = {"internal_port_id": port["id"], "internal_ip_address": ip, "internal_port": 80, "external_port": 2222,
            "protocol": "tcp"}
    neutron_error(neutron.post(path, {"port_forwarding": body}), 409, "DuplicatePortForwarding")
    neutron_error(neutron.post(path, {"port_forwarding": {**body, "external_port": 70000}}), 400, "HTTPBadRequest")
    neutron_error(neutron.post(path, {"port_forwarding": {**body, "external_port": 80,
                                                          "internal_ip_address": "10.57.0.250"}}), 400, "BadRequest")
    neutron_error(neutron.put(f"/floatingips/{fip['id']}", {"floatingip": {"port_id": port["id"]}}), 409,
                  "FipInUseByPortForwarding")
    r = neutron.put(f"{path}/{pf['id']}", {"port_forwarding": {"external_port": 2200}})
    assert r.status_code == 200 and r.json()["port_forwarding"]["external_port"] == 2200, r.text
    other, _ = neutron.other
    neutron_error(neutron.get(path, other), 404, "FloatingIPNotFound")
    assert neutron.delete(f"{path}/{pf['id']}").status_code == 204
    neutron_error(neutron.get(f"{path}/{pf['id']}"), 404, "PortForwardingNotFound")
    assert neutron.get(f"/floatingips/{fip['id']}").json()["floatingip"]["router_id"] is None


def test_quotas_with_usage_and_over_quota(cloud: RunningCloud, neutron: Neutron) -> None:
    project, user, password = neutron.keystone.new_member("net-quota")
    token = neutron.keystone.token(user["name"], password, project=project["name"])
    cloud.openstack("quota", "set", "--ports", "2", "--routers", "1", project["id"], cloud="litestack-admin")
    net = neutron.network(token)
    neutron.subnet(net["id"], "10.60.0.0/24", token)
    for _ in range(2):
        neutron.port(net["id"], token)
    neutron_error(neutron.post("/ports", {"port": {"network_id": net["id"]}}, token), 409, "OverQuota",
                  "Quota exceeded for resources: ['port']")
    neutron.create("routers", "router", {"name": "one"}, token)
    neutron_error(neutron.post("/routers", {"router": {"name": "two"}}, token), 409, "OverQuota")
    usage = {row["Resource"]: row for row in cli_json(cloud, "quota", "show", "--usage", project["id"],
                                                      as_="litestack-admin")}
    assert (usage["ports"]["Limit"], usage["ports"]["In Use"]) == (2, 2)
    assert (usage["routers"]["Limit"], usage["routers"]["In Use"]) == (1, 1)
    assert (usage["networks"]["Limit"], usage["networks"]["In Use"]) == (-1, 1)
    q = neutron.get(f"/quotas/{project['id']}", token).json()["quota"]
    assert q["port"] == 2 and q["router"] == 1 and q["floatingip"] == -1 and q["subnetpool"] == -1
    assert neutron.get(f"/quotas/{project['id']}/default", token).json()["quota"]["port"] == -1
    details = neutron.get(f"/quotas/{project['id']}/details", token).json()["quota"]
    assert details["port"] == {"limit": 2, "used": 2, "reserved": 0}
    # Only the admin changes quotas; another project's are not a member's to read.
    assert neutron.put(f"/quotas/{project['id']}", {"quota": {"port": 10}}, token).status_code == 403
    assert neutron.get(f"/quotas/{project['id']}").status_code == 403
    neutron_error(neutron.put(f"/quotas/{project['id']}", {"quota": {"bogus": 1}}, neutron.admin), 404,
                  "QuotaResourceUnknown")
    neutron_error(neutron.put(f"/quotas/{project['id']}", {"quota": {"port": -5}}, neutron.admin), 400,
                  "HTTPBadRequest")
    assert project["id"] in {x["project_id"] for x in neutron.get("/quotas", neutron.admin).json()["quotas"]}
    neutron_error(neutron.put(f"/quotas/{project['id']}", {"quota": {"port": 1, "check_limit": True}},
                              neutron.admin), 409, "InvalidQuotaValue")
    assert neutron.delete(f"/quotas/{project['id']}", neutron.admin).status_code == 204
    assert neutron.get(f"/quotas/{project['id']}", token).json()["quota"]["router"] == -1


def test_quota_is_race_free(neutron: Neutron) -> None:
    from concurrent.futures import ThreadPoolExecutor

    project, user, password = neutron.keystone.new_member("net-quota-race")
    token = neutron.keystone.token(user["name"], password, project=project["name"])
    assert neutron.put(f"/quotas/{project['id']}", {"quota": {"network": 5}}, neutron.admin).status_code == 200
    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(lambda i: neutron.post("/networks", {"network": {"name": f"n{i}"}}, token).status_code,
                              range(20)))
    assert sorted(codes) == [201] * 5 + [409] * 15
    assert len(neutron.get("/networks", token, params={"project_id": project["id"]}).json()["networks"]) == 5
