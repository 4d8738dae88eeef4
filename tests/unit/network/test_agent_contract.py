"""The agent contract: what any network agent of a host must do with the server over the RPC bus
(state reports, the ports bound to its host wired and reported up, ports elsewhere left alone,
the server's fan-out followed, DHCP networks and L3 routers fetched). It runs on the fake agent
now (``AGENTS``) and on the real agents when the data plane adds them.

The server side is the real one: the network manager on a SQLite database and its RPC endpoint
on the in-process bus."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from litestack.common.config import load
from litestack.common.db import Database, upgrade
from litestack.common.notify import Notifier
from litestack.common.rpc import get_transport
from litestack.network.agents import PLUGIN_TOPIC
from litestack.network.agents.fake import FakeAgent
from litestack.network.agents.rpc import AgentFanout, PluginEndpoint
from litestack.network.manager import Manager
from litestack.network.manager.base import Caller, Query
from litestack.network.models import Base

HOST = "host-a"
ADMIN = Caller("p1", True)
#: Each agent implementation the contract runs on: (bus, host) -> an agent with start/stop and
#: ``ports``, ``security_groups``, ``sg_member_ips``, ``networks``, ``routers``, ``told``.
AGENTS: dict[str, Callable[[Any, str], Any]] = {"fake": lambda bus, host: FakeAgent(bus, host, 3600)}


@dataclass
class Server:
    mgr: Manager
    bus: Any

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def status(self, port_id: str) -> str:
        return str((await self.run(self.mgr.ports.get, ADMIN, port_id))["status"])

    async def until(self, check: Callable[[], Any], timeout: float = 5.0) -> Any:
        end = asyncio.get_running_loop().time() + timeout
        while True:
            value = check()
            if asyncio.iscoroutine(value):
                value = await value
            if value or asyncio.get_running_loop().time() > end:
                return value
            await asyncio.sleep(0.02)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    db = Database(f"sqlite:///{tmp_path}/network.db")
    upgrade(db, "litestack.network.migrations", Base, "network")
    mgr = Manager(db, load(None), Notifier("network", "test"))
    bus = get_transport(f"inproc://contract-{uuid.uuid4().hex[:8]}")
    await bus.start()
    listener = await bus.listen(PLUGIN_TOPIC, PluginEndpoint(mgr, None))
    fanout = AgentFanout(bus)
    for part in mgr.parts:
        part.agent_fanout = fanout
    yield Server(mgr, bus)
    await listener.stop()
    await bus.stop()
    db.dispose()


@pytest.fixture(params=sorted(AGENTS))
async def agent(request: pytest.FixtureRequest, server: Server) -> AsyncIterator[Any]:
    a = AGENTS[request.param](server.bus, HOST)
    await a.start()
    yield a
    await a.stop()


async def network(server: Server, cidr: str = "10.0.0.0/24") -> dict[str, Any]:
    net = await server.run(server.mgr.networks.create, ADMIN, {"project_id": "p1", "name": "n"})
    await server.run(server.mgr.subnets.create, ADMIN, {"project_id": "p1", "network_id": net["id"], "cidr": cidr,
                                                        "ip_version": 4})
    return dict(net)


async def port(server: Server, net: dict[str, Any], host: str = HOST, **kw: Any) -> dict[str, Any]:
    return dict(await server.run(server.mgr.ports.create, ADMIN, {"project_id": "p1", "network_id": net["id"],
                                                                   "binding:host_id": host, **kw}))


async def test_the_agent_reports_its_state(server: Server, agent: Any) -> None:
    agents = await server.run(server.mgr.agents.find, ADMIN, Query())
    mine = {a["agent_type"]: a for a in agents if a["host"] == HOST}
    assert set(mine) == {"L2 agent", "DHCP agent", "L3 agent"}
    assert all(a["alive"] and a["admin_state_up"] for a in mine.values())


async def test_a_port_bound_to_its_host_is_wired_with_its_details_and_goes_active(server: Server,
                                                                                 agent: Any) -> None:
    net = await network(server)
    p = await port(server, net)
    assert p["binding:vif_type"] != "binding_failed"
    assert await server.until(lambda: p["id"] in agent.ports)
    assert await server.until(_active(server, p["id"]))
    details = agent.ports[p["id"]]
    assert details["network_id"] == net["id"] and details["mac_address"] == p["mac_address"]
    assert details["network_type"] == "vxlan" and isinstance(details["segmentation_id"], int)
    assert details["fixed_ips"] == p["fixed_ips"] and details["security_groups"] == p["security_groups"]
    assert details["mtu"] == net["mtu"]
    (group,) = p["security_groups"]
    assert {r["direction"] for r in agent.security_groups[group]} == {"ingress", "egress"}
    # The default group's ingress rules name the group itself: its members' addresses come along.
    assert p["fixed_ips"][0]["ip_address"] in agent.sg_member_ips[group]["IPv4"]


def _active(server: Server, port_id: str) -> Callable[[], Any]:
    async def check() -> bool:
        return await server.status(port_id) == "ACTIVE"
    return check


async def test_a_port_bound_elsewhere_is_left_alone_and_stays_down(server: Server, agent: Any) -> None:
    net = await network(server)
    p = await port(server, net, host="host-b")
    assert p["binding:vif_type"] == "binding_failed"
    await asyncio.sleep(0.3)
    assert p["id"] not in agent.ports and await server.status(p["id"]) == "DOWN"
    assert ("port_update", {"port_id": p["id"], "host": "host-b"}) in agent.told


async def test_admin_state_down_and_deletion(server: Server, agent: Any) -> None:
    net = await network(server)
    p = await port(server, net)
    assert await server.until(_active(server, p["id"]))
    await server.run(server.mgr.ports.update, ADMIN, p["id"], {"admin_state_up": False}, None)

    async def down() -> bool:
        return await server.status(p["id"]) == "DOWN"
    assert await server.until(down)
    await server.run(server.mgr.ports.delete, ADMIN, p["id"])
    assert await server.until(lambda: p["id"] not in agent.ports)
    assert ("port_delete", {"port_id": p["id"], "host": HOST}) in agent.told


async def test_security_group_rule_changes_reach_the_agent(server: Server, agent: Any) -> None:
    net = await network(server)
    p = await port(server, net)
    assert await server.until(lambda: p["id"] in agent.ports)
    (group,) = p["security_groups"]
    rule = await server.run(server.mgr.security_groups.create_rule, ADMIN, {
        "project_id": "p1", "security_group_id": group, "direction": "ingress", "ethertype": "IPv4",
        "protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "192.0.2.0/24"})
    assert await server.until(lambda: ("security_groups_rule_updated", {"security_groups": [group]}) in agent.told)
    assert await server.until(lambda: any(r["id"] == rule["id"] for r in agent.security_groups.get(group, [])))
    # A rule whose remote is an address group brings the group's addresses, and follows their changes.
    ag = await server.run(server.mgr.address_groups.create, ADMIN, {"project_id": "p1", "addresses": ["192.0.2.7"]})
    await server.run(server.mgr.security_groups.create_rule, ADMIN, {
        "project_id": "p1", "security_group_id": group, "direction": "ingress", "ethertype": "IPv4",
        "remote_address_group_id": ag["id"]})
    assert await server.until(lambda: agent.address_groups.get(ag["id"]) == ["192.0.2.7/32"])
    await server.run(server.mgr.address_groups.change, ADMIN, ag["id"], {"addresses": ["198.51.100.0/24"]}, True)
    assert await server.until(lambda: agent.address_groups.get(ag["id"]) == ["192.0.2.7/32", "198.51.100.0/24"])


async def test_a_restarted_agent_resyncs_and_sees_dhcp_networks_and_routers(server: Server, agent: Any) -> None:
    net = await network(server, "10.9.0.0/24")
    p = await port(server, net)
    router = await server.run(server.mgr.routers.create, ADMIN, {"project_id": "p1", "name": "r"})
    subnet = (await server.run(server.mgr.networks.get, ADMIN, net["id"]))["subnets"][0]
    await server.run(server.mgr.routers.add_interface, ADMIN, router["id"], {"subnet_id": subnet})
    await agent.stop()
    again = AGENTS["fake"](server.bus, HOST)
    await again.start()
    try:
        assert p["id"] in again.ports
        assert net["id"] in {n["id"] for n in again.networks}
        (r,) = [x for x in again.routers if x["id"] == router["id"]]
        assert [i["ip_address"] for i in r["interfaces"]] == ["10.9.0.1"]
    finally:
        await again.stop()


async def test_a_multi_segment_network_reaches_each_agent_as_the_segment_its_host_has(server: Server,
                                                                                     agent: Any) -> None:
    """A port on a network of several segments is bound to the first segment its host's L2 agent
    reaches, and the agent gets that segment with the port's details; the DHCP view carries every
    segment. A host that reaches none of them cannot bind the port."""
    net = await server.run(server.mgr.networks.create, ADMIN, {"project_id": "p1", "name": "multi", "segments": [
        {"network_type": "vlan", "physical_network": "public", "segmentation_id": 101},
        {"network_type": "vxlan", "segmentation_id": 700}]})
    assert [s["provider:network_type"] for s in net["segments"]] == ["vlan", "vxlan"]
    await server.run(server.mgr.subnets.create, ADMIN, {"project_id": "p1", "network_id": net["id"],
                                                        "cidr": "10.9.0.0/24", "ip_version": 4})
    tunnels_only = FakeAgent(server.bus, "host-tunnels", 3600, bridge_mappings={}, tunnel_types=["vxlan"])
    nowhere = FakeAgent(server.bus, "host-nowhere", 3600, bridge_mappings={"physnet9": "br-9"}, tunnel_types=[])
    await tunnels_only.start()
    await nowhere.start()
    try:
        # The contract's agent reports no mappings: it reaches every segment and takes the first.
        first = await port(server, net)
        assert await server.until(lambda: first["id"] in agent.ports)
        d = agent.ports[first["id"]]
        assert (d["network_type"], d["physical_network"], d["segmentation_id"]) == ("vlan", "public", 101)
        second = await port(server, net, host="host-tunnels")
        assert second["binding:vif_type"] == "ovs"
        assert await server.until(lambda: second["id"] in tunnels_only.ports)
        d = tunnels_only.ports[second["id"]]
        assert (d["network_type"], d["physical_network"], d["segmentation_id"]) == ("vxlan", None, 700)
        assert d["segment_id"] == (await server.run(server.mgr.segments.find, ADMIN, Query(
            filters={"network_id": [net["id"]], "network_type": ["vxlan"]})))[0]["id"]
        assert await server.until(_active(server, second["id"]))
        third = await port(server, net, host="host-nowhere")
        assert third["binding:vif_type"] == "binding_failed"
        assert third["id"] not in nowhere.ports
        await agent.resync()
        (dhcp,) = [n for n in agent.networks if n["id"] == net["id"]]
        assert [(g["network_type"], g["segmentation_id"]) for g in dhcp["segments"]] == [("vlan", 101), ("vxlan", 700)]
    finally:
        await tunnels_only.stop()
        await nowhere.stop()
