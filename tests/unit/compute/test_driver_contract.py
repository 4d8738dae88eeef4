"""The virt driver contract (``litestack/compute/drivers/base.py``), run against every driver.

A real driver (QEMU) joins by adding a factory to ``DRIVERS``, gated by a marker when it needs
the kernel or KVM; the fake must behave as it does."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from litestack.compute.drivers.base import (
    VIF,
    BlockDevice,
    DriverError,
    InstanceNotFound,
    InstanceSpec,
    InvalidDriverState,
    VirtDriver,
    power_state,
)
from litestack.compute.drivers.fake import FAIL_PROPERTY, FakeDriver

DRIVERS: dict[str, Callable[[], VirtDriver]] = {"fake": lambda: FakeDriver("host1", 4, 4096, 40)}


@pytest.fixture(params=sorted(DRIVERS))
def driver(request: pytest.FixtureRequest) -> VirtDriver:
    return DRIVERS[request.param]()


@pytest.fixture(params=sorted(DRIVERS))
def two(request: pytest.FixtureRequest) -> tuple[VirtDriver, VirtDriver]:
    """Two hosts of one driver kind: a move's source and destination."""
    return DRIVERS[request.param](), DRIVERS[request.param]()


def spec(**props: str) -> InstanceSpec:
    port = str(uuid.uuid4())
    return InstanceSpec(str(uuid.uuid4()), "vm1", 1, 256, 1, str(uuid.uuid4()), dict(props),
                        [VIF(port, "fa:16:3e:00:00:01", str(uuid.uuid4()), ["10.0.0.5"])], None, "ssh-ed25519 AAAA")


async def test_host_resources_are_positive(driver: VirtDriver) -> None:
    res = await driver.host_resources()
    assert res.vcpus > 0 and res.memory_mb > 0 and res.local_gb > 0 and res.hypervisor_type


async def test_spawn_runs_and_is_idempotent(driver: VirtDriver) -> None:
    s = spec()
    await driver.spawn(s)
    await driver.spawn(s)
    assert await driver.list_instances() == {s.uuid: power_state.RUNNING}
    console = await driver.console_output(s.uuid)
    assert "10.0.0.5" in console
    assert len((await driver.console_output(s.uuid, 3)).split("\n")) == 3  # the last 3 lines, as tempest counts
    assert s.vifs[0].devname == f"tap{s.vifs[0].port_id}"[:14]


async def test_power_state_machine(driver: VirtDriver) -> None:
    s = spec()
    await driver.spawn(s)
    for op, expected in (("pause", power_state.PAUSED), ("unpause", power_state.RUNNING),
                         ("suspend", power_state.SUSPENDED), ("resume", power_state.RUNNING),
                         ("power_off", power_state.SHUTDOWN), ("power_on", power_state.RUNNING)):
        await getattr(driver, op)(s.uuid)
        assert await driver.power_state(s.uuid) == expected
    await driver.reboot(s.uuid, hard=True)
    assert await driver.power_state(s.uuid) == power_state.RUNNING
    await driver.power_off(s.uuid)
    with pytest.raises(InvalidDriverState):
        await driver.pause(s.uuid)
    with pytest.raises(InvalidDriverState):
        await driver.resume(s.uuid)


async def test_destroy_is_idempotent_and_unknown_instances_raise(driver: VirtDriver) -> None:
    s = spec()
    await driver.spawn(s)
    await driver.destroy(s.uuid)
    await driver.destroy(s.uuid)
    assert await driver.list_instances() == {}
    for op in ("power_off", "power_on", "pause", "power_state", "console_output"):
        with pytest.raises(InstanceNotFound):
            await getattr(driver, op)(s.uuid)


async def test_fake_fails_on_request() -> None:
    d = FakeDriver("h")
    with pytest.raises(DriverError, match=FAIL_PROPERTY):
        await d.spawn(spec(**{FAIL_PROPERTY: "spawn"}))
    assert await d.list_instances() == {}


async def test_admin_password_diagnostics_and_nmi_need_a_running_guest(driver: VirtDriver) -> None:
    s = spec()
    await driver.spawn(s)
    await driver.set_admin_password(s.uuid, "s3cret-Passw0rd")
    diag = await driver.diagnostics(s.uuid)
    assert diag.state == power_state.RUNNING and len(diag.cpu_time_ns) == s.vcpus
    assert [n["mac_address"] for n in diag.nics] == [s.vifs[0].mac_address] and diag.memory_max_mb == s.memory_mb
    assert diag.disks and diag.uptime >= 0
    await driver.inject_nmi(s.uuid)
    await driver.power_off(s.uuid)
    with pytest.raises(InvalidDriverState):
        await driver.set_admin_password(s.uuid, "another")
    with pytest.raises(InvalidDriverState):
        await driver.inject_nmi(s.uuid)
    assert (await driver.diagnostics(s.uuid)).state == power_state.SHUTDOWN
    with pytest.raises(InstanceNotFound):
        await driver.diagnostics(str(uuid.uuid4()))


