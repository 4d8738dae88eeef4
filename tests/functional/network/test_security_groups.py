"""Security groups and rules through the real CLI, openstacksdk and raw HTTP: the default group
made on first use with Neutron's rules, rule validation with Neutron's errors, duplicates,
the default group and groups in use kept, ``stateful``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import RunningCloud
from tests.functional.network.neutron import Neutron, neutron_error, unique

pytestmark = pytest.mark.functional


def cli_json(cloud: RunningCloud, *args: str) -> Any:
    return json.loads(cloud.openstack(*args, "-f", "json").stdout)


def test_the_default_group_is_made_on_first_use_with_neutrons_rules(neutron: Neutron) -> None:
    token, project = neutron.other
    groups = neutron.get("/security-groups", token).json()["security_groups"]
    assert [g["name"] for g in groups] == ["default"]
    (default,) = groups
    assert default["project_id"] == project and default["stateful"] is True
    rules = {(r["direction"], r["ethertype"], r["remote_group_id"], r["protocol"], r["remote_ip_prefix"])
             for r in default["security_group_rules"]}
    assert rules == {("egress", "IPv4", None, None, None), ("egress", "IPv6", None, None, None),
                     ("ingress", "IPv4", default["id"], None, None), ("ingress", "IPv6", default["id"], None, None)}
    assert all(r["belongs_to_default_sg"] for r in default["security_group_rules"])
    # Asking again does not make a second one.
    assert len(neutron.get("/security-groups", token).json()["security_groups"]) == 1
    neutron_error(neutron.post("/security-groups", {"security_group": {"name": "default"}}, token), 409,
                  "SecurityGroupDefaultAlreadyExists")
    neutron_error(neutron.delete(f"/security-groups/{default['id']}", token), 409,
                  "SecurityGroupCannotRemoveDefault", "Insufficient rights for removing default security group.")
    neutron_error(neutron.put(f"/security-groups/{default['id']}", {"security_group": {"name": "x"}}, token), 409,
                  "SecurityGroupCannotUpdateDefault")


def test_cli_group_and_rules_tcp_range_icmp_remote_group_and_delete(cloud: RunningCloud) -> None:
    name = unique("web")
    group = cli_json(cloud, "security", "group", "create", "--description", "web servers", name)
    assert {r["direction"] for r in group["rules"]} == {"egress"}
    tcp = cli_json(cloud, "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "8000:8080",
                   "--remote-ip", "192.168.1.7/24", name)
    assert (tcp["port_range_min"], tcp["port_range_max"], tcp["protocol"]) == (8000, 8080, "tcp")
    assert tcp["remote_ip_prefix"] == "192.168.1.7/24" and tcp["normalized_cidr"] == "192.168.1.0/24"
    icmp = cli_json(cloud, "security", "group", "rule", "create", "--protocol", "icmp", "--icmp-type", "8",
                    "--icmp-code", "0", name)
    assert (icmp["port_range_min"], icmp["port_range_max"]) == (8, 0)
    remote = cli_json(cloud, "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22",
                      "--remote-group", name, name)
    assert remote["remote_group_id"] == group["id"] and remote["remote_ip_prefix"] is None
    dup = cloud.openstack("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "8000:8080",
                          "--remote-ip", "192.168.1.7/24", name, check=False)
    assert dup.returncode != 0 and f"Rule id is {tcp['id']}" in dup.stderr
    listed = {r["ID"] for r in cli_json(cloud, "security", "group", "rule", "list", name)}
    assert {tcp["id"], icmp["id"], remote["id"]} <= listed
    cloud.openstack("security", "group", "rule", "delete", tcp["id"])
    assert tcp["id"] not in {r["ID"] for r in cli_json(cloud, "security", "group", "rule", "list", name)}
    cloud.openstack("security", "group", "delete", name)


@pytest.mark.parametrize("rule, status, etype, text", [
    ({"protocol": "tcp", "port_range_min": 90, "port_range_max": 80}, 400, "SecurityGroupInvalidPortRange",
     "port_range_min must be <= port_range_max"),
    ({"protocol": "tcp", "port_range_min": 0, "port_range_max": 80}, 400, "SecurityGroupInvalidPortValue",
     "Invalid value for port 0"),
    ({"protocol": "udp", "port_range_min": 1, "port_range_max": 70000}, 400, "SecurityGroupInvalidPortValue",
     "Invalid value for port 70000"),
    ({"protocol": "icmp", "port_range_min": 300}, 400, "SecurityGroupInvalidIcmpValue",
     "Invalid value for ICMP type (port_range_min) 300. It must be 0 to 255."),
    ({"protocol": "icmp", "port_range_max": 3}, 400, "SecurityGroupMissingIcmpType",
     "ICMP code (port-range-max) 3 is provided but ICMP type (port-range-min) is missing."),
    ({"protocol": "bogus"}, 400, "SecurityGroupRuleInvalidProtocol",
     "Security group rule protocol bogus not supported"),
    ({"protocol": "256"}, 400, "SecurityGroupRuleInvalidProtocol", None),
    ({"protocol": "gre", "port_range_min": 1, "port_range_max": 2}, 400, "SecurityGroupInvalidProtocolForPort",
     "Ports cannot be specified for protocol gre."),
    ({"port_range_min": 1, "port_range_max": 2}, 400, "SecurityGroupProtocolRequiredWithPorts",
     "Must also specify protocol if port range is given."),
    ({"ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"}, 400, "SecurityGroupRuleParameterConflict",
     "Conflicting value ethertype IPv6 for CIDR 10.0.0.0/8"),
    ({"ethertype": "IPv4", "protocol": "ipv6-icmp"}, 400, "SecurityGroupEthertypeConflictWithProtocol", None),
    ({"ethertype": "IPX"}, 400, "SecurityGroupRuleInvalidEtherType", None),
    ({"direction": "sideways"}, 400, "HTTPBadRequest", None),
    ({"remote_group_id": "00000000-0000-0000-0000-000000000000"}, 404, "SecurityGroupNotFound", None),
    ({"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": "x"}, 400, "SecurityGroupMultipleRemoteEntites", None),
])
def test_invalid_rules_get_neutrons_errors(neutron: Neutron, rule: dict[str, Any], status: int, etype: str,
                                           text: str | None) -> None:
    sg = neutron.create("security-groups", "security_group", {"name": unique("sg")})
    body = {"security_group_id": sg["id"], "direction": "ingress", **rule}
    neutron_error(neutron.post("/security-group-rules", {"security_group_rule": body}), status, etype, text)


def test_equal_rules_are_duplicates_whatever_the_spelling(neutron: Neutron) -> None:
    sg = neutron.create("security-groups", "security_group", {"name": unique("sg")})
    first = neutron.create("security-group-rules", "security_group_rule", {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp", "port_range_min": 22,
        "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"})
    r = neutron.post("/security-group-rules", {"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "6", "port_range_min": 22,
        "port_range_max": 22}})
    neutron_error(r, 409, "SecurityGroupRuleExists", f"Security group rule already exists. Rule id is {first['id']}.")


def test_a_group_in_use_is_kept_and_other_projects_groups_are_404(neutron: Neutron) -> None:
    sg = neutron.create("security-groups", "security_group", {"name": unique("sg"), "stateful": False})
    assert sg["stateful"] is False
    net = neutron.network()
    neutron.subnet(net["id"], "10.80.0.0/24")
    port = neutron.port(net["id"], security_groups=[sg["id"]])
    neutron_error(neutron.delete(f"/security-groups/{sg['id']}"), 409, "SecurityGroupInUse",
                  f"Security Group {sg['id']} in use.")
    other_token, _ = neutron.other
    neutron_error(neutron.get(f"/security-groups/{sg['id']}", other_token), 404, "SecurityGroupNotFound")
    rule_id = sg["security_group_rules"][0]["id"]
    neutron_error(neutron.delete(f"/security-group-rules/{rule_id}", other_token), 404, "SecurityGroupRuleNotFound")
    r = neutron.post("/ports", {"port": {"network_id": neutron.network(other_token)["id"],
                                         "security_groups": [sg["id"]]}}, other_token)
    neutron_error(r, 404, "SecurityGroupNotFound")
    assert neutron.delete(f"/ports/{port['id']}").status_code == 204
    assert neutron.delete(f"/security-groups/{sg['id']}").status_code == 204


def test_sdk_security_group_flow(cloud: RunningCloud) -> None:
    conn = cloud.sdk("litestack")
    sg = conn.network.create_security_group(name=unique("sdk"), description="sdk")
    rule = conn.network.create_security_group_rule(security_group_id=sg.id, direction="ingress", protocol="udp",
                                                   port_range_min=53, port_range_max=53, ether_type="IPv6",
                                                   remote_ip_prefix="fd00::/8")
    got = conn.network.get_security_group(sg.id)
    assert rule.id in {r["id"] for r in got.security_group_rules}
    assert [r.id for r in conn.network.security_group_rules(security_group_id=sg.id, protocol="udp")] == [rule.id]
    conn.network.delete_security_group_rule(rule)
    conn.network.delete_security_group(sg)
    assert conn.network.find_security_group(sg.id) is None
