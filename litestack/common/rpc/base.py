"""The RPC bus interface: one small ``Transport`` class, several interchangeable implementations.

Services only use the public coroutines of ``Transport`` (``call``, ``cast``,
``fanout``, ``notify``, ``listen``, ``subscribe``). Everything a message means
(envelopes, context, errors, method routing) is decided here and in
``message``/``dispatch``, once; a transport implements only the underscored
primitives that move bytes (``inproc.InProcTransport``,
``amqp.AMQPTransport``).

Delivery is at most once. A message sent to a topic nobody consumes may be
dropped, so a ``call`` to it ends in ``RPCTimeout``; callers recover by
reconciling state, not by blind retries. Handlers should be idempotent.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from types import TracebackType
from typing import Any, Self

from litestack.common.rpc import message as msg
from litestack.common.rpc.dispatch import Dispatcher, InFlight, NotificationCallback
from litestack.common.rpc.exceptions import RPCError, RPCTimeout

LOG = logging.getLogger("litestack.common.rpc")

#: Seconds ``stop()`` waits for running handlers before cancelling them.
DEFAULT_GRACE = 5.0


class Listener(abc.ABC):
    """A consumer registered by ``Transport.listen`` or ``Transport.subscribe``.

    ``stop()`` ends delivery to it: no new message reaches its endpoint once
    ``stop()`` starts, running handlers get ``grace`` seconds to finish and are
    then cancelled. Stopping twice is harmless.
    """

    def __init__(self, transport: Transport, max_concurrency: int) -> None:
        self.transport = transport
        self.in_flight = InFlight(max_concurrency)
        self.stopping = False

    async def stop(self, *, grace: float = DEFAULT_GRACE) -> None:
        if self.stopping:
            return
        self.stopping = True
        try:
            await self._stop_consuming()
            await self.in_flight.drain(grace)
        finally:
            await self._close()
            self.transport._listeners.discard(self)

    @abc.abstractmethod
    async def _stop_consuming(self) -> None:
        """Make sure no further message is handed to this listener."""

    @abc.abstractmethod
    async def _close(self) -> None:
        """Release what the listener holds once its handlers are done (channels...)."""


class Transport(abc.ABC):
    """A message bus. Use it as ``async with transport:`` or call ``start()`` and ``stop()``.

    Names: topics and pools are letters, digits, ``_`` and ``-`` (no dots);
    servers may also hold ``.:@`` (host names). Args, results and payloads must
    be JSON (dicts with string keys, lists, str, int, float, bool, None):
    anything else raises ``TypeError`` at the sender, on every transport.
    """

    def __init__(self, *, max_concurrency: int = 64) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        self._listeners: set[Listener] = set()
        self._started = False
        self._stopping = False

    # --- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Connect to the bus. Raises ``RPCError`` when the bus cannot be reached."""
        if not self._started:
            await self._start()
            self._started = True

    @property
    def connected(self) -> bool:
        """Whether the transport is started and (for a broker) connected right now."""
        return self._started

    async def stop(self, *, grace: float = DEFAULT_GRACE) -> None:
        """Stop every listener of this transport, fail its pending calls, disconnect."""
        if not self._started or self._stopping:
            return
        self._stopping = True
        try:
            # Handlers still draining may make nested calls, so the transport stays usable until then.
            await asyncio.gather(*(listener.stop(grace=grace) for listener in list(self._listeners)))
        finally:
            self._started = False
            self._stopping = False
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(RPCError("the RPC transport was stopped"))
            await self._stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def started(self) -> bool:
        return self._started

    # --- sending -----------------------------------------------------------

    async def call(
        self,
        topic: str,
        method: str,
        args: dict[str, Any] | None = None,
        *,
        server: str | None = None,
        timeout: float = 60.0,
        version: str | None = None,
    ) -> Any:
        """Invoke ``method`` on one listener of ``topic`` (or of ``topic.server``) and return its result.

        Raises ``RPCTimeout`` when no reply comes within ``timeout`` seconds;
        the handler's own ``LitestackError`` (rebuilt as its class) or
        ``RemoteError`` when it failed; ``UnknownMethod`` or
        ``UnsupportedVersion`` when the endpoint refused the request.
        ``version`` is the caller's RPC API version ("MAJOR.MINOR").
        """
        self._check_started()
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        request = msg.make_request("call", topic, method, args, server=server, api_version=version)
        body = msg.encode(request)
        correlation_id = request["message_id"]
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        try:
            async with asyncio.timeout(timeout):
                await self._publish(
                    topic,
                    server,
                    body,
                    reply_to=self._reply_address,
                    correlation_id=correlation_id,
                    ttl=timeout,
                )
                reply = await future
        except TimeoutError:
            raise RPCTimeout(topic, method, timeout) from None
        finally:
            self._pending.pop(correlation_id, None)
        return msg.result_from_reply(reply)

    async def cast(
        self,
        topic: str,
        method: str,
        args: dict[str, Any] | None = None,
        *,
        server: str | None = None,
        version: str | None = None,
    ) -> None:
        """Send ``method`` to exactly one listener of ``topic`` (or of ``topic.server``); no reply."""
        self._check_started()
        request = msg.make_request("cast", topic, method, args, server=server, api_version=version)
        await self._publish(topic, server, msg.encode(request))

    async def fanout(
        self, topic: str, method: str, args: dict[str, Any] | None = None, *, version: str | None = None
    ) -> None:
        """Send ``method`` to every listener of ``topic``, whatever its server; no reply."""
        self._check_started()
        request = msg.make_request("fanout", topic, method, args, api_version=version)
        await self._publish_fanout(topic, msg.encode(request))

    async def notify(
        self, event_type: str, payload: dict[str, Any], *, priority: str = "info", publisher_id: str
    ) -> None:
        """Publish a versioned event on ``notifications.<priority>``; each subscriber pool gets one copy.

        ``event_type`` is dotted (``compute.instance.create.end``), ``publisher_id``
        names the sender (``compute.host1``). Raises ``ValueError`` for an
        unknown priority.
        """
        self._check_started()
        notification = msg.make_notification(event_type, payload, priority, publisher_id)
        await self._publish_notification(priority, msg.encode(notification))

    # --- receiving ---------------------------------------------------------

    async def listen(self, topic: str, endpoint: object, *, server: str | None = None) -> Listener:
        """Serve ``endpoint`` on ``topic``.

        The listener shares ``topic``'s calls and casts with the other listeners
        of the topic, receives those addressed to ``topic.server`` (shared with
        other listeners of the same server), and gets a copy of every fanout.
        Raises ``TypeError``/``ValueError`` if the endpoint's ``rpc_methods`` is
        missing or lists something that is not a public method.
        """
        self._check_started()
        msg.check_topic(topic)
        msg.check_server(server)
        listener = await self._listen(topic, server, Dispatcher(topic, endpoint))
        self._listeners.add(listener)
        return listener

    async def subscribe(
        self, callback: NotificationCallback, *, priority: str = "info", pool: str | None = None,
        transient: bool = False,
    ) -> Listener:
        """Run ``callback(notification)`` (sync or async) for the events of one priority.

        Subscribers in the same ``pool`` share the events (each goes to one of
        them); every pool, and the default pool (``None``), gets each event.
        Callback errors are logged and do not stop the subscription.
        A ``transient`` subscription lives only as long as this subscriber: the broker
        deletes its queue when the subscriber goes (a per-process cache's pool); a
        durable one keeps events for a subscriber that restarts.
        """
        self._check_started()
        msg.check_priority(priority)
        if pool is not None:
            msg.check_topic(pool, "pool")
        listener = await self._subscribe(priority, pool, callback, transient)
        self._listeners.add(listener)
        return listener

    # --- shared by implementations -----------------------------------------

    def _check_started(self) -> None:
        if not self._started:
            raise RPCError(f"{type(self).__name__} is not started")

    def _on_reply(self, correlation_id: str | None, body: bytes) -> None:
        future = self._pending.get(correlation_id) if correlation_id else None
        if future is None or future.done():
            LOG.debug("dropping a reply nobody waits for (late or unknown): %s", correlation_id)
            return
        future.set_result(body)

    async def _serve(
        self, dispatcher: Dispatcher, body: bytes, reply_to: str | None, correlation_id: str | None
    ) -> None:
        """Handle one request body; send the reply when the sender waits for one."""
        try:
            request = msg.decode_request(body)
        except msg.MalformedMessage as exc:
            LOG.warning("dropping malformed RPC message on %s: %s", dispatcher.topic, exc)
            reply = msg.failure_reply(RPCError(f"malformed RPC message: {exc}"))
        else:
            reply = await dispatcher.handle(request)
        if reply_to and correlation_id:
            try:
                await self._send_reply(reply_to, correlation_id, msg.encode(reply))
            except Exception:
                LOG.warning("could not send the reply to %s on %s", reply_to, dispatcher.topic, exc_info=True)

    # --- primitives each transport implements --------------------------------

    @abc.abstractmethod
    async def _start(self) -> None: ...

    @abc.abstractmethod
    async def _stop(self) -> None: ...

    @property
    @abc.abstractmethod
    def _reply_address(self) -> str:
        """Where listeners send replies meant for this transport."""

    @abc.abstractmethod
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
        """Queue ``body`` for one listener of ``topic`` (``server`` None) or of ``topic.server``."""

    @abc.abstractmethod
    async def _publish_fanout(self, topic: str, body: bytes) -> None: ...

    @abc.abstractmethod
    async def _publish_notification(self, priority: str, body: bytes) -> None: ...

    @abc.abstractmethod
    async def _send_reply(self, reply_to: str, correlation_id: str, body: bytes) -> None: ...

    @abc.abstractmethod
    async def _listen(self, topic: str, server: str | None, dispatcher: Dispatcher) -> Listener: ...

    @abc.abstractmethod
    async def _subscribe(
        self, priority: str, pool: str | None, callback: NotificationCallback, transient: bool
    ) -> Listener: ...
