"""What every daemon shares: the devices of this storage server that are in the ring, and a loop
that runs a pass every ``interval`` seconds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
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


async def every(interval: float, name: str, one_pass: Callable[[], Awaitable[object]]) -> None:
    """Run ``one_pass`` forever, ``interval`` seconds apart; a failed pass is logged and retried."""
    while True:
        await asyncio.sleep(interval)
        try:
            await one_pass()
        except asyncio.CancelledError:
            raise
        except Exception:
            LOG.exception("object %s pass failed", name)
