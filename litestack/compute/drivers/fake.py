"""The fake virt driver: product code, for hosts that cannot run VMs and for scale.

Instances live in memory with their power state and a console log that tells what a booting
guest would print (kernel, cloud-init with the instance's addresses). Volumes are really
connected: the connection info block storage gave (a local file, or an NBD export of another
host) is opened and the disk's size and first sector read through it, as a guest kernel reads a
hotplugged disk; the driver records each attachment with its connection info and what it read,
and the console tells it (``virtio_blk … [vdb] N 512-byte logical blocks``, and the first
sector's SHA-256), so that a test can check the bytes a volume holds reached the "guest". Capacity comes from the
``[compute] fake_*`` options; ``fake_spawn_delay`` makes spawns take realistic time. An image
with the property ``litestack_fake_fail=spawn`` fails to spawn, deterministically, so that fault
and reschedule paths can be tested.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from litestack.compute.drivers.base import (
    BlockDevice,
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


@dataclass
class _Guest:
    spec: InstanceSpec
    state: int
    console: list[str] = field(default_factory=list)
    #: The volumes connected, by volume id, and what was read through each one.
    volumes: dict[str, BlockDevice] = field(default_factory=dict)
    reads: dict[str, tuple[int, str]] = field(default_factory=dict)

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
        for device in spec.block_devices:
            guest.reads[device.volume_id] = await read_volume(device.connection_info)
            guest.volumes[device.volume_id] = device
        guest.log("Linux version 6.1.0-fake (litestack fake virt driver)")
        guest.log(f"Memory: {spec.memory_mb * 1024}K available, {spec.vcpus} CPU(s)")
        for n, device in enumerate(sorted(spec.block_devices, key=lambda d: d.device_name)):
            _log_disk(guest, n + 2, device)
        root = next((d for d in spec.block_devices if d.boot_index == 0), None)
        if root is not None:
            guest.log(f"Booting from volume {root.volume_id} ({short(root.device_name)})")
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

    # --- volumes ------------------------------------------------------------------------------

    async def volume_connector(self) -> dict[str, Any]:
        return {"host": self.host, "ip": self.resources.host_ip, "platform": "x86_64", "os_type": "linux",
                "multipath": False, "initiator": f"iqn.2004-10.org.litestack:{self.host}"}

    async def attach_volume(self, uuid: str, device: BlockDevice) -> None:
        guest = self._guest(uuid)
        known = guest.volumes.get(device.volume_id)
        if known is not None and known.device_name == device.device_name:
            return
        guest.reads[device.volume_id] = await read_volume(device.connection_info)
        guest.volumes[device.volume_id] = device
        _log_disk(guest, len(guest.volumes) + 1, device)

    async def detach_volume(self, uuid: str, volume_id: str) -> None:
        guest = self.guests.get(uuid)
        if guest is None or volume_id not in guest.volumes:
            return
        device = guest.volumes.pop(volume_id)
        guest.reads.pop(volume_id, None)
        guest.log(f"virtio_blk: [{short(device.device_name)}] removed (volume {volume_id})")

    async def extend_volume(self, uuid: str, volume_id: str, new_size: int) -> None:
        guest = self._guest(uuid)
        device = guest.volumes.get(volume_id)
        if device is None:
            raise DriverError(f"Volume {volume_id} is not attached to instance {uuid}.")
        # What the guest sees is read again through the connection, not taken from block storage.
        size, head = await read_volume(device.connection_info)
        guest.reads[volume_id] = (size, head)
        guest.log(f"virtio_blk: [{short(device.device_name)}] new size: {size // 512} 512-byte logical blocks "
                  f"({size / 1e9:.2f} GB/{size / 2 ** 30:.2f} GiB)")

    async def volumes(self, uuid: str) -> dict[str, BlockDevice]:
        return dict(self._guest(uuid).volumes)


def short(device_name: str) -> str:
    return device_name.rsplit("/", 1)[-1]


def _log_disk(guest: _Guest, n: int, device: BlockDevice) -> None:
    size, head = guest.reads[device.volume_id]
    kind = device.connection_info.get("driver_volume_type")
    dev = short(device.device_name)
    guest.log(f"virtio_blk virtio{n}: [{dev}] {size // 512} 512-byte logical blocks "
              f"({size / 1e9:.2f} GB/{size / 2 ** 30:.2f} GiB) volume {device.volume_id} over {kind}")
    guest.log(f"{dev}: first sector sha256:{head}")


async def _run(*argv: str) -> str:
    try:
        proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
    except FileNotFoundError:
        raise DriverError(f"{argv[0]} is not installed (Debian package qemu-utils).") from None
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise DriverError(f"{argv[0]} could not open the volume: {err.decode(errors='replace').strip()[:300]}")
    return out.decode(errors="replace")


async def read_volume(info: dict[str, Any]) -> tuple[int, str]:
    """Open the volume as ``info`` says and read it: (size in bytes, SHA-256 of its first
    512 bytes). Raises ``DriverError`` when the connection info is unusable."""
    kind, data = info.get("driver_volume_type"), info.get("data") or {}
    if kind == "local":
        target, fmt = str(data.get("device_path") or ""), str(data.get("format") or "raw")
        if not target or not os.path.exists(target):
            raise DriverError(f"The volume's device path {target!r} does not exist on this host.")
        if fmt == "raw":
            def read() -> tuple[int, str]:
                with open(target, "rb") as f:
                    head = f.read(512)
                    return os.fstat(f.fileno()).st_size, hashlib.sha256(head.ljust(512, b"\0")).hexdigest()
            return await asyncio.to_thread(read)
    elif kind == "nbd":
        target = str(data.get("uri") or f"nbd://{data.get('host')}:{data.get('port')}/{data.get('name')}")
        fmt = "raw"
    else:
        raise DriverError(f"Unsupported volume connection type {kind!r} (local and nbd are).")
    size = int(json.loads(await _run("qemu-img", "info", "-U", "--output=json", "-f", fmt, target))["virtual-size"])
    head = bytearray()
    for line in (await _run("qemu-io", "-r", "-U", "-f", fmt, "-c", "read -v 0 512", target)).splitlines():
        if len(line) > 10 and line[8] == ":":
            head += bytes.fromhex(line[10:10 + 16 * 3])
    return size, hashlib.sha256(bytes(head[:512]).ljust(512, b"\0")).hexdigest()
