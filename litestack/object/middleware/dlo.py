"""Dynamic large objects (Swift's ``dlo``): an object whose ``X-Object-Manifest: <container>/<prefix>``
stands for the objects of that container whose names begin with the prefix, in name order.

A GET or HEAD of the manifest answers their concatenation (its length, and as ETag the quoted md5
of their etags; one Range across segments; as in Swift, several ranges get the whole object);
``?multipart-manifest=get`` answers the manifest object itself. The segments are listed when the
manifest is read, so segments added later are included.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from litestack.common import errors
from litestack.object import http
from litestack.object.middleware.sub import headers_of, status_error, subrequest, swift_path

MAX_SEGMENTS = 10000
_CONDITIONAL = ("range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since")


class DynamicLargeObject:
    capabilities = {"dlo": {"max_segments": MAX_SEGMENTS}}

    def __init__(self, app: ASGIApp, proxy: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = swift_path(scope) if scope["type"] == "http" else None
        if path is None or path.obj is None:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if method in ("PUT", "POST"):
            value = headers_of(scope).get("x-object-manifest")
            if value is not None:
                c, _, _ = unquote(value).lstrip("/").partition("/")
                if not c or "/" not in unquote(value).lstrip("/") or "?" in value:
                    raise errors.BadRequest("X-Object-Manifest must be in the format container/prefix")
        if method not in ("GET", "HEAD") or (query.get("multipart-manifest") or [""])[0] == "get":
            await self.app(scope, receive, send)
            return
        manifest: str | None = None
        headers: dict[str, str] = {}
        swallowed = False

        async def watch(message: Message) -> None:
            nonlocal manifest, headers, swallowed
            if message["type"] == "http.response.start":
                hdrs = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])}
                if hdrs.get("x-object-manifest") and message["status"] < 300:
                    manifest, headers, swallowed = hdrs["x-object-manifest"], hdrs, True
                    return
            if not swallowed:
                await send(message)

        request = headers_of(scope)
        try:
            await self.app(scope, receive, watch)
        except errors.LitestackError as exc:
            if exc.status not in (412, 416) or not any(h in request for h in _CONDITIONAL):
                raise
            head = await subrequest(self.app, scope, "HEAD", path.path())
            await head.aclose()
            if not head.headers.get("x-object-manifest"):
                raise
            manifest, headers = head.headers["x-object-manifest"], head.headers
        if manifest is not None:
            await self._serve(scope, receive, send, path, manifest, headers, request)

    async def _listing(self, scope: Scope, path: Any, container: str, prefix: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        marker = ""
        while len(rows) < MAX_SEGMENTS:
            q = f"format=json&prefix={quote(prefix)}&marker={quote(marker)}"
            r = await subrequest(self.app, scope, "GET", path.path(container, None), query=q)
            if r.status == 404:
                await r.aclose()
                return rows
            if not r.ok:
                await r.aclose()
                raise status_error(r)
            page = json.loads(await r.read()) if r.status == 200 else []
            if not page:
                break
            rows += [row for row in page if "name" in row]
            marker = page[-1].get("name", page[-1].get("subdir", ""))
        if len(rows) > MAX_SEGMENTS:
            raise errors.Conflict(f"More than {MAX_SEGMENTS} segments.")
        return rows

    async def _serve(self, scope: Scope, receive: Receive, send: Send, path: Any, manifest: str,
                     head: dict[str, str], request: dict[str, str]) -> None:
        container, _, prefix = unquote(manifest).lstrip("/").partition("/")
        rows = await self._listing(scope, path, container, prefix)
        size = sum(int(r["bytes"]) for r in rows)
        etag = hashlib.md5("".join(r["hash"] for r in rows).encode(), usedforsecurity=False).hexdigest()
        headers = {k: v for k, v in head.items() if k.startswith("x-object-meta-") or k in (
            "content-type", "last-modified", "x-timestamp", "x-object-manifest", "content-disposition",
            "content-encoding")}
        headers["etag"] = f'"{etag}"'
        headers["accept-ranges"] = "bytes"
        if_none = request.get("if-none-match")
        if if_none and (if_none == "*" or etag in [t.strip().strip('"') for t in if_none.split(",")]):
            await Response(status_code=304, headers={"etag": f'"{etag}"'})(scope, receive, send)
            return
        # Swift's DLO honours one range only (several: the whole object, with 200); a HEAD with one
        # range is 200 too, unless the range is unsatisfiable (416).
        specs = http.range_specs(request.get("range"))
        wanted = http.ranges_for_length(specs, size) if specs is not None and len(specs) == 1 else None
        first, last, status = 0, size - 1, 200
        if wanted is not None and size and scope["method"] == "GET":
            first, last = wanted[0][0], wanted[0][1] - 1
            status = 206
            headers["content-range"] = f"bytes {first}-{last}/{size}"
        headers["content-length"] = str(last - first + 1 if size else 0)
        if scope["method"] == "HEAD":
            await Response(status_code=200, headers=headers)(scope, receive, send)
            return
        await StreamingResponse(self._segments(scope, path, container, rows, first, last), status,
                                headers)(scope, receive, send)

    async def _segments(self, scope: Scope, path: Any, container: str, rows: list[dict[str, Any]], first: int,
                        last: int) -> AsyncIterator[bytes]:
        offset = 0
        for row in rows:
            length = int(row["bytes"])
            a, b = max(first - offset, 0), min(last - offset, length - 1)
            offset += length
            if b < 0 or a >= length or a > b:
                continue
            r = await subrequest(self.app, scope, "GET", path.path(container, row["name"]),
                                 headers={"range": f"bytes={a}-{b}"})
            if not r.ok:
                await r.aclose()
                raise errors.Conflict(f"Segment {quote(row['name'])} is missing.")
            async for chunk in r.body():
                yield chunk
