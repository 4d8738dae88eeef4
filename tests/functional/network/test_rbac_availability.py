"""RBAC policies (``openstack network rbac create``): a network shared with one project or made
external for it, policies in use kept; network IP availability and availability zones."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import RunningCloud
from tests.functional.network.neutron import Neutron, neutron_error

pytestmark = pytest.mark.functional


def cli_json(cloud: RunningCloud, *args: str, as_: str = "litestack") -> Any:
    return json.loads(cloud.openstack(*args, "-f", "json", cloud=as_).stdout)


def test_rbac_shares_a_network_with_one_project(cloud: RunningCloud, neutron: Neutron) -> None:
    other, other_project = neutron.other
    net = neutron.network()
    sub = neutron.subnet(net["id"], "10.70.0.0/24")
    neutron_error(neutron.get(f"/networks/{net['id']}", other), 404, "NetworkNotFound")
    policy = cli_json(cloud, "network", "rbac", "create", "--type", "network", "--action", "access_as_shared",
                      "--target-project", other_project, net["id"])
    assert (policy["action"], policy["object_id"], policy["target_project_id"]) == \
        ("access_as_shared", net["id"], other_project)
    seen = neutron.get(f"/networks/{net['id']}", other).json()["network"]
    assert seen["shared"] is True and seen["subnets"] == [sub["id"]]
    assert net["id"] in {n["id"] for n in neutron.get("/networks", other).json()["networks"]}
    assert neutron.get(f"/subnets/{sub['id']}", other).status_code == 200
    # The owner still sees its network as not shared with everyone.
    assert neutron.get(f"/networks/{net['id']}").json()["network"]["shared"] is False
    port = neutron.port(net["id"], other)
    assert port["project_id"] == other_project
    # The policy cannot go while the project has ports there; the target sees it, cannot delete it.
    neutron_error(neutron.delete(f"/rbac-policies/{policy['id']}"), 409, "RbacPolicyInUse")
    assert policy["id"] in {p["id"] for p in neutron.get("/rbac-policies", other).json()["rbac_policies"]}
    neutron_error(neutron.delete(f"/rbac-policies/{policy['id']}", other), 403, "PolicyNotAuthorized")
    neutron_error(neutron.post("/rbac-policies", {"rbac_policy": {
        "object_type": "network", "object_id": net["id"], "action": "access_as_shared",
        "target_tenant": other_project}}), 409, "DuplicateRbacPolicy")
    neutron_error(neutron.post("/rbac-policies", {"rbac_policy": {
        "object_type": "network", "object_id": net["id"], "action": "access_as_bogus",
        "target_tenant": other_project}}), 400, "HTTPBadRequest")
    # Another project's network is not the caller's to share.
    neutron_error(neutron.post("/rbac-policies", {"rbac_policy": {
        "object_type": "network", "object_id": net["id"], "action": "access_as_shared", "target_tenant": "*"}},
        other), 404, "NetworkNotFound")
    assert neutron.delete(f"/ports/{port['id']}", other).status_code == 204
    cloud.openstack("network", "rbac", "delete", policy["id"])
    neutron_error(neutron.get(f"/networks/{net['id']}", other), 404, "NetworkNotFound")


def test_rbac_external_lets_a_project_use_the_network_for_gateways(neutron: Neutron) -> None:
    other, other_project = neutron.other
    ext = neutron.network(neutron.admin)
    neutron.subnet(ext["id"], "203.0.113.0/24", neutron.admin)
    router = neutron.create("routers", "router", {"name": "rbac-ext"}, other)
    gateway = {"router": {"external_gateway_info": {"network_id": ext["id"]}}}
    neutron_error(neutron.put(f"/routers/{router['id']}", gateway, other), 404, "NetworkNotFound")
    policy = neutron.create("rbac-policies", "rbac_policy", {
        "object_type": "network", "object_id": ext["id"], "action": "access_as_external",
        "target_tenant": other_project}, neutron.admin)
    assert neutron.get(f"/networks/{ext['id']}", other).json()["network"]["router:external"] is True
    r = neutron.put(f"/routers/{router['id']}", gateway, other)
    assert r.status_code == 200 and r.json()["router"]["external_gateway_info"]["network_id"] == ext["id"], r.text
    fip = neutron.create("floatingips", "floatingip", {"floating_network_id": ext["id"]}, other)
    assert fip["floating_ip_address"].startswith("203.0.113.")
    # The demo project is not targeted: the network stays hidden from it.
    neutron_error(neutron.get(f"/networks/{ext['id']}"), 404, "NetworkNotFound")
    assert neutron.delete(f"/floatingips/{fip['id']}", other).status_code == 204
    assert neutron.put(f"/routers/{router['id']}", {"router": {"external_gateway_info": {}}}, other).status_code == 200
    assert neutron.delete(f"/routers/{router['id']}", other).status_code == 204
    assert neutron.delete(f"/rbac-policies/{policy['id']}", neutron.admin).status_code == 204


def test_network_ip_availability(cloud: RunningCloud, neutron: Neutron) -> None:
    net = neutron.network()
    sub = neutron.subnet(net["id"], "10.71.0.0/28")  # 13 addresses in the pool (gateway .1 apart)
    for _ in range(3):
        neutron.port(net["id"])
    shown = cli_json(cloud, "ip", "availability", "show", net["id"], as_="litestack-admin")
    assert (shown["total_ips"], shown["used_ips"], shown["network_name"]) == (13, 3, net["name"])
    (per_subnet,) = shown["subnet_ip_availability"]
    assert per_subnet["subnet_id"] == sub["id"] and per_subnet["cidr"] == "10.71.0.0/28"
    listed = neutron.get("/network-ip-availabilities", neutron.admin, params={"ip_version": "4"}).json()
    assert net["id"] in {n["network_id"] for n in listed["network_ip_availabilities"]}
    assert neutron.get("/network-ip-availabilities", neutron.demo).status_code == 403
    neutron_error(neutron.get("/network-ip-availabilities/nope", neutron.admin), 404, "NetworkNotFound")


def test_availability_zones_come_from_the_agents(cloud: RunningCloud, neutron: Neutron) -> None:
    zones = neutron.get("/availability_zones").json()["availability_zones"]
    assert {"name": "nova", "resource": "network", "state": "available"} in zones
    assert {"name": "nova", "resource": "router", "state": "available"} in zones
    listed = cli_json(cloud, "availability", "zone", "list", "--network")
    assert {z["Zone Name"] for z in listed} == {"nova"}


def test_qos_policies_with_bandwidth_limit_and_dscp_rules(cloud: RunningCloud, neutron: Neutron) -> None:
    policy = cli_json(cloud, "network", "qos", "policy", "create", "--share", "gold", as_="litestack-admin")
    assert policy["shared"] is True and policy["rules"] == []
    bw = cli_json(cloud, "network", "qos", "rule", "create", "--type", "bandwidth-limit", "--max-kbps", "10000",
                  "--max-burst-kbits", "800", "--egress", policy["id"], as_="litestack-admin")
    assert (bw["max_kbps"], bw["max_burst_kbps"], bw["direction"]) == (10000, 800, "egress")
    dscp = cli_json(cloud, "network", "qos", "rule", "create", "--type", "dscp-marking", "--dscp-mark", "26",
                    policy["id"], as_="litestack-admin")
    assert dscp["dscp_mark"] == 26
    base = f"/qos/policies/{policy['id']}"
    neutron_error(neutron.post(f"{base}/bandwidth_limit_rules", {"bandwidth_limit_rule": {"max_kbps": 5}},
                               neutron.admin), 409, "QoSRulesConflict")
    r = neutron.post(f"{base}/bandwidth_limit_rules", {"bandwidth_limit_rule": {"max_kbps": 5, "direction": "ingress"}},
                     neutron.admin)
    assert r.status_code == 201, r.text
    neutron_error(neutron.post(f"{base}/dscp_marking_rules", {"dscp_marking_rule": {"dscp_mark": 7}}, neutron.admin),
                  400, "HTTPBadRequest")
    neutron_error(neutron.post(f"{base}/bandwidth_limit_rules", {"bandwidth_limit_rule": {"max_kbps": -1}},
                               neutron.admin), 400, "HTTPBadRequest")
    rules = neutron.get(base).json()["policy"]["rules"]
    assert sorted((x["type"], x.get("direction")) for x in rules) == \
        [("bandwidth_limit", "egress"), ("bandwidth_limit", "ingress"), ("dscp_marking", None)]
    types = {t["type"] for t in neutron.get("/qos/rule-types").json()["rule_types"]}
    assert types == {"bandwidth_limit", "dscp_marking"}
    # Members see the shared policy and bind their ports and networks to it; only the admin writes it.
    assert neutron.post("/qos/policies", {"policy": {"name": "mine"}}).status_code == 403
    assert neutron.post(f"{base}/dscp_marking_rules", {"dscp_marking_rule": {"dscp_mark": 8}}).status_code == 403
    net = neutron.network(qos_policy_id=policy["id"])
    assert net["qos_policy_id"] == policy["id"]
    neutron.subnet(net["id"], "10.72.0.0/24")
    port = neutron.port(net["id"])
    assert port["qos_policy_id"] is None and port["qos_network_policy_id"] == policy["id"]
    cloud.openstack("port", "set", "--qos-policy", "gold", port["id"])
    assert neutron.get(f"/ports/{port['id']}").json()["port"]["qos_policy_id"] == policy["id"]
    neutron_error(neutron.delete(base, neutron.admin), 409, "QosPolicyInUse")
    private = neutron.create("qos/policies", "policy", {"name": "private"}, neutron.admin)
    neutron_error(neutron.put(f"/ports/{port['id']}", {"port": {"qos_policy_id": private["id"]}}), 404,
                  "QosPolicyNotFound")
    r = neutron.put(f"{base}/dscp_marking_rules/{dscp['id']}", {"dscp_marking_rule": {"dscp_mark": 34}},
                    neutron.admin)
    assert r.status_code == 200 and r.json()["dscp_marking_rule"]["dscp_mark"] == 34
    assert neutron.delete(f"{base}/dscp_marking_rules/{dscp['id']}", neutron.admin).status_code == 204
    neutron_error(neutron.get(f"{base}/dscp_marking_rules/{dscp['id']}"), 404, "QosRuleNotFound")
    assert neutron.put(f"/ports/{port['id']}", {"port": {"qos_policy_id": None}}).status_code == 200
    assert neutron.put(f"/networks/{net['id']}", {"network": {"qos_policy_id": None}}).status_code == 200
    cloud.openstack("network", "qos", "policy", "delete", "gold", cloud="litestack-admin")
    neutron_error(neutron.get(base), 404, "QosPolicyNotFound")


def test_address_scopes(cloud: RunningCloud, neutron: Neutron) -> None:
    scope = cli_json(cloud, "address", "scope", "create", "--ip-version", "4", "scope-a")
    assert (scope["ip_version"], scope["shared"]) == (4, False)
    pool = cli_json(cloud, "subnet", "pool", "create", "--address-scope", scope["id"], "--pool-prefix",
                    "10.90.0.0/16", "--default-prefix-length", "24", "scoped-pool")
    assert pool["address_scope_id"] == scope["id"]
    neutron_error(neutron.post("/subnetpools", {"subnetpool": {"name": "clash", "prefixes": ["10.90.128.0/20"],
                                                                "address_scope_id": scope["id"]}}), 400,
                  "IllegalSubnetPoolAssociationToAddressScope", "overlap")
    neutron_error(neutron.post("/subnetpools", {"subnetpool": {"name": "v6", "prefixes": ["fd00:90::/48"],
                                                                "address_scope_id": scope["id"]}}), 400,
                  "IllegalSubnetPoolAssociationToAddressScope", "ip_version is not 4")
    net = neutron.network()
    neutron.create("subnets", "subnet", {"network_id": net["id"], "ip_version": 4, "subnetpool_id": pool["id"]})
    shown = neutron.get(f"/networks/{net['id']}").json()["network"]
    assert shown["ipv4_address_scope"] == scope["id"] and shown["ipv6_address_scope"] is None
    neutron_error(neutron.delete(f"/address-scopes/{scope['id']}"), 409, "AddressScopeInUse")
    other, _ = neutron.other
    neutron_error(neutron.get(f"/address-scopes/{scope['id']}", other), 404, "AddressScopeNotFound")
    assert neutron.post("/address-scopes", {"address_scope": {"ip_version": 4, "shared": True}}).status_code == 403
    neutron_error(neutron.post("/address-scopes", {"address_scope": {"ip_version": 5}}), 400, "HTTPBadRequest")
    cloud.openstack("address", "scope", "set", "--name", "scope-b", scope["id"])
    assert neutron.get(f"/address-scopes/{scope['id']}").json()["address_scope"]["name"] == "scope-b"


def test_address_groups_as_rule_remotes(cloud: RunningCloud, neutron: Neutron) -> None:
    group = cli_json(cloud, "address", "group", "create", "--address", "10.80.0.1", "--address", "192.0.2.0/24",
                     "office")
    assert sorted(group["addresses"]) == ["10.80.0.1/32", "192.0.2.0/24"]
    cloud.openstack("address", "group", "set", "--address", "10.80.0.2", "office")
    cloud.openstack("address", "group", "unset", "--address", "10.80.0.1", "office")
    shown = neutron.get(f"/address-groups/{group['id']}").json()["address_group"]
    assert shown["addresses"] == ["10.80.0.2/32", "192.0.2.0/24"]
    neutron_error(neutron.put(f"/address-groups/{group['id']}/add_addresses", {"addresses": ["10.80.0.2"]}), 400,
                  "AddressesAlreadyExist")
    neutron_error(neutron.put(f"/address-groups/{group['id']}/remove_addresses", {"addresses": ["10.1.1.1"]}), 404,
                  "AddressesNotFound")
    neutron_error(neutron.put(f"/address-groups/{group['id']}/add_addresses", {"addresses": ["nope"]}), 400,
                  "HTTPBadRequest")
    sg = neutron.create("security-groups", "security_group", {"name": "ag-remote"})
    rule = cli_json(cloud, "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "443",
                    "--remote-address-group", "office", sg["id"])
    assert rule["remote_address_group_id"] == group["id"] and rule["remote_ip_prefix"] is None
    neutron_error(neutron.post("/security-group-rules", {"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress", "remote_address_group_id": group["id"],
        "remote_ip_prefix": "10.0.0.0/8"}}), 400, "SecurityGroupMultipleRemoteEntites")
    neutron_error(neutron.delete(f"/address-groups/{group['id']}"), 409, "AddressGroupInUse")
    other, _ = neutron.other
    neutron_error(neutron.get(f"/address-groups/{group['id']}", other), 404, "AddressGroupNotFound")
    other_sg = neutron.create("security-groups", "security_group", {"name": "theirs"}, other)
    neutron_error(neutron.post("/security-group-rules", {"security_group_rule": {
        "security_group_id": other_sg["id"], "direction": "ingress", "remote_address_group_id": group["id"]}},
        other), 404, "AddressGroupNotFound")
    assert neutron.delete(f"/security-groups/{other_sg['id']}", other).status_code == 204  # the suite shares it
    cloud.openstack("security", "group", "rule", "delete", rule["id"])
    cloud.openstack("address", "group", "delete", "office")
    neutron_error(neutron.get(f"/address-groups/{group['id']}"), 404, "AddressGroupNotFound")


def test_rbac_shares_a_qos_policy_with_one_project(cloud: RunningCloud, neutron: Neutron) -> None:
    other, other_project = neutron.other
    qos = neutron.create("qos/policies", "policy", {"name": "rbac-qos"}, neutron.admin)
    neutron_error(neutron.get(f"/qos/policies/{qos['id']}", other), 404, "QosPolicyNotFound")
    net = neutron.network(other)
    neutron_error(neutron.post("/ports", {"port": {"network_id": net["id"], "qos_policy_id": qos["id"]}}, other),
                  404, "QosPolicyNotFound")
    policy = cli_json(cloud, "network", "rbac", "create", "--type", "qos_policy", "--action", "access_as_shared",
                      "--target-project", other_project, qos["id"], as_="litestack-admin")
    assert (policy["object_type"], policy["object_id"], policy["target_project_id"]) == \
        ("qos_policy", qos["id"], other_project)
    assert qos["id"] in {p["id"] for p in neutron.get("/qos/policies", other).json()["policies"]}
    assert neutron.get(f"/qos/policies/{qos['id']}", other).json()["policy"]["shared"] is True
    port = neutron.port(net["id"], other, qos_policy_id=qos["id"])
    assert port["qos_policy_id"] == qos["id"]
    # The target sees the policy but cannot change or delete it.
    assert neutron.put(f"/qos/policies/{qos['id']}", {"policy": {"name": "x"}}, other).status_code in (403, 404)
    assert neutron.delete(f"/qos/policies/{qos['id']}", other).status_code in (403, 404)
    listed = cli_json(cloud, "network", "rbac", "list", "--type", "qos_policy", as_="litestack-admin")
    assert policy["id"] in {p["ID"] for p in listed}
    neutron_error(neutron.delete(f"/rbac-policies/{policy['id']}", neutron.admin), 409, "RbacPolicyInUse")
    neutron_error(neutron.post("/rbac-policies", {"rbac_policy": {
        "object_type": "qos_policy", "object_id": qos["id"], "action": "access_as_external",
        "target_tenant": other_project}}, neutron.admin), 400, "HTTPBadRequest")
    neutron_error(neutron.post("/rbac-policies", {"rbac_policy": {
        "object_type": "qos_policy", "object_id": qos["id"], "action": "access_as_shared",
        "target_tenant": other_project}}, neutron.admin), 409, "DuplicateRbacPolicy")
    assert neutron.put(f"/ports/{port['id']}", {"port": {"qos_policy_id": None}}, other).status_code == 200
    cloud.openstack("network", "rbac", "delete", policy["id"], cloud="litestack-admin")
    neutron_error(neutron.get(f"/qos/policies/{qos['id']}", other), 404, "QosPolicyNotFound")
    assert neutron.delete(f"/ports/{port['id']}", other).status_code == 204
    assert neutron.delete(f"/networks/{net['id']}", other).status_code == 204
    assert neutron.delete(f"/qos/policies/{qos['id']}", neutron.admin).status_code == 204


def test_rbac_shares_a_security_group_with_one_project(cloud: RunningCloud, neutron: Neutron) -> None:
    other, other_project = neutron.other
    group = neutron.create("security-groups", "security_group", {"name": "rbac-sg"})
    net = neutron.network(other)
    neutron_error(neutron.post("/ports", {"port": {"network_id": net["id"], "security_groups": [group["id"]]}},
                               other), 404, "SecurityGroupNotFound")
    # Someone else's group is not the caller's to share; unknown types are a 400.
    neutron_error(neutron.post("/rbac-policies", {"rbac_policy": {
        "object_type": "security_group", "object_id": group["id"], "action": "access_as_shared",
        "target_tenant": "*"}}, other), 404, "SecurityGroupNotFound")
    neutron_error(neutron.post("/rbac-policies", {"rbac_policy": {
        "object_type": "router", "object_id": group["id"], "action": "access_as_shared",
        "target_tenant": other_project}}), 400, "HTTPBadRequest")
    policy = cli_json(cloud, "network", "rbac", "create", "--type", "security_group", "--action",
                      "access_as_shared", "--target-project", other_project, group["id"])
    assert (policy["object_type"], policy["object_id"]) == ("security_group", group["id"])
    seen = neutron.get(f"/security-groups/{group['id']}", other).json()["security_group"]
    assert seen["name"] == "rbac-sg" and seen["security_group_rules"]
    assert group["id"] in {g["id"] for g in neutron.get("/security-groups", other).json()["security_groups"]}
    port = neutron.port(net["id"], other, security_groups=[group["id"]])
    assert port["security_groups"] == [group["id"]]
    # The target uses the group; it cannot change or delete it.
    assert neutron.put(f"/security-groups/{group['id']}", {"security_group": {"name": "x"}},
                       other).status_code in (403, 404)
    assert neutron.delete(f"/security-groups/{group['id']}", other).status_code in (403, 404)
    neutron_error(neutron.post("/security-group-rules", {"security_group_rule": {
        "security_group_id": group["id"], "direction": "ingress", "protocol": "tcp"}}, other),
        403, "PolicyNotAuthorized")
    assert neutron.get(f"/security-groups/{group['id']}").json()["security_group"]["name"] == "rbac-sg"
    neutron_error(neutron.delete(f"/rbac-policies/{policy['id']}"), 409, "RbacPolicyInUse")
    # Narrowing the policy to another project would strip the ports' project too.
    neutron_error(neutron.put(f"/rbac-policies/{policy['id']}", {"rbac_policy": {"target_tenant": "nobody"}}),
                  409, "RbacPolicyInUse")
    assert neutron.delete(f"/ports/{port['id']}", other).status_code == 204
    cloud.openstack("network", "rbac", "delete", policy["id"])
    neutron_error(neutron.get(f"/security-groups/{group['id']}", other), 404, "SecurityGroupNotFound")
    # A group shared with everyone shows as shared; deleting the group removes its policies.
    everyone = neutron.create("rbac-policies", "rbac_policy", {
        "object_type": "security_group", "object_id": group["id"], "action": "access_as_shared",
        "target_tenant": "*"})
    assert neutron.get(f"/security-groups/{group['id']}", other).json()["security_group"]["shared"] is True
    assert neutron.delete(f"/security-groups/{group['id']}").status_code == 204
    neutron_error(neutron.get(f"/rbac-policies/{everyone['id']}"), 404, "RbacPolicyNotFound")
    assert neutron.delete(f"/networks/{net['id']}", other).status_code == 204
