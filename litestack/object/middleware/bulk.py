"""Bulk operations (Swift's ``bulk``): many deletes in one request, and archives unpacked into objects.

- ``POST`` or ``DELETE /v1/<account>?bulk-delete`` with one URL-encoded ``/container/object`` or
  ``/container`` per line (at most 10000): each is deleted as the caller (a container must be
  empty). 200 with a report (``Number Deleted``, ``Number Not Found``, ``Response Status``,
  ``Errors``), in JSON with ``Accept: application/json``, else plain text.
- ``PUT /v1/<account>[/<container>[/<prefix>]]?extract-archive=tar|tar.gz|tar.bz2``: each file of the
  archive becomes an object (at the account level the first directory of a member is its
  container, created when missing). 200 with ``Number Files Created`` and the same report.

Every delete or upload is a subrequest made as the caller: ACLs and policy apply to each, and what
fails is listed in ``Errors`` with its status.
"""

from __future__ import annotations

import asyncio
import json
import os
import tarfile
import tempfile
from collections.abc import AsyncIterator
from typing import IO, Any
from urllib.parse import parse_qs, unquote

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from litestack.common import errors
from litestack.object.middleware.sub import headers_of, subrequest, swift_path

MAX_DELETES = 10000
MAX_FAILED = 1000
MAX_CONTAINERS = 10000
_MODES = {"tar": "r|", "tar.gz": "r|gz", "tar.bz2": "r|bz2"}
_STATUS_TEXT = {200: "200 OK", 201: "201 Created", 400: "400 Bad Request", 401: "401 Unauthorized",
                403: "403 Forbidden", 404: "404 Not Found", 409: "409 Conflict", 413: "413 Request Entity Too Large"}


def _status_text(status: int) -> str:
    return _STATUS_TEXT.get(status, str(status))


async def report(scope: Scope, receive: Receive, send: Send, body: dict[str, Any]) -> None:
    accept = headers_of(scope).get("accept", "")
    if "json" in accept:
        await Response(json.dumps(body), 200, media_type="application/json")(scope, receive, send)
        return
    text = "".join(f"{k}: {v}\n" for k, v in body.items() if k != "Errors")
    text += "Errors:\n" + "".join(f"{name}, {status}\n" for name, status in body["Errors"])
    await Response(text, 200, media_type="text/plain")(scope, receive, send)


