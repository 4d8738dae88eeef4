"""The object expirer: removes objects whose ``X-Delete-At`` has passed.

When an object server stores an object (or a POST sets its metadata) with ``X-Delete-At``, it
also writes an entry in ``<device>/expiring/<delete_at>-<id>.json`` naming the object and its
container replicas. Until the expirer runs, the object server already answers 404 for an expired
object. The expirer, on every storage server, takes the entries that are due: if the object still
has that ``X-Delete-At``, it writes a tombstone (timestamped at the expiry, so every replica writes
the same one) and removes the object from its container listing (or leaves an async-pending
update when the container server is down); a stale entry (the object was replaced, deleted or
given another expiry since) is dropped.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litestack.object.daemons.base import every, local_devices
from litestack.object.server.diskfile import ObjectDir, normalize_timestamp

if TYPE_CHECKING:
    from litestack.object.server.app import StorageServer

LOG = logging.getLogger(__name__)


def add_entry(device: Path, delete_at: int, entry: dict[str, Any]) -> None:
    """Queue an object for the expirer (called by the object server on PUT and POST)."""
    queue = device / "expiring"
    queue.mkdir(parents=True, exist_ok=True)
    tmp = queue / f".{uuid.uuid4().hex}.tmp"
    with open(tmp, "w") as f:
        json.dump({**entry, "delete_at": delete_at}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, queue / f"{delete_at:010d}-{uuid.uuid4().hex}.json")


def _due(device: Path, now: float) -> list[Path]:
    try:
        names = sorted(n for n in os.listdir(device / "expiring") if n.endswith(".json"))
    except FileNotFoundError:
        return []
    return [device / "expiring" / n for n in names if int(n.split("-", 1)[0]) <= now]


def expire_one(device: Path, entry: dict[str, Any]) -> str | None:
    """Tombstone the object of a due entry if it still has that expiry; its tombstone's timestamp."""
    od = ObjectDir(device, int(entry["partition"]), entry["hash"], entry.get("objects", "objects"))
    st = od.state()
    if st.data is None or st.metadata is None or st.timestamp is None:
        return None
    if str(st.metadata.get("X-Delete-At", "")) != str(entry["delete_at"]):
        return None
    ts = normalize_timestamp(max(float(entry["delete_at"]), float(st.timestamp) + 0.00001))
    meta_ts = st.metadata.get("X-Meta-Timestamp")
    if meta_ts and meta_ts >= ts:
        ts = normalize_timestamp(float(meta_ts) + 0.00001)
    od.write_tombstone(ts)
    return ts


async def expire_pass(server: StorageServer) -> int:
    """Expire what is due on this server's devices; how many objects were removed."""
    removed = 0
    now = time.time()
    for dev in local_devices(server):
        device = server.devices / dev.device
        for path in await server.run(_due, device, now):
            try:
                entry = json.loads(await server.run(path.read_text))
            except (OSError, ValueError):
                path.unlink(missing_ok=True)
                continue
            ts = await server.run(expire_one, device, entry)
            if ts is not None:
                removed += 1
                await server.container_update(entry.get("container_update") or {}, device, "DELETE",
                                              entry["account"], entry["container"], entry["object"],
                                              {"X-Timestamp": ts})
            path.unlink(missing_ok=True)
    return removed


async def expire_forever(server: StorageServer, interval: float) -> None:
    await every(interval, "expirer", lock_dir=server.devices, one_pass=lambda: expire_pass(server))
