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
    block_devices: list[BlockDevice] = field(default_factory=list)


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
        """Power off and remove the instance, its disks and VIFs; idempotent (absent: nothing to do)."""

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
