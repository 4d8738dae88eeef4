"""The contract every RPC transport honours, written once and run against each of them.

A test module subclasses ``TransportContract`` and provides the
``transport_factory`` fixture: an async callable that returns a new, started
transport on the same bus as the others it returned during the test (like
separate processes sharing one broker), and stops them all at teardown.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from litestack.common.context import RequestContext, get_current, reset_current, set_current
from litestack.common.errors import Conflict, NotFound
from litestack.common.rpc import (
    Notification,
    RemoteError,
    RPCClient,
    RPCError,
    RPCTimeout,
    Transport,
    UnknownMethod,
    UnsupportedVersion,
)

TransportFactory = Callable[[], Awaitable[Transport]]


def unique(prefix: str = "t") -> str:
    """A topic or pool name no other test uses (AMQP queues outlive a test for a while)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


class Worker:
    """An endpoint; ``not_exported`` is public but deliberately missing from ``rpc_methods``."""

    rpc_methods = (
        "add",
        "echo",
        "sync_add",
        "whoami",
        "context",
        "conflict",
        "crash",
        "bad_result",
        "record",
        "wait_for_release",
        "release",
        "nested_context",
    )
    rpc_version = "1.3"

    def __init__(self, name: str = "w", transport: Transport | None = None) -> None:
        self.name = name
        self.transport = transport
        self.received: list[Any] = []
        self.contexts: list[RequestContext | None] = []
        self.released = asyncio.Event()
        #: Set when a ``wait_for_release`` call has reached the handler.
        self.waiting = asyncio.Event()

    async def add(self, a: int, b: int) -> int:
        return a + b

    async def echo(self, **kwargs: Any) -> dict[str, Any]:
        return kwargs

    def sync_add(self, a: int, b: int) -> int:
        return a + b

    async def whoami(self) -> str:
        return self.name

    async def context(self) -> dict[str, Any] | None:
        ctx = get_current()
        return None if ctx is None else ctx.to_dict(include_token=True)

    async def conflict(self, name: str) -> None:
        raise Conflict(f"name {name} is in use", resource="server", name=name)

    async def crash(self) -> None:
        raise KeyError("boom")

    async def bad_result(self) -> Any:
        return {1, 2}

    async def record(self, n: int) -> None:
        self.received.append(n)
        self.contexts.append(get_current())

    async def wait_for_release(self) -> str:
        self.waiting.set()
        await self.released.wait()
        return "released"

    async def release(self) -> None:
        self.released.set()

    async def nested_context(self, topic: str) -> Any:
        assert self.transport is not None
        return await self.transport.call(topic, "context", timeout=5)

    def not_exported(self) -> str:
        return "secret"


class Inbox:
    """A notification subscriber callback that keeps what it gets."""

    def __init__(self) -> None:
        self.items: list[Notification] = []
        self.contexts: list[RequestContext | None] = []

    async def __call__(self, notification: Notification) -> None:
        self.items.append(notification)
        self.contexts.append(get_current())

    @property
    def event_types(self) -> list[str]:
        return [n.event_type for n in self.items]