class Bulk:
    capabilities = {"bulk_delete": {"max_deletes_per_request": MAX_DELETES, "max_failed_deletes": MAX_FAILED},
                    "bulk_upload": {"max_containers_per_extraction": MAX_CONTAINERS,
                                    "max_failed_extractions": MAX_FAILED}}

    def __init__(self, app: ASGIApp, proxy: Any) -> None:
        self.app = app
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = swift_path(scope) if scope["type"] == "http" else None
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        method = scope["method"] if path is not None else ""
        if path is not None and "bulk-delete" in query and method in ("POST", "DELETE") and path.kind == "account":
            self._authenticated(scope)
            await self._delete(scope, receive, send, path)
        elif path is not None and "extract-archive" in query and method == "PUT":
            self._authenticated(scope)
            mode = _MODES.get(query["extract-archive"][0])
            if mode is None:
                raise errors.BadRequest("Unsupported archive format (tar, tar.gz or tar.bz2)")
            await self._extract(scope, receive, send, path, mode)
        else:
            await self.app(scope, receive, send)

    @staticmethod
    def _authenticated(scope: Scope) -> None:
        state = scope["state"]
        if not state["context"].authenticated:
            raise state.get("auth_failure") or state.get("auth_missing") or errors.Unauthorized(
                "The request you have made requires authentication.")

    async def _body(self, receive: Receive, limit: int) -> bytes:
        out = bytearray()
        while True:
            message = await receive()
            out += message.get("body", b"")
            if len(out) > limit:
                raise errors.PayloadTooLarge("Maximum Bulk Deletes: 10000 per request")
            if not message.get("more_body", False):
                return bytes(out)

    async def _delete(self, scope: Scope, receive: Receive, send: Send, path: Any) -> None:
        body = await self._body(receive, MAX_DELETES * 2048)
        names = [unquote(line.strip()) for line in body.decode("utf-8", "replace").splitlines() if line.strip()]
        if len(names) > MAX_DELETES:
            raise errors.PayloadTooLarge(f"Maximum Bulk Deletes: {MAX_DELETES} per request")
        deleted = not_found = 0
        failed: list[list[str]] = []
        for name in names:
            container, _, obj = name.lstrip("/").partition("/")
            if not container:
                failed.append([name, "400 Bad Request"])
                continue
            r = await subrequest(self.app, scope, "DELETE", path.path(container, obj or None))
            await r.aclose()
            if r.ok:
                deleted += 1
            elif r.status == 404:
                not_found += 1
            else:
                failed.append([name, _status_text(r.status)])
            if len(failed) >= MAX_FAILED:
                break
        status = "400 Bad Request" if failed else "200 OK"
        await report(scope, receive, send, {"Number Deleted": deleted, "Number Not Found": not_found,
                                            "Response Body": "", "Response Status": status, "Errors": failed})

    async def _extract(self, scope: Scope, receive: Receive, send: Send, path: Any, mode: str) -> None:
        spool = await asyncio.to_thread(tempfile.TemporaryFile)
        try:
            size = 0
            while True:
                message = await receive()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.proxy.limits.max_file_size:
                    raise errors.PayloadTooLarge("Your request is too large.")
                if chunk:
                    await asyncio.to_thread(spool.write, chunk)
                if not message.get("more_body", False):
                    break
            await asyncio.to_thread(spool.seek, 0)
            body = await self._unpack(scope, path, spool, mode)
        finally:
            await asyncio.to_thread(spool.close)
        await report(scope, receive, send, body)

    async def _unpack(self, scope: Scope, path: Any, spool: IO[bytes], mode: str) -> dict[str, Any]:
        created = 0
        failed: list[list[str]] = []
        containers: set[str] = set()
        try:
            tar = await asyncio.to_thread(lambda: tarfile.open(fileobj=spool, mode=mode))  # type: ignore[call-overload]
        except (tarfile.TarError, EOFError, OSError):
            raise errors.BadRequest("Invalid Tar File: the archive could not be read.") from None
        try:
            while True:
                try:
                    member = await asyncio.to_thread(tar.next)
                except (tarfile.TarError, EOFError, OSError, ValueError):
                    return {"Number Files Created": created, "Response Body": "Invalid Tar File",
                            "Response Status": "400 Bad Request", "Errors": failed}
                if member is None:
                    break
                if not member.isfile():
                    continue
                name = os.path.normpath(member.name).lstrip("/")
                if name in ("", ".") or name.startswith("../"):
                    failed.append([member.name, "400 Bad Request"])
                    continue
                if path.container is None:
                    container, _, obj = name.partition("/")
                else:
                    container = path.container
                    obj = f"{path.obj.rstrip('/')}/{name}" if path.obj else name
                if not container or not obj:
                    failed.append([member.name, "400 Bad Request"])
                    continue
                if path.container is None and container not in containers:
                    if len(containers) >= MAX_CONTAINERS:
                        failed.append([member.name, "400 Bad Request"])
                        continue
                    r = await subrequest(self.app, scope, "PUT", path.path(container, None))
                    await r.aclose()
                    if not r.ok:
                        failed.append([container, _status_text(r.status)])
                        continue
                    containers.add(container)
                data = await asyncio.to_thread(tar.extractfile, member)
                r = await subrequest(self.app, scope, "PUT", path.path(container, obj),
                                     headers={"content-length": str(member.size)}, body=_chunks(data))
                await r.aclose()
                if r.ok:
                    created += 1
                else:
                    failed.append([f"/{container}/{obj}", _status_text(r.status)])
                if len(failed) >= MAX_FAILED:
                    break
        finally:
            await asyncio.to_thread(tar.close)
        return {"Number Files Created": created, "Response Body": "",
                "Response Status": "400 Bad Request" if failed else "201 Created", "Errors": failed}


async def _chunks(f: IO[bytes] | None, size: int = 1 << 20) -> AsyncIterator[bytes]:
    if f is None:
        return
    while True:
        chunk = await asyncio.to_thread(f.read, size)
        if not chunk:
            return
        yield chunk
