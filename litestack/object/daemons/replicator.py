"""The replicator, push model (Swift's object, container and account replicators).

For every partition on this server's devices, it pushes to the partition's other primaries:

- **objects**: it asks each one for its suffix hashes (``REPLICATE``), and for the suffixes that
  differ, the file lists; then it sends each file the other side lacks (``SYNC``), which keeps it
  if it is newer than what it holds. Deletes travel as tombstones (``.ts``); tombstones older than
  ``reclaim_age`` are removed when a partition is hashed.
- **databases** (accounts and containers): it compares a digest of each database with the other
  replica's (``DBDIGEST``) and, when they differ, sends its rows (``DBSYNC``), merged there by
  timestamp; rows deleted longer ago than ``reclaim_age`` are forgotten.

A device that is not a primary for a partition holds a handoff copy: once every primary has
taken (or already had) each of its files, they are removed from the handoff.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx

from litestack.object import http, storage_policy
from litestack.object.bufferedhttp import Response
from litestack.object.daemons.base import every, local_devices
from litestack.object.ring import Device
from litestack.object.server import replication
from litestack.object.server.dbs import Broker
from litestack.object.server.diskfile import normalize_timestamp, suffix_hashes, suffix_listing

if TYPE_CHECKING:
    from litestack.object.server.app import StorageServer

LOG = logging.getLogger(__name__)


def _ls(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


class Replicator:
    """One pass (``run_pass``) replicates every partition of this server's devices."""

    def __init__(self, server: StorageServer) -> None:
        self.server = server
        self.stats: dict[str, int] = {}

    def _count(self, key: str, n: int = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n

    async def _request(self, method: str, node: Device, path: str, content: bytes | None = None,
                       policy: int = 0) -> Response | None:
        headers = {http.SECRET_HEADER: self.server.secret.decode(), replication.HEADER: method}
        if policy:
            headers[storage_policy.INDEX_HEADER] = str(policy)
        try:
            return await self.server.client.request(
                "POST", f"{node.url}/{quote(node.device)}/{path}", content=content, headers=headers, timeout=60)
        except httpx.HTTPError as exc:
            LOG.info("replicator: %s %s:%s/%s: %s", method, node.ip, node.port, node.device, exc)
            return None

    async def run_pass(self) -> dict[str, int]:
        self.stats = {}
        ring = self.server.ring()
        if ring is None:
            return self.stats
        for dev in local_devices(self.server):
            device = self.server.devices / dev.device
            for policy in storage_policy.POLICIES:
                pring = self.server.policy_ring(policy.index)
                if pring is None:
                    continue
                objects = storage_policy.objects_dir(policy.index)
                for part in _ls(device / objects):
                    if part.isdigit() and int(part) < pring.partitions:
                        await self._object_partition(dev, device / objects / part, policy.index, int(part),
                                                     pring.primaries(int(part)))
            for kind in ("accounts", "containers"):
                for part in _ls(device / kind):
                    if part.isdigit() and int(part) < ring.partitions:
                        await self._db_partition(dev, device, kind, int(part), ring.primaries(int(part)))
        return self.stats

    # --- objects ---------------------------------------------------------------------------------

    async def _object_partition(self, dev: Device, part_dir: Path, policy: int, part: int,
                                primaries: list[Device]) -> None:
        reclaim_before = time.time() - self.server.reclaim_age
        local = await self.server.run(suffix_hashes, part_dir, reclaim_before)
        if not local:
            if not any(_same(p, dev) for p in primaries):
                await self.server.run(shutil.rmtree, part_dir, True)
            return
        others = [p for p in primaries if not _same(p, dev)]
        handoff = len(others) == len(primaries)
        pushed: set[tuple[str, str, str]] | None = set()
        for node in others:
            done = await self._push_objects(node, policy, part, part_dir, local)
            if done is None:
                pushed = None
            elif pushed is not None:
                pushed |= done
        if handoff and pushed is not None:
            removed = await self.server.run(_remove_files, part_dir, pushed)
            self._count("handoff_files_removed", removed)

    async def _push_objects(self, node: Device, policy: int, part: int, part_dir: Path,
                            local: dict[str, str]) -> set[tuple[str, str, str]] | None:
        """Push what ``node`` lacks of this partition; the files it now holds (or None when it
        could not be brought in sync)."""
        r = await self._request("REPLICATE", node, str(part), policy=policy)
        if r is None or r.status_code != 200:
            return None
        remote: dict[str, str] = r.json()
        differ = [s for s, h in local.items() if remote.get(s) != h]
        listings = {s: await self.server.run(suffix_listing, part_dir, s) for s in local}
        held = {(s, h, f) for s in local if s not in differ for h, files in listings[s].items() for f in files}
        if not differ:
            return held
        r = await self._request("REPLICATE", node, f"{part}/{'-'.join(differ)}", policy=policy)
        if r is None or r.status_code != 200:
            return None
        remote_lists: dict[str, dict[str, list[str]]] = r.json()
        ok = True
        for s in differ:
            for h, files in listings[s].items():
                theirs = set(remote_lists.get(s, {}).get(h, []))
                # data and tombstones first: a .meta is taken only on top of its .data
                for f in sorted(files, key=lambda name: name.endswith(".meta")):
                    if f in theirs:
                        held.add((s, h, f))
                        continue
                    status = await self._sync_file(node, policy, part_dir / s / h / f, f"{part}/{s}/{h}/{f}")
                    if status in (201, 409):
                        held.add((s, h, f))
                        self._count("files_pushed" if status == 201 else "files_superseded")
                    else:
                        ok = False
                        self._count("files_failed")
        return held if ok else None

    async def _sync_file(self, node: Device, policy: int, path: Path, url_path: str) -> int:
        try:
            data = await self.server.run(path.read_bytes)
        except FileNotFoundError:
            return 409  # superseded here meanwhile
        r = await self._request("SYNC", node, url_path, content=data, policy=policy)
        return r.status_code if r is not None else 503

    # --- databases -------------------------------------------------------------------------------

    async def _db_partition(self, dev: Device, device: Path, kind: str, part: int,
                            primaries: list[Device]) -> None:
        others = [p for p in primaries if not _same(p, dev)]
        handoff = len(others) == len(primaries)
        part_dir = device / kind / str(part)
        before = normalize_timestamp(max(time.time() - self.server.reclaim_age, 0))
        for suffix in await self.server.run(_ls, part_dir):
            for h in await self.server.run(_ls, part_dir / suffix):
                broker = Broker(device, kind[:-1], part, h)
                if not await self.server.run(lambda b=broker: b.path.exists()):
                    continue
                await self.server.run(broker.reclaim, before)
                dump = await self.server.run(broker.dump)
                if dump is None:
                    continue
                ok = True
                for node in others:
                    ok = await self._push_db(node, part, kind, h, broker, dump) and ok
                if handoff and ok:
                    await self.server.run(broker.close)
                    await self.server.run(shutil.rmtree, broker.path.parent, True)
                    self._count("handoff_dbs_removed")

    async def _push_db(self, node: Device, part: int, kind: str, h: str, broker: Broker,
                       dump: dict[str, object]) -> bool:
        r = await self._request("DBDIGEST", node, f"{part}/{kind}/{h}")
        if r is None or r.status_code not in (200, 404):
            return False
        if r.status_code == 200 and r.json().get("digest") == await self.server.run(broker.digest):
            return True
        r = await self._request("DBSYNC", node, f"{part}/{kind}/{h}", content=json.dumps(dump).encode())
        if r is not None and r.status_code == 204:
            self._count("dbs_pushed")
            return True
        return False


def _same(a: Device, b: Device) -> bool:
    """One device, whichever ring (each policy's ring numbers its devices itself)."""
    return (a.ip, a.port, a.device) == (b.ip, b.port, b.device)


def _remove_files(part_dir: Path, files: set[tuple[str, str, str]]) -> int:
    """Remove a handoff's files that every primary holds, and the directories they leave empty."""
    removed = 0
    for s, h, f in files:
        try:
            os.unlink(part_dir / s / h / f)
            removed += 1
        except FileNotFoundError:
            pass
    for s, h, _ in files:
        for d in (part_dir / s / h, part_dir / s):
            try:
                d.rmdir()
            except OSError:
                pass
    try:
        part_dir.rmdir()
    except OSError:
        pass
    return removed


async def replicate_forever(server: StorageServer, interval: float) -> None:
    replicator = Replicator(server)
    await every(interval, "replicator", replicator.run_pass, lock_dir=server.devices)

