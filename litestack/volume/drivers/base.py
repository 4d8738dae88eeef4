"""The contract every volume backend driver keeps (``file``: real data with qemu-img; ``fake``: none).

A driver is synchronous: the volume agent runs each call in a worker thread. Ids are the API's
UUIDs; sizes are GiB. Every method is idempotent where Cinder's managers rely on it: ``delete`` and
``delete_snapshot`` of something absent succeed (a retried delete after a crash), ``create`` of a
volume that exists replaces it (a retried create after the agent died mid-way).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestack.common.errors import LitestackError

GiB = 1 << 30


class DriverError(LitestackError):
    """A backend operation failed (a tool's error, a full disk); ``message`` says why. The agent
    puts the volume or snapshot in its error state with this message."""

    status = 500
    title = "Volume Backend Error"


class NotFoundOnBackend(DriverError):
    """The volume or snapshot an operation needs is not on this backend."""


class ImageTooLarge(DriverError):
    """The image's virtual size is larger than the volume (Cinder's ImageUnacceptable)."""


@dataclass(frozen=True)
class Stats:
    """What a backend reports to the scheduler."""

    total_capacity_gb: int
    #: Free physical space where the data lives, GiB (thin provisioning: informative).
    physical_free_gb: int


class VolumeDriver(abc.ABC):
    """One backend of a volume agent."""

    #: The kind named in ``[volume] backends`` (``name:kind``).
    kind: str = ""

    def __init__(self, name: str) -> None:
        self.name = name

    @abc.abstractmethod
    def stats(self) -> Stats:
        """Capacity, for the scheduler's reports."""

    @abc.abstractmethod
    def create(self, volume_id: str, size_gb: int) -> None:
        """An empty (zero-filled) volume of ``size_gb``."""

    @abc.abstractmethod
    def delete(self, volume_id: str) -> None:
        """Remove the volume and its data; absent is no error."""

    @abc.abstractmethod
    def extend(self, volume_id: str, size_gb: int) -> None:
        """Grow the volume to ``size_gb``; its data is kept. ``NotFoundOnBackend`` when absent."""

    @abc.abstractmethod
    def create_snapshot(self, volume_id: str, snapshot_id: str) -> None:
        """A point-in-time copy of the volume's data, independent of later writes."""

    @abc.abstractmethod
    def delete_snapshot(self, snapshot_id: str) -> None:
        """Remove the snapshot's data; absent is no error."""

    @abc.abstractmethod
    def create_from_snapshot(self, snapshot_id: str, volume_id: str, size_gb: int) -> None:
        """A new volume holding the snapshot's data, grown to ``size_gb``."""

    @abc.abstractmethod
    def clone(self, source_id: str, volume_id: str, size_gb: int) -> None:
        """A new volume holding the source volume's data, grown to ``size_gb``."""

    @abc.abstractmethod
    def revert_to_snapshot(self, volume_id: str, snapshot_id: str, size_gb: int) -> None:
        """Put the snapshot's data back into the volume (kept at ``size_gb``)."""

    @abc.abstractmethod
    def copy_image_to_volume(self, volume_id: str, image: Path, image_format: str, size_gb: int,
                             consume: bool = False) -> None:
        """Write the image file (``image_format``: raw, qcow2, vmdk, ...) into a new volume of
        ``size_gb``. ``ImageTooLarge`` when its virtual size does not fit. With ``consume`` the
        driver may take the file over instead of copying it (a download nobody else reads)."""

    @abc.abstractmethod
    def copy_volume_to_image(self, volume_id: str, dest: Path, disk_format: str) -> None:
        """Write the volume's data to ``dest`` in ``disk_format`` (raw or qcow2)."""

    @abc.abstractmethod
    def connection_info(self, volume_id: str, connector: dict[str, Any] | None) -> dict[str, Any]:
        """What a hypervisor on the connector's host needs to use the volume (os-brick's
        ``driver_volume_type`` plus ``data``)."""

    @abc.abstractmethod
    def remove_export(self, volume_id: str) -> None:
        """End what ``connection_info`` exported for another host (no export: nothing to do)."""

    @abc.abstractmethod
    def volume_ids(self) -> set[str]:
        """The volumes this backend holds data for (leak checks, recovery)."""

    @abc.abstractmethod
    def snapshot_ids(self) -> set[str]:
        """The snapshots this backend holds data for."""

    def copy_snapshot_to_image(self, snapshot_id: str, dest: Path, disk_format: str) -> None:
        """Write the snapshot's data to ``dest`` in ``disk_format`` (backups of snapshots).
        ``NotFoundOnBackend`` when absent; a backend that cannot read snapshots raises ``DriverError``."""
        raise DriverError(f"Backend {self.name} cannot read snapshots.")

    # --- existing storage (manage / unmanage); optional ------------------------------------

    def manageable(self) -> list[dict[str, Any]]:
        """What this backend holds that could become a volume: ``{"name", "size" (GiB, rounded
        up), "kind" ("volume" or "snapshot"), "extra_info"}``, volumes of the cloud included (the
        API marks those already managed). A backend without such storage lists nothing."""
        return []

    def manage(self, volume_id: str, source_name: str, snapshot: bool = False) -> int:
        """Adopt the storage ``source_name`` as volume ``volume_id`` (or, with ``snapshot``, as
        that snapshot), its data kept and grown to whole GiB; its size in GiB.
        ``NotFoundOnBackend`` when absent, ``DriverError`` when it cannot."""
        raise DriverError(f"Backend {self.name} cannot manage existing storage.")