async def test_interfaces_attach_and_detach_idempotently(driver: VirtDriver) -> None:
    s = spec()
    await driver.spawn(s)
    extra = VIF(str(uuid.uuid4()), "fa:16:3e:00:00:02", str(uuid.uuid4()), ["10.0.1.7"])
    await driver.attach_interface(s.uuid, extra)
    await driver.attach_interface(s.uuid, extra)
    assert [n["mac_address"] for n in (await driver.diagnostics(s.uuid)).nics] == [s.vifs[0].mac_address,
                                                                                    extra.mac_address]
    await driver.detach_interface(s.uuid, extra.port_id)
    await driver.detach_interface(s.uuid, extra.port_id)
    assert [n["mac_address"] for n in (await driver.diagnostics(s.uuid)).nics] == [s.vifs[0].mac_address]
    with pytest.raises(InstanceNotFound):
        await driver.attach_interface(str(uuid.uuid4()), extra)


async def test_host_uptime_is_an_uptime_line(driver: VirtDriver) -> None:
    line = await driver.host_uptime()
    assert " up " in line and "load average:" in line


async def test_snapshot_is_the_root_disk_and_is_stable(driver: VirtDriver) -> None:
    s = spec()
    await driver.spawn(s)
    first = await driver.snapshot(s.uuid)
    assert len(first) > 0 and first == await driver.snapshot(s.uuid)
    assert await driver.power_state(s.uuid) == power_state.RUNNING
    again = spec()
    again.image_data = first
    await driver.spawn(again)  # a spawn from a snapshot's bytes has that disk
    assert await driver.snapshot(again.uuid) == first
    with pytest.raises(InstanceNotFound):
        await driver.snapshot(str(uuid.uuid4()))


async def test_cold_migration_moves_the_disk_then_confirm_or_revert(two: tuple[VirtDriver, VirtDriver]) -> None:
    source, dest = two
    s = spec()
    await source.spawn(s)
    disk = await source.snapshot(s.uuid)
    info = await source.migrate_disk_and_power_off(s.uuid, "host2")
    assert s.uuid not in await source.list_instances()  # kept aside, not running
    bigger = InstanceSpec(s.uuid, s.name, 2, 512, 2, s.image_id, {}, s.vifs)
    await dest.finish_migration(bigger, info, power_on=True)
    await dest.finish_migration(bigger, info, power_on=True)  # idempotent
    assert await dest.list_instances() == {s.uuid: power_state.RUNNING}
    assert await dest.snapshot(s.uuid) == disk
    # revert: the destination's copy goes, the source's comes back
    await dest.destroy(s.uuid)
    await source.finish_revert_migration(s.uuid, power_on=True)
    assert await source.list_instances() == {s.uuid: power_state.RUNNING}
    assert await source.snapshot(s.uuid) == disk
    # a second move, confirmed: the source forgets the instance
    info = await source.migrate_disk_and_power_off(s.uuid, "host2")
    await dest.finish_migration(bigger, info, power_on=False)
    assert await dest.power_state(s.uuid) == power_state.SHUTDOWN
    await source.confirm_migration(s.uuid)
    await source.confirm_migration(s.uuid)
    with pytest.raises(InstanceNotFound):
        await source.finish_revert_migration(s.uuid, power_on=True)


async def test_resize_on_the_same_host(driver: VirtDriver) -> None:
    s = spec()
    await driver.spawn(s)
    info = await driver.migrate_disk_and_power_off(s.uuid, "host1")
    await driver.finish_migration(InstanceSpec(s.uuid, s.name, 2, 512, 2, s.image_id, {}, s.vifs), info, True)
    assert await driver.list_instances() == {s.uuid: power_state.RUNNING}
    await driver.destroy(s.uuid)
    await driver.finish_revert_migration(s.uuid, power_on=False)
    assert await driver.list_instances() == {s.uuid: power_state.SHUTDOWN}


async def test_live_migration_keeps_the_power_state(two: tuple[VirtDriver, VirtDriver]) -> None:
    source, dest = two
    s = spec()
    await source.spawn(s)
    await source.pause(s.uuid)
    data = await source.live_migration_data(s.uuid)
    await dest.pre_live_migration(s, data)
    assert await dest.power_state(s.uuid) == power_state.PAUSED
    await source.destroy(s.uuid)
    await dest.post_live_migration_at_destination(s.uuid)
    assert await dest.list_instances() == {s.uuid: power_state.PAUSED}
    assert await source.list_instances() == {}


async def test_rescue_and_unrescue(driver: VirtDriver) -> None:
    s = spec()
    await driver.spawn(s)
    with pytest.raises(InvalidDriverState):
        await driver.unrescue(s.uuid)
    await driver.rescue(s.uuid, "rescue-image", "secret")
    assert await driver.power_state(s.uuid) == power_state.RUNNING
    assert "rescue" in await driver.console_output(s.uuid)
    await driver.unrescue(s.uuid)
    assert await driver.power_state(s.uuid) == power_state.RUNNING


