"""Copies of large objects (Swift's ``copy`` middleware, for what the proxy's own copy cannot do).

The proxy copies an object server-side by streaming its stored bytes (``Proxy._copy``); for a large
object those bytes are its manifest. This layer sits above ``slo`` and ``dlo``: a PUT with
``X-Copy-From`` (and ``X-Copy-From-Account``) or a ``COPY`` whose source is a static or dynamic
large object reads the source through them (so as the concatenation of its segments, as the
caller, with the ACLs of both accounts) and stores it as one ordinary object at the destination,
with the source's metadata (unless ``X-Fresh-Metadata``; the request's own win), as Swift does.
Other copies go down to the proxy unchanged.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from litestack.common import errors
from litestack.object.middleware.sub import (
    headers_of,
    split_object_path,
    status_error,
    subrequest,
    swift_path,
    true_value,
)

_KEEP = ("content-type", "content-disposition", "content-encoding")


class LargeObjectCopy:
    def __init__(self, app: ASGIApp, proxy: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = swift_path(scope) if scope["type"] == "http" else None
        h = headers_of(scope) if path is not None else {}
        method = scope["method"] if path is not None else ""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if path is None or path.kind != "object" or "multipart-manifest" in query or not (
                (method == "PUT" and h.get("x-copy-from")) or (method == "COPY" and h.get("destination"))):
            await self.app(scope, receive, send)
            return
        try:
            if method == "PUT":
                src = replace(path, account=unquote(h.get("x-copy-from-account", "")) or path.account)
                src_container, src_obj = split_object_path(h["x-copy-from"])
                dest, dest_container, dest_obj = path, path.container, path.obj
            else:
                src, src_container, src_obj = path, path.container or "", path.obj or ""
                dest = replace(path, account=unquote(h.get("destination-account", "")) or path.account)
                dest_container, dest_obj = split_object_path(h["destination"])
        except errors.BadRequest:
            await self.app(scope, receive, send)  # the proxy answers the malformed header
            return
        head = await subrequest(self.app, scope, "HEAD", src.path(src_container, src_obj))
        await head.aclose()
        if not head.ok or not (true_value(head.headers.get("x-static-large-object"))
                               or head.headers.get("x-object-manifest")):
            await self.app(scope, receive, send)
            return
        got = await subrequest(self.app, scope, "GET", src.path(src_container, src_obj))
        if not got.ok:
            await got.aclose()
            raise status_error(got)
        fresh = true_value(h.get("x-fresh-metadata"))
        headers = {} if fresh else {k: v for k, v in got.headers.items()
                                    if k.startswith("x-object-meta-") or k in _KEEP}
        headers.update({k: v for k, v in h.items() if k.startswith("x-object-meta-") or k in _KEEP})
        headers["content-length"] = got.headers.get("content-length", "0")
        put = await subrequest(self.app, scope, "PUT", dest.path(dest_container, dest_obj), headers=headers,
                               body=got.body())
        await put.aclose()
        if not put.ok:
            raise status_error(put)
        answer = {k: v for k, v in put.headers.items() if k in ("etag", "last-modified", "x-timestamp")}
        answer.update({k: v for k, v in headers.items() if k.startswith("x-object-meta-")})
        answer["X-Copied-From"] = quote(f"{src_container}/{src_obj}")
        answer["X-Copied-From-Last-Modified"] = got.headers.get("last-modified", "")
        if src.account != dest.account:
            answer["X-Copied-From-Account"] = quote(src.account)
        await Response(status_code=201, headers=answer)(scope, receive, send)
