"""A cloud as ``litestack up`` makes it: DevStack's networks made by the bootstrap (and kept on a
restart), the in-process fake agent in the agents API, ports bound to its host going ACTIVE (and
compute told with ``network-vif-plugged``), ports bound elsewhere staying DOWN."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.databases import cloud_on
from tests.functional.identity.keystone import FAST_HASH, Keystone
from tests.functional.network.neutron import Neutron, neutron_error

pytestmark = pytest.mark.functional

HOST = "fakehost-1"
CONFIG = FAST_HASH + f"""
[DEFAULT]
services = ["identity", "network", "computerecorder"]
service_plugins = ["tests.functional.network.compute_recorder:SERVICE"]

[network]
fake_agent_host = "{HOST}"
"""


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    with cloud_on("sqlite", tmp_path_factory.mktemp("network-up"), CONFIG) as c:
        yield c


@pytest.fixture(scope="module")
def neutron(cloud: RunningCloud) -> Iterator[Neutron]:
    ks = Keystone(cloud)
    n = Neutron(cloud, ks)
    yield n
    n.close()
    ks.close()


def cli_json(cloud: RunningCloud, *args: str, as_: str = "litestack") -> Any:
    return json.loads(cloud.openstack(*args, "-f", "json", cloud=as_).stdout)


def wait_for(fn: Any, timeout: float = 10.0) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > end:
            return value
        time.sleep(0.1)


def devstack_state(neutron: Neutron) -> dict[str, Any]:
    nets = {n["name"]: n for n in neutron.get("/networks", neutron.admin).json()["networks"]}
    subnets = {s["name"]: s for s in neutron.get("/subnets", neutron.admin).json()["subnets"]}
    routers = {r["name"]: r for r in neutron.get("/routers", neutron.admin).json()["routers"]}
    return {"nets": nets, "subnets": subnets, "routers": routers}


def test_devstack_networks_are_made_once(cloud: RunningCloud, neutron: Neutron) -> None:
    state = devstack_state(neutron)
    assert set(state["nets"]) == {"public", "private"} and set(state["routers"]) == {"router1"}
    public, private = state["nets"]["public"], state["nets"]["private"]
    assert public["router:external"] is True and public["provider:network_type"] == "flat"
    assert public["provider:physical_network"] == "public"
    assert state["subnets"]["public-subnet"]["cidr"] == "172.24.4.0/24"
    assert state["subnets"]["private-subnet"]["cidr"] == "10.0.0.0/26"
    assert private["project_id"] == neutron.demo_project
    router = state["routers"]["router1"]
    assert router["project_id"] == neutron.demo_project
    assert router["external_gateway_info"]["network_id"] == public["id"]
    ports = neutron.get("/ports", params={"device_id": router["id"]}).json()["ports"]
    assert [(p["device_owner"], p["fixed_ips"][0]["ip_address"]) for p in ports] == \
        [("network:router_interface", "10.0.0.1")]
    # Router ports are bound to the L3 agent's host, and its L2 side wires them.
    admin_ports = neutron.get("/ports", neutron.admin, params={"device_id": router["id"]}).json()["ports"]
    assert {p["binding:host_id"] for p in admin_ports} == {HOST}
    assert wait_for(lambda: all(p["status"] == "ACTIVE" for p in neutron.get(
        "/ports", neutron.admin, params={"device_id": router["id"]}).json()["ports"]))
    # The demo user sees them with the CLI, as on DevStack.
    names = {n["Name"] for n in cli_json(cloud, "network", "list")}
    assert {"public", "private"} <= names
    # A restart makes nothing twice.
    cloud.restart()
    again = devstack_state(neutron)
    assert {k: sorted(v[n]["id"] for n in v) for k, v in again.items()} == \
        {k: sorted(v[n]["id"] for n in v) for k, v in state.items()}


def test_floating_ip_on_public_through_router1(cloud: RunningCloud, neutron: Neutron) -> None:
    port = cli_json(cloud, "port", "create", "--network", "private", "fip-target")
    fip = cli_json(cloud, "floating", "ip", "create", "public")
    assert fip["floating_ip_address"].startswith("172.24.4.")
    cloud.openstack("floating", "ip", "set", "--port", port["id"], fip["id"])
    shown = cli_json(cloud, "floating", "ip", "show", fip["id"])
    router1 = devstack_state(neutron)["routers"]["router1"]
    assert shown["port_id"] == port["id"] and shown["router_id"] == router1["id"]
    cloud.openstack("floating", "ip", "unset", "--port", fip["id"])
    assert cli_json(cloud, "floating", "ip", "show", fip["id"])["port_id"] is None
    cloud.openstack("floating", "ip", "delete", fip["id"])
    cloud.openstack("port", "delete", port["id"])


def test_the_fake_agent_is_in_the_agents_api(cloud: RunningCloud, neutron: Neutron) -> None:
    agents = cli_json(cloud, "network", "agent", "list", as_="litestack-admin")
    mine = {a["Agent Type"]: a for a in agents if a["Host"] == HOST}
    assert set(mine) == {"L2 agent", "DHCP agent", "L3 agent"}
    assert all(a["Alive"] and a["State"] and a["Binary"] == "litestack-fake-agent" for a in mine.values())
    l2 = mine["L2 agent"]["ID"]
    shown = neutron.get(f"/agents/{l2}", neutron.admin).json()["agent"]
    assert shown["configurations"]["fake"] is True and shown["alive"] is True and shown["topic"]
    cloud.openstack("network", "agent", "set", "--description", "the fake one", l2, cloud="litestack-admin")
    assert neutron.get(f"/agents/{l2}", neutron.admin).json()["agent"]["description"] == "the fake one"
    # The agents API is the admin's.
    assert neutron.get("/agents").json() == {"agents": []}
    neutron_error(neutron.get(f"/agents/{l2}"), 404, "AgentNotFound")
    assert neutron.put(f"/agents/{l2}", {"agent": {"description": "x"}}).status_code == 404
    neutron_error(neutron.get("/agents/00000000-0000-0000-0000-000000000000", neutron.admin), 404, "AgentNotFound")
    neutron_error(neutron.put(f"/agents/{l2}", {"agent": {"host": "x"}}, neutron.admin), 400, "HTTPBadRequest")


def test_a_port_bound_to_the_agents_host_goes_active_and_compute_is_told(cloud: RunningCloud,
                                                                        neutron: Neutron) -> None:
    private = devstack_state(neutron)["nets"]["private"]
    server = "5d3f0a51-4c1e-4b7e-9d60-0a0c6d0f7c11"
    r = neutron.post("/ports", {"port": {"network_id": private["id"], "binding:host_id": HOST,
                                         "device_id": server, "device_owner": "compute:nova"}}, neutron.admin)
    assert r.status_code == 201, r.text
    port = r.json()["port"]
    assert port["binding:vif_type"] == "ovs" and port["status"] == "DOWN"
    active = wait_for(lambda: neutron.get(f"/ports/{port['id']}", neutron.admin).json()["port"]["status"] == "ACTIVE")
    assert active
    recorder = f"{cloud.url}/compute-recorder/recorded"
    seen = wait_for(lambda: [e for e in httpx.get(recorder).json()["events"] if e["tag"] == port["id"]])
    assert seen == [{"name": "network-vif-plugged", "server_uuid": server, "tag": port["id"], "status": "completed",
                     "code": 200}]
    assert httpx.get(recorder).json()["authenticated"] is True
    # Administratively down: the agent reports it down, and compute hears of the unplug.
    assert neutron.put(f"/ports/{port['id']}", {"port": {"admin_state_up": False}}, neutron.admin).status_code == 200
    assert wait_for(lambda: neutron.get(f"/ports/{port['id']}", neutron.admin).json()["port"]["status"] == "DOWN")
    unplugged = wait_for(lambda: [e for e in httpx.get(recorder).json()["events"]
                                  if e["tag"] == port["id"] and e["name"] == "network-vif-unplugged"])
    assert unplugged
    # A port that is not a server's is wired but tells compute nothing.
    plain = neutron.port(private["id"], neutron.admin, **{"binding:host_id": HOST})
    assert wait_for(lambda: neutron.get(f"/ports/{plain['id']}", neutron.admin).json()["port"]["status"] == "ACTIVE")
    assert not [e for e in httpx.get(recorder).json()["events"] if e["tag"] == plain["id"]]


def test_a_port_bound_to_a_host_without_agent_stays_down(neutron: Neutron) -> None:
    private = devstack_state(neutron)["nets"]["private"]
    port = neutron.port(private["id"], neutron.admin, **{"binding:host_id": "no-such-host"})
    assert port["binding:vif_type"] == "binding_failed"
    time.sleep(1.0)
    assert neutron.get(f"/ports/{port['id']}", neutron.admin).json()["port"]["status"] == "DOWN"
    # Moved to the agent's host, it is wired there.
    r = neutron.put(f"/ports/{port['id']}", {"port": {"binding:host_id": HOST}}, neutron.admin)
    assert r.status_code == 200 and r.json()["port"]["binding:vif_type"] == "ovs"
    assert wait_for(lambda: neutron.get(f"/ports/{port['id']}", neutron.admin).json()["port"]["status"] == "ACTIVE")


def test_auto_allocated_topology(cloud: RunningCloud, neutron: Neutron) -> None:
    path = f"/auto-allocated-topology/{neutron.demo_project}"
    neutron_error(neutron.get(path, params={"fields": "dry-run"}), 409, "AutoAllocationFailure",
                  "Deployment error: No default router:external network.")
    public = devstack_state(neutron)["nets"]["public"]
    private = devstack_state(neutron)["nets"]["private"]
    neutron_error(neutron.put(f"/networks/{private['id']}", {"network": {"is_default": True}}, neutron.admin), 400,
                  "InvalidInput")
    assert neutron.put(f"/networks/{public['id']}", {"network": {"is_default": True}}).status_code == 403
    r = neutron.put(f"/networks/{public['id']}", {"network": {"is_default": True}}, neutron.admin)
    assert r.status_code == 200 and r.json()["network"]["is_default"] is True
    neutron_error(neutron.get(path, params={"fields": "dry-run"}), 409, "AutoAllocationFailure",
                  "No default subnetpools defined")
    neutron.create("subnetpools", "subnetpool", {"name": "default-v4", "prefixes": ["10.128.0.0/16"],
                                                 "default_prefixlen": 26, "shared": True, "is_default": True},
                   neutron.admin)
    cloud.openstack("network", "auto", "allocated", "topology", "create", "--check-resources")
    made = cli_json(cloud, "network", "auto", "allocated", "topology", "create")
    again = neutron.get(path).json()["auto_allocated_topology"]
    assert again["id"] == made["id"] and again["project_id"] == neutron.demo_project
    net = neutron.get(f"/networks/{made['id']}").json()["network"]
    assert net["name"] == "auto_allocated_network" and len(net["subnets"]) == 1
    subnet = neutron.get(f"/subnets/{net['subnets'][0]}").json()["subnet"]
    assert subnet["cidr"].startswith("10.128.") and subnet["cidr"].endswith("/26")
    (router,) = [r for r in neutron.get("/routers").json()["routers"] if r["name"] == "auto_allocated_router"]
    assert router["external_gateway_info"]["network_id"] == public["id"]
    # Another project gets its own; the topology is its owner's business only.
    other, other_project = neutron.other
    assert neutron.get(path, other).status_code == 403
    theirs = neutron.get(f"/auto-allocated-topology/{other_project}", other).json()["auto_allocated_topology"]
    assert theirs["id"] != made["id"]
    cloud.openstack("network", "auto", "allocated", "topology", "delete")
    neutron_error(neutron.get(f"/networks/{made['id']}"), 404, "NetworkNotFound")
    neutron_error(neutron.get(f"/routers/{router['id']}"), 404, "RouterNotFound")
    neutron_error(neutron.delete(path), 404, "AutoAllocatedTopologyNotFound")


def test_neutrons_default_quotas(neutron: Neutron) -> None:
    defaults = neutron.get(f"/quotas/{neutron.demo_project}/default").json()["quota"]
    assert {k: defaults[k] for k in ("network", "subnet", "port", "router", "floatingip", "security_group",
                                     "security_group_rule", "subnetpool")} == {
        "network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50, "security_group": 10,
        "security_group_rule": 100, "subnetpool": -1}
    details = neutron.get(f"/quotas/{neutron.demo_project}/details").json()["quota"]
    assert details["router"]["used"] >= 1 and details["network"]["used"] >= 1  # router1, private


def test_compute_hears_network_changed_for_new_addresses_and_floating_ips(cloud: RunningCloud,
                                                                         neutron: Neutron) -> None:
    state = devstack_state(neutron)
    server = "7b1c4f6e-2a53-4f0c-8d8e-3c5d0e9a1b22"
    port = neutron.port(state["nets"]["private"]["id"], neutron.demo, device_id=server, device_owner="compute:nova")
    recorder = f"{cloud.url}/compute-recorder/recorded"

    def changed() -> list[dict[str, Any]]:
        return [e for e in httpx.get(recorder).json()["events"]
                if e["tag"] == port["id"] and e["name"] == "network-changed"]

    fip = neutron.create("floatingips", "floatingip", {"floating_network_id": state["nets"]["public"]["id"],
                                                       "port_id": port["id"]})
    assert wait_for(lambda: len(changed()) == 1)
    assert changed()[0]["server_uuid"] == server
    assert neutron.put(f"/floatingips/{fip['id']}", {"floatingip": {"port_id": None}}).status_code == 200
    assert wait_for(lambda: len(changed()) == 2)
    subnet = state["subnets"]["private-subnet"]["id"]
    r = neutron.put(f"/ports/{port['id']}", {"port": {"fixed_ips": [{"subnet_id": subnet}]}})
    assert r.status_code == 200, r.text
    assert wait_for(lambda: len(changed()) == 3)
    # A port that is not a server's tells compute nothing.
    plain = neutron.port(state["nets"]["private"]["id"])
    assert neutron.put(f"/floatingips/{fip['id']}", {"floatingip": {"port_id": plain["id"]}}).status_code == 200
    time.sleep(0.5)
    assert not [e for e in httpx.get(recorder).json()["events"] if e["tag"] == plain["id"]]