class TransportContract:
    """Behaviour shared by every transport. Not collected by itself (no ``Test`` prefix)."""

    #: A call timeout that is short, but long enough for a healthy round trip.
    short_timeout = 0.3

    # A stray (duplicate or misrouted) delivery is shown absent with a barrier, not by waiting a
    # while: a message sent afterwards on the same path. A listener handles its deliveries in
    # order (each handler starts before the next delivery's), so once the barrier got through,
    # anything sent before it on that path has been seen.

    async def call_barrier(self, sender: Transport, topic: str, names: set[str], server: str | None = None) -> None:
        """Call ``whoami`` on ``topic`` (or on one ``server`` of it) until each of the workers
        ``names`` has answered once."""
        answered: set[str] = set()
        for _ in range(100):
            answered.add(await sender.call(topic, "whoami", timeout=5, server=server))
            if answered >= names:
                return
        raise AssertionError(f"only {answered} of {names} answered")

    async def fanout_barrier(self, sender: Transport, topic: str, workers: list[Worker]) -> None:
        """Fan ``-1`` out on ``topic`` and wait until every one of ``workers`` has recorded it."""
        await sender.fanout(topic, "record", {"n": -1})
        await eventually(lambda: all(-1 in w.received for w in workers))
        for w in workers:
            w.received.remove(-1)

    async def notify_barrier(self, publisher: Transport, inboxes: list[list[Inbox]]) -> None:
        """Publish a ``barrier`` event and wait until one inbox of each group (a pool) has it."""
        await publisher.notify("barrier", {}, publisher_id="barrier")
        await eventually(lambda: all(any("barrier" in i.event_types for i in group) for group in inboxes))
        for group in inboxes:
            for inbox in group:
                inbox.items = [n for n in inbox.items if n.event_type != "barrier"]

    @pytest.fixture
    async def transport(self, transport_factory: TransportFactory) -> Transport:
        return await transport_factory()

    # --- call --------------------------------------------------------------

    async def test_call_returns_the_handler_result(self, transport: Transport) -> None:
        topic = unique()
        await transport.listen(topic, Worker())
        assert await transport.call(topic, "add", {"a": 2, "b": 3}, timeout=5) == 5

    async def test_call_passes_args_as_keyword_arguments(self, transport: Transport) -> None:
        topic = unique()
        await transport.listen(topic, Worker())
        args = {
            "name": "vm-1",
            "tags": ["a", "é"],
            "spec": {"ram": 512, "ratio": 1.5, "gpu": None},
            "on": True,
        }
        assert await transport.call(topic, "echo", args, timeout=5) == args

    async def test_call_runs_plain_sync_methods(self, transport: Transport) -> None:
        topic = unique()
        await transport.listen(topic, Worker())
        assert await transport.call(topic, "sync_add", {"a": 40, "b": 2}, timeout=5) == 42

    async def test_call_between_transports(self, transport_factory: TransportFactory) -> None:
        server_side, client_side = await transport_factory(), await transport_factory()
        topic = unique()
        await server_side.listen(topic, Worker("remote"))
        assert await client_side.call(topic, "whoami", timeout=5) == "remote"

    async def test_call_to_a_server_reaches_only_that_server(
        self, transport_factory: TransportFactory
    ) -> None:
        client, host_a, host_b = (
            await transport_factory(),
            await transport_factory(),
            await transport_factory(),
        )
        topic = unique()
        await host_a.listen(topic, Worker("a"), server="host-a")
        await host_b.listen(topic, Worker("b"), server="node-b.example.org")
        for _ in range(5):
            assert await client.call(topic, "whoami", server="node-b.example.org", timeout=5) == "b"
            assert await client.call(topic, "whoami", server="host-a", timeout=5) == "a"
        # Without a server the topic's calls are shared by both.
        answers = {await client.call(topic, "whoami", timeout=5) for _ in range(10)}
        assert answers == {"a", "b"}

    async def test_call_times_out_when_the_handler_is_too_slow(self, transport: Transport) -> None:
        topic = unique()
        worker = Worker()
        await transport.listen(topic, worker)
        started = time.monotonic()
        with pytest.raises(RPCTimeout) as info:
            await transport.call(topic, "wait_for_release", timeout=self.short_timeout)
        elapsed = time.monotonic() - started
        worker.released.set()
        assert self.short_timeout * 0.9 <= elapsed < self.short_timeout + 1
        assert (info.value.topic, info.value.method, info.value.timeout) == (
            topic,
            "wait_for_release",
            self.short_timeout,
        )

    async def test_call_times_out_when_nobody_listens(self, transport: Transport) -> None:
        started = time.monotonic()
        with pytest.raises(RPCTimeout):
            await transport.call(unique(), "add", {"a": 1, "b": 1}, timeout=self.short_timeout)
        assert time.monotonic() - started < self.short_timeout + 1

    async def test_handlers_run_concurrently(self, transport: Transport) -> None:
        topic = unique()
        worker = Worker()
        await transport.listen(topic, worker)
        waiting = asyncio.create_task(transport.call(topic, "wait_for_release", timeout=5))
        await asyncio.wait_for(worker.waiting.wait(), 5)
        # Only the same listener can release it: a listener that ran one message at a time would deadlock.
        await transport.call(topic, "release", timeout=5)
        assert await waiting == "released"

    # --- cast and fanout ---------------------------------------------------

    async def test_cast_reaches_exactly_one_of_the_listeners(
        self, transport_factory: TransportFactory
    ) -> None:
        sender, first, second = (
            await transport_factory(),
            await transport_factory(),
            await transport_factory(),
        )
        topic = unique()
        one, two = Worker("one"), Worker("two")
        await first.listen(topic, one)
        await second.listen(topic, two, server="host-2")
        for n in range(10):
            await sender.cast(topic, "record", {"n": n})
        await eventually(lambda: len(one.received) + len(two.received) >= 10)
        await self.call_barrier(sender, topic, {"one", "two"})
        assert sorted(one.received + two.received) == list(range(10))
        assert one.received and two.received, "casts to a topic are shared among its listeners"

    async def test_cast_to_a_server_reaches_only_that_server(self, transport: Transport) -> None:
        topic = unique()
        one, two = Worker("one"), Worker("two")
        await transport.listen(topic, one, server="host-1")
        await transport.listen(topic, two, server="host-2")
        for n in range(4):
            await transport.cast(topic, "record", {"n": n}, server="host-2")
        await eventually(lambda: len(two.received) == 4)
        await self.call_barrier(transport, topic, {"one"}, server="host-1")
        await self.call_barrier(transport, topic, {"one", "two"})
        assert one.received == []
        assert sorted(two.received) == [0, 1, 2, 3]

    async def test_fanout_reaches_every_listener_once(self, transport_factory: TransportFactory) -> None:
        sender, other = await transport_factory(), await transport_factory()
        topic = unique()
        workers = [Worker(str(i)) for i in range(3)]
        await sender.listen(topic, workers[0])
        await other.listen(topic, workers[1], server="host-1")
        await other.listen(topic, workers[2], server="host-2")
        await sender.fanout(topic, "record", {"n": 7})
        await eventually(lambda: all(w.received for w in workers))
        await self.fanout_barrier(sender, topic, workers)
        assert [w.received for w in workers] == [[7], [7], [7]]

    async def test_fanout_does_not_reach_other_topics(self, transport: Transport) -> None:
        topic, other_topic = unique(), unique()
        mine, other = Worker(), Worker()
        await transport.listen(topic, mine)
        await transport.listen(other_topic, other)
        await transport.fanout(topic, "record", {"n": 1})
        await eventually(lambda: mine.received == [1])
        await self.fanout_barrier(transport, other_topic, [other])
        assert other.received == []

    async def test_a_failing_cast_does_not_stop_the_listener(self, transport: Transport) -> None:
        topic = unique()
        await transport.listen(topic, Worker())
        await transport.cast(topic, "crash")
        await transport.cast(topic, "no_such_method")
        assert await transport.call(topic, "add", {"a": 1, "b": 2}, timeout=5) == 3

    # --- notifications -----------------------------------------------------

    async def test_notify_gives_each_pool_one_copy(self, transport_factory: TransportFactory) -> None:
        publisher, consumer = await transport_factory(), await transport_factory()
        pool_a, pool_b = unique("pool"), unique("pool")
        default, a1, a2, b1, errors_only = Inbox(), Inbox(), Inbox(), Inbox(), Inbox()
        await consumer.subscribe(default)
        await consumer.subscribe(a1, pool=pool_a)
        await publisher.subscribe(a2, pool=pool_a)
        await consumer.subscribe(b1, pool=pool_b)
        await consumer.subscribe(errors_only, priority="error", pool=pool_b)
        sent = [f"compute.instance.create.{n}" for n in range(6)]
        for event_type in sent:
            await publisher.notify(event_type, {"id": event_type}, publisher_id="compute.host1")
        await eventually(
            lambda: len(default.items) == 6 and len(b1.items) == 6 and len(a1.items) + len(a2.items) == 6
        )
        await self.notify_barrier(publisher, [[default], [a1, a2], [b1]])
        await publisher.notify("barrier", {}, priority="error", publisher_id="barrier")
        await eventually(lambda: errors_only.event_types == ["barrier"])
        errors_only.items.clear()
        assert sorted(default.event_types) == sent
        assert sorted(b1.event_types) == sent
        assert sorted(a1.event_types + a2.event_types) == sent, "a pool gets each event once"
        assert a1.items and a2.items, "subscribers of one pool share its events"
        assert errors_only.items == []

    async def test_notification_carries_its_envelope(self, transport: Transport) -> None:
        inbox = Inbox()
        pool = unique("pool")
        await transport.subscribe(inbox, priority="error", pool=pool)
        before = datetime.datetime.now(datetime.UTC)
        await transport.notify(
            "volume.attach.error",
            {"volume_id": "v1", "size": 2},
            priority="error",
            publisher_id="volume.host2",
        )
        await eventually(lambda: len(inbox.items) == 1)
        note = inbox.items[0]
        assert (note.event_type, note.payload, note.priority, note.publisher_id) == (
            "volume.attach.error",
            {"volume_id": "v1", "size": 2},
            "error",
            "volume.host2",
        )
        uuid.UUID(note.message_id)
        stamp = datetime.datetime.fromisoformat(note.timestamp)
        assert stamp.utcoffset() == datetime.timedelta(0)
        assert before - datetime.timedelta(seconds=1) <= stamp <= datetime.datetime.now(datetime.UTC)

    async def test_sync_subscriber_callbacks_work(self, transport: Transport) -> None:
        seen: list[str] = []
        await transport.subscribe(lambda note: seen.append(note.event_type), pool=unique("pool"))
        await transport.notify("image.update", {}, publisher_id="image")
        await eventually(lambda: seen == ["image.update"])

    async def test_notify_rejects_unknown_priority(self, transport: Transport) -> None:
        with pytest.raises(ValueError):
            await transport.notify("x.y", {}, priority="shout", publisher_id="p")

    # --- errors ------------------------------------------------------------

    async def test_remote_litestack_error_is_raised_as_its_own_class(self, transport: Transport) -> None:
        topic = unique()
        await transport.listen(topic, Worker())
        with pytest.raises(Conflict) as info:
            await transport.call(topic, "conflict", {"name": "web"}, timeout=5)
        assert info.value.message == "name web is in use"
        assert info.value.data == {"resource": "server", "name": "web"}
        assert info.value.status == 409
        assert not isinstance(info.value, NotFound)

    async def test_other_remote_errors_become_remote_error_without_traceback(
        self, transport: Transport, caplog: pytest.LogCaptureFixture
    ) -> None:
        topic = unique()
        await transport.listen(topic, Worker())
        ctx = RequestContext(global_request_id=f"req-{uuid.uuid4()}")
        token = set_current(ctx)
        try:
            with caplog.at_level(logging.ERROR, logger="litestack.common.rpc"):
                with pytest.raises(RemoteError) as info:
                    await transport.call(topic, "crash", timeout=5)
        finally:
            reset_current(token)
        assert info.value.exc_type == "KeyError"
        assert "boom" in str(info.value)
        assert "Traceback" not in str(info.value) and "crash" not in str(info.value)
        # The server logged it, with the request IDs and the traceback.
        logged = [r for r in caplog.records if ctx.request_id in r.getMessage()]
        assert logged and logged[0].exc_info is not None
        assert ctx.global_request_id is not None and ctx.global_request_id in logged[0].getMessage()

    async def test_result_that_is_not_json_is_a_remote_error(self, transport: Transport) -> None:
        topic = unique()
        await transport.listen(topic, Worker())
        with pytest.raises(RemoteError) as info:
            await transport.call(topic, "bad_result", timeout=5)
        assert info.value.exc_type == "TypeError"

    async def test_args_that_are_not_json_are_refused_at_the_sender(self, transport: Transport) -> None:
        topic = unique()
        worker = Worker()
        await transport.listen(topic, worker)
        with pytest.raises(TypeError):
            await transport.cast(topic, "record", {"n": object()})
        with pytest.raises(TypeError):
            await transport.call(topic, "echo", {"when": datetime.datetime.now()}, timeout=5)

    async def test_unknown_method_is_refused(self, transport: Transport) -> None:
        topic = unique()
        await transport.listen(topic, Worker())
        with pytest.raises(UnknownMethod) as info:
            await transport.call(topic, "reboot", timeout=5)
        assert (info.value.topic, info.value.method) == (topic, "reboot")

    @pytest.mark.parametrize("method", ["not_exported", "__init__", "_private", "__class__", "received"])
    async def test_only_rpc_methods_can_be_called(self, transport: Transport, method: str) -> None:
        topic = unique()
        await transport.listen(topic, Worker())
        with pytest.raises(UnknownMethod):
            await transport.call(topic, method, timeout=5)

    async def test_endpoint_must_declare_its_methods(self, transport: Transport) -> None:
        class NoTable:
            async def run(self) -> None: ...

        class BadTable:
            rpc_methods = ("run", "missing")

            async def run(self) -> None: ...

        class PrivateTable:
            rpc_methods = ("_run",)

            async def _run(self) -> None: ...

        with pytest.raises(TypeError):
            await transport.listen(unique(), NoTable())
        with pytest.raises(ValueError):
            await transport.listen(unique(), BadTable())
        with pytest.raises(ValueError):
            await transport.listen(unique(), PrivateTable())

    async def test_invalid_names_are_refused(self, transport: Transport) -> None:
        with pytest.raises(ValueError):
            await transport.call("compute.host1", "add", timeout=1)
        with pytest.raises(ValueError):
            await transport.cast("compute", "add", server="host#")
        with pytest.raises(ValueError):
            await transport.listen("comp*", Worker())
        with pytest.raises(ValueError):
            await transport.subscribe(Inbox(), pool="a.b")

    # --- versions ----------------------------------------------------------

    async def test_api_version_is_checked_against_the_endpoint(self, transport: Transport) -> None:
        topic = unique()
        await transport.listen(topic, Worker())  # rpc_version 1.3
        client = RPCClient(transport, topic, "1.3", timeout=5)
        assert await client.call("add", a=1, b=1) == 2
        assert await client.prepare(version="1.0").call("add", a=1, b=2) == 3
        with pytest.raises(UnsupportedVersion) as info:
            await client.prepare(version="1.4").call("add", a=1, b=1)
        assert (info.value.version, info.value.supported) == ("1.4", "1.3")
        with pytest.raises(UnsupportedVersion):
            await client.prepare(version="2.0").call("add", a=1, b=1)

    async def test_rpc_client_casts_and_targets_servers(self, transport: Transport) -> None:
        topic = unique()
        one, two = Worker("one"), Worker("two")
        await transport.listen(topic, one, server="h1")
        await transport.listen(topic, two, server="h2")
        client = RPCClient(transport, topic, "1.1", timeout=5)
        assert await client.prepare(server="h2").call("whoami") == "two"
        await client.prepare(server="h1").cast("record", n=1)
        await client.fanout("record", n=2)
        await eventually(lambda: sorted(one.received) == [1, 2] and two.received == [2])

    # --- request context ---------------------------------------------------

    async def test_request_context_reaches_the_handler_without_the_token(self, transport: Transport) -> None:
        topic = unique()
        await transport.listen(topic, Worker())
        ctx = RequestContext(
            global_request_id=f"req-{uuid.uuid4()}",
            user_id="u-1",
            project_id="p-1",
            roles=["member"],
            auth_token="gAAAA-secret",
        )
        token = set_current(ctx)
        try:
            seen = await transport.call(topic, "context", timeout=5)
            assert get_current() is ctx, "the caller's context is left alone"
        finally:
            reset_current(token)
        assert seen["request_id"] == ctx.request_id
        assert seen["global_request_id"] == ctx.global_request_id
        assert (seen["user_id"], seen["project_id"], seen["roles"]) == ("u-1", "p-1", ["member"])
        assert seen["auth_token"] is None

    async def test_request_context_follows_nested_calls(self, transport_factory: TransportFactory) -> None:
        api, conductor, agent = (
            await transport_factory(),
            await transport_factory(),
            await transport_factory(),
        )
        conductor_topic, agent_topic = unique(), unique()
        await conductor.listen(conductor_topic, Worker(transport=conductor))
        await agent.listen(agent_topic, Worker())
        ctx = RequestContext(global_request_id=f"req-{uuid.uuid4()}", user_id="u-2")
        token = set_current(ctx)
        try:
            seen = await api.call(conductor_topic, "nested_context", {"topic": agent_topic}, timeout=5)
        finally:
            reset_current(token)
        assert (seen["request_id"], seen["global_request_id"], seen["user_id"]) == (
            ctx.request_id,
            ctx.global_request_id,
            "u-2",
        )

    async def test_request_context_reaches_casts_and_notifications(self, transport: Transport) -> None:
        topic = unique()
        worker, inbox = Worker(), Inbox()
        await transport.listen(topic, worker)
        await transport.subscribe(inbox, pool=unique("pool"))
        ctx = RequestContext(global_request_id=f"req-{uuid.uuid4()}", user_id="u-3")
        token = set_current(ctx)
        try:
            await transport.cast(topic, "record", {"n": 1})
            await transport.notify("compute.instance.delete.end", {"id": "i"}, publisher_id="compute")
        finally:
            reset_current(token)
        await eventually(lambda: bool(worker.contexts) and bool(inbox.contexts))
        for seen in (worker.contexts[0], inbox.contexts[0]):
            assert seen is not None
            assert (seen.request_id, seen.global_request_id, seen.user_id) == (
                ctx.request_id,
                ctx.global_request_id,
                "u-3",
            )
        assert inbox.items[0].context is not None
        assert inbox.items[0].context["request_id"] == ctx.request_id

    async def test_handlers_have_no_context_when_the_sender_had_none(self, transport: Transport) -> None:
        topic = unique()
        await transport.listen(topic, Worker())
        token = set_current(None)
        try:
            assert await transport.call(topic, "context", timeout=5) is None
        finally:
            reset_current(token)

    # --- stopping ----------------------------------------------------------

    async def test_stopped_listener_gets_nothing_more(self, transport_factory: TransportFactory) -> None:
        sender, server = await transport_factory(), await transport_factory()
        topic = unique()
        old = Worker("old")
        listener = await server.listen(topic, old)
        assert await sender.call(topic, "whoami", timeout=5) == "old"
        await listener.stop()
        with pytest.raises(RPCTimeout):
            await sender.call(topic, "whoami", timeout=self.short_timeout)
        await sender.fanout(topic, "record", {"n": 0})
        new = Worker("new")
        await server.listen(topic, new)
        # Every message now reaches the new listener: a stopped one still consuming would take its share.
        for n in range(1, 11):
            await sender.cast(topic, "record", {"n": n})
        await eventually(lambda: sorted(new.received) == list(range(1, 11)))
        assert old.received == []
        assert await sender.call(topic, "whoami", timeout=5) == "new"

    async def test_stopped_subscription_gets_nothing_more(self, transport: Transport) -> None:
        pool = unique("pool")
        old, new = Inbox(), Inbox()
        subscription = await transport.subscribe(old, pool=pool)
        await transport.notify("a.b", {}, publisher_id="p")
        await eventually(lambda: len(old.items) == 1)
        await subscription.stop()
        await transport.subscribe(new, pool=pool)
        # Every event now reaches the new subscriber: a stopped one still in the pool would take its share.
        sent = [f"a.c.{n}" for n in range(10)]
        for event_type in sent:
            await transport.notify(event_type, {}, publisher_id="p")
        await eventually(lambda: sorted(new.event_types) == sent)
        assert old.event_types == ["a.b"]

    async def test_stopped_transport_refuses_to_send(self, transport_factory: TransportFactory) -> None:
        transport = await transport_factory()
        await transport.stop()
        with pytest.raises(RPCError):
            await transport.call(unique(), "add", timeout=1)
        with pytest.raises(RPCError):
            await transport.cast(unique(), "add")

    async def test_stopping_the_transport_fails_pending_calls(
        self, transport_factory: TransportFactory
    ) -> None:
        server, client = await transport_factory(), await transport_factory()
        topic = unique()
        worker = Worker()
        await server.listen(topic, worker)
        pending = asyncio.create_task(client.call(topic, "wait_for_release", timeout=10))
        await asyncio.wait_for(worker.waiting.wait(), 5)
        await client.stop()
        with pytest.raises(RPCError) as info:
            await pending
        assert not isinstance(info.value, RPCTimeout)
        worker.released.set()
