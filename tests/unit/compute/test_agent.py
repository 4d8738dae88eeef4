"""The compute agent (``litestack/compute/agent.py``) over a real compute database, the fake
driver, the local claims and a recording network: its state changes, its notifications, and the
network-vif-plugged wait (``vif_plugging_timeout``/``vif_plugging_is_fatal``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from litestack.common.config import load
from litestack.common.db import Database, upgrade
from litestack.common.notify import Notifier
from litestack.compute import states
from litestack.compute.agent import ComputeAgent
from litestack.compute.drivers.fake import FakeDriver
from litestack.compute.imageclient import Images
from litestack.compute.manager.hosts import Hosts
from litestack.compute.manager.instances import Instances
from litestack.compute.manager.migrations import Migrations
from litestack.compute.manager.quotas import Quotas
from litestack.compute.models import Base
from litestack.compute.placement import LocalClaims

pytestmark = pytest.mark.unit


class RecordingNetwork:
    """The agent's view of the network service, recording what it is asked."""

    def __init__(self, l2_agent: bool = False) -> None:
        self.l2_agent = l2_agent
        self.calls: list[tuple[str, Any]] = []

    async def has_l2_agent(self, host: str) -> bool:
        return self.l2_agent

    async def bind(self, instance: Any, host: str, az: str, net: dict[str, Any], groups: list[str]) -> dict[str, Any]:
        self.calls.append(("bind", host))
        return {"id": "p1", "network_id": net["network_id"], "network_name": "n", "created": True,
                "mac": "fa:16:3e:00:00:01", "ips": ["10.0.0.9"]}

    async def all_ports(self, instance: Any) -> list[dict[str, Any]]:
        return list(instance.ports or [])

    async def release(self, ports: list[dict[str, Any]]) -> None:
        self.calls.append(("release", [p["id"] for p in ports]))


class RecordingConductor:
    def __init__(self) -> None:
        self.rescheduled: list[tuple[str, str]] = []

    async def reschedule(self, instance_id: str, reason: str) -> None:
        self.rescheduled.append((instance_id, reason))


def make(tmp_path: Path, l2_agent: bool = False, **compute: Any) -> tuple[ComputeAgent, Instances, list[str]]:
    import litestack.compute.options  # noqa: F401 - registers [compute]

    conf = load(None, environ={}, overrides={"compute": {"report_interval": 3600, **compute}})
    db = Database(f"sqlite:///{tmp_path / 'compute.db'}")
    upgrade(db, "litestack.compute.migrations", Base, "compute")
    instances = Instances(db, Quotas(db, conf))
    hosts = Hosts(db, 60)
    claims = LocalClaims(db, {"VCPU": 1.0, "MEMORY_MB": 1.0, "DISK_GB": 1.0}, 0)
    events: list[str] = []
    notifier = Notifier("compute", "h1")
    notifier.listeners.append(lambda event, payload: events.append(event))
    network: Any = RecordingNetwork(l2_agent)
    agent = ComputeAgent("h1", "nova", FakeDriver("h1"), instances, hosts, claims, network, notifier, conf,
                         Migrations(db), Images(None))
    agent.conductor = RecordingConductor()  # type: ignore[assignment]
    return agent, instances, events


async def boot(agent: ComputeAgent, instances: Instances) -> str:
    res = await agent.driver.host_resources()
    svc = agent.hosts.register("h1", "nova", res)
    flavor = {"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1}
    base = {"name": "s", "project_id": "p", "user_id": "u", "image_id": "i", "flavor_id": "1", "flavor": flavor,
            "key_name": None, "key_data": None, "user_data": None, "requested_az": None, "availability_zone": "nova",
            "access_ip_v4": None, "access_ip_v6": None, "config_drive": "",
            "request": {"networks": [{"network_id": "n1", "port_id": None, "fixed_ip": None}]}}
    inst = instances.create(base, 1, {}, [], None)[0]
    assert await agent.claims.claim(inst.id, svc.node_uuid, {"VCPU": 1}, "p", "u")
    return str(inst.id)


async def test_build_power_actions_and_delete_with_their_notifications(tmp_path: Path) -> None:
    agent, instances, events = make(tmp_path)
    sid = await boot(agent, instances)
    await agent.build_and_run_instance(sid)
    inst = instances.get(sid)
    assert (inst.vm_state, inst.task_state, inst.power_state) == (states.ACTIVE, None, 1)
    assert inst.ports[0]["ips"] == ["10.0.0.9"] and inst.host == "h1"
    instances.save(sid, task_state=states.POWERING_OFF)
    await agent.stop_instance(sid)
    assert (instances.get(sid).vm_state, instances.get(sid).power_state) == (states.STOPPED, 4)
    await agent.terminate_instance(sid)
    assert instances.find({"ids": [sid]}) == []
    assert ("release", ["p1"]) in agent.network.calls  # type: ignore[attr-defined]
    assert events == ["compute.instance.create.start", "compute.instance.create.end",
                      "compute.instance.power_off.start", "compute.instance.power_off.end",
                      "compute.instance.delete.start", "compute.instance.delete.end"]


async def test_with_an_l2_agent_the_build_waits_for_network_vif_plugged(tmp_path: Path) -> None:
    agent, instances, _ = make(tmp_path, l2_agent=True, vif_plugging_timeout=10)
    sid = await boot(agent, instances)
    build = asyncio.create_task(agent.build_and_run_instance(sid))
    for _ in range(100):
        if instances.get(sid).task_state == states.SPAWNING:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert instances.get(sid).vm_state == states.BUILDING  # waiting for the event
    agent.external_instance_event(sid, "network-vif-plugged", "p1", "completed")
    await asyncio.wait_for(build, 5)
    assert instances.get(sid).vm_state == states.ACTIVE


async def test_a_missing_event_fails_the_build_only_when_fatal(tmp_path: Path) -> None:
    agent, instances, _ = make(tmp_path, l2_agent=True, vif_plugging_timeout=0.2, vif_plugging_is_fatal=True)
    sid = await boot(agent, instances)
    await agent.build_and_run_instance(sid)
    inst = instances.get(sid)
    assert inst.host is None and inst.tried_hosts == ["h1"] and inst.task_state == states.SCHEDULING
    conductor: Any = agent.conductor
    assert conductor.rescheduled[0][0] == sid
    (tmp_path / "lenient").mkdir()
    agent2, instances2, _ = make(tmp_path / "lenient", l2_agent=True, vif_plugging_timeout=0.2,
                                 vif_plugging_is_fatal=False)
    sid2 = await boot(agent2, instances2)
    await agent2.build_and_run_instance(sid2)
    assert instances2.get(sid2).vm_state == states.ACTIVE


async def test_power_state_sync_stops_lost_guests_and_destroys_orphans(tmp_path: Path) -> None:
    agent, instances, _ = make(tmp_path)
    sid = await boot(agent, instances)
    await agent.build_and_run_instance(sid)
    await agent.driver.destroy(sid)  # the guest disappears behind the agent's back
    driver: Any = agent.driver
    orphan = FakeDriver("h1")
    from litestack.compute.drivers.base import InstanceSpec

    await orphan.spawn(InstanceSpec("orphan", "o", 1, 64, 1, "i"))
    driver.guests["orphan"] = orphan.guests["orphan"]
    await agent.sync_power_states()
    assert (instances.get(sid).vm_state, instances.get(sid).power_state) == (states.STOPPED, 4)
    assert await agent.driver.list_instances() == {}
