"""The ``file`` backend: each volume is a thin (sparse) raw or qcow2 file under one directory,
handled with ``qemu-img``. Snapshots are independent sparse copies (``qemu-img convert``), so a
snapshot, a clone or a volume made from a snapshot never depends on another file."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import uuid
from pathlib import Path
from typing import Any

from litestack.volume.drivers.base import DriverError, GiB, ImageTooLarge, NotFoundOnBackend, Stats, VolumeDriver

VOLUME, SNAPSHOT = "volume-", "snapshot-"


def qemu_img(*args: str, timeout: float = 3600) -> str:
    """Run ``qemu-img`` with these arguments; ``DriverError`` with its message when it fails."""
    try:
        done = subprocess.run(["qemu-img", *args], capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise DriverError("qemu-img is not installed (Debian package qemu-utils).") from None
    except subprocess.TimeoutExpired:
        raise DriverError(f"qemu-img {args[0]} did not finish in {timeout:.0f} s.") from None
    if done.returncode != 0:
        raise DriverError(f"qemu-img {args[0]} failed: {done.stderr.strip()[:500]}")
    return done.stdout


def image_info(path: Path, fmt: str | None = None) -> dict[str, Any]:
    """``qemu-img info`` of a file: ``format``, ``virtual-size`` (bytes), ``actual-size``."""
    args = ["info", "-U", "--output=json"] + (["-f", fmt] if fmt else []) + [str(path)]
    info: dict[str, Any] = json.loads(qemu_img(*args))
    return info


class FileDriver(VolumeDriver):
    kind = "file"

    def __init__(self, name: str, directory: Path, volume_format: str = "raw", capacity_gb: int = 1000,
                 host: str | None = None, export_address: str = "127.0.0.1") -> None:
        super().__init__(name)
        if volume_format not in ("raw", "qcow2"):
            raise ValueError(f"file backend {name}: volume_format must be raw or qcow2, not {volume_format!r}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.format = volume_format
        self.capacity_gb = capacity_gb
        self.host = host or socket.gethostname()
        self.export_address = export_address

    # --- paths ----------------------------------------------------------------------------

    def path(self, volume_id: str) -> Path:
        return self.directory / f"{VOLUME}{volume_id}"

    def snapshot_path(self, snapshot_id: str) -> Path:
        return self.directory / f"{SNAPSHOT}{snapshot_id}"

    def _existing(self, path: Path, what: str) -> Path:
        if not path.exists():
            raise NotFoundOnBackend(f"{what} {path.name} is not on backend {self.name}.")
        return path

    def _temporary(self, final: Path) -> Path:
        return final.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{final.name}")

    def _publish(self, tmp: Path, final: Path) -> None:
        """Move a finished file into place, so a crash never leaves a half-written volume under its name."""
        os.replace(tmp, final)

    def _copy(self, src: Path, dest: Path, size_gb: int | None, src_format: str | None = None) -> None:
        tmp = self._temporary(dest)
        try:
            # -U: the source may be in use (an in-use volume's forced snapshot, its NBD export).
            qemu_img("convert", "-U", "-f", src_format or self.format, "-O", self.format, str(src), str(tmp))
            if size_gb is not None and image_info(tmp, self.format)["virtual-size"] < size_gb * GiB:
                qemu_img("resize", "-f", self.format, str(tmp), str(size_gb * GiB))
            self._publish(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    # --- the contract -----------------------------------------------------------------------

    def stats(self) -> Stats:
        free = shutil.disk_usage(self.directory).free // GiB
        return Stats(self.capacity_gb, free)

    def create(self, volume_id: str, size_gb: int) -> None:
        final = self.path(volume_id)
        tmp = self._temporary(final)
        try:
            qemu_img("create", "-f", self.format, str(tmp), str(size_gb * GiB))
            self._publish(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, volume_id: str) -> None:
        self.remove_export(volume_id)
        self.path(volume_id).unlink(missing_ok=True)

    def extend(self, volume_id: str, size_gb: int) -> None:
        path = self._existing(self.path(volume_id), "Volume")
        qemu_img("resize", "-f", self.format, str(path), str(size_gb * GiB))

    def create_snapshot(self, volume_id: str, snapshot_id: str) -> None:
        src = self._existing(self.path(volume_id), "Volume")
        self._copy(src, self.snapshot_path(snapshot_id), None)

    def delete_snapshot(self, snapshot_id: str) -> None:
        self.snapshot_path(snapshot_id).unlink(missing_ok=True)

    def create_from_snapshot(self, snapshot_id: str, volume_id: str, size_gb: int) -> None:
        src = self._existing(self.snapshot_path(snapshot_id), "Snapshot")
        self._copy(src, self.path(volume_id), size_gb)

    def clone(self, source_id: str, volume_id: str, size_gb: int) -> None:
        src = self._existing(self.path(source_id), "Volume")
        self._copy(src, self.path(volume_id), size_gb)

    def revert_to_snapshot(self, volume_id: str, snapshot_id: str, size_gb: int) -> None:
        self._existing(self.path(volume_id), "Volume")
        src = self._existing(self.snapshot_path(snapshot_id), "Snapshot")
        self._copy(src, self.path(volume_id), size_gb)

    def copy_image_to_volume(self, volume_id: str, image: Path, image_format: str, size_gb: int,
                             consume: bool = False) -> None:
        fmt = "raw" if image_format in ("raw", "iso") else image_format
        if consume and fmt == "raw" and self.format == "raw":
            # A raw download into a raw volume is the volume already: take the file over and grow
            # it (sparsely) to the volume's size, instead of copying every byte a second time.
            if image.stat().st_size > size_gb * GiB:
                raise ImageTooLarge(f"Image size is {-(-image.stat().st_size // GiB)} GiB and doesn't fit in a "
                                    f"volume of size {size_gb} GiB.")
            final = self.path(volume_id)
            tmp = self._temporary(final)
            try:
                os.replace(image, tmp)
            except OSError:  # another file system: copy instead
                pass
            else:
                try:
                    os.truncate(tmp, size_gb * GiB)
                    self._publish(tmp, final)
                finally:
                    tmp.unlink(missing_ok=True)
                return
        try:
            virtual = int(image_info(image, fmt)["virtual-size"])
        except DriverError as exc:
            raise DriverError(f"Image is not a valid {image_format} file: {exc.message}") from None
        if virtual > size_gb * GiB:
            raise ImageTooLarge(f"Image virtual size is {-(-virtual // GiB)} GiB and doesn't fit in a volume of "
                                f"size {size_gb} GiB.")
        self._copy(image, self.path(volume_id), size_gb, src_format=fmt)

    def copy_volume_to_image(self, volume_id: str, dest: Path, disk_format: str) -> None:
        src = self._existing(self.path(volume_id), "Volume")
        qemu_img("convert", "-U", "-f", self.format, "-O", disk_format, str(src), str(dest))

    def copy_snapshot_to_image(self, snapshot_id: str, dest: Path, disk_format: str) -> None:
        src = self._existing(self.snapshot_path(snapshot_id), "Snapshot")
        qemu_img("convert", "-U", "-f", self.format, "-O", disk_format, str(src), str(dest))

    def connection_info(self, volume_id: str, connector: dict[str, Any] | None) -> dict[str, Any]:
        """The file itself for a connector on this host (or none); for another host an NBD export
        of the volume (qemu-nbd, guest-visible data whatever the file format), until
        ``remove_export``."""
        path = self._existing(self.path(volume_id), "Volume")
        remote = bool(connector and connector.get("host") and connector["host"] != self.host)
        if not remote:
            return {"driver_volume_type": "local",
                    "data": {"device_path": str(path), "format": self.format, "host": self.host,
                             "volume_id": volume_id}}
        port = self._export(volume_id, path)
        name = f"{VOLUME}{volume_id}"
        return {"driver_volume_type": "nbd",
                "data": {"host": self.export_address, "port": port, "name": name, "format": "raw",
                         "uri": f"nbd://{self.export_address}:{port}/{name}", "volume_id": volume_id}}

    def _export_files(self, volume_id: str) -> tuple[Path, Path]:
        return self.directory / f".nbd-{volume_id}.pid", self.directory / f".nbd-{volume_id}.port"

    def _export(self, volume_id: str, path: Path) -> int:
        pid_file, port_file = self._export_files(volume_id)
        if pid_file.exists() and port_file.exists() and _alive(pid_file):
            return int(port_file.read_text())
        with socket.socket() as probe:  # a free port; qemu-nbd binds it at once
            probe.bind((self.export_address, 0))
            port = int(probe.getsockname()[1])
        try:
            done = subprocess.run(["qemu-nbd", "--fork", "--persistent", "--shared=8", "-f", self.format,
                                   "-x", f"{VOLUME}{volume_id}", "-b", self.export_address, "-p", str(port),
                                   "--pid-file", str(pid_file), str(path)],
                                  capture_output=True, text=True, timeout=30, check=False)
        except FileNotFoundError:
            raise DriverError("qemu-nbd is not installed (Debian package qemu-utils).") from None
        if done.returncode != 0:
            raise DriverError(f"qemu-nbd failed: {done.stderr.strip()[:300]}")
        port_file.write_text(str(port))
        return port

    def remove_export(self, volume_id: str) -> None:
        """Stop the volume's NBD export, if any."""
        import signal

        pid_file, port_file = self._export_files(volume_id)
        if pid_file.exists():
            with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        pid_file.unlink(missing_ok=True)
        port_file.unlink(missing_ok=True)

    def _ids(self, prefix: str) -> set[str]:
        return {p.name[len(prefix):] for p in self.directory.iterdir() if p.name.startswith(prefix)}

    def volume_ids(self) -> set[str]:
        return self._ids(VOLUME)

    def snapshot_ids(self) -> set[str]:
        return self._ids(SNAPSHOT)

    def manageable(self) -> list[dict[str, Any]]:
        """Every file of the directory but the backend's own bookkeeping (temporary files, NBD
        pid and port files)."""
        out: list[dict[str, Any]] = []
        for p in sorted(self.directory.iterdir()):
            if p.name.startswith(".") or not p.is_file():
                continue
            try:
                info = image_info(p)
            except DriverError as exc:
                out.append({"name": p.name, "size": 0, "kind": "volume", "extra_info": exc.message[:255]})
                continue
            kind = "snapshot" if p.name.startswith(SNAPSHOT) else "volume"
            out.append({"name": p.name, "size": -(-int(info["virtual-size"]) // GiB), "kind": kind,
                        "extra_info": f"format {info.get('format')}"})
        return out

    def manage(self, volume_id: str, source_name: str, snapshot: bool = False) -> int:
        """Rename the file to the volume's name (grown to whole GiB); it must be a plain file of
        this directory in the backend's format."""
        if "/" in source_name or source_name.startswith(".") or not source_name:
            raise NotFoundOnBackend(f"{source_name[:64]} is not a file of backend {self.name}.")
        src = self._existing(self.directory / source_name, "Storage")
        info = image_info(src)
        if info.get("format") != self.format:
            raise DriverError(f"{source_name} is {info.get('format')}, backend {self.name} keeps {self.format} "
                              "volumes.")
        size_gb = max(1, -(-int(info["virtual-size"]) // GiB))
        if int(info["virtual-size"]) != size_gb * GiB:
            qemu_img("resize", "-f", self.format, str(src), str(size_gb * GiB))
        os.replace(src, self.snapshot_path(volume_id) if snapshot else self.path(volume_id))
        return size_gb

    def remove_temporary(self, older_than: float | None = None) -> int:
        """Remove what a crash left half-written (agent start-up; with ``older_than``, a POSIX
        time, only files last written before it, so operations in flight keep theirs); returns
        how many."""
        n = 0
        for p in self.directory.glob(".tmp-*"):
            with contextlib.suppress(FileNotFoundError):
                if older_than is not None and p.stat().st_mtime >= older_than:
                    continue
                p.unlink()
                n += 1
        return n


def _alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text().strip()), 0)
    except (ValueError, ProcessLookupError, PermissionError, FileNotFoundError):
        return False
    return True
