"""Objects on a device's disk, as Swift lays them out.

``<device>/objects/<partition>/<suffix>/<hash>/`` holds one object's files, named by the
X-Timestamp of the request that wrote them; the newest ``.data`` or ``.ts`` (tombstone) wins:

- ``<ts>.data``: the bytes, then the metadata they were written with (name, Content-Type,
  Content-Length, ETag, X-Object-Meta-*) as a JSON trailer: ``<bytes><json><len: 8 bytes, big
  endian><"LSOBJMD1">``. The metadata live in the file rather than in xattrs so that any
  filesystem works (tmpfs, overlayfs), and in the same file so that one fsync makes both durable.
- ``<ts>.meta``: user metadata set later by a POST (replaces the X-Object-Meta-* of the data).
- ``<ts>.ts``: a tombstone (DELETE), kept so that an older replica cannot bring the object back.

A write goes to ``<device>/tmp`` first, is fsynced, and is renamed in; the directory is fsynced
after the rename. A ``.data`` file without a valid trailer (never written by us) is ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def normalize_timestamp(value: str | float) -> str:
    """Swift's normalized timestamp: 16 digits, a dot, 5 decimals (sortable as text)."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"invalid timestamp {value!r}") from None
    if not 0 <= f < 1e10:
        raise ValueError(f"invalid timestamp {value!r}")
    return f"{f:016.5f}"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class ObjectState:
    """What is on disk for one object: the winning file's timestamp and kind."""

    timestamp: str | None
    deleted: bool
    data: Path | None = None
    metadata: dict[str, Any] | None = None


class ObjectDir:
    """One object's directory on one device."""

    def __init__(self, device_path: Path, partition: int, name_hash: str, objects: str = "objects") -> None:
        self.device_path = device_path
        self.path = device_path / objects / str(partition) / name_hash[-3:] / name_hash

    def _files(self) -> list[str]:
        try:
            return sorted(os.listdir(self.path), reverse=True)
        except FileNotFoundError:
            return []

    def state(self) -> ObjectState:
        files = self._files()
        meta_ts: str | None = None
        for name in files:
            ts, _, ext = name.rpartition(".")
            if ext == "meta" and meta_ts is None:
                meta_ts = ts
            elif ext == "ts":
                return ObjectState(ts, True)
            elif ext == "data":
                metadata = read_metadata(self.path / name)
                if metadata is None:
                    continue  # written by nobody we know: ignore, as an orphan
                if meta_ts is not None and meta_ts > ts:
                    with contextlib.suppress(FileNotFoundError, ValueError):
                        user = json.loads((self.path / f"{meta_ts}.meta").read_text())
                        metadata = {k: v for k, v in metadata.items()
                                    if not k.lower().startswith("x-object-meta-") and k != "X-Delete-At"}
                        metadata.update(user)
                        metadata["X-Meta-Timestamp"] = meta_ts
                return ObjectState(ts, False, self.path / name, metadata)
        return ObjectState(None, False)

    def _cleanup(self, keep: str) -> None:
        """Remove files older than the newest ``.data``/``.ts`` (``keep``), as a write commits."""
        for name in self._files():
            ts, _, _ext = name.rpartition(".")
            if ts < keep:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path / name)

    def tmp_file(self) -> Path:
        tmp = self.device_path / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp / f"{uuid.uuid4().hex}.tmp"

    def commit_data(self, tmp_data: Path, timestamp: str) -> None:
        """Rename a written and fsynced ``.data`` file (see ``write_trailer_and_sync``) into place."""
        self.path.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_data, self.path / f"{timestamp}.data")
        fsync_dir(self.path)
        self._cleanup(timestamp)

    def write_tombstone(self, timestamp: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp_file()
        _write_synced(tmp, b"")
        os.replace(tmp, self.path / f"{timestamp}.ts")
        fsync_dir(self.path)
        self._cleanup(timestamp)

    def write_meta(self, timestamp: str, user_meta: dict[str, str]) -> None:
        tmp = self.tmp_file()
        _write_synced(tmp, json.dumps(user_meta).encode())
        os.replace(tmp, self.path / f"{timestamp}.meta")
        fsync_dir(self.path)
        for name in self._files():  # older .meta files are superseded
            ts, _, ext = name.rpartition(".")
            if ext == "meta" and ts < timestamp:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path / name)


MAGIC = b"LSOBJMD1"


def file_ts(name: str) -> tuple[str, str]:
    """``(timestamp, extension)`` of a file name in an object's directory."""
    ts, _, ext = name.rpartition(".")
    return ts, ext


def cleanup_dir(path: Path, reclaim_before: float | None = None) -> list[str]:
    """The files an object's directory keeps (the newest ``.data`` or ``.ts``, and a newer
    ``.meta``), deleting the others; a tombstone older than ``reclaim_before`` (epoch seconds) is
    deleted too, and an emptied directory removed. Sorted, newest first."""
    try:
        files = sorted(os.listdir(path), reverse=True)
    except FileNotFoundError:
        return []
    keep: list[str] = []
    winner: str | None = None
    meta_seen = False
    for name in files:
        ts, ext = file_ts(name)
        drop = False
        if ext in ("data", "ts"):
            if winner is None:
                winner = name
                if ext == "ts" and reclaim_before is not None and float(ts) < reclaim_before:
                    drop = True
            else:
                drop = True
        elif ext == "meta":
            drop = meta_seen or winner is not None  # only the newest .meta, newer than the winner
            meta_seen = True
        else:
            drop = True
        if drop:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path / name)
        else:
            keep.append(name)
    if winner is not None and winner.endswith(".ts") and winner not in keep:
        keep = []  # a reclaimed tombstone takes any .meta with it
        for name in os.listdir(path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path / name)
    if not keep:
        with contextlib.suppress(OSError):
            path.rmdir()
    return keep


