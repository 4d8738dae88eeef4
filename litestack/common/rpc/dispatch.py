"""The server side shared by every transport: explicit method routing, context, error capture.

An endpoint is any object with a class attribute ``rpc_methods``, a tuple of
the names callers may invoke; nothing else on it is reachable over the bus
(no introspection, so a helper made public by accident is not exposed).
``rpc_version`` (``"MAJOR.MINOR"``, default ``"1.0"``) is the RPC API version
it implements: it accepts callers that ask for the same major and at most its
minor. Methods are called with the message's args as keyword arguments; they
may be ``async`` or plain functions (plain ones run on the event loop, so they
must not block).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from litestack.common.context import RequestContext, reset_current, set_current
from litestack.common.errors import LitestackError
from litestack.common.rpc import message as msg
from litestack.common.rpc.exceptions import UnknownMethod, UnsupportedVersion

LOG = logging.getLogger("litestack.common.rpc")

NotificationCallback = Callable[[msg.Notification], Awaitable[None] | None]


class Dispatcher:
    """Routes request envelopes for one topic to the methods one endpoint exports."""

    def __init__(self, topic: str, endpoint: object) -> None:
        names = getattr(type(endpoint), "rpc_methods", None)
        if not isinstance(names, tuple) or not all(isinstance(name, str) for name in names):
            raise TypeError(
                f"{type(endpoint).__name__} must declare rpc_methods as a class attribute tuple of names"
            )
        methods: dict[str, Callable[..., Any]] = {}
        for name in names:
            if not name.isidentifier() or name.startswith("_"):
                raise ValueError(f"{type(endpoint).__name__}.rpc_methods lists {name!r}: not a public name")
            method = getattr(endpoint, name, None)
            if not callable(method):
                raise ValueError(f"{type(endpoint).__name__}.rpc_methods lists {name!r}: not a method")
            methods[name] = method
        version = getattr(type(endpoint), "rpc_version", "1.0")
        self.topic = topic
        self.version = version
        self._version = msg.parse_version(version)
        self._methods = methods

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run one request under the caller's context; return the reply envelope (casts drop it)."""
        ctx = msg.context_from_dict(request.get("context"))
        token = set_current(ctx)
        try:
            method = request["method"]
            LOG.debug("RPC %s %s.%s [%s]", request.get("kind"), self.topic, method, _rid(ctx))
            try:
                result = await self._invoke(method, request["args"], request.get("api_version"))
                reply = msg.result_reply(result)
                msg.encode(reply)  # a result that cannot travel is the handler's error, not the bus's
            except Exception as exc:
                log_handler_failure(f"RPC {request.get('kind')} {self.topic}.{method}", ctx, exc)
                return msg.failure_reply(exc)
            return reply
        finally:
            reset_current(token)

    async def _invoke(self, name: str, args: dict[str, Any], api_version: str | None) -> Any:
        if api_version is not None:
            asked = msg.parse_version(api_version)
            if asked[0] != self._version[0] or asked[1] > self._version[1]:
                raise UnsupportedVersion(self.topic, api_version, self.version)
        method = self._methods.get(name)
        if method is None:
            raise UnknownMethod(self.topic, name)
        result = method(**args)
        if inspect.isawaitable(result):
            result = await result
        return result


async def deliver_notification(callback: NotificationCallback, body: bytes) -> None:
    """Decode one notification and run a subscriber callback on it under the publisher's context."""
    try:
        notification = msg.decode_notification(body)
    except msg.MalformedMessage as exc:
        LOG.warning("dropping malformed notification: %s", exc)
        return
    ctx = msg.context_from_dict(notification.context)
    token = set_current(ctx)
    try:
        result = callback(notification)
        if inspect.isawaitable(result):
            await result
    except Exception as exc:
        log_handler_failure(f"notification {notification.event_type} subscriber", ctx, exc)
    finally:
        reset_current(token)


def log_handler_failure(what: str, ctx: RequestContext | None, exc: Exception) -> None:
    """Expected domain errors (4xx) in one line; anything else with its traceback, which never leaves."""
    ids = f"[{_rid(ctx)} {ctx.global_request_id if ctx else None}]"
    if isinstance(exc, LitestackError) and exc.status < 500:
        LOG.info(
            "%s %s raised %s: %s",
            what,
            ids,
            type(exc).__name__,
            exc.message,
            exc_info=LOG.isEnabledFor(logging.DEBUG),
        )
    else:
        LOG.error("%s %s failed", what, ids, exc_info=exc)


def _rid(ctx: RequestContext | None) -> str | None:
    return ctx.request_id if ctx else None


class InFlight:
    """Bounds and tracks the handler tasks of one listener, so that stopping it can wait for them.

    A transport calls ``track(task)`` as soon as a message is handed to a task
    (this also keeps the task referenced); the task runs its handler inside
    ``async with in_flight:``, of which at most ``limit`` run at a time.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._slots = asyncio.Semaphore(limit)
        self._tasks: set[asyncio.Task[Any]] = set()

    def track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def __aenter__(self) -> None:
        await self._slots.acquire()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._slots.release()

    async def drain(self, grace: float) -> None:
        """Wait up to ``grace`` seconds for running handlers, then cancel the rest."""
        current = asyncio.current_task()
        tasks = {task for task in self._tasks if task is not current}
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            LOG.warning("cancelled %d RPC handler(s) still running after %gs", len(pending), grace)
            await asyncio.wait(pending)
