"""The all-in-one HTTP front: every service's app under its path, plus health and an index."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from litestack import __version__


class PrefixRouter:
    """Routes ``/identity/...`` to the identity app (with ``root_path``), and so on.

    A plain prefix table: cheaper than regex routing on the hot path, and it serves both
    ``/identity`` and ``/identity/`` without redirects, which keystoneauth's discovery needs.
    """

    def __init__(self, apps: dict[str, ASGIApp], health: Callable[[], dict[str, Any]],
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
            body = self.health()
            await _json(send, 200 if body.get("status") == "ok" else 503, body)
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
            await _json(send, 200, {"name": "litestack", "version": __version__,
                                    "services": {p.strip("/"): p for p, _ in self.apps}})
        else:
            await _json(send, 404, {"error": {"code": 404, "title": "Not Found",
                                              "message": "The resource could not be found."}})


async def _json(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
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
