"""The recording transport: what it logs, and calls answered by stubs."""

from __future__ import annotations

import pytest

from litestack.common.context import RequestContext, reset_current, set_current
from litestack.common.errors import NotFound
from litestack.common.rpc import RPCClient, RPCTimeout
from litestack.common.rpc.fake import RecordingTransport, SentMessage
from tests.unit.common.rpc.contract import Inbox, Worker, eventually, unique

pytestmark = [pytest.mark.unit, pytest.mark.timeout(10)]


async def test_every_sent_message_is_recorded_in_order_with_its_context() -> None:
    topic = unique()
    ctx = RequestContext(global_request_id="req-global", user_id="u")
    async with RecordingTransport() as bus:
        worker, inbox = Worker(), Inbox()
        await bus.listen(topic, worker, server="h1")
        await bus.subscribe(inbox)
        token = set_current(ctx)
        try:
            assert await bus.call(topic, "add", {"a": 1, "b": 2}, server="h1", timeout=3, version="1.1") == 3
            await bus.cast(topic, "record", {"n": 1})
            await bus.fanout(topic, "record", {"n": 2})
            await bus.notify("compute.instance.create.end", {"id": "i"}, priority="info", publisher_id="c.h1")
        finally:
            reset_current(token)
        await eventually(lambda: sorted(worker.received) == [1, 2] and len(inbox.items) == 1)
    assert [(m.kind, m.topic, m.method, m.args, m.server) for m in bus.calls] == [
        ("call", topic, "add", {"a": 1, "b": 2}, "h1"),
        ("cast", topic, "record", {"n": 1}, None),
        ("fanout", topic, "record", {"n": 2}, None),
        ("notify", "notifications.info", "compute.instance.create.end", {"id": "i"}, "c.h1"),
    ]
    assert (bus.calls[0].timeout, bus.calls[0].version) == (3, "1.1")
    assert all(m.context is not None and m.context["request_id"] == ctx.request_id for m in bus.calls)
    assert all("auth_token" not in (m.context or {}) for m in bus.calls)


async def test_records_are_copies_of_what_was_sent() -> None:
    args = {"items": [1]}
    async with RecordingTransport() as bus:
        await bus.cast(unique(), "record", args)
    args["items"].append(2)
    assert bus.calls[0].args == {"items": [1]}


async def test_messages_that_cannot_be_sent_are_not_recorded() -> None:
    async with RecordingTransport() as bus:
        with pytest.raises(TypeError):
            await bus.cast(unique(), "record", {"n": {1, 2}})
        with pytest.raises(ValueError):
            await bus.notify("a.b", {}, priority="loud", publisher_id="p")
    assert bus.calls == []


async def test_stubbed_calls_answer_without_a_listener() -> None:
    async with RecordingTransport() as bus:
        bus.stub("scheduler", "select_destinations", result=[{"host": "node1"}])
        bus.stub("image", "show", error=NotFound("no such image"))
        client = RPCClient(bus, "scheduler", "1.2")
        first = await client.call("select_destinations", spec={"ram": 1})
        first.append("mutated")
        assert await client.call("select_destinations", spec={"ram": 1}) == [{"host": "node1"}]
        with pytest.raises(NotFound, match="no such image"):
            await bus.call("image", "show", {"id": "x"}, timeout=1)
        with pytest.raises(RPCTimeout):  # not stubbed and nobody listens
            await bus.call("scheduler", "other", timeout=0.05)
    assert [m.method for m in bus.sent("call", topic="scheduler")] == [
        "select_destinations",
        "select_destinations",
        "other",
    ]
    assert bus.sent(method="show") == [
        SentMessage("call", "image", "show", {"id": "x"}, timeout=1, context=bus.calls[2].context)
    ]


def test_stub_refuses_results_that_could_not_travel() -> None:
    with pytest.raises(TypeError):
        RecordingTransport().stub("t", "m", result=object())


async def test_unnamed_recording_transports_have_private_buses() -> None:
    topic = unique()
    async with RecordingTransport() as one, RecordingTransport() as other:
        await one.listen(topic, Worker())
        with pytest.raises(RPCTimeout):
            await other.call(topic, "add", {"a": 1, "b": 1}, timeout=0.05)
        assert await one.call(topic, "add", {"a": 1, "b": 1}, timeout=1) == 2


async def test_clear_forgets_the_log() -> None:
    async with RecordingTransport() as bus:
        await bus.cast(unique(), "x")
        bus.clear()
    assert bus.calls == []
