"""A recording transport for tests: the in-process bus plus a log of everything sent.

``RecordingTransport`` behaves exactly like ``InProcTransport`` (listeners on
its bus really receive the messages) and appends one ``SentMessage`` to
``.calls`` per ``call``/``cast``/``fanout``/``notify``, in order. ``stub()``
answers calls of one method without any listener, the way a test stands in
for a service that is not running::

    bus = RecordingTransport()
    bus.stub("scheduler", "select_destinations", result=[{"host": "node1"}])
    async with bus:
        await manager.build(...)          # calls the scheduler, casts to compute
    assert bus.sent("cast", method="build_and_run_instance")[0].server == "node1"
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from litestack.common.errors import LitestackError
from litestack.common.rpc import message as msg
from litestack.common.rpc.inproc import InProcTransport


@dataclass(frozen=True)
class SentMessage:
    """One message a ``RecordingTransport`` sent.

    For notifications ``topic`` is ``notifications.<priority>``, ``method`` the
    event type, ``args`` the payload and ``server`` the publisher id.
    ``context`` is the sender's request context as it went on the wire.
    """

    kind: str
    topic: str
    method: str
    args: dict[str, Any]
    server: str | None = None
    timeout: float | None = None
    version: str | None = None
    context: dict[str, Any] | None = None


class RecordingTransport(InProcTransport):
    """``InProcTransport`` that records what it sends; ``name=None`` gives it a private bus."""

    def __init__(self, name: str | None = None, *, max_concurrency: int = 64) -> None:
        super().__init__(name or f"recording-{uuid.uuid4()}", max_concurrency=max_concurrency)
        self.calls: list[SentMessage] = []
        self._stubs: dict[tuple[str, str], tuple[Any, LitestackError | None]] = {}

    def stub(
        self, topic: str, method: str, result: Any = None, *, error: LitestackError | None = None
    ) -> None:
        """Answer ``call(topic, method)`` with ``result`` (or raise ``error``) instead of sending it."""
        msg.encode({"result": result})  # fail here, not in the test, if the canned result could not travel
        self._stubs[(topic, method)] = (result, error)

    def sent(
        self, kind: str | None = None, *, topic: str | None = None, method: str | None = None
    ) -> list[SentMessage]:
        """The recorded messages matching every given filter."""
        return [
            m
            for m in self.calls
            if (kind is None or m.kind == kind)
            and (topic is None or m.topic == topic)
            and (method is None or m.method == method)
        ]

    def clear(self) -> None:
        self.calls.clear()

    def _record(self, kind: str, topic: str, method: str, args: dict[str, Any] | None, **extra: Any) -> None:
        self.calls.append(
            SentMessage(kind, topic, method, _copy(args or {}), context=msg.current_context_dict(), **extra)
        )

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
        self._check_started()
        msg.encode(msg.make_request("call", topic, method, args, server=server, api_version=version))
        self._record("call", topic, method, args, server=server, timeout=timeout, version=version)
        stub = self._stubs.get((topic, method))
        if stub is None:
            return await super().call(topic, method, args, server=server, timeout=timeout, version=version)
        result, error = stub
        if error is not None:
            raise error
        return _copy(result)

    async def cast(
        self,
        topic: str,
        method: str,
        args: dict[str, Any] | None = None,
        *,
        server: str | None = None,
        version: str | None = None,
    ) -> None:
        self._check_started()
        msg.encode(msg.make_request("cast", topic, method, args, server=server, api_version=version))
        self._record("cast", topic, method, args, server=server, version=version)
        await super().cast(topic, method, args, server=server, version=version)

    async def fanout(
        self, topic: str, method: str, args: dict[str, Any] | None = None, *, version: str | None = None
    ) -> None:
        self._check_started()
        msg.encode(msg.make_request("fanout", topic, method, args, api_version=version))
        self._record("fanout", topic, method, args, version=version)
        await super().fanout(topic, method, args, version=version)

    async def notify(
        self, event_type: str, payload: dict[str, Any], *, priority: str = "info", publisher_id: str
    ) -> None:
        self._check_started()
        msg.encode(msg.make_notification(event_type, payload, priority, publisher_id))
        self._record("notify", f"notifications.{priority}", event_type, payload, server=publisher_id)
        await super().notify(event_type, payload, priority=priority, publisher_id=publisher_id)


def _copy(value: Any) -> Any:
    """What the receiver would see: a JSON round trip (so later mutation by the sender does not show)."""
    return json.loads(json.dumps(value))
