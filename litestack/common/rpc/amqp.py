"""RPC over RabbitMQ (AMQP 0-9-1, via aio-pika), for multi-process and multi-node deployments.

Broker objects, all named under ``namespace`` (default ``litestack``)::

    <ns>                       topic exchange: calls and casts, routing key "<topic>" or "<topic>.<server>"
    <ns>.rpc.<topic>           queue shared by every listener of the topic
    <ns>.rpc.<topic>.<server>  queue shared by the listeners of that server
    <ns>.fanout                direct exchange: fanouts, routing key "<topic>"
    <ns>.fanout.<topic>.<id>   one exclusive, auto-delete queue per listener
    <ns>.reply.<id>            one exclusive, auto-delete reply queue per transport
    <ns>.notifications         topic exchange: notifications, routing key "notifications.<priority>"
    <ns>.notifications.<priority>[.<pool>]   durable queue per pool (no pool: the default one)

Fanouts use one direct exchange for all topics instead of a fanout exchange
per topic: the effect is the same (every queue bound with the topic's key gets
a copy) and no sender ever publishes to an exchange another process may have
deleted.

RPC queues are not auto-delete, so a listener that restarts finds the casts
sent meanwhile; they expire after ``queue_expiry`` seconds without consumers.
A call request expires with its caller's timeout, so a late listener never
runs a call nobody waits for. Requests are acknowledged when a handler takes
them (at most once); notifications once the subscriber callback returned.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import aio_pika.exceptions
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from litestack.common.rpc.base import Listener, Transport
from litestack.common.rpc.dispatch import Dispatcher, NotificationCallback, deliver_notification
from litestack.common.rpc.exceptions import RPCError

LOG = logging.getLogger("litestack.common.rpc")

_JSON = "application/json"


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***``, for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _connect_failure(url: str, exc: Exception) -> str:
    """Why a connection failed, in words an operator can act on (RabbitMQ's own answers to a
    missing virtual host or a missing permission are opaque protocol frames)."""
    parts = urlsplit(url)
    user = parts.username or "guest"
    vhost = (parts.path[1:] if parts.path not in ("", "/") else "/") or "/"
    reason = str(exc)
    if isinstance(exc, aio_pika.exceptions.ProbableAuthenticationError):
        return f"the broker refused the credentials of user {user!r}"
    if "Connection.OpenOk" in reason and "Connection.Close" in reason:
        # The broker closed the connection in answer to Connection.Open, which names the vhost.
        return (f"the broker refused virtual host {vhost!r} to user {user!r}: it does not exist, or the "
                f"user has no permission on it (rabbitmqctl add_vhost / set_permissions)")
    if parts.password:
        reason = reason.replace(parts.password, "***")
    return reason or type(exc).__name__


def _queue_arguments(expiry: float | None, max_length: int | None = None) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    if expiry is not None:
        arguments["x-expires"] = int(expiry * 1000)
    if max_length is not None:
        arguments["x-max-length"] = max_length
    return arguments


class _AMQPListener(Listener):
    """One channel and its consumers; the channel's prefetch bounds un-acknowledged messages."""

    def __init__(self, transport: AMQPTransport, channel: AbstractChannel) -> None:
        super().__init__(transport, transport.max_concurrency)
        self.channel = channel
        self.consumers: list[tuple[AbstractQueue, str]] = []

    async def consume(self, queue: AbstractQueue) -> None:
        self.consumers.append((queue, await queue.consume(self._on_message)))

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.in_flight.track(task)
        async with self.in_flight:
            if self.stopping:
                # Delivered before our cancel took effect: give it back for another consumer.
                await message.reject(requeue=True)
                return
            await self._handle(message)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        raise NotImplementedError

    async def _stop_consuming(self) -> None:
        for queue, tag in self.consumers:
            try:
                await queue.cancel(tag)
            except Exception:
                LOG.debug("cancelling consumer %s on %s failed", tag, queue.name, exc_info=True)

    async def _close(self) -> None:
        try:
            await self.channel.close()
        except Exception:
            LOG.debug("closing a listener channel failed", exc_info=True)


