"""Notifications: every change a service makes is announced on the bus, as OpenStack's services
announce theirs (``image.create``, ``compute.instance.create.end``, …) for telemetry,
orchestration and other services' caches to consume.

A service makes one ``Notifier`` when it is built and binds it to the bus in ``startup``; its
logic calls ``emit`` after the change is committed, from the event loop or from a worker thread.
The message carries the request context of the caller (request ID and global request ID, user
and project), so a consumer can tie the event to the API request that caused it. Emitting never
blocks and never fails the request: a notification that cannot be sent is logged and dropped,
as oslo.messaging's notifier drops it when the bus is down.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from litestack.common.rpc import Transport

LOG = logging.getLogger(__name__)


class Notifier:
    """``emit(event_type, payload)`` on ``notifications.info``, from ``<service>.<host>``."""

    def __init__(self, service: str, host: str | None = None) -> None:
        self.publisher_id = f"{service}.{host or socket.gethostname()}"
        self._bus: Transport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sending: set[asyncio.Future[None]] = set()  # referenced until sent
        #: Local listeners (tests, and parts of the same process that want the event without the bus).
        self.listeners: list[Callable[[str, dict[str, Any]], object]] = []

    def bind(self, bus: Transport) -> None:
        """Called in ``startup``, inside the event loop."""
        self._bus, self._loop = bus, asyncio.get_running_loop()

    def emit(self, event_type: str, payload: dict[str, Any], priority: str = "info") -> None:
        """Announce a committed change; safe from the loop or from any thread, never blocks."""
        for listener in self.listeners:
            listener(event_type, payload)
        bus, loop = self._bus, self._loop
        if bus is None or loop is None or loop.is_closed():
            return  # not started (a CLI command, a test of the logic alone): nobody can listen
        coro = self._send(bus, event_type, payload, priority)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            task: asyncio.Future[None] = loop.create_task(coro)
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        else:  # a worker thread: the request's context travels with the call (call_soon_threadsafe)
            asyncio.run_coroutine_threadsafe(coro, loop)

    async def drain(self) -> None:
        """Wait for the notifications emitted from the loop so far (shutdown, tests)."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

    async def _send(self, bus: Transport, event_type: str, payload: dict[str, Any], priority: str) -> None:
        try:
            await bus.notify(event_type, payload, priority=priority, publisher_id=self.publisher_id)
        except Exception as exc:  # the change is made; a lost announcement must not undo or fail it
            LOG.warning("notification %s not sent: %s: %s", event_type, type(exc).__name__, exc)
