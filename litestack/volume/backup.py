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


class ObjectBackupStore:
    """The same backups in a container of object storage, as Cinder's swift backup driver keeps
    them: ``backup_<id>/chunk-NNNNNN`` objects (only the chunks this backup stored) and a
    ``backup_<id>/manifest`` object. ``target`` comes from the API over the bus: the container's
    URL in the backup project's account and the headers that act for the user (their token plus
    the service token)."""

    def __init__(self, target: dict[str, Any]) -> None:
        import httpx

        self.url = str(target["url"]).rstrip("/")
        self.http = httpx.Client(headers=dict(target["headers"]), timeout=120)

    def _object(self, backup_id: str, name: str) -> str:
        return f"{self.url}/backup_{backup_id}/{name}"

    def _check(self, r: Any, what: str) -> None:
        if r.status_code >= 300:
            raise DriverError(f"Object storage refused {what}: HTTP {r.status_code} {r.text[:200]}")

    def manifest(self, backup_id: str) -> dict[str, Any]:
        r = self.http.get(self._object(backup_id, "manifest"))
        if r.status_code == 404:
            raise DriverError(f"Backup {backup_id} is not in the backup container.")
        self._check(r, f"reading the manifest of backup {backup_id}")
        data: dict[str, Any] = r.json()
        return data

    def create(self, backup_id: str, raw: Path, size_gb: int, parent_id: str | None) -> int:
        """Back up the raw file into the container; returns how many chunk objects it stored."""
        try:
            self._check(self.http.put(self.url), "creating the backup container")
            parent = self.manifest(parent_id)["chunks"] if parent_id else []
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
                        r = self.http.put(self._object(backup_id, f"chunk-{index:06d}"), content=block)
                        self._check(r, f"chunk {index} of backup {backup_id}")
                        chunks.append({"sha256": digest, "in": backup_id, "length": len(block)})
                        stored += 1
                    index += 1
            manifest = {"size_gb": size_gb, "chunk_size": CHUNK, "parent_id": parent_id, "chunks": chunks}
            r = self.http.put(self._object(backup_id, "manifest"), content=json.dumps(manifest).encode())
            self._check(r, f"the manifest of backup {backup_id}")
            return stored
        except Exception:
            self.delete(backup_id)  # no half-written backup stays behind
            raise
        finally:
            self.http.close()

    def restore(self, backup_id: str, dest: Path) -> int:
        try:
            manifest = self.manifest(backup_id)
            size = int(manifest["size_gb"])
            with dest.open("wb") as f:
                f.truncate(size * GiB)
                for index, chunk in enumerate(manifest["chunks"]):
                    if chunk["in"] is None:
                        continue
                    r = self.http.get(self._object(chunk["in"], f"chunk-{index:06d}"))
                    if r.status_code == 404:
                        raise DriverError(f"Backup {backup_id}: chunk {index} of backup {chunk['in']} is missing.")
                    self._check(r, f"reading chunk {index} of backup {chunk['in']}")
                    if hashlib.sha256(r.content).hexdigest() != chunk["sha256"]:
                        raise DriverError(f"Backup {backup_id}: chunk {index} is corrupt.")
                    f.seek(index * CHUNK)
                    f.write(r.content)
            return size
        finally:
            self.http.close()

    def delete(self, backup_id: str) -> None:
        """Every object under ``backup_<id>/`` (a container that is gone counts as deleted)."""
        prefix = f"backup_{backup_id}/"
        while True:
            r = self.http.get(self.url, params={"prefix": prefix, "format": "json"})
            if r.status_code == 404:
                return
            self._check(r, f"listing the objects of backup {backup_id}")
            names = [o["name"] for o in r.json()]
            if not names:
                return
            for name in names:
                d = self.http.delete(f"{self.url}/{name}")
                if d.status_code != 404:
                    self._check(d, f"deleting {name}")
