"""Object versioning (Swift's ``versioned_writes``), set per container by its owner:

- ``X-Versions-Location: <archive>`` (stack mode): before an object is overwritten, its current
  version is copied into the archive container as ``<len(name) as 3 hex digits><name>/<timestamp>``;
  a DELETE restores the newest archived version (and removes it from the archive), or deletes the
  object when the archive holds none.
- ``X-History-Location: <archive>`` (history mode): the current version is archived the same way
  before an overwrite and before a DELETE, which then deletes the object.

Both at once is 400; ``X-Remove-Versions-Location`` / ``X-Remove-History-Location`` turn it off.
The archive container must exist (writes to a versioned container fail until it does).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from litestack.common import errors
from litestack.object.middleware.sub import headers_of, status_error, subrequest, swift_path


def archive_prefix(obj: str) -> str:
    return f"{len(obj.encode()):03x}{obj}/"


class VersionedWrites:
    capabilities = {"versioned_writes": {"allowed_flags": ["x-versions-location", "x-history-location"]}}

    def __init__(self, app: ASGIApp, proxy: Any) -> None:
        self.app = app
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = swift_path(scope) if scope["type"] == "http" else None
        method = scope["method"] if path is not None else ""
        if path is not None and path.kind == "container" and method in ("PUT", "POST"):
            h = headers_of(scope)
            if h.get("x-versions-location") and h.get("x-history-location"):
                raise errors.BadRequest("Only one of X-Versions-Location or X-History-Location may be provided")
            for name in ("x-versions-location", "x-history-location"):
                if h.get(name) and "/" in h[name].strip("/"):
                    raise errors.BadRequest(
                        f"{name.title()} must be a container name")
        if path is None or path.kind != "object" or method not in ("PUT", "DELETE"):
            await self.app(scope, receive, send)
            return
        info = await self.proxy.container_info(path.account, path.container, scope)
        if info is None:
            await self.app(scope, receive, send)
            return
        stack, history = info.get("x-versions-location"), info.get("x-history-location")
        archive = stack or history
        if not archive:
            await self.app(scope, receive, send)
            return
        if method == "PUT" or history:
            await self._archive_current(scope, path, archive)
            await self.app(scope, receive, send)
            return
        await self._restore_or_delete(scope, receive, send, path, archive)

    async def _archive_current(self, scope: Scope, path: Any, archive: str) -> None:
        head = await subrequest(self.app, scope, "HEAD", path.path())
        await head.aclose()
        if head.status == 404:
            return
        if not head.ok:
            raise status_error(head)
        ts = head.headers.get("x-timestamp", "")
        name = archive_prefix(path.obj) + ts
        put = await subrequest(self.app, scope, "PUT", path.path(archive, name),
                               headers={"x-copy-from": quote(f"/{path.container}/{path.obj}"),
                                        "content-length": "0"})
        await put.aclose()
        if not put.ok:
            raise status_error(put, "The current version could not be archived.")

    async def _restore_or_delete(self, scope: Scope, receive: Receive, send: Send, path: Any, archive: str) -> None:
        prefix = archive_prefix(path.obj)
        while True:
            r = await subrequest(self.app, scope, "GET", path.path(archive, None),
                                 query=f"format=json&reverse=on&limit=1&prefix={quote(prefix)}")
            rows = json.loads(await r.read()) if r.status == 200 else []
            await r.aclose()
            if not rows:
                await self.app(scope, receive, send)  # nothing archived: a plain delete
                return
            newest = rows[0]["name"]
            put = await subrequest(self.app, scope, "PUT", path.path(),
                                   headers={"x-copy-from": quote(f"/{archive}/{newest}"), "content-length": "0"})
            await put.aclose()
            if put.status == 404:  # the archived copy went away meanwhile: try the next one
                continue
            if not put.ok:
                raise status_error(put)
            gone = await subrequest(self.app, scope, "DELETE", path.path(archive, newest))
            await gone.aclose()
            await Response(status_code=204)(scope, receive, send)
            return
