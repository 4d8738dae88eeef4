"""The all-in-one HTTP front: every service's app under its path, plus health and an index."""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from litestack import __version__
from litestack.common import errors
from litestack.common.api.errors import ERROR_STYLES
from litestack.common.config import Config

LOG = logging.getLogger(__name__)
# File descriptors kept for everything but client connections: databases, log, bus, key files.
_FD_RESERVE = 128


def _raw_response(status: str, message: str) -> bytes:
    body = json.dumps({"error": {"code": int(status[:3]), "title": status[4:], "message": message}}).encode()
    return (f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n").encode() + body


_TIMEOUT_408 = _raw_response("408 Request Timeout", "The request headers were not received in time.")
_BODY_408 = _raw_response("408 Request Timeout", "The request body stopped arriving.")
_HEADERS_431 = _raw_response("431 Request Header Fields Too Large",
                             "The request line and headers are too large.")
_FULL_503 = _raw_response("503 Service Unavailable", "Too many open connections; try again later.")


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body read timeouts and a cap on open connections.

    uvicorn times out idle kept-alive connections, but not a client that connects and sends its
    headers (or its body) slowly or never: such connections would pile up until the process runs
    out of file descriptors. ``limit_concurrency`` does not help, since it answers only once
    headers arrive. A subclass per configuration sets the class attributes (``guarded_protocol``).
    The 408 and 503 written here, below any service, use identity's error body.
    """

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 2048
    max_header_bytes: int = 65536

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._partial = False  # bytes of a request arrived, its headers are not complete yet
        self._header_bytes = 0
        self._refused = False  # over the connection cap: never counted as a connection
        self._dropped = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.max_connections:
            # Refused at once rather than left hanging: the client can retry, and this process
            # keeps the descriptors it needs to serve the connections it has.
            self._refused = True
            self.transport = transport
            transport.write(_FULL_503)
            transport.close()
            return
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        if self._refused or self._dropped:
            return
        super().data_received(data)
        if self._partial:
            # httptools puts no bound on the request line and headers: 1 GB of headers sent in a
            # few seconds cost 1 GB of memory. Counted per chunk, so this errs by one chunk at most.
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes and not self.transport.is_closing():
                self._dropped = True
                self._cancel_header_timer()
                self.transport.write(_HEADERS_431)
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        self._cancel_body_timer()
        if self._refused:
            return
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._partial = True
        self._header_bytes = 0
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._partial = False
        self._cancel_header_timer()
        # A body trickling in a byte at a time holds the connection and a request task as long as
        # slow headers would: it must keep arriving (the timer restarts with every piece).
        self._arm_body_timer()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._cancel_body_timer()
        self._arm_body_timer()
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._cancel_body_timer()
        super().on_message_complete()

    def _arm_body_timer(self) -> None:
        if self._body_timer is None:
            self._body_timer = self.loop.call_later(self.body_timeout, self._body_timeout)

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_timeout(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        if self.flow is not None and self.flow.read_paused:
            self._arm_body_timer()  # we stopped reading (the app is behind), not the client
            return
        if self.cycle is not None and not self.cycle.response_started:
            self.transport.write(_BODY_408)
        self.transport.close()  # the request task sees http.disconnect

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._header_timeout)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self._partial:
            # A connection that never sent a byte is closed silently; one that started a request
            # is told why (RFC 9110 408).
            self.transport.write(_TIMEOUT_408)
        self.transport.close()


def guarded_protocol(header_timeout: float, max_connections: int,
                     body_timeout: float = GuardedHttpProtocol.body_timeout,
                     max_header_bytes: int = GuardedHttpProtocol.max_header_bytes) -> type[GuardedHttpProtocol]:
    """A ``GuardedHttpProtocol`` class with these limits (uvicorn instantiates it per connection)."""
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,),
                {"header_timeout": header_timeout, "body_timeout": body_timeout,
                 "max_connections": max_connections, "max_header_bytes": max_header_bytes})


def connection_cap(wanted: int) -> int:
    """``wanted`` connections if the file-descriptor limit can hold them (raising the soft limit
    toward the hard one when needed), else as many as it can."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + _FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < need:
        cap = max(16, soft - _FD_RESERVE)
        LOG.warning("max_connections lowered from %d to %d: the file-descriptor limit is %d", wanted, cap, soft)
        return cap
    return wanted


def uvicorn_config(app: ASGIApp, conf: Config) -> uvicorn.Config:
    """The uvicorn settings of every litestack API process, in one place.

    Slow or idle clients are dropped (``header_timeout``, ``keepalive_timeout``), open
    connections are capped (``max_connections``), and ``X-Forwarded-*`` are believed only from
    ``trusted_proxies``.
    """
    d = conf.section("DEFAULT")
    proxies: list[str] = list(d["trusted_proxies"])
    return uvicorn.Config(
        app, host=d["host"], port=d["port"], log_level="warning", access_log=False, lifespan="on",
        server_header=False, timeout_graceful_shutdown=5, loop="uvloop",
        http=guarded_protocol(d["header_timeout"], connection_cap(d["max_connections"]), d["body_timeout"],
                              d["max_header_bytes"]),
        timeout_keep_alive=max(1, round(d["keepalive_timeout"])),
        proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None)


class PrefixRouter:
    """Routes ``/identity/...`` to the identity app (with ``root_path``), and so on.

    A plain prefix table: cheaper than regex routing on the hot path, and it serves both
    ``/identity`` and ``/identity/`` without redirects, which keystoneauth's discovery needs.
    """

    def __init__(self, apps: dict[str, ASGIApp], health: Callable[[], Awaitable[dict[str, Any]]],
                 on_startup: Callable[[], Awaitable[None]] | None = None,
                 on_shutdown: Callable[[], Awaitable[None]] | None = None) -> None:
        self.apps = sorted(apps.items(), key=lambda kv: -len(kv[0]))
        self.health = health
        self.on_startup = on_startup
        self.on_shutdown = on_shutdown
        self.started = time.time()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self.on_startup, self.on_shutdown)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path in ("/healthcheck", "/health"):
            body = await self.health()
            await _json(scope, send, 200 if body.get("status") == "ok" else 503, body)
            return
        for prefix, app in self.apps:
            if path == prefix or path.startswith(prefix + "/"):
                # ASGI (and Starlette): ``path`` stays whole, ``root_path`` says which part is the
                # mount point; routers strip it, and ``request.url`` keeps it.
                child = dict(scope)
                child["root_path"] = scope.get("root_path", "") + prefix
                if path == prefix:
                    child["path"] = prefix + "/"
                await app(child, receive, send)
                return
        if path == "/":
            await _json(scope, send, 200, {"name": "litestack", "version": __version__,
                                           "services": {p.strip("/"): p for p, _ in self.apps}})
        else:
            # A path under no service: the body every error gets (identity's shape, the catalog's
            # entry point), built by the one error translator.
            status, _, data = ERROR_STYLES["identity"](errors.NotFound("The resource could not be found."), "")
            await _json(scope, send, status, json.loads(data))


async def _json(scope: Scope, send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    # These answers never read the request body: close rather than let keep-alive read and
    # discard a body that may be huge or endless.
    if any((name == b"content-length" and value != b"0") or name == b"transfer-encoding"
           for name, value in scope["headers"]):
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _lifespan(receive: Receive, send: Send, on_startup: Callable[[], Awaitable[None]] | None,
                    on_shutdown: Callable[[], Awaitable[None]] | None) -> None:
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            try:
                if on_startup is not None:
                    await on_startup()
            except Exception as exc:  # reported to the server, which then refuses to start
                await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
                return
            await send({"type": "lifespan.startup.complete"})
        elif msg["type"] == "lifespan.shutdown":
            if on_shutdown is not None:
                await on_shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return
