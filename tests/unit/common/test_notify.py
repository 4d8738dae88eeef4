"""Notifications reach the bus from the loop and from worker threads, with the request's context."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from litestack.common.context import RequestContext, reset_current, set_current
from litestack.common.notify import Notifier
from litestack.common.rpc.inproc import InProcTransport
from litestack.common.rpc.message import Notification

pytestmark = pytest.mark.unit


def test_emitted_from_the_loop_and_from_a_thread_with_the_request_context() -> None:
    async def go() -> list[Notification]:
        bus = InProcTransport()
        await bus.start()
        got: list[Notification] = []
        arrived = asyncio.Event()

        def on(n: Notification) -> None:
            got.append(n)
            if len(got) == 2:
                arrived.set()

        await bus.subscribe(on)
        notifier = Notifier("image", host="h1")
        notifier.bind(bus)
        token = set_current(RequestContext(request_id="req-1", global_request_id="req-0", project_id="p"))
        try:
            notifier.emit("image.create", {"id": "a"})
            # From a worker thread (as a manager commits), as run_blocking calls it.
            await anyio.to_thread.run_sync(notifier.emit, "image.delete", {"id": "a"})
        finally:
            reset_current(token)
        await asyncio.wait_for(arrived.wait(), 5)
        await bus.stop()
        return got

    got = sorted(asyncio.run(go()), key=lambda n: n.event_type)
    assert [(n.event_type, n.payload, n.publisher_id) for n in got] == [
        ("image.create", {"id": "a"}, "image.h1"), ("image.delete", {"id": "a"}, "image.h1")]
    for n in got:
        assert n.context is not None
        assert (n.context["request_id"], n.context["global_request_id"]) == ("req-1", "req-0")
        assert "auth_token" not in n.context


def test_unbound_or_failing_bus_never_fails_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []
    notifier = Notifier("image", host="h1")
    notifier.listeners.append(lambda event, payload: seen.append(event))
    notifier.emit("image.create", {"id": "a"})  # not bound: local listeners only
    assert seen == ["image.create"]

    class Broken(InProcTransport):
        async def notify(self, *a: object, **k: object) -> None:
            raise ConnectionError("bus down")

    async def go() -> None:
        bus = Broken()
        await bus.start()
        notifier.bind(bus)
        notifier.emit("image.update", {"id": "a"})
        await notifier.drain()
        await bus.stop()

    asyncio.run(go())
    assert "notification image.update not sent: ConnectionError: bus down" in caplog.text
