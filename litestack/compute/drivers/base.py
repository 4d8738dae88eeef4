"""The virt driver contract: what a compute agent asks of the hypervisor on its host.

The fake driver (``fake.py``) and, later, the QEMU driver implement it; one contract suite
(``tests/unit/compute/test_driver_contract.py``) runs against each implementation, so the fake
cannot drift from the real one. Every method is a coroutine: a real driver runs processes
(``qemu-system-*``, ``qemu-img``) with ``asyncio.create_subprocess_exec`` and never blocks the loop.

Units: memory in MiB, disks in GiB. Instances are named by their uuid. Power states are Nova's
numbers (``power_state`` below).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any


class power_state:
    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7

    NAMES = {0: "NOSTATE", 1: "Running", 3: "Paused", 4: "Shutdown", 6: "Crashed", 7: "Suspended"}


class DriverError(Exception):
    """A driver operation failed; ``message`` is what the instance fault says."""


class InstanceNotFound(DriverError):
    """The driver has no instance of this uuid on its host."""


class InvalidDriverState(DriverError):
    """The operation is not possible in the instance's current power state (pause a stopped one)."""


@dataclass
class HostResources:
    """What a host offers, reported into placement as its inventory."""

    vcpus: int
    memory_mb: int
    local_gb: int
    hypervisor_type: str
    hypervisor_version: int
    host_ip: str


@dataclass
class VIF:
    """One network interface of an instance: the port it is plugged into."""

    port_id: str
    mac_address: str
    network_id: str
    ips: list[str] = field(default_factory=list)

    @property
    def devname(self) -> str:
        """The host's tap device name, as Nova and Neutron agree on it (``tap`` + 11 chars of the id)."""
        return ("tap" + self.port_id)[:14]


@dataclass
class BlockDevice:
    """A volume of an instance, as block storage hands it to this host's connector.

    ``connection_info`` is block storage's answer to the host's connector
    (``{"driver_volume_type": ..., "data": {...}}``). Two kinds exist here:

    - ``local``: the volume is a file on this very host, ``data["device_path"]`` in
      ``data["format"]`` (raw or qcow2). A QEMU driver opens it directly:
      ``-blockdev driver=file,filename=PATH`` under a ``raw``/``qcow2`` format node.
    - ``nbd``: the volume lives on another host, exported with qemu-nbd: ``data["host"]``,
      ``data["port"]``, ``data["name"]`` (also ``data["uri"]``, ``nbd://HOST:PORT/NAME``), always
      raw guest data. A QEMU driver opens it with ``-blockdev driver=nbd,server.type=inet,
      server.host=HOST,server.port=PORT,export=NAME``, or hotplugs it with QMP ``blockdev-add``.

    ``data["access_mode"]`` ``ro`` makes the disk read-only. The device name (``/dev/vdb``) is the
    guest's disk, a virtio-blk device on a QEMU host."""

    volume_id: str
    device_name: str
    connection_info: dict[str, Any]
    boot_index: int | None = None
    tag: str | None = None


@dataclass
class InstanceSpec:
    """What the agent asks the driver to create: identity, flavor, image, interfaces and volumes
    (a volume of ``boot_index`` 0 is the root disk: no disk is made from the image then)."""

    uuid: str
    name: str
    vcpus: int
    memory_mb: int
    root_gb: int
    image_id: str
    image_properties: dict[str, Any] = field(default_factory=dict)
    vifs: list[VIF] = field(default_factory=list)
    user_data: str | None = None
    key_data: str | None = None
    #: The root disk's content when the agent has it (an unshelve spawns from the snapshot's
    #: bytes); None: the driver makes the disk from ``image_id``.
    image_data: bytes | None = None
    block_devices: list[BlockDevice] = field(default_factory=list)


@dataclass
class Diagnostics:
    """Nova's standard diagnostics (2.48): times in nanoseconds, sizes in bytes, memory in MiB."""

    state: int
    driver: str
    hypervisor: str
    hypervisor_os: str
    uptime: int  # seconds since the guest started
    config_drive: bool
    cpu_time_ns: list[int]  # per vCPU
    nics: list[dict[str, Any]]  # mac_address, rx/tx octets, packets, errors, drops, rate
    disks: list[dict[str, int]]  # read/write bytes and requests, errors_count
    memory_max_mb: int
    memory_used_mb: int


