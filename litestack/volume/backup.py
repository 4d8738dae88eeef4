"""The backup store of a volume agent's host: a directory of backups, each a manifest plus the
chunks it holds. A full backup stores every chunk that is not all zeros; an incremental one only
the chunks whose SHA-256 differs from its parent's, and names the parent's for the rest. Restore
writes every chunk back at its offset into a raw file of the volume's size."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from litestack.volume.drivers.base import DriverError, GiB

CHUNK = 4 << 20
ZERO = hashlib.sha256(bytes(CHUNK)).hexdigest()


class BackupStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _dir(self, backup_id: str) -> Path:
        return self.directory / backup_id

    def manifest(self, backup_id: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self._dir(backup_id) / "manifest.json").read_text())
        except FileNotFoundError:
            raise DriverError(f"Backup {backup_id} is not in the backup store of this host.") from None
        return data

    def create(self, backup_id: str, raw: Path, size_gb: int, parent_id: str | None) -> int:
        """Back up the raw file; returns how many chunks this backup stored."""
        parent = self.manifest(parent_id)["chunks"] if parent_id else []
        work = self.directory / f".tmp-{backup_id}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        chunks: list[dict[str, Any]] = []
        stored = 0
        with raw.open("rb") as f:
            index = 0
            while block := f.read(CHUNK):
                digest = hashlib.sha256(block).hexdigest()
                if block.count(0) == len(block):
                    chunks.append({"sha256": ZERO, "in": None})
                elif index < len(parent) and parent[index]["sha256"] == digest:
                    chunks.append(parent[index])
                else:
                    (work / f"chunk-{index:06d}").write_bytes(block)
                    chunks.append({"sha256": digest, "in": backup_id, "length": len(block)})
                    stored += 1
                index += 1
        manifest = {"size_gb": size_gb, "chunk_size": CHUNK, "parent_id": parent_id, "chunks": chunks}
        (work / "manifest.json").write_text(json.dumps(manifest))
        os.replace(work, self._dir(backup_id))
        return stored

    def restore(self, backup_id: str, dest: Path) -> int:
        """Write the backup into a new raw file ``dest`` of its volume's size; returns the size in GiB."""
        manifest = self.manifest(backup_id)
        size = int(manifest["size_gb"])
        with dest.open("wb") as f:
            f.truncate(size * GiB)
            for index, chunk in enumerate(manifest["chunks"]):
                if chunk["in"] is None:
                    continue
                path = self._dir(chunk["in"]) / f"chunk-{index:06d}"
                try:
                    block = path.read_bytes()
                except FileNotFoundError:
                    raise DriverError(f"Backup {backup_id}: chunk {index} of backup {chunk['in']} is missing.") \
                        from None
                if hashlib.sha256(block).hexdigest() != chunk["sha256"]:
                    raise DriverError(f"Backup {backup_id}: chunk {index} is corrupt.")
                f.seek(index * CHUNK)
                f.write(block)
        return size

    def delete(self, backup_id: str) -> None:
        shutil.rmtree(self._dir(backup_id), ignore_errors=True)

    def backup_ids(self) -> set[str]:
        if not self.directory.exists():
            return set()
        return {p.name for p in self.directory.iterdir() if not p.name.startswith(".")}
