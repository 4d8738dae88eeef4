"""The compute agent's volume steps (``litestack/compute/attach.py``) over a real compute database,
the fake driver and a recording block storage: boot with volumes, attach that fails and is given
back, and an agent restarted in the middle of an attach or a detach that finishes it."""

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
from litestack.compute.attach import AgentVolumes
from litestack.compute.drivers.fake import FakeDriver
from litestack.compute.imageclient import Images
from litestack.compute.manager.block_devices import ATTACHED, ATTACHING, CREATING, DETACHING, BlockDevices
from litestack.compute.manager.hosts import Hosts
from litestack.compute.manager.instances import Instances
from litestack.compute.manager.migrations import Migrations
from litestack.compute.manager.quotas import Quotas
from litestack.compute.models import Base
from litestack.compute.placement import LocalClaims
from litestack.compute.volclient import VolumeError
from tests.unit.compute.test_agent import RecordingConductor, RecordingNetwork

pytestmark = pytest.mark.unit


class RecordingStorage:
    """Block storage as the agent sees it: volumes are files under ``root``; every call recorded."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls: list[tuple[str, str]] = []
        self.fail_connect = False

    async def volume(self, volume_id: str, token: str | None = None) -> dict[str, Any]:
        return {"id": volume_id, "status": "available", "size": 1}

    async def wait_available(self, volume_id: str, timeout: float) -> dict[str, Any]:
        self.calls.append(("wait", volume_id))
        (self.root / volume_id).write_bytes(b"\0" * 4096)
        return await self.volume(volume_id)

    async def reserve(self, volume_id: str, instance_id: str, token: str | None = None) -> str:
        self.calls.append(("reserve", volume_id))
        return f"att-{volume_id}"

    async def connect(self, attachment_id: str, connector: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("connect", attachment_id))
        if self.fail_connect:
            raise VolumeError("no export")
        path = self.root / attachment_id.removeprefix("att-")
        if not path.exists():
            path.write_bytes(b"\0" * 4096)
        return {"driver_volume_type": "local", "data": {"device_path": str(path), "format": "raw"}}

    async def complete(self, attachment_id: str) -> None:
        self.calls.append(("complete", attachment_id))

    async def unreserve(self, attachment_id: str | None) -> None:
        self.calls.append(("unreserve", str(attachment_id)))

    async def delete_volume(self, volume_id: str) -> None:
        self.calls.append(("delete", volume_id))


def make(tmp_path: Path) -> tuple[ComputeAgent, Instances, BlockDevices, RecordingStorage]:
    import litestack.compute.options  # noqa: F401 - registers [compute]

    conf = load(None, environ={}, overrides={"compute": {"report_interval": 3600}})
    db = Database(f"sqlite:///{tmp_path / 'compute.db'}")
    upgrade(db, "litestack.compute.migrations", Base, "compute")
    instances = Instances(db, Quotas(db, conf))
    bdms = BlockDevices(db)
    storage = RecordingStorage(tmp_path)
    driver = FakeDriver("h1")
    volumes = AgentVolumes("h1", driver, bdms, storage, instances, 10)  # type: ignore[arg-type]
    network: Any = RecordingNetwork()
    agent = ComputeAgent("h1", "nova", driver, instances, Hosts(db, 60),
                         LocalClaims(db, {"VCPU": 1.0, "MEMORY_MB": 1.0, "DISK_GB": 1.0}, 0), network,
                         Notifier("compute", "h1"), conf, Migrations(db), Images(None), volumes)
    agent.conductor = RecordingConductor()  # type: ignore[assignment]
    return agent, instances, bdms, storage


async def boot(agent: ComputeAgent, instances: Instances, image: str = "i") -> str:
    svc = agent.hosts.register("h1", "nova", await agent.driver.host_resources())
    base: dict[str, Any] = {"name": "s", "project_id": "p", "user_id": "u", "image_id": image, "flavor_id": "1",
            "flavor": {"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1}, "key_name": None,
            "key_data": None, "user_data": None, "requested_az": None, "availability_zone": "nova",
            "access_ip_v4": None, "access_ip_v6": None, "config_drive": "", "request": {"networks": []}}
    inst = instances.create(base, 1, {}, [], None)[0]
    assert await agent.claims.claim(inst.id, svc.node_uuid, {"VCPU": 1}, "p", "u")
    return str(inst.id)


async def test_boot_from_a_created_volume_then_delete_on_termination(tmp_path: Path) -> None:
    agent, instances, bdms, storage = make(tmp_path)
    sid = await boot(agent, instances, image="")
    root = bdms.add(sid, {"source_type": "image", "image_id": "i", "volume_id": "v-root", "boot_index": 0,
                          "status": CREATING, "delete_on_termination": True})
    data = bdms.add(sid, {"source_type": "volume", "volume_id": "v-data", "status": ATTACHING,
                          "attachment_id": "att-v-data"})
    assert (root.device_name, data.device_name) == ("/dev/vda", "/dev/vdb")
    await agent.build_and_run_instance(sid)
    assert instances.get(sid).vm_state == states.ACTIVE
    assert [b.status for b in bdms.of(sid)] == [ATTACHED, ATTACHED]
    assert storage.calls == [("wait", "v-root"), ("reserve", "v-root"), ("connect", "att-v-root"),
                             ("connect", "att-v-data"), ("complete", "att-v-root"), ("complete", "att-v-data")]
    assert sorted(await agent.driver.volumes(sid)) == ["v-data", "v-root"]
    assert "Booting from volume v-root (vda)" in await agent.driver.console_output(sid)
    storage.calls.clear()
    await agent.terminate_instance(sid)
    assert storage.calls == [("unreserve", "att-v-root"), ("delete", "v-root"), ("unreserve", "att-v-data")]
    assert bdms.of(sid) == []


async def test_a_failed_attach_gives_the_volume_back(tmp_path: Path) -> None:
    agent, instances, bdms, storage = make(tmp_path)
    sid = await boot(agent, instances)
    await agent.build_and_run_instance(sid)
    instances.record_action(sid, "attach_volume", "req-1", "u", "p")
    bdm = bdms.add(sid, {"source_type": "volume", "volume_id": "v1", "status": ATTACHING, "attachment_id": "att-v1"})
    assert bdm.device_name == "/dev/vdb"  # /dev/vda is the image's root disk
    storage.fail_connect = True
    await agent.attach_volume(sid, bdm.id, "req-1")
    assert bdms.of(sid) == [] and ("unreserve", "att-v1") in storage.calls
    assert instances.action(sid, "req-1").message == "Error"
    assert await agent.driver.volumes(sid) == {}


async def test_a_restarted_agent_finishes_attaches_and_detaches(tmp_path: Path) -> None:
    agent, instances, bdms, storage = make(tmp_path)
    sid = await boot(agent, instances)
    await agent.build_and_run_instance(sid)
    # As a crash leaves them: an attach reserved but not connected, a detach begun, an attach the
    # API did not get to reserve.
    pending = bdms.add(sid, {"source_type": "volume", "volume_id": "v1", "status": ATTACHING,
                             "attachment_id": "att-v1"})
    leaving = bdms.add(sid, {"source_type": "volume", "volume_id": "v2", "status": ATTACHING,
                             "attachment_id": "att-v2"})
    await agent.attach_volume(sid, leaving.id)
    bdms.save(leaving.id, status=DETACHING)
    bdms.add(sid, {"source_type": "volume", "volume_id": "v3", "status": ATTACHING})
    await agent.recover()
    for _ in range(100):
        if [b.volume_id for b in bdms.of(sid)] == ["v1"] and bdms.of(sid)[0].status == ATTACHED:
            break
        await asyncio.sleep(0.02)
    assert [(b.volume_id, b.status) for b in bdms.of(sid)] == [("v1", ATTACHED)]
    assert list(await agent.driver.volumes(sid)) == ["v1"]
    assert ("unreserve", "att-v2") in storage.calls and ("complete", "att-v1") in storage.calls
    assert pending.id == bdms.of(sid)[0].id
