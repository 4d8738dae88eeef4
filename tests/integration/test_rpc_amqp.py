"""The RPC transport contract on RabbitMQ, plus the AMQP transport's broker layout.

Needs RabbitMQ at ``LITESTACK_TEST_AMQP_URL`` (default amqp://guest:guest@127.0.0.1:5672/).
Skipped when it cannot be reached, except under CI (``CI`` set), where that fails.
Each test uses its own namespace; its exchanges are deleted afterwards and its
queues expire by themselves seconds after their consumers are gone.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
import pytest

from litestack.common.rpc import RPCError, Transport, get_transport
from litestack.common.rpc.amqp import AMQPTransport

try:
    from tests.unit.common.rpc.contract import (
        Inbox,
        TransportContract,
        TransportFactory,
        Worker,
        eventually,
        unique,
    )
except ModuleNotFoundError:
    # tests/integration is not a package, so pytest did not put the repository root on sys.path.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.unit.common.rpc.contract import (
        Inbox,
        TransportContract,
        TransportFactory,
        Worker,
        eventually,
        unique,
    )

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]

AMQP_URL = os.environ.get("LITESTACK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


@functools.cache
def _broker_problem() -> str | None:
    parts = urlsplit(AMQP_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout=2):
            return None
    except OSError as exc:
        return f"RabbitMQ is not reachable at {parts.hostname}:{parts.port or 5672}: {exc}"


def require_broker() -> None:
    problem = _broker_problem()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{problem} (CI is set, so the AMQP suite must run)")
    pytest.skip(problem)


def make_transport(namespace: str) -> AMQPTransport:
    # Short expiries: what a test leaves behind disappears from the broker by itself.
    return AMQPTransport(AMQP_URL, namespace=namespace, queue_expiry=10, notification_queue_expiry=10)


async def delete_exchanges(namespace: str) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        for name in make_transport(namespace).exchange_names:
            await channel.exchange_delete(name)


@pytest.fixture
async def namespace() -> AsyncIterator[str]:
    require_broker()
    namespace = f"test-{uuid.uuid4().hex[:12]}"
    yield namespace
    await delete_exchanges(namespace)


class TestAMQPTransport(TransportContract):
    @pytest.fixture
    async def transport_factory(self, namespace: str) -> AsyncIterator[TransportFactory]:
        made: list[Transport] = []

        async def factory() -> Transport:
            transport = make_transport(namespace)
            await transport.start()
            made.append(transport)
            return transport

        yield factory
        for transport in made:
            await transport.stop(grace=0.5)


async def test_broker_layout_follows_the_namespace(namespace: str) -> None:
    topic, pool = unique(), unique("pool")
    async with make_transport(namespace) as transport:
        await transport.listen(topic, Worker(), server="host-1")
        await transport.subscribe(Inbox(), priority="info", pool=pool)
        await transport.subscribe(Inbox(), priority="error")
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            for name in (
                f"{namespace}.rpc.{topic}",
                f"{namespace}.rpc.{topic}.host-1",
                f"{namespace}.notifications.info.{pool}",
                f"{namespace}.notifications.error",
            ):
                queue = await channel.declare_queue(name, passive=True)
                assert queue.declaration_result.consumer_count == 1, name
            for name in (namespace, f"{namespace}.fanout", f"{namespace}.notifications"):
                await channel.get_exchange(name, ensure=True)


async def test_notification_queues_keep_events_for_a_pool_while_it_is_away(namespace: str) -> None:
    pool = unique("pool")
    async with make_transport(namespace) as transport:
        subscription = await transport.subscribe(Inbox(), pool=pool)
        await subscription.stop()
        await transport.notify("compute.instance.update", {"n": 1}, publisher_id="compute")
        inbox = Inbox()
        await transport.subscribe(inbox, pool=pool)
        await eventually(lambda: inbox.event_types == ["compute.instance.update"])


async def test_get_transport_understands_rabbit_urls(namespace: str) -> None:
    rabbit_url = "rabbit://" + AMQP_URL.partition("://")[2]
    transport = get_transport(rabbit_url, namespace=namespace, queue_expiry=10)
    assert isinstance(transport, AMQPTransport)
    async with transport:
        topic = unique()
        await transport.listen(topic, Worker("rabbit"))
        assert await transport.call(topic, "whoami", timeout=5) == "rabbit"


async def test_unreachable_broker_is_an_rpc_error_without_the_password() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transport = AMQPTransport(f"amqp://guest:s3cr3t-pw@127.0.0.1:{port}/", connect_timeout=3)
    with pytest.raises(RPCError) as info:
        await transport.start()
    assert "s3cr3t-pw" not in str(info.value)
    assert "***" in str(info.value)
    assert "s3cr3t-pw" not in repr(transport)


async def test_a_namespace_in_the_url_keeps_two_clouds_apart(namespace: str) -> None:
    """``?namespace=`` in the transport URL prefixes every exchange and queue: two transports on one
    broker and vhost, listening on the same topic, each answer only their own callers."""
    sep = "&" if "?" in AMQP_URL else "?"
    first = get_transport(f"{AMQP_URL}{sep}namespace={namespace}-a", queue_expiry=10)
    second = get_transport(f"{AMQP_URL}{sep}namespace={namespace}-b", queue_expiry=10)
    assert isinstance(first, AMQPTransport) and first.namespace == f"{namespace}-a"
    assert "namespace" not in first.url
    async with first, second:
        topic = unique()
        await first.listen(topic, Worker("first"))
        await second.listen(topic, Worker("second"))
        for _ in range(5):
            assert await first.call(topic, "whoami", timeout=5) == "first"
            assert await second.call(topic, "whoami", timeout=5) == "second"
