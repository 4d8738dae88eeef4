"""The fake virt driver: product code, for hosts that cannot run VMs and for scale.

Instances live in memory with their power state and a console log that tells what a booting
guest would print (kernel, cloud-init with the instance's addresses). Capacity comes from the
``[compute] fake_*`` options; ``fake_spawn_delay`` makes spawns take realistic time. An image
with the property ``litestack_fake_fail=spawn`` fails to spawn, deterministically, so that fault
and reschedule paths can be tested.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import os
import time
from dataclasses import dataclass, field

from litestack.compute.drivers.base import (
    VIF,
    Diagnostics,
    DriverError,
    HostResources,
    InstanceNotFound,
    InstanceSpec,
    InvalidDriverState,
    VirtDriver,
    power_state,
)

#: The image property (and value) that makes a fake spawn fail.
FAIL_PROPERTY = "litestack_fake_fail"


def uptime_line() -> str:
    """This machine's ``uptime`` line, from ``/proc/uptime`` and the load averages."""
    try:
        with open("/proc/uptime") as f:
            seconds = int(float(f.read().split()[0]))
    except OSError:
        seconds = int(time.monotonic())
    days, rest = divmod(seconds, 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    now = datetime.datetime.now().strftime("%H:%M:%S")
    return f" {now} up {days} days, {hours:2d}:{minutes:02d},  0 users,  load average: {load}"


@dataclass
class _Guest:
    spec: InstanceSpec
    state: int
    console: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    #: A hash of the administrator password last set (never the password itself).
    admin_password_sha256: str | None = None

    def log(self, line: str) -> None:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%H:%M:%S")
        self.console.append(f"[{stamp}] {line}")


class FakeDriver(VirtDriver):
    def __init__(self, host: str, vcpus: int = 16, memory_mb: int = 65536, local_gb: int = 1000,
                 spawn_delay: float = 0.0, host_ip: str = "127.0.0.1") -> None:
        self.host = host
        self.resources = HostResources(vcpus, memory_mb, local_gb, "fake", 1000, host_ip)
        self.spawn_delay = spawn_delay
        self.guests: dict[str, _Guest] = {}

    def _guest(self, uuid: str) -> _Guest:
        guest = self.guests.get(uuid)
        if guest is None:
            raise InstanceNotFound(f"Instance {uuid} could not be found on host {self.host}.")
        return guest

    async def host_resources(self) -> HostResources:
        return self.resources

    async def list_instances(self) -> dict[str, int]:
        return {uuid: g.state for uuid, g in self.guests.items()}

    async def spawn(self, spec: InstanceSpec) -> None:
        if spec.uuid in self.guests:
            return
        if spec.image_properties.get(FAIL_PROPERTY) == "spawn":
            raise DriverError(f"The fake driver was asked to fail spawning on {self.host} "
                              f"(image property {FAIL_PROPERTY}=spawn).")
        if self.spawn_delay:
            await asyncio.sleep(self.spawn_delay)
        guest = _Guest(spec, power_state.RUNNING)
        guest.log("Linux version 6.1.0-fake (litestack fake virt driver)")
        guest.log(f"Memory: {spec.memory_mb * 1024}K available, {spec.vcpus} CPU(s)")
        for n, vif in enumerate(spec.vifs):
            guest.log(f"eth{n}: link up, {vif.mac_address} ({vif.devname})")
        guest.log(f"cloud-init: instance-id {spec.uuid}, local-hostname {spec.name}")
        for n, vif in enumerate(spec.vifs):
            for ip in vif.ips:
                guest.log(f"ci-info: | eth{n} | True | {ip} | {vif.mac_address} |")
        if spec.key_data:
            guest.log("ci-info: ssh authorized key installed for the default user")
        guest.log(f"{spec.name} login:")
        self.guests[spec.uuid] = guest

    async def destroy(self, uuid: str) -> None:
        self.guests.pop(uuid, None)

    def _move(self, uuid: str, allowed: tuple[int, ...], to: int, line: str) -> None:
        guest = self._guest(uuid)
        if guest.state not in allowed:
            raise InvalidDriverState(f"Instance {uuid} is {power_state.NAMES[guest.state]}.")
        guest.state = to
        guest.log(line)

    async def power_off(self, uuid: str) -> None:
        self._move(uuid, (power_state.RUNNING, power_state.PAUSED, power_state.SHUTDOWN, power_state.SUSPENDED,
                          power_state.CRASHED), power_state.SHUTDOWN, "reboot: Power down")

    async def power_on(self, uuid: str) -> None:
        self._move(uuid, (power_state.SHUTDOWN, power_state.RUNNING, power_state.CRASHED), power_state.RUNNING,
                   f"Linux version 6.1.0-fake: booted ({self.guests[uuid].spec.name if uuid in self.guests else ''})")

    async def reboot(self, uuid: str, hard: bool) -> None:
        self._move(uuid, (power_state.RUNNING, power_state.SHUTDOWN, power_state.PAUSED, power_state.SUSPENDED,
                          power_state.CRASHED), power_state.RUNNING,
                   "reboot: Restarting system (hard reset)" if hard else "reboot: Restarting system")

    async def pause(self, uuid: str) -> None:
        self._move(uuid, (power_state.RUNNING,), power_state.PAUSED, "vCPUs paused")

    async def unpause(self, uuid: str) -> None:
        self._move(uuid, (power_state.PAUSED,), power_state.RUNNING, "vCPUs resumed")

    async def suspend(self, uuid: str) -> None:
        self._move(uuid, (power_state.RUNNING,), power_state.SUSPENDED, "PM: suspend entry (deep)")

    async def resume(self, uuid: str) -> None:
        self._move(uuid, (power_state.SUSPENDED,), power_state.RUNNING, "PM: suspend exit")

    async def power_state(self, uuid: str) -> int:
        return self._guest(uuid).state

    async def console_output(self, uuid: str, length: int | None = None) -> str:
        lines = self._guest(uuid).console
        if length is not None:
            lines = lines[-length:] if length > 0 else []
        return "\n".join(lines)

    async def host_uptime(self) -> str:
        # The fake hosts run on this machine: its own uptime and load.
        return uptime_line()

    async def set_admin_password(self, uuid: str, password: str) -> None:
        guest = self._guest(uuid)
        if guest.state != power_state.RUNNING:
            raise InvalidDriverState(f"Instance {uuid} is {power_state.NAMES[guest.state]}.")
        guest.admin_password_sha256 = hashlib.sha256(password.encode()).hexdigest()
        guest.log("qemu-ga: guest-set-user-password: password of the default user changed")

    async def diagnostics(self, uuid: str) -> Diagnostics:
        guest = self._guest(uuid)
        up = int(time.monotonic() - guest.started)
        running = guest.state == power_state.RUNNING
        return Diagnostics(
            state=guest.state, driver="fake", hypervisor="fake", hypervisor_os="linux", uptime=up,
            config_drive=False, cpu_time_ns=[up * 10**9 // 100 if running else 0] * guest.spec.vcpus,
            nics=[{"mac_address": v.mac_address, "rx_octets": 0, "rx_errors": 0, "rx_drop": 0, "rx_packets": 0,
                   "rx_rate": None, "tx_octets": 0, "tx_errors": 0, "tx_drop": 0, "tx_packets": 0, "tx_rate": None}
                  for v in guest.spec.vifs],
            disks=[{"read_bytes": 0, "read_requests": 0, "write_bytes": 0, "write_requests": 0, "errors_count": 0}],
            memory_max_mb=guest.spec.memory_mb, memory_used_mb=guest.spec.memory_mb if running else 0)

    async def inject_nmi(self, uuid: str) -> None:
        guest = self._guest(uuid)
        if guest.state != power_state.RUNNING:
            raise InvalidDriverState(f"Instance {uuid} is {power_state.NAMES[guest.state]}.")
        guest.log("Uhhuh. NMI received for unknown reason 3d on CPU 0.")

    async def attach_interface(self, uuid: str, vif: VIF) -> None:
        guest = self._guest(uuid)
        if any(v.port_id == vif.port_id for v in guest.spec.vifs):
            return
        guest.spec.vifs.append(vif)
        guest.log(f"eth{len(guest.spec.vifs) - 1}: link up, {vif.mac_address} ({vif.devname}) (hot-plugged)")

    async def detach_interface(self, uuid: str, port_id: str) -> None:
        guest = self._guest(uuid)
        kept = [v for v in guest.spec.vifs if v.port_id != port_id]
        if len(kept) != len(guest.spec.vifs):
            guest.spec.vifs = kept
            guest.log(f"virtio_net: {('tap' + port_id)[:14]} removed (hot-unplugged)")
