"""What every daemon shares: the devices of this storage server that are in the ring, and a loop
that runs a pass every ``interval`` seconds."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from litestack.object.ring import Device

if TYPE_CHECKING:
    from litestack.object.server.app import StorageServer

LOG = logging.getLogger(__name__)


def local_devices(server: StorageServer) -> list[Device]:
    """The ring's devices that this storage server serves: a directory of that name under its
    devices root, at one of its addresses."""
    ring = server.ring()
    if ring is None:
        return []
    return [d for d in ring.live_devices()
            if (server.devices / d.device).is_dir() and server.serves(d.ip, d.port)]


async def every(interval: float, name: str, one_pass: Callable[[], Awaitable[object]],
                lock_dir: Path | None = None) -> None:
    """Run ``one_pass`` forever, ``interval`` seconds apart; a failed pass is logged and retried.
    With ``lock_dir``, a pass runs only while this process holds ``<lock_dir>/.<name>.lock``, so
    that the workers of ``litestack up --workers N`` (each with the storage server of the same
    devices) do not all run the same daemon at once."""
    while True:
        await asyncio.sleep(interval)
        lock = _try_lock(lock_dir / f".{name}.lock") if lock_dir is not None else None
        if lock_dir is not None and lock is None:
            continue  # another process of this host runs this pass
        try:
            await one_pass()
        except asyncio.CancelledError:
            raise
        except Exception:
            LOG.exception("object %s pass failed", name)
        finally:
            if lock is not None:
                os.close(lock)  # releases the lock


def _try_lock(path: Path) -> int | None:
    """An exclusive, non-blocking lock on ``path`` (its descriptor), or None when it is taken."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd
