"""Volume backend drivers, chosen by kind (``[volume] backends = ["name:kind"]``)."""

from __future__ import annotations

from pathlib import Path

from litestack.volume.drivers.base import VolumeDriver

KINDS = ("file", "fake")


def make_driver(kind: str, name: str, data_dir: Path, *, volume_format: str = "raw", capacity_gb: int = 1000,
                host: str | None = None, export_address: str = "127.0.0.1") -> VolumeDriver:
    """A backend of ``kind``; ``ValueError`` for an unknown kind."""
    if kind == "file":
        from litestack.volume.drivers.file import FileDriver

        return FileDriver(name, data_dir / "volume" / name, volume_format, capacity_gb, host, export_address)
    if kind == "fake":
        from litestack.volume.drivers.fake import FakeDriver

        return FakeDriver(name, capacity_gb)
    raise ValueError(f"unknown volume backend kind {kind!r}; known: {', '.join(KINDS)}")
