"""Every attribute of every resource, set to values of every wrong type and shape, on create and
on update, and the list parameters given nonsense: the answer is always a 4xx (or a success) with
Neutron's error body, never a 500."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from tests.functional.network.neutron import Neutron

pytestmark = pytest.mark.functional

VALUES: list[Any] = [None, 0, -1, 2**31, 2**40, 2**70, "", "x" * 300, [], [None], [{}], {}, {"a": [1]}, True, 1.5,
                     "10.0.0.0/24", "fd00::/64", [{"ip_address": None, "subnet_id": 5}], [{"start": 1, "end": 2}],
                     [{"destination": "x", "nexthop": None}], [{"ip_address": "10.0.0.0/8", "mac_address": 5}],
                     [{"opt_name": "a", "ip_version": "x"}], "\u00e9\u2603"]

QUERIES = ["limit=-1", "limit=abc", "marker=nope", "sort_key=name&sort_dir=up", "sort_dir=asc",
           "page_reverse=true&limit=1", "fields=", "mtu=abc", "shared=maybe", "tags=", "id=" + "x" * 400,
           "fixed_ips=ip_address=10.0.0.1", "fixed_ips=bogus", "ip_version=six", "port_range_min=x",
           "mtu=99999999999999999999", "revision_number=4294967296", "provider:segmentation_id=-99999999999",
           "limit=99999999999999999999999", "limit=2147483648&marker=x"]


def test_no_input_makes_a_server_error(neutron: Neutron) -> None:
    net = neutron.network()
    sub = neutron.subnet(net["id"], "10.0.0.0/24")
    sg = neutron.create("security-groups", "security_group", {"name": "hostile"})
    port = neutron.port(net["id"])
    pool = neutron.create("subnetpools", "subnetpool", {"name": "hostile", "prefixes": ["10.250.0.0/16"]})
    resources = {
        "networks": ("network", {}, ["name", "admin_state_up", "shared", "router:external", "mtu",
                                     "port_security_enabled", "dns_domain", "availability_zone_hints",
                                     "provider:network_type", "provider:physical_network",
                                     "provider:segmentation_id", "tags", "project_id"], net["id"]),
        "subnets": ("subnet", {"network_id": net["id"], "cidr": "10.9.0.0/24", "ip_version": 4},
                    ["name", "network_id", "ip_version", "cidr", "gateway_ip", "enable_dhcp", "ipv6_ra_mode",
                     "ipv6_address_mode", "allocation_pools", "dns_nameservers", "host_routes", "subnetpool_id",
                     "prefixlen", "use_default_subnetpool"], sub["id"]),
        "subnetpools": ("subnetpool", {"prefixes": ["10.240.0.0/16"]},
                        ["prefixes", "default_prefixlen", "min_prefixlen", "max_prefixlen", "is_default",
                         "default_quota"], pool["id"]),
        "ports": ("port", {"network_id": net["id"]},
                  ["network_id", "admin_state_up", "mac_address", "fixed_ips", "device_id", "security_groups",
                   "allowed_address_pairs", "port_security_enabled", "extra_dhcp_opts", "dns_name",
                   "binding:vnic_type"], port["id"]),
        "security-groups": ("security_group", {}, ["name", "stateful", "tags"], sg["id"]),
        "security-group-rules": ("security_group_rule", {"security_group_id": sg["id"], "direction": "ingress"},
                                 ["security_group_id", "direction", "ethertype", "protocol", "port_range_min",
                                  "port_range_max", "remote_ip_prefix", "remote_group_id"], None),
    }
    ext = neutron.network(neutron.admin, **{"router:external": True})
    neutron.subnet(ext["id"], "198.18.0.0/24", neutron.admin)
    router = neutron.create("routers", "router", {"name": "hostile"})
    fip = neutron.create("floatingips", "floatingip", {"floating_network_id": ext["id"]})
    qos = neutron.create("qos/policies", "policy", {"name": "hostile"}, neutron.admin)
    resources.update({
        "routers": ("router", {}, ["name", "admin_state_up", "external_gateway_info", "routes", "distributed",
                                   "ha", "tags"], router["id"]),
        "floatingips": ("floatingip", {"floating_network_id": ext["id"]},
                        ["floating_network_id", "subnet_id", "port_id", "fixed_ip_address", "description"],
                        fip["id"]),
        "rbac-policies": ("rbac_policy", {"object_type": "network", "object_id": net["id"],
                                          "action": "access_as_shared"},
                          ["target_tenant", "object_type", "object_id", "action"], None),
    })
    bad: list[str] = []
    # Router actions, port forwardings and quotas take their own bodies.
    for value in VALUES:
        for method, path, body in (
                ("PUT", f"/routers/{router['id']}/add_router_interface", {"subnet_id": value}),
                ("PUT", f"/routers/{router['id']}/add_router_interface", {"port_id": value}),
                ("PUT", f"/routers/{router['id']}/remove_router_interface", {"subnet_id": value}),
                ("PUT", f"/routers/{router['id']}/add_extraroutes", {"router": {"routes": value}}),
                ("PUT", f"/routers/{router['id']}/remove_extraroutes", {"router": {"routes": value}}),
                ("POST", f"/floatingips/{fip['id']}/port_forwardings", {"port_forwarding": {
                    "internal_port_id": port["id"], "internal_ip_address": value, "internal_port": value,
                    "external_port": 22, "protocol": "tcp"}}),
                ("POST", f"/floatingips/{fip['id']}/port_forwardings", {"port_forwarding": value}),
                ("PUT", f"/quotas/{neutron.demo_project}", {"quota": {"port": value}}),
                ("PUT", f"/quotas/{neutron.demo_project}", {"quota": value}),
                ("POST", f"/qos/policies/{qos['id']}/bandwidth_limit_rules", {"bandwidth_limit_rule": {
                    "max_kbps": value, "direction": value}}),
                ("POST", f"/qos/policies/{qos['id']}/dscp_marking_rules", {"dscp_marking_rule": {"dscp_mark": value}}),
                ("PUT", f"/ports/{port['id']}", {"port": {"qos_policy_id": value}}),
                ("POST", "/qos/policies", {"policy": {"name": value, "shared": value}})):
            token = neutron.admin if path.startswith(("/quotas", "/qos")) else None
            r = neutron.request(method, path, token, content=json.dumps(body),
                                headers={"Content-Type": "application/json"})
            if r.status_code >= 500 or (r.status_code >= 400 and "NeutronError" not in r.json()):
                bad.append(f"{method} {path} {value!r:.40}: {r.status_code} {r.text[:120]}")
    assert neutron.delete(f"/quotas/{neutron.demo_project}", neutron.admin).status_code == 204
    for coll, (member, base, attrs, ident) in resources.items():
        for attr, value in itertools.product(attrs, VALUES):
            for method, path, body in (("POST", f"/{coll}", {member: {**base, attr: value}}),
                                       ("PUT", f"/{coll}/{ident}", {member: {attr: value}})):
                if ident is None and method == "PUT":
                    continue
                r = neutron.request(method, path, content=json.dumps(body),
                                    headers={"Content-Type": "application/json"})
                if r.status_code >= 500 or (r.status_code >= 400 and "NeutronError" not in r.json()):
                    bad.append(f"{method} {path} {attr}={value!r:.40}: {r.status_code} {r.text[:120]}")
        for q in QUERIES:
            r = neutron.get(f"/{coll}?{q}")
            if r.status_code >= 500 or (r.status_code >= 400 and "NeutronError" not in r.json()):
                bad.append(f"GET {coll}?{q}: {r.status_code} {r.text[:120]}")
    assert bad == []


def test_no_segment_input_makes_a_server_error(neutron: Neutron) -> None:
    """The admin's segment routes and the ``segments``/``segment_id`` attributes, given every wrong value."""
    net = neutron.network(neutron.admin, **{"provider:network_type": "vxlan"})
    (segment,) = neutron.get("/segments", neutron.admin, params={"network_id": net["id"]}).json()["segments"]
    sub = neutron.subnet(net["id"], "10.67.0.0/24", neutron.admin)
    bad: list[str] = []
    attrs = ["name", "description", "network_id", "network_type", "physical_network", "segmentation_id",
             "project_id"]
    for value in VALUES:
        requests: list[tuple[str, str, Any]] = [
            ("POST", "/segments", {"segment": value}),
            ("POST", "/networks", {"network": {"segments": value}}),
            ("POST", "/networks", {"network": {"segments": [value]}}),
            ("POST", "/networks", {"network": {"segments": [{"provider:network_type": "vlan",
                                                             "provider:physical_network": value,
                                                             "provider:segmentation_id": value}]}}),
            ("PUT", f"/networks/{net['id']}", {"network": {"segments": value}}),
            ("POST", "/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.66.0.0/24", "ip_version": 4,
                                             "segment_id": value}}),
            ("PUT", f"/subnets/{sub['id']}", {"subnet": {"segment_id": value}}),
        ]
        for attr in attrs:
            requests.append(("POST", "/segments", {"segment": {"network_id": net["id"], "network_type": "vxlan",
                                                               attr: value}}))
            requests.append(("PUT", f"/segments/{segment['id']}", {"segment": {attr: value}}))
        for method, path, body in requests:
            r = neutron.request(method, path, neutron.admin, content=json.dumps(body),
                                headers={"Content-Type": "application/json"})
            if r.status_code >= 500 or (r.status_code >= 400 and "NeutronError" not in r.json()):
                bad.append(f"{method} {path} {json.dumps(body)[:80]}: {r.status_code} {r.text[:120]}")
    for q in [*QUERIES, "segmentation_id=x", "segmentation_id=99999999999999999999", "sort_key=segment_index"]:
        r = neutron.get(f"/segments?{q}", neutron.admin)
        if r.status_code >= 500 or (r.status_code >= 400 and "NeutronError" not in r.json()):
            bad.append(f"GET segments?{q}: {r.status_code} {r.text[:120]}")
    assert bad == []
