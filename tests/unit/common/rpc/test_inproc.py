"""The transport contract on the in-process bus and on the recording fake, plus in-process specifics."""

from __future__ import annotations

import asyncio
import contextvars
import uuid
from collections.abc import AsyncIterator

import pytest

from litestack.common.rpc import RPCError, Transport
from litestack.common.rpc import message as msg
from litestack.common.rpc.fake import RecordingTransport
from litestack.common.rpc.inproc import InProcTransport
from tests.unit.common.rpc.contract import TransportContract, TransportFactory, Worker, eventually, unique

pytestmark = [pytest.mark.unit, pytest.mark.timeout(10)]


class TestInProcTransport(TransportContract):
    short_timeout = 0.1

    @pytest.fixture
    async def transport_factory(self) -> AsyncIterator[TransportFactory]:
        bus = f"test-{uuid.uuid4()}"
        made: list[Transport] = []

        async def factory() -> Transport:
            transport = InProcTransport(bus)
            await transport.start()
            made.append(transport)
            return transport

        yield factory
        for transport in made:
            await transport.stop(grace=0.5)


class TestRecordingTransport(TransportContract):
    short_timeout = 0.1

    @pytest.fixture
    async def transport_factory(self) -> AsyncIterator[TransportFactory]:
        bus = f"test-{uuid.uuid4()}"
        made: list[Transport] = []

        async def factory() -> Transport:
            transport = RecordingTransport(bus)
            await transport.start()
            made.append(transport)
            return transport

        yield factory
        for transport in made:
            await transport.stop(grace=0.5)


_probe: contextvars.ContextVar[str] = contextvars.ContextVar("probe", default="unset")


class Peek:
    rpc_methods = ("probe",)

    async def probe(self) -> str:
        return _probe.get()


async def test_buses_with_different_names_are_isolated() -> None:
    topic = unique()
    async with InProcTransport(f"a-{uuid.uuid4()}") as one, InProcTransport(f"b-{uuid.uuid4()}") as other:
        await one.listen(topic, Worker("one"))
        assert await one.call(topic, "whoami", timeout=2) == "one"
        with pytest.raises(Exception, match="No reply"):
            await other.call(topic, "whoami", timeout=0.2)


async def test_handlers_do_not_inherit_the_callers_context_variables() -> None:
    # Across processes nothing but the message travels; the in-process bus must not leak more.
    topic = unique()
    async with InProcTransport(f"t-{uuid.uuid4()}") as transport:
        await transport.listen(topic, Peek())
        token = _probe.set("caller")
        try:
            assert await transport.call(topic, "probe", timeout=2) == "unset"
        finally:
            _probe.reset(token)


async def test_receivers_get_their_own_copy_of_the_args() -> None:
    topic = unique()
    args = {"items": [1, 2]}
    async with InProcTransport(f"t-{uuid.uuid4()}") as transport:
        one, two = Worker(), Worker()
        await transport.listen(topic, one)
        await transport.listen(topic, two)
        result = await transport.call(topic, "echo", args, timeout=2)
        result["items"].append(3)
        assert args == {"items": [1, 2]}


async def test_transport_stop_waits_for_running_handlers_then_cancels() -> None:
    topic = unique()
    transport = InProcTransport(f"t-{uuid.uuid4()}")
    await transport.start()
    worker = Worker()
    listener = await transport.listen(topic, worker)
    await transport.cast(topic, "wait_for_release")
    await transport.cast(topic, "record", {"n": 1})
    await asyncio.wait_for(worker.waiting.wait(), 5)
    await eventually(lambda: worker.received == [1])
    assert len(listener.in_flight._tasks) == 1
    await transport.stop(grace=0.1)
    assert not listener.in_flight._tasks
    assert not transport.started


async def test_malformed_messages_get_an_error_reply_and_do_not_stop_the_listener() -> None:
    topic = unique()
    async with InProcTransport(f"t-{uuid.uuid4()}") as transport:
        await transport.listen(topic, Worker())
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        transport._pending["c-1"] = future
        await transport._publish(
            topic, None, b"{not json", reply_to=transport._reply_address, correlation_id="c-1"
        )
        with pytest.raises(RPCError, match="malformed"):
            msg.result_from_reply(await asyncio.wait_for(future, 2))
        assert await transport.call(topic, "add", {"a": 1, "b": 1}, timeout=2) == 2
