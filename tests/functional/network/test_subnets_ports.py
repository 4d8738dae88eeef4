"""Subnets and ports through the real CLI, openstacksdk and raw HTTP: IPv4 and IPv6 SLAAC
subnets, allocation pools and their errors, overlap, fixed IPs by address, by subnet or the next
free one, MAC addresses, address pairs and port security, bindings hidden by policy."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from tests.conftest import RunningCloud
from tests.functional.network.neutron import Neutron, neutron_error, unique

pytestmark = pytest.mark.functional


def cli_json(cloud: RunningCloud, *args: str, cloud_name: str = "litestack") -> dict[str, Any]:
    out = cloud.openstack(*args, "-f", "json", cloud=cloud_name)
    loaded: dict[str, Any] = json.loads(out.stdout)
    return loaded


def eui64(prefix: str, mac: str) -> str:
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 2
    iid = bytes([*octets[:3], 0xFF, 0xFE, *octets[3:]])
    return str(ipaddress.ip_address(int(ipaddress.ip_network(prefix).network_address) | int.from_bytes(iid, "big")))


def test_cli_subnets_v4_and_v6_slaac_and_a_port_with_fixed_ip_and_address_pair(cloud: RunningCloud) -> None:
    net = unique("net")
    cloud.openstack("network", "create", net)
    v4 = cli_json(cloud, "subnet", "create", "--network", net, "--subnet-range", "10.20.0.0/24",
                  "--dns-nameserver", "8.8.8.8", "--host-route", "destination=10.30.0.0/24,gateway=10.20.0.254",
                  unique("v4"))
    assert v4["gateway_ip"] == "10.20.0.1" and v4["enable_dhcp"] is True
    assert v4["allocation_pools"] == [{"start": "10.20.0.2", "end": "10.20.0.254"}]
    assert v4["dns_nameservers"] == ["8.8.8.8"]
    assert v4["host_routes"] == [{"destination": "10.30.0.0/24", "nexthop": "10.20.0.254"}]
    v6 = cli_json(cloud, "subnet", "create", "--network", net, "--ip-version", "6", "--subnet-range", "fd20::/64",
                  "--ipv6-ra-mode", "slaac", "--ipv6-address-mode", "slaac", unique("v6"))
    assert v6["ipv6_address_mode"] == v6["ipv6_ra_mode"] == "slaac" and v6["gateway_ip"] == "fd20::1"
    port = cli_json(cloud, "port", "create", "--network", net, "--fixed-ip", f"subnet={v4['id']},ip-address=10.20.0.50",
                    "--allowed-address", "ip-address=10.20.0.60", unique("port"))
    assert port["fixed_ips"] == [{"subnet_id": v4["id"], "ip_address": "10.20.0.50"}]
    assert port["allowed_address_pairs"] == [{"ip_address": "10.20.0.60", "mac_address": port["mac_address"]}]
    assert port["status"] == "DOWN"  # no agent: honest, never a fake ACTIVE
    assert port["mac_address"].startswith("fa:16:3e:")
    # The next port gets the next free IPv4 address and its SLAAC address, the EUI-64 of its MAC.
    auto = cli_json(cloud, "port", "create", "--network", net, unique("auto"))
    by_subnet = {ip["subnet_id"]: ip["ip_address"] for ip in auto["fixed_ips"]}
    assert ipaddress.ip_address(by_subnet[v4["id"]]) in ipaddress.ip_network("10.20.0.0/24")
    assert by_subnet[v6["id"]] == eui64("fd20::/64", auto["mac_address"])
    assert auto["dns_assignment"][0]["fqdn"].endswith(".openstacklocal.")
    assert len(auto["security_group_ids"]) == 1  # the project's default group


@pytest.mark.parametrize("body, status, etype, text", [
    ({"cidr": "10.0.0.0/33"}, 400, "HTTPBadRequest",
     "Invalid input for cidr. Reason: '10.0.0.0/33' is not a valid IP subnet."),
    ({"cidr": "banana"}, 400, "HTTPBadRequest", "is not a valid IP subnet"),
    ({"cidr": "10.0.0.5/24"}, 400, "InvalidCIDR", "Invalid CIDR 10.0.0.5/24 given as IP prefix."),
    ({"cidr": "fd00::/64", "ip_version": 4}, 400, "InvalidInput", "does not match the ip_version '4'"),
    ({"cidr": "10.1.0.0/24", "gateway_ip": "10.1.0.0"}, 400, "InvalidInput", "Gateway is not valid on subnet"),
    ({"cidr": "10.1.0.0/24", "allocation_pools": [{"start": "10.1.0.10", "end": "10.1.1.5"}]}, 400,
     "OutOfBoundsAllocationPool", "spans beyond the subnet cidr 10.1.0.0/24"),
    ({"cidr": "10.1.0.0/24", "allocation_pools": [{"start": "10.1.0.20", "end": "10.1.0.10"}]}, 400,
     "InvalidAllocationPool", "is not valid"),
    ({"cidr": "10.1.0.0/24", "allocation_pools": [{"start": "10.1.0.2", "end": "10.1.0.20"},
                                                  {"start": "10.1.0.15", "end": "10.1.0.30"}]}, 409,
     "OverlappingAllocationPools", "Found overlapping allocation pools"),
    ({"cidr": "10.1.0.0/24", "allocation_pools": [{"start": "10.1.0.1", "end": "10.1.0.20"}]}, 409,
     "GatewayConflictWithAllocationPools", "Gateway ip 10.1.0.1 conflicts with allocation pool"),
    ({"cidr": "fd01::/64", "ip_version": 6, "ipv6_ra_mode": "slaac", "ipv6_address_mode": "dhcpv6-stateful"}, 400,
     "InvalidInput", "ipv6_ra_mode set to 'slaac' with ipv6_address_mode set to 'dhcpv6-stateful' is not valid"),
    ({"cidr": "fd01::/80", "ip_version": 6, "ipv6_address_mode": "slaac"}, 400, "InvalidInput",
     "requires the prefix to be /64"),
    ({"cidr": "10.1.0.0/24", "ipv6_ra_mode": "slaac"}, 400, "InvalidInput",
     "ipv6_ra_mode is not valid when ip_version is 4"),
])
def test_invalid_subnets_get_neutrons_errors(neutron: Neutron, body: dict[str, Any], status: int, etype: str,
                                              text: str) -> None:
    net = neutron.network()
    r = neutron.post("/subnets", {"subnet": {"network_id": net["id"], "ip_version": 4, **body}})
    neutron_error(r, status, etype, text)


def test_an_overlapping_subnet_is_refused_with_neutrons_text(neutron: Neutron, cloud: RunningCloud) -> None:
    net = neutron.network()
    neutron.subnet(net["id"], "10.40.0.0/24")
    r = neutron.post("/subnets", {"subnet": {"network_id": net["id"], "ip_version": 4, "cidr": "10.40.0.128/25"}})
    text = neutron_error(r, 400, "InvalidInput")
    assert text == (f"Invalid input for operation: Requested subnet with cidr: 10.40.0.128/25 for network: "
                    f"{net['id']} overlaps with another subnet.")
    res = cloud.openstack("subnet", "create", "--network", net["id"], "--subnet-range", "10.40.0.0/16", "x",
                          check=False)
    assert res.returncode != 0 and "overlaps with another subnet" in res.stderr
    # Another network may use the same range.
    neutron.subnet(neutron.network()["id"], "10.40.0.0/24")


def test_fixed_ip_errors_and_exhaustion(neutron: Neutron) -> None:
    net = neutron.network()
    sub = neutron.subnet(net["id"], "10.50.0.0/29", allocation_pools=[{"start": "10.50.0.2", "end": "10.50.0.3"}])
    p1 = neutron.port(net["id"], fixed_ips=[{"ip_address": "10.50.0.2"}])
    assert p1["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.50.0.2"}]
    r = neutron.post("/ports", {"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.50.0.2"}]}})
    neutron_error(r, 409, "IpAddressInUse", "The IP address 10.50.0.2 is in use.")
    r = neutron.post("/ports", {"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.9.9.9"}]}})
    neutron_error(r, 400, "InvalidIpForNetwork")
    r = neutron.post("/ports", {"port": {"network_id": net["id"],
                                         "fixed_ips": [{"subnet_id": sub["id"], "ip_address": "10.9.9.9"}]}})
    neutron_error(r, 400, "InvalidIpForSubnet")
    neutron.port(net["id"], fixed_ips=[{"subnet_id": sub["id"]}])  # the last pool address
    r = neutron.post("/ports", {"port": {"network_id": net["id"]}})
    neutron_error(r, 409, "IpAddressGenerationFailure", f"No more IP addresses available on network {net['id']}.")
    # A subnet with ports cannot go; the port's deletion frees its address.
    neutron_error(neutron.delete(f"/subnets/{sub['id']}"), 409, "SubnetInUse")
    neutron_error(neutron.delete(f"/networks/{net['id']}"), 409, "NetworkInUse")
    assert neutron.delete(f"/ports/{p1['id']}").status_code == 204
    assert neutron.port(net["id"])["fixed_ips"][0]["ip_address"] == "10.50.0.2"


def test_mac_addresses_are_unique_per_network(neutron: Neutron) -> None:
    net = neutron.network()
    p = neutron.port(net["id"], mac_address="fa:16:3e:aa:bb:cc")
    assert p["mac_address"] == "fa:16:3e:aa:bb:cc"
    r = neutron.post("/ports", {"port": {"network_id": net["id"], "mac_address": "fa:16:3e:aa:bb:cc"}})
    neutron_error(r, 409, "MacAddressInUse", "The mac address fa:16:3e:aa:bb:cc is in use.")
    assert neutron.port(neutron.network()["id"], mac_address="fa:16:3e:aa:bb:cc")["mac_address"] == "fa:16:3e:aa:bb:cc"
    neutron_error(neutron.post("/ports", {"port": {"network_id": net["id"], "mac_address": "nope"}}), 400,
                  "HTTPBadRequest")


def test_port_security_refuses_groups_and_pairs_when_off(neutron: Neutron) -> None:
    net = neutron.network()
    bare = neutron.port(net["id"], port_security_enabled=False)
    assert bare["security_groups"] == [] and bare["port_security_enabled"] is False
    sg = neutron.create("security-groups", "security_group", {"name": unique("sg")})
    r = neutron.post("/ports", {"port": {"network_id": net["id"], "port_security_enabled": False,
                                         "security_groups": [sg["id"]]}})
    neutron_error(r, 400, "PortSecurityAndIPRequiredForSecurityGroups")
    r = neutron.post("/ports", {"port": {"network_id": net["id"], "port_security_enabled": False,
                                         "allowed_address_pairs": [{"ip_address": "10.0.0.9"}]}})
    neutron_error(r, 409, "AddressPairAndPortSecurityRequired")
    secured = neutron.port(net["id"], security_groups=[sg["id"]])
    r = neutron.put(f"/ports/{secured['id']}", {"port": {"port_security_enabled": False}})
    neutron_error(r, 409, "PortSecurityPortHasSecurityGroup")
    r = neutron.put(f"/ports/{secured['id']}", {"port": {"port_security_enabled": False, "security_groups": []}})
    assert r.status_code == 200 and r.json()["port"]["port_security_enabled"] is False


def test_binding_attributes_are_admin_only(neutron: Neutron) -> None:
    net = neutron.network()
    r = neutron.post("/ports", {"port": {"network_id": net["id"], "binding:host_id": "compute1"}})
    neutron_error(r, 403, "PolicyNotAuthorized")
    port = neutron.port(net["id"], neutron.admin, **{"binding:host_id": "compute1", "binding:profile": {"a": 1},
                                                     "project_id": neutron.demo_project})
    assert port["binding:host_id"] == "compute1" and port["binding:vif_type"] == "binding_failed"
    assert port["status"] == "DOWN"
    mine = neutron.get(f"/ports/{port['id']}").json()["port"]
    assert "binding:host_id" not in mine and "binding:profile" not in mine and mine["binding:vnic_type"] == "normal"


def test_a_port_on_another_projects_private_network_is_404(neutron: Neutron) -> None:
    other_token, _ = neutron.other
    net = neutron.network()
    r = neutron.post("/ports", {"port": {"network_id": net["id"]}}, other_token)
    neutron_error(r, 404, "NetworkNotFound", f"Network {net['id']} could not be found.")
    port = neutron.port(net["id"])
    neutron_error(neutron.get(f"/ports/{port['id']}", other_token), 404, "PortNotFound")
    # On a shared network the other project may make its own ports, and sees only those.
    shared = neutron.network(neutron.admin, shared=True)
    neutron.subnet(shared["id"], "10.60.0.0/24", neutron.admin)
    theirs = neutron.port(shared["id"], other_token)
    assert theirs["fixed_ips"] and theirs["project_id"] == neutron.other[1]
    listed = {p["id"] for p in neutron.get("/ports", other_token).json()["ports"]}
    assert theirs["id"] in listed and port["id"] not in listed


def test_sdk_subnet_and_port_flow(cloud: RunningCloud) -> None:
    conn = cloud.sdk("litestack")
    net = conn.network.create_network(name=unique("sdk"))
    sub = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.70.0.0/28", name=unique("s"))
    port = conn.network.create_port(network_id=net.id, fixed_ips=[{"subnet_id": sub.id}], name=unique("p"))
    assert port.fixed_ips[0]["subnet_id"] == sub.id
    ports = list(conn.network.ports(network_id=net.id))
    assert [p.id for p in ports] == [port.id]
    conn.network.update_port(port, name="renamed", extra_dhcp_opts=[{"opt_name": "mtu", "opt_value": "1400"}])
    got = conn.network.get_port(port.id)
    assert got.name == "renamed" and got.extra_dhcp_opts[0]["opt_name"] == "mtu"
    assert [p.id for p in conn.network.ports(fixed_ips=f"ip_address={port.fixed_ips[0]['ip_address']}")] == [port.id]
    conn.network.delete_port(port)
    conn.network.delete_subnet(sub)
    conn.network.delete_network(net)
    assert conn.network.find_network(net.id) is None
