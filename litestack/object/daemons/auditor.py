"""The object auditor: reads every object on this server's devices and checks its bytes against
the md5 (ETag) kept in its trailer. A file that does not match, or has no valid trailer, is
quarantined (its directory moved to ``<device>/quarantined/objects/``); the replicators of the
other replicas then find the object missing here and push a good copy back."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from litestack.object.daemons.base import every, local_devices
from litestack.object.server.diskfile import check_data_file, quarantine

if TYPE_CHECKING:
    from litestack.object.server.app import StorageServer

LOG = logging.getLogger(__name__)


def _object_dirs(device: Path) -> list[Path]:
    out: list[Path] = []
    for objects in _ls(device):
        if objects != "objects" and not objects.startswith("objects-"):
            continue  # one directory per storage policy
        root = device / objects
        for part in _ls(root):
            for suffix in _ls(root / part):
                out.extend(root / part / suffix / h for h in _ls(root / part / suffix))
    return out


def _ls(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


def audit_dir(device: Path, obj_dir: Path) -> bool | None:
    """Check the newest ``.data`` file of one object: True good, False quarantined, None none."""
    data = next((f for f in sorted(_ls(obj_dir), reverse=True) if f.endswith((".data", ".ts"))), None)
    if data is None or not data.endswith(".data"):
        return None
    if check_data_file(obj_dir / data):
        return True
    try:
        dest = quarantine(device, obj_dir)
    except FileNotFoundError:
        return None  # replaced or deleted while we read it
    LOG.warning("object auditor: %s does not match its checksum: quarantined to %s", obj_dir / data, dest)
    return False


async def audit_pass(server: StorageServer) -> dict[str, int]:
    """One pass over every object of this server's devices; counts of checked and quarantined."""
    stats = {"checked": 0, "quarantined": 0}
    for dev in local_devices(server):
        device = server.devices / dev.device
        for obj_dir in await server.run(_object_dirs, device):
            result = await server.run(audit_dir, device, obj_dir)
            if result is not None:
                stats["checked"] += 1
                stats["quarantined"] += result is False
                rate = server.daemons.auditor_files_per_second
                if rate > 0:
                    await asyncio.sleep(1 / rate)  # Swift's files_per_second: the disks stay usable
    return stats


async def audit_forever(server: StorageServer, interval: float) -> None:
    await every(interval, "auditor", lock_dir=server.devices, one_pass=lambda: audit_pass(server))