def _volume_file(tmp_path: Path, head: bytes, size: int = 1 << 20) -> Path:
    path = tmp_path / f"volume-{uuid.uuid4()}"
    with path.open("wb") as f:
        f.write(head)
        f.truncate(size)
    return path


def _local(path: Path) -> dict[str, Any]:
    return {"driver_volume_type": "local", "data": {"device_path": str(path), "format": "raw", "access_mode": "rw"}}


async def test_volumes_attach_detach_and_are_read_through_their_connection(driver: VirtDriver,
                                                                           tmp_path: Path) -> None:
    connector = await driver.volume_connector()
    assert connector["host"] and connector["ip"]
    s = spec()
    await driver.spawn(s)
    head = os.urandom(512)
    vol = str(uuid.uuid4())
    device = BlockDevice(vol, "/dev/vdb", _local(_volume_file(tmp_path, head)))
    await driver.attach_volume(s.uuid, device)
    await driver.attach_volume(s.uuid, device)  # idempotent
    assert list(await driver.volumes(s.uuid)) == [vol]
    assert (await driver.volumes(s.uuid))[vol].connection_info == device.connection_info
    await driver.detach_volume(s.uuid, vol)
    await driver.detach_volume(s.uuid, vol)  # idempotent
    assert await driver.volumes(s.uuid) == {}
    with pytest.raises(DriverError):  # a connection that leads nowhere
        await driver.attach_volume(s.uuid, BlockDevice(vol, "/dev/vdb", _local(tmp_path / "missing")))
    with pytest.raises(InstanceNotFound):
        await driver.attach_volume(str(uuid.uuid4()), device)


async def test_spawn_with_a_root_volume(driver: VirtDriver, tmp_path: Path) -> None:
    root = BlockDevice(str(uuid.uuid4()), "/dev/vda", _local(_volume_file(tmp_path, b"boot")), boot_index=0)
    s = spec()
    s.block_devices = [root]
    await driver.spawn(s)
    assert list(await driver.volumes(s.uuid)) == [root.volume_id]
    bad = spec()
    bad.block_devices = [BlockDevice(str(uuid.uuid4()), "/dev/vda", _local(tmp_path / "gone"), boot_index=0)]
    with pytest.raises(DriverError):
        await driver.spawn(bad)
    assert bad.uuid not in await driver.list_instances()


async def test_extend_volume_reads_the_new_size(driver: VirtDriver, tmp_path: Path) -> None:
    s = spec()
    await driver.spawn(s)
    path = _volume_file(tmp_path, b"data")
    vol = str(uuid.uuid4())
    await driver.attach_volume(s.uuid, BlockDevice(vol, "/dev/vdb", _local(path)))
    with path.open("r+b") as f:
        f.truncate(4 << 20)
    await driver.extend_volume(s.uuid, vol, 4 << 20)
    with pytest.raises(DriverError):
        await driver.extend_volume(s.uuid, str(uuid.uuid4()), 1 << 20)


async def test_fake_reads_the_first_sector_through_local_and_nbd(tmp_path: Path) -> None:
    """The fake guest's console tells the SHA-256 of the first sector it read, through a local
    file and through a real qemu-nbd export of it."""
    import asyncio
    import hashlib
    import shutil
    import socket

    head = os.urandom(512)
    path = _volume_file(tmp_path, head)
    digest = hashlib.sha256(head).hexdigest()
    d = FakeDriver("h")
    s = spec()
    await d.spawn(s)
    await d.attach_volume(s.uuid, BlockDevice("v1", "/dev/vdb", _local(path)))
    assert f"vdb: first sector sha256:{digest}" in await d.console_output(s.uuid)
    assert "[vdb] 2048 512-byte logical blocks" in await d.console_output(s.uuid)
    if not shutil.which("qemu-nbd"):
        pytest.skip("qemu-nbd is not installed (qemu-utils)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pid_file = tmp_path / "nbd.pid"
    proc = await asyncio.create_subprocess_exec("qemu-nbd", "--fork", "--persistent", "-f", "raw", "-x", "v2",
                                                "-b", "127.0.0.1", "-p", str(port), "--pid-file", str(pid_file),
                                                str(path))
    assert await proc.wait() == 0
    try:
        info = {"driver_volume_type": "nbd", "data": {"host": "127.0.0.1", "port": port, "name": "v2",
                                                      "uri": f"nbd://127.0.0.1:{port}/v2"}}
        await d.attach_volume(s.uuid, BlockDevice("v2", "/dev/vdc", info))
        assert f"vdc: first sector sha256:{digest}" in await d.console_output(s.uuid)
    finally:
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