def suffix_listing(part_dir: Path, suffix: str, reclaim_before: float | None = None) -> dict[str, list[str]]:
    """``{hash: [files]}`` of one suffix directory of a partition, cleaned up first."""
    out: dict[str, list[str]] = {}
    sdir = part_dir / suffix
    try:
        hashes = sorted(os.listdir(sdir))
    except (FileNotFoundError, NotADirectoryError):
        return out
    for h in hashes:
        files = cleanup_dir(sdir / h, reclaim_before)
        if files:
            out[h] = files
    if not out:
        with contextlib.suppress(OSError):
            sdir.rmdir()
    return out


def suffix_hashes(part_dir: Path, reclaim_before: float | None = None) -> dict[str, str]:
    """``{suffix: md5 of its hashes and file names}`` of a partition: two replicas of a suffix
    hold the same files exactly when their hashes are equal (what the replicator compares)."""
    out: dict[str, str] = {}
    try:
        suffixes = sorted(os.listdir(part_dir))
    except (FileNotFoundError, NotADirectoryError):
        return out
    for suffix in suffixes:
        if len(suffix) != 3:
            continue
        listing = suffix_listing(part_dir, suffix, reclaim_before)
        if listing:
            md5 = hashlib.md5(usedforsecurity=False)
            for h, files in listing.items():
                md5.update(f"{h}:{','.join(files)};".encode())
            out[suffix] = md5.hexdigest()
    return out


def check_data_file(path: Path) -> bool:
    """True when a ``.data`` file's bytes match the ETag of its trailer (what the auditor checks)."""
    metadata = read_metadata(path)
    if metadata is None:
        return False
    try:
        size = int(metadata["Content-Length"])
        md5 = hashlib.md5(usedforsecurity=False)
        for block in read_range(path, 0, size, 1 << 20):
            md5.update(block)
        on_disk = os.path.getsize(path)
    except (KeyError, ValueError, OSError):
        return False
    return md5.hexdigest() == metadata.get("ETag") and on_disk > size + 16


def quarantine(device_path: Path, object_dir: Path) -> Path:
    """Move an object's directory to ``<device>/quarantined/objects/`` (kept for inspection)."""
    qdir = device_path / "quarantined" / "objects"
    qdir.mkdir(parents=True, exist_ok=True)
    dest = qdir / f"{object_dir.name}-{uuid.uuid4().hex[:8]}"
    os.replace(object_dir, dest)
    return dest


def write_trailer_and_sync(f: Any, metadata: dict[str, Any]) -> None:
    """Append the metadata trailer to a data file being written, then flush and fsync it."""
    raw = json.dumps(metadata).encode()
    f.write(raw + len(raw).to_bytes(8, "big") + MAGIC)
    f.flush()
    os.fsync(f.fileno())


def read_metadata(path: Path) -> dict[str, Any] | None:
    """The metadata trailer of a ``.data`` file, or None when it has none."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            end = f.tell()
            if end < 16:
                return None
            f.seek(end - 16)
            tail = f.read(16)
            if tail[8:] != MAGIC:
                return None
            length = int.from_bytes(tail[:8], "big")
            if length > end - 16:
                return None
            f.seek(end - 16 - length)
            data: dict[str, Any] = json.loads(f.read(length))
            return data
    except (OSError, ValueError):
        return None


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


#: How far ahead of a read the kernel is asked to fetch a file from disk.
READ_AHEAD_BYTES = 8 << 20


def read_range(path: Path, start: int, end: int, chunk: int = 65536) -> Iterator[bytes]:
    """The bytes ``start`` to ``end`` (exclusive) of a file, in chunks (never all in memory).

    The kernel is told the read is sequential and asked for the next ``READ_AHEAD_BYTES`` as it
    goes, so that a file that is not in the page cache comes from disk while the caller works on
    the previous blocks (the md5 of a checked read costs as much as a disk read)."""
    with open(path, "rb", buffering=0) as f:
        fd = f.fileno()
        advise = hasattr(os, "posix_fadvise") and end - start > chunk
        if advise:
            os.posix_fadvise(fd, start, end - start, os.POSIX_FADV_SEQUENTIAL)
        f.seek(start)
        pos = start
        asked = start  # the kernel has been asked for the file up to here
        while pos < end:
            if advise and asked < min(pos + READ_AHEAD_BYTES, end):
                ahead = min(pos + 2 * READ_AHEAD_BYTES, end)
                os.posix_fadvise(fd, asked, ahead - asked, os.POSIX_FADV_WILLNEED)
                asked = ahead
            block = f.read(min(chunk, end - pos))
            if not block:
                break
            pos += len(block)
            yield block