class _RPCListener(_AMQPListener):
    def __init__(self, transport: AMQPTransport, channel: AbstractChannel, dispatcher: Dispatcher) -> None:
        super().__init__(transport, channel)
        self._transport = transport
        self.dispatcher = dispatcher

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        await message.ack()
        await self._transport._serve(self.dispatcher, message.body, message.reply_to, message.correlation_id)


class _Subscriber(_AMQPListener):
    def __init__(
        self, transport: AMQPTransport, channel: AbstractChannel, callback: NotificationCallback
    ) -> None:
        super().__init__(transport, channel)
        self.callback = callback

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        await deliver_notification(self.callback, message.body)
        await message.ack()


class AMQPTransport(Transport):
    """RPC through a RabbitMQ broker at ``url`` (``amqp://user:password@host:port/vhost``).

    ``namespace`` prefixes every exchange and queue, so that several clouds (or
    test runs) can share a broker. ``queue_expiry`` (seconds, ``None`` for
    never) removes RPC queues left without consumers;
    ``notification_queue_expiry`` and ``notification_max_length`` bound what
    piles up in notification queues nobody drains (the oldest are dropped
    first). The connection is re-established automatically when it drops.
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "litestack",
        queue_expiry: float | None = 3600.0,
        notification_queue_expiry: float | None = None,
        notification_max_length: int | None = 100_000,
        max_concurrency: int = 64,
        connect_timeout: float = 10.0,
    ) -> None:
        super().__init__(max_concurrency=max_concurrency)
        scheme, sep, rest = url.partition("://")
        if not sep or scheme not in ("amqp", "amqps", "rabbit"):
            raise ValueError(f"not an AMQP URL: {redact_url(url)}")
        self.url = ("amqp" if scheme == "rabbit" else scheme) + "://" + rest
        if not namespace or any(c in namespace for c in " *#"):
            raise ValueError(f"invalid AMQP namespace {namespace!r}")
        self.namespace = namespace
        self.queue_expiry = queue_expiry
        self.notification_queue_expiry = notification_queue_expiry
        self.notification_max_length = notification_max_length
        self.connect_timeout = connect_timeout
        self._reply_queue_name = f"{namespace}.reply.{uuid.uuid4().hex}"
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._rpc_exchange: AbstractExchange | None = None
        self._fanout_exchange: AbstractExchange | None = None
        self._notification_exchange: AbstractExchange | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {redact_url(self.url)} namespace={self.namespace!r}>"

    @property
    def exchange_names(self) -> tuple[str, str, str]:
        """The RPC, fanout and notification exchanges of this namespace."""
        return self.namespace, f"{self.namespace}.fanout", f"{self.namespace}.notifications"

    # --- lifecycle ---------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Started, and the broker connection is up (a robust connection that lost the broker
        reconnects in the background, and is closed meanwhile)."""
        conn = self._connection
        return self._started and conn is not None and not conn.is_closed and conn.connected.is_set()

    async def _start(self) -> None:
        try:
            self._connection = await aio_pika.connect_robust(self.url, timeout=self.connect_timeout)
        except Exception as exc:
            raise RPCError(f"cannot connect to the message bus at {redact_url(self.url)}: "
                           f"{_connect_failure(self.url, exc)}") from None
        try:
            self._channel = channel = await self._connection.channel()
            rpc, fanout, notifications = self.exchange_names
            self._rpc_exchange = await channel.declare_exchange(
                rpc, aio_pika.ExchangeType.TOPIC, durable=True
            )
            self._fanout_exchange = await channel.declare_exchange(
                fanout, aio_pika.ExchangeType.DIRECT, durable=True
            )
            self._notification_exchange = await channel.declare_exchange(
                notifications, aio_pika.ExchangeType.TOPIC, durable=True
            )
            reply_queue = await channel.declare_queue(
                self._reply_queue_name, exclusive=True, auto_delete=True
            )
            await reply_queue.consume(self._on_reply_message, no_ack=True)
        except BaseException:
            await self._connection.close()
            self._connection = None
            raise

    async def _stop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def _on_reply_message(self, message: AbstractIncomingMessage) -> None:
        self._on_reply(message.correlation_id, message.body)

    # --- sending -----------------------------------------------------------

    @property
    def _reply_address(self) -> str:
        return self._reply_queue_name

    async def _send(
        self, exchange: AbstractExchange | None, routing_key: str, message: aio_pika.Message
    ) -> None:
        if exchange is None:
            raise RPCError(f"{type(self).__name__} is not started")
        try:
            await exchange.publish(message, routing_key=routing_key, mandatory=False)
        except (aio_pika.exceptions.AMQPError, ConnectionError) as exc:
            raise RPCError(f"cannot publish to the message bus: {exc}") from exc

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
        message = aio_pika.Message(
            body, content_type=_JSON, reply_to=reply_to, correlation_id=correlation_id, expiration=ttl
        )
        routing_key = topic if server is None else f"{topic}.{server}"
        await self._send(self._rpc_exchange, routing_key, message)

    async def _publish_fanout(self, topic: str, body: bytes) -> None:
        await self._send(self._fanout_exchange, topic, aio_pika.Message(body, content_type=_JSON))

    async def _publish_notification(self, priority: str, body: bytes) -> None:
        message = aio_pika.Message(body, content_type=_JSON, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        await self._send(self._notification_exchange, f"notifications.{priority}", message)

    async def _send_reply(self, reply_to: str, correlation_id: str, body: bytes) -> None:
        if self._channel is None:
            raise RPCError(f"{type(self).__name__} is not started")
        message = aio_pika.Message(body, content_type=_JSON, correlation_id=correlation_id)
        await self._send(self._channel.default_exchange, reply_to, message)

    # --- receiving ---------------------------------------------------------

    async def _open_channel(self) -> AbstractChannel:
        if self._connection is None:
            raise RPCError(f"{type(self).__name__} is not started")
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self.max_concurrency)
        return channel

    async def _listen(self, topic: str, server: str | None, dispatcher: Dispatcher) -> Listener:
        channel = await self._open_channel()
        listener = _RPCListener(self, channel, dispatcher)
        try:
            ns = self.namespace
            arguments = _queue_arguments(self.queue_expiry)
            keys = [topic] if server is None else [topic, f"{topic}.{server}"]
            for key in keys:
                queue = await channel.declare_queue(f"{ns}.rpc.{key}", arguments=arguments)
                await queue.bind(self.exchange_names[0], routing_key=key)
                await listener.consume(queue)
            fanout_queue = await channel.declare_queue(
                f"{ns}.fanout.{topic}.{uuid.uuid4().hex[:12]}", exclusive=True, auto_delete=True
            )
            await fanout_queue.bind(self.exchange_names[1], routing_key=topic)
            await listener.consume(fanout_queue)
        except BaseException:
            await listener.stop(grace=0)
            raise
        return listener

    async def _subscribe(self, priority: str, pool: str | None, callback: NotificationCallback,
                         transient: bool) -> Listener:
        channel = await self._open_channel()
        subscriber = _Subscriber(self, channel, callback)
        try:
            name = f"{self.namespace}.notifications.{priority}" + (f".{pool}" if pool else "")
            if transient:
                # Deleted by the broker when this connection goes, however it goes (a crash too):
                # a per-process pool must not pile up one queue per start.
                queue = await channel.declare_queue(
                    name, exclusive=True, auto_delete=True,
                    arguments=_queue_arguments(None, self.notification_max_length))
            else:
                queue = await channel.declare_queue(
                    name,
                    durable=True,
                    arguments=_queue_arguments(self.notification_queue_expiry, self.notification_max_length),
                )
            await queue.bind(self.exchange_names[2], routing_key=f"notifications.{priority}")
            await subscriber.consume(queue)
        except BaseException:
            await subscriber.stop(grace=0)
            raise
        return subscriber