class VirtDriver(abc.ABC):
    """A hypervisor on one host."""

    @abc.abstractmethod
    async def host_resources(self) -> HostResources:
        """The host's capacity (not its free capacity: placement counts the use)."""

    @abc.abstractmethod
    async def list_instances(self) -> dict[str, int]:
        """The instances this host runs, by uuid, with their power state."""

    @abc.abstractmethod
    async def spawn(self, spec: InstanceSpec) -> None:
        """Create the instance's disks from its image, plug its VIFs (tap devices the network agent
        then wires) and boot it; on return its power state is RUNNING. Spawning an instance that
        already exists is a no-op (the agent may retry a build after a restart). Raises
        ``DriverError`` when it cannot, after undoing what it did."""

    @abc.abstractmethod
    async def destroy(self, uuid: str) -> None:
        """Power off and remove the instance, its disks and VIFs; idempotent (absent: nothing to do).
        Disks kept on a resize's source (``migrate_disk_and_power_off``) stay until
        ``confirm_migration``, also when source and destination are this same host."""

    @abc.abstractmethod
    async def power_off(self, uuid: str) -> None:
        """Stop the instance (SHUTDOWN). Raises ``InstanceNotFound``."""

    @abc.abstractmethod
    async def power_on(self, uuid: str) -> None:
        """Start a stopped instance (RUNNING). Raises ``InstanceNotFound``."""

    @abc.abstractmethod
    async def reboot(self, uuid: str, hard: bool) -> None:
        """Reboot (soft: ask the guest; hard: reset); RUNNING afterwards. Raises ``InstanceNotFound``."""

    @abc.abstractmethod
    async def pause(self, uuid: str) -> None:
        """Freeze the vCPUs (PAUSED). Raises ``InvalidDriverState`` unless RUNNING."""

    @abc.abstractmethod
    async def unpause(self, uuid: str) -> None:
        """Resume a paused instance. Raises ``InvalidDriverState`` unless PAUSED."""

    @abc.abstractmethod
    async def suspend(self, uuid: str) -> None:
        """Save the memory to disk and stop (SUSPENDED). Raises ``InvalidDriverState`` unless RUNNING."""

    @abc.abstractmethod
    async def resume(self, uuid: str) -> None:
        """Restore a suspended instance. Raises ``InvalidDriverState`` unless SUSPENDED."""

    @abc.abstractmethod
    async def power_state(self, uuid: str) -> int:
        """The instance's power state. Raises ``InstanceNotFound``."""

    @abc.abstractmethod
    async def console_output(self, uuid: str, length: int | None = None) -> str:
        """The serial console's log (lines joined by newlines, no trailing one), its last ``length``
        lines when given. Raises ``InstanceNotFound``."""

    @abc.abstractmethod
    async def host_uptime(self) -> str:
        """The host's ``uptime`` line: time of day, time up, users, load averages."""

    @abc.abstractmethod
    async def set_admin_password(self, uuid: str, password: str) -> None:
        """Set the password of the guest's administrator (a QEMU driver asks the guest agent over
        its virtio-serial channel). Raises ``InstanceNotFound``, ``InvalidDriverState`` unless
        RUNNING, and ``NotImplementedError`` when the guest cannot be reached that way."""

    @abc.abstractmethod
    async def diagnostics(self, uuid: str) -> Diagnostics:
        """What the hypervisor measures of the instance (CPU time per vCPU, NIC and disk counters,
        memory). Raises ``InstanceNotFound``."""

    @abc.abstractmethod
    async def inject_nmi(self, uuid: str) -> None:
        """Send a non-maskable interrupt to the guest (its kernel may dump and panic: Nova's
        trigger_crash_dump). Raises ``InstanceNotFound``, ``InvalidDriverState`` unless RUNNING."""

    @abc.abstractmethod
    async def attach_interface(self, uuid: str, vif: VIF) -> None:
        """Hot-plug a VIF (a new ``tap`` device on a running guest, a NIC in the definition of a
        stopped one). Attaching one already attached is a no-op. Raises ``InstanceNotFound``."""

    @abc.abstractmethod
    async def detach_interface(self, uuid: str, port_id: str) -> None:
        """Unplug the VIF of ``port_id``; idempotent (absent: nothing to do). Raises ``InstanceNotFound``."""

    # --- snapshots and moves (resize, cold and live migration, shelve, rescue) --------------

    @abc.abstractmethod
    async def snapshot(self, uuid: str) -> bytes:
        """The root disk's content now (a QEMU driver: ``qemu-img convert`` of the disk file or
        block device to raw). The instance keeps its power state. Raises ``InstanceNotFound``."""

    @abc.abstractmethod
    async def migrate_disk_and_power_off(self, uuid: str, dest_host: str) -> dict[str, Any]:
        """Source side of a resize or cold migration: power the instance off and return what the
        destination needs to rebuild its disks (``disk_info``, JSON-serializable: a QEMU driver
        copies the disk files to ``dest_host`` and names them). The source keeps its disks until
        ``confirm_migration`` or ``finish_revert_migration`` (the destination may be this same
        host). Raises ``InstanceNotFound``."""

    @abc.abstractmethod
    async def finish_migration(self, spec: InstanceSpec, disk_info: dict[str, Any], power_on: bool) -> None:
        """Destination side: create the instance of ``spec`` (its new flavor, its VIFs) on the
        disks of ``disk_info``; RUNNING when ``power_on``, else SHUTDOWN. Idempotent."""

    @abc.abstractmethod
    async def confirm_migration(self, uuid: str) -> None:
        """Source side of a confirmed resize: remove the disks kept since
        ``migrate_disk_and_power_off`` (idempotent)."""

    @abc.abstractmethod
    async def finish_revert_migration(self, uuid: str, power_on: bool) -> None:
        """Source side of a reverted resize: the instance is back on the kept disks with its old
        flavor; RUNNING when ``power_on``. Raises ``InstanceNotFound`` when nothing was kept."""

    @abc.abstractmethod
    async def live_migration_data(self, uuid: str) -> dict[str, Any]:
        """Source side of a live migration: the state to send (JSON-serializable: disks for a
        block migration, the memory and power state); the instance keeps running. Raises
        ``InstanceNotFound``."""

    @abc.abstractmethod
    async def pre_live_migration(self, spec: InstanceSpec, data: dict[str, Any]) -> None:
        """Destination side: prepare an incoming instance from ``data`` (paused, VIFs plugged);
        idempotent."""

    @abc.abstractmethod
    async def post_live_migration_at_destination(self, uuid: str) -> None:
        """Destination side: the incoming instance runs in the state the source had. Raises
        ``InstanceNotFound``."""

    @abc.abstractmethod
    async def rescue(self, uuid: str, rescue_image_id: str, admin_password: str) -> None:
        """Boot the instance from ``rescue_image_id`` with its own root disk attached as a second
        disk (RUNNING, in rescue). Raises ``InstanceNotFound``."""

    @abc.abstractmethod
    async def unrescue(self, uuid: str) -> None:
        """Boot the instance from its own root disk again. Raises ``InvalidDriverState`` when it is
        not in rescue."""

    # --- volumes ------------------------------------------------------------------------------

    @abc.abstractmethod
    async def volume_connector(self) -> dict[str, Any]:
        """This host's connector for block storage (os-brick's ``get_connector_properties``):
        at least ``host`` (the host's name, which block storage compares with the volume's own
        host: the same host gets the file, another an NBD export) and ``ip``."""

    @abc.abstractmethod
    async def attach_volume(self, uuid: str, device: BlockDevice) -> None:
        """Connect the volume to the instance as ``device.device_name`` (hotplug on a running
        guest; a stopped one sees it at its next start). A QEMU driver adds the block node from
        the connection info (see ``BlockDevice``) and a ``virtio-blk-pci`` device over QMP.
        Idempotent for the same device. Raises ``InstanceNotFound``, and ``DriverError`` when the
        connection info cannot be used (no file, export unreachable)."""

    @abc.abstractmethod
    async def detach_volume(self, uuid: str, volume_id: str) -> None:
        """Disconnect the volume from the instance (QMP ``device_del`` then ``blockdev-del``);
        idempotent (not attached, or no such instance: nothing to do)."""

    @abc.abstractmethod
    async def extend_volume(self, uuid: str, volume_id: str, new_size: int) -> None:
        """Block storage grew the attached volume to ``new_size`` bytes: show the guest (QEMU: QMP
        ``block_resize`` of the volume's node, then the guest sees a capacity change). Raises
        ``InstanceNotFound``, and ``DriverError`` when the volume is not attached."""

    @abc.abstractmethod
    async def volumes(self, uuid: str) -> dict[str, BlockDevice]:
        """The volumes connected to the instance, by volume id. Raises ``InstanceNotFound``."""
