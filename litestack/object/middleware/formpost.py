"""FormPost (Swift's ``formpost``): a browser uploads files straight into a container with an HTML
form signed by the account's or container's TempURL key, without a token.

``POST /v1/<account>/<container>[/<prefix>]`` as ``multipart/form-data`` with the fields
``redirect``, ``max_file_size``, ``max_file_count``, ``expires`` and ``signature`` (the HMAC,
sha1/sha256/sha512, of ``PATH\\nREDIRECT\\nMAX_FILE_SIZE\\nMAX_FILE_COUNT\\nEXPIRES``), then the
files: each is stored as ``<prefix><filename>``. The answer is a 303 to ``redirect`` with
``?status=<code>&message=<text>`` added, or, without ``redirect``, that status with a short page.
A bad signature or an expired form is 401; a file larger than ``max_file_size`` or more files than
``max_file_count`` stop the upload with 400.
"""

from __future__ import annotations

import hmac
import time
from typing import Any
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from litestack.common import errors
from litestack.object.middleware.sub import GRANT, headers_of, route_path, subrequest, swift_path
from litestack.object.middleware.tempurl import DIGESTS, Grant, parse_signature

MAX_FIELDS = 100


class FormPost:
    capabilities = {"formpost": {"allowed_digests": sorted(DIGESTS)}}

    def __init__(self, app: ASGIApp, proxy: Any) -> None:
        self.app = app
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = swift_path(scope) if scope["type"] == "http" else None
        if (path is None or scope["method"] != "POST" or path.container is None
                or not headers_of(scope).get("content-type", "").lower().startswith("multipart/form-data")):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            form = await request.form(max_files=1000, max_fields=MAX_FIELDS)
        except Exception as exc:  # python-multipart's parse errors, a body that is not a form
            raise errors.BadRequest(f"FormPost: invalid multipart/form-data ({type(exc).__name__})") from None
        try:
            fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
            files = [v for _, v in form.multi_items() if isinstance(v, UploadFile) and v.filename]
            status, message = await self._upload(scope, path, fields, files)
        finally:
            await form.close()
        redirect = fields.get("redirect", "")
        if redirect:
            sep = "&" if "?" in redirect else "?"
            location = f"{redirect}{sep}status={status}&message={quote(message)}"
            body = f'<html><body><p><a href="{location}">Click to continue...</a></p></body></html>'
            await Response(body, 303, {"Location": location}, media_type="text/html")(scope, receive, send)
            return
        text = {201: "201 Created", 400: "400 Bad Request"}.get(status, str(status))
        body = f"<h1>{text}</h1><p>FormPost: {message}</p>" if message else f"<h1>{text}</h1>"
        await Response(body, status, media_type="text/html")(scope, receive, send)

    async def _upload(self, scope: Scope, path: Any, fields: dict[str, str],
                      files: list[UploadFile]) -> tuple[int, str]:
        try:
            expires = int(fields.get("expires", ""))
            max_size = int(fields.get("max_file_size", ""))
            max_count = int(fields.get("max_file_count", ""))
        except ValueError:
            raise errors.Unauthorized("FormPost: Invalid Signature") from None
        if expires < time.time():
            raise errors.Unauthorized("FormPost: Form Expired")
        try:
            digest, sig = parse_signature(fields.get("signature", ""))
        except errors.Unauthorized:
            raise errors.Unauthorized("FormPost: Invalid Signature") from None
        keys = await self._keys(path)
        signed = {route_path(scope), scope.get("root_path", "") + route_path(scope)}
        tail = f"\n{fields.get('redirect', '')}\n{fields['max_file_size']}\n{fields['max_file_count']}\n" \
               f"{fields['expires']}"
        if not any(hmac.compare_digest(hmac.new(k.encode(), (p + tail).encode(), DIGESTS[digest]).digest(), sig)
                   for k in keys for p in signed):
            raise errors.Unauthorized("FormPost: Invalid Signature")
        prefix = path.obj or ""
        scope["state"][GRANT] = Grant("PUT", path.account, path.container, prefix, True)
        if len(files) > max_count:
            return 400, "max file count exceeded"
        for f in files:
            size = f.size if f.size is not None else 0
            if size > max_size:
                return 400, "max_file_size exceeded"
            await f.seek(0)

            async def chunks(upload: UploadFile = f) -> Any:
                while chunk := await upload.read(1 << 20):
                    yield chunk

            headers = {"content-length": str(size)}
            if f.content_type:
                headers["content-type"] = f.content_type
            r = await subrequest(self.app, scope, "PUT", path.path(path.container, prefix + (f.filename or "")),
                                 headers=headers, body=chunks())
            await r.aclose()
            if not r.ok:
                return r.status, f"upload of {f.filename} failed"
        return 201, ""

    async def _keys(self, path: Any) -> list[str]:
        from litestack.object.middleware.tempurl import CONTAINER_KEYS, KEYS

        account = await self.proxy.account_info(path.account)
        keys = [account[k] for k in KEYS if account.get(k)]
        container = await self.proxy.container_info(path.account, path.container)
        if container is not None:
            keys += [container[k] for k in CONTAINER_KEYS if container.get(k)]
        return keys
