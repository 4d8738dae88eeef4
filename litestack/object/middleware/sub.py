"""What every object storage middleware shares: the Swift path of a request, and subrequests.

The middlewares sit, as Swift's do in its proxy pipeline, between token validation and the
proxy's router (``middleware/__init__.py``). A middleware that needs other objects (the segments
of a large object, the archive of a versioned one, each member of a bulk delete) sends a
*subrequest*: a request made in-process to the app below it, with the caller's own context, so
the same policy and ACLs apply to it as to a request the caller would have sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from starlette.types import ASGIApp, Message, Scope

from litestack.common import errors

#: Set in a request's state by a middleware that has authorised it by other means than a token
#: (TempURL, FormPost): the Op's target loader then lets it through (``acl.authorize``).
GRANT = "swift.grant"


@dataclass(frozen=True)
class SwiftPath:
    """``/v1/<account>[/<container>[/<object>]]`` of a request (names unquoted)."""

    version: str
    account: str
    container: str | None = None
    obj: str | None = None

    @property
    def kind(self) -> str:
        return "object" if self.obj is not None else "container" if self.container is not None else "account"

    def path(self, container: str | None = None, obj: str | None = None) -> str:
        """The quoted path of this account's ``container[/obj]`` (default: this request's own)."""
        c = self.container if container is None else container
        o = self.obj if container is None and obj is None else obj
        parts = [self.version, self.account, *((c,) if c is not None else ()), *((o,) if o is not None else ())]
        return "/" + "/".join(quote(p, safe="/") if i == len(parts) - 1 else quote(p, safe="")
                              for i, p in enumerate(parts))


def route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and (path == root or path.startswith(root + "/")):
        path = path[len(root):] or "/"
    return path


def swift_path(scope: Scope) -> SwiftPath | None:
    """The Swift path of a request, or None for anything else (``/info``, ``/openapi.json``)."""
    parts = route_path(scope).split("/", 4)
    if len(parts) < 3 or parts[1] not in ("v1", "v1.0") or not parts[2]:
        return None
    container = parts[3] if len(parts) > 3 and parts[3] else None
    obj = parts[4] if len(parts) > 4 and parts[4] and container else None
    return SwiftPath(parts[1], parts[2], container, obj)


def split_object_path(value: str) -> tuple[str, str]:
    """``container/object`` of a header (``X-Object-Manifest``, ``X-Copy-From``), unquoted."""
    c, _, o = unquote(value).lstrip("/").partition("/")
    if not c or not o:
        raise errors.BadRequest("The value must be of the form <container name>/<object name>")
    return c, o


def headers_of(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def true_value(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes", "on", "t", "y")


@dataclass
class SubResponse:
    """The answer to a subrequest; ``body`` streams it (``read`` takes it whole)."""

    status: int
    headers: dict[str, str]
    _chunks: AsyncIterator[bytes] | None = None
    _task: asyncio.Task[None] | None = field(default=None, repr=False)
    message: str = ""

    async def body(self) -> AsyncIterator[bytes]:
        if self._chunks is not None:
            async for chunk in self._chunks:
                yield chunk

    async def read(self, limit: int | None = None) -> bytes:
        out = bytearray()
        async for chunk in self.body():
            out += chunk
            if limit is not None and len(out) > limit:
                await self.aclose()
                raise errors.PayloadTooLarge("The body is too large.")
        return bytes(out)

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


async def _iterate(body: bytes | AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if isinstance(body, bytes):
        yield body
    else:
        async for chunk in body:
            yield chunk


async def subrequest(app: ASGIApp, scope: Scope, method: str, path: str, *,
                     headers: dict[str, str] | None = None, body: bytes | AsyncIterator[bytes] = b"",
                     query: str = "") -> SubResponse:
    """Send ``method path`` (a quoted ``/v1/...`` path) to ``app`` as the caller of ``scope``.

    An error the app raises (a ``LitestackError``) comes back as its status, as it would over HTTP.
    """
    root = scope.get("root_path", "")
    raw = (root + path).encode("latin-1", "replace")
    hdrs = dict(headers or {})
    if isinstance(body, bytes):
        hdrs.setdefault("content-length", str(len(body)))
    elif "content-length" not in {k.lower() for k in hdrs}:
        hdrs["transfer-encoding"] = "chunked"
    for name in ("x-auth-token",):  # the caller's token travels along (logs, nothing else reads it)
        for k, v in scope["headers"]:
            if k == name.encode():
                hdrs.setdefault(name, v.decode("latin-1"))
    sub: Scope = {k: v for k, v in scope.items() if k not in ("path_params", "route", "endpoint", "router")}
    sub.update({"method": method, "path": unquote(root + path), "raw_path": raw,
                "query_string": query.encode(), "headers": [(k.lower().encode("latin-1"), str(v).encode("latin-1"))
                                                            for k, v in hdrs.items()]})
    sub["state"] = dict(scope.get("state", {}))
    sub["state"].pop("swift.container_info", None)  # a subrequest may follow writes: read afresh
    chunks = _iterate(body)
    done_sending = False

    async def receive() -> Message:
        nonlocal done_sending
        if done_sending:
            await asyncio.Event().wait()  # nothing more: as a client that keeps the connection
        try:
            chunk = await chunks.__anext__()
            return {"type": "http.request", "body": chunk, "more_body": True}
        except StopAsyncIteration:
            done_sending = True
            return {"type": "http.request", "body": b"", "more_body": False}

    queue: asyncio.Queue[Message | BaseException | None] = asyncio.Queue(maxsize=4)

    async def send(message: Message) -> None:
        await queue.put(message)

    async def run() -> None:
        try:
            await app(sub, receive, send)
        except BaseException as exc:  # handed to the caller, who raises or reports it
            await queue.put(exc)
            return
        await queue.put(None)

    task = asyncio.get_running_loop().create_task(run())
    first = await queue.get()
    if isinstance(first, errors.LitestackError):
        return SubResponse(first.status, dict(first.headers or {}), message=first.message)
    if isinstance(first, BaseException):
        raise first
    if first is None or first["type"] != "http.response.start":
        raise RuntimeError(f"subrequest {method} {path}: no response")
    status = int(first["status"])
    resp_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in first.get("headers", [])}

    async def chunks_out() -> AsyncIterator[bytes]:
        while True:
            msg = await queue.get()
            if msg is None:
                return
            if isinstance(msg, BaseException):
                raise msg
            if msg["type"] == "http.response.body":
                if msg.get("body"):
                    yield msg["body"]
                if not msg.get("more_body", False):
                    return

    return SubResponse(status, resp_headers, chunks_out(), task)


def status_error(resp: SubResponse, what: str = "") -> errors.LitestackError:
    """The error to raise for a failed subrequest (its own status and text)."""
    from litestack.common.api.middleware import error_for_http

    err = error_for_http(resp.status, resp.message or what or None)
    if err.status != resp.status:
        cls = type("SubrequestFailed", (errors.LitestackError,), {"status": resp.status, "title": "Error"})
        err = cls(resp.message or what or "The request failed.")
    return err

