"""The ``fake`` backend: volumes and snapshots exist as sizes only, no data (API-only clouds)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from litestack.volume.drivers.base import ImageTooLarge, NotFoundOnBackend, Stats, VolumeDriver


class FakeDriver(VolumeDriver):
    kind = "fake"

    def __init__(self, name: str, capacity_gb: int = 1000) -> None:
        super().__init__(name)
        self.capacity_gb = capacity_gb
        self._volumes: dict[str, int] = {}
        self._snapshots: dict[str, int] = {}
        self._lock = threading.Lock()

    def stats(self) -> Stats:
        return Stats(self.capacity_gb, self.capacity_gb)

    def _size(self, table: dict[str, int], ident: str, what: str) -> int:
        try:
            return table[ident]
        except KeyError:
            raise NotFoundOnBackend(f"{what} {ident} is not on backend {self.name}.") from None

    def create(self, volume_id: str, size_gb: int) -> None:
        with self._lock:
            self._volumes[volume_id] = size_gb

    def delete(self, volume_id: str) -> None:
        with self._lock:
            self._volumes.pop(volume_id, None)

    def extend(self, volume_id: str, size_gb: int) -> None:
        with self._lock:
            self._size(self._volumes, volume_id, "Volume")
            self._volumes[volume_id] = size_gb

    def create_snapshot(self, volume_id: str, snapshot_id: str) -> None:
        with self._lock:
            self._snapshots[snapshot_id] = self._size(self._volumes, volume_id, "Volume")

    def delete_snapshot(self, snapshot_id: str) -> None:
        with self._lock:
            self._snapshots.pop(snapshot_id, None)

    def create_from_snapshot(self, snapshot_id: str, volume_id: str, size_gb: int) -> None:
        with self._lock:
            self._size(self._snapshots, snapshot_id, "Snapshot")
            self._volumes[volume_id] = size_gb

    def clone(self, source_id: str, volume_id: str, size_gb: int) -> None:
        with self._lock:
            self._size(self._volumes, source_id, "Volume")
            self._volumes[volume_id] = size_gb

    def revert_to_snapshot(self, volume_id: str, snapshot_id: str, size_gb: int) -> None:
        with self._lock:
            self._size(self._snapshots, snapshot_id, "Snapshot")
            self._size(self._volumes, volume_id, "Volume")

    def copy_image_to_volume(self, volume_id: str, image: Path, image_format: str, size_gb: int,
                             consume: bool = False) -> None:
        if image.stat().st_size > size_gb << 30 and image_format == "raw":
            raise ImageTooLarge(f"Image of {image.stat().st_size} bytes does not fit a {size_gb} GiB volume.")
        self.create(volume_id, size_gb)

    def copy_volume_to_image(self, volume_id: str, dest: Path, disk_format: str) -> None:
        with self._lock:
            self._size(self._volumes, volume_id, "Volume")
        dest.write_bytes(b"")  # no data to upload: an empty image

    def copy_snapshot_to_image(self, snapshot_id: str, dest: Path, disk_format: str) -> None:
        with self._lock:
            self._size(self._snapshots, snapshot_id, "Snapshot")
        dest.write_bytes(b"")  # no data: an empty image

    def connection_info(self, volume_id: str, connector: dict[str, Any] | None) -> dict[str, Any]:
        with self._lock:
            self._size(self._volumes, volume_id, "Volume")
        return {"driver_volume_type": "fake", "data": {"volume_id": volume_id, "access_mode": "rw"}}

    def remove_export(self, volume_id: str) -> None:
        """Nothing is ever exported."""

    def volume_ids(self) -> set[str]:
        with self._lock:
            return set(self._volumes)

    def snapshot_ids(self) -> set[str]:
        with self._lock:
            return set(self._snapshots)
