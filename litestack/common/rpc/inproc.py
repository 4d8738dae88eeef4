"""The in-process bus on asyncio: the default for all-in-one mode.

Transports created with the same bus ``name`` (``inproc://<name>``; the empty
name is ``"default"``) reach each other, as processes sharing one RabbitMQ
do; every service in an all-in-one process uses the default bus. Bodies are
the same JSON bytes as on AMQP and each receiver decodes its own copy, and
handlers run in a fresh ``contextvars`` context that holds only the request
context carried by the message, so code behaves here as it will across
processes. Queues exist while someone consumes them: messages for a topic
nobody listens to are dropped. All transports of a bus must share one event
loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import uuid
import weakref
from collections.abc import Coroutine
from typing import Any, TypeVar

from litestack.common.rpc.base import Listener, Transport
from litestack.common.rpc.dispatch import Dispatcher, NotificationCallback, deliver_notification

LOG = logging.getLogger("litestack.common.rpc")

_C = TypeVar("_C")


class _Bus:
    """Routing tables shared by the transports of one bus name."""

    def __init__(self) -> None:
        # "<topic>" and "<topic>.<server>" -> listeners sharing it, in round-robin order
        self.queues: dict[str, list[_RPCListener]] = {}
        self.fanout: dict[str, list[_RPCListener]] = {}
        self.pools: dict[tuple[str, str | None], list[_Subscriber]] = {}
        self.transports: dict[str, InProcTransport] = {}


_buses: weakref.WeakValueDictionary[str, _Bus] = weakref.WeakValueDictionary()


def _bus(name: str) -> _Bus:
    bus = _buses.get(name)
    if bus is None:
        bus = _buses[name] = _Bus()
    return bus


def _next(consumers: list[_C]) -> _C:
    """Round robin: take the first and move it to the end."""
    consumer = consumers.pop(0)
    consumers.append(consumer)
    return consumer


def _add(table: dict[str, list[_C]], key: str, consumer: _C) -> None:
    table.setdefault(key, []).append(consumer)


def _remove(table: dict[str, list[_C]], key: str, consumer: _C) -> None:
    consumers = table.get(key, [])
    if consumer in consumers:
        consumers.remove(consumer)
    if not consumers:
        table.pop(key, None)


def _spawn(listener: Listener, coro: Coroutine[Any, Any, None]) -> None:
    # A fresh, empty context: the handler sees only what the message carries.
    task = asyncio.get_running_loop().create_task(coro, context=contextvars.Context())
    listener.in_flight.track(task)


class _RPCListener(Listener):
    def __init__(
        self, transport: InProcTransport, topic: str, server: str | None, dispatcher: Dispatcher
    ) -> None:
        super().__init__(transport, transport.max_concurrency)
        self._bus = transport.bus
        self._transport = transport
        self.topic = topic
        self.server = server
        self.dispatcher = dispatcher
        self.keys = [topic] if server is None else [topic, f"{topic}.{server}"]
        for key in self.keys:
            _add(self._bus.queues, key, self)
        _add(self._bus.fanout, topic, self)

    def deliver(self, body: bytes, reply_to: str | None, correlation_id: str | None) -> None:
        _spawn(self, self._handle(body, reply_to, correlation_id))

    async def _handle(self, body: bytes, reply_to: str | None, correlation_id: str | None) -> None:
        async with self.in_flight:
            await self._transport._serve(self.dispatcher, body, reply_to, correlation_id)

    async def _stop_consuming(self) -> None:
        for key in self.keys:
            _remove(self._bus.queues, key, self)
        _remove(self._bus.fanout, self.topic, self)

    async def _close(self) -> None:
        """Nothing to release: routing entries went in ``_stop_consuming``."""


class _Subscriber(Listener):
    def __init__(
        self, transport: InProcTransport, priority: str, pool: str | None, callback: NotificationCallback
    ) -> None:
        super().__init__(transport, transport.max_concurrency)
        self._bus = transport.bus
        self.key = (priority, pool)
        self.callback = callback
        self._bus.pools.setdefault(self.key, []).append(self)

    def deliver(self, body: bytes) -> None:
        _spawn(self, self._handle(body))

    async def _handle(self, body: bytes) -> None:
        async with self.in_flight:
            await deliver_notification(self.callback, body)

    async def _stop_consuming(self) -> None:
        subscribers = self._bus.pools.get(self.key, [])
        if self in subscribers:
            subscribers.remove(self)
        if not subscribers:
            self._bus.pools.pop(self.key, None)

    async def _close(self) -> None:
        """Nothing to release: routing entries went in ``_stop_consuming``."""


class InProcTransport(Transport):
    """RPC within one process, on asyncio; ``name`` selects the bus (see the module docstring)."""

    def __init__(self, name: str = "default", *, max_concurrency: int = 64) -> None:
        super().__init__(max_concurrency=max_concurrency)
        self.name = name or "default"
        self.bus = _bus(self.name)
        self._address = f"inproc-{uuid.uuid4()}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} bus={self.name!r}>"

    async def _start(self) -> None:
        self.bus.transports[self._address] = self

    async def _stop(self) -> None:
        self.bus.transports.pop(self._address, None)

    @property
    def _reply_address(self) -> str:
        return self._address

    async def _publish(
        self,
        topic: str,
        server: str | None,
        body: bytes,
        *,
        reply_to: str | None = None,
        correlation_id: str | None = None,
        ttl: float | None = None,
    ) -> None:
        key = topic if server is None else f"{topic}.{server}"
        consumers = self.bus.queues.get(key)
        if not consumers:
            LOG.debug("nobody listens on %s; message dropped", key)
            return
        _next(consumers).deliver(body, reply_to, correlation_id)

    async def _publish_fanout(self, topic: str, body: bytes) -> None:
        for listener in list(self.bus.fanout.get(topic, ())):
            listener.deliver(body, None, None)

    async def _publish_notification(self, priority: str, body: bytes) -> None:
        for (pool_priority, _pool), subscribers in list(self.bus.pools.items()):
            if pool_priority == priority and subscribers:
                _next(subscribers).deliver(body)

    async def _send_reply(self, reply_to: str, correlation_id: str, body: bytes) -> None:
        transport = self.bus.transports.get(reply_to)
        if transport is None:
            LOG.debug("reply for a transport that is gone: %s", reply_to)
            return
        transport._on_reply(correlation_id, body)

    async def _listen(self, topic: str, server: str | None, dispatcher: Dispatcher) -> Listener:
        return _RPCListener(self, topic, server, dispatcher)

    async def _subscribe(self, priority: str, pool: str | None, callback: NotificationCallback,
                         transient: bool) -> Listener:
        # In-process pools end with the process anyway: transient or not is the same here.
        return _Subscriber(self, priority, pool, callback)
