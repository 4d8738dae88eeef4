"""The virt driver contract (``litestack/compute/drivers/base.py``), run against every driver.

A real driver (QEMU) joins by adding a factory to ``DRIVERS``, gated by a marker when it needs
the kernel or KVM; the fake must behave as it does."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from litestack.compute.drivers.base import (
    VIF,
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
