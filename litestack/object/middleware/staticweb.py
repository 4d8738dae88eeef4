"""Static websites from containers (Swift's ``staticweb``), for requests without a token (or with
``X-Web-Mode: true``), where the container's read ACL lets anyone in (``.r:*``, plus ``.rlistings``
for listings):

- ``X-Container-Meta-Web-Index: index.html``: a GET of the container (or of a pseudo-directory
  ``dir/``) answers that object under it; the paths without their final slash are redirected (301).
- ``X-Container-Meta-Web-Listings: true``: without an index there, an HTML listing of the objects
  and pseudo-directories, styled by ``X-Container-Meta-Web-Listings-CSS`` (a path relative to the
  listing, or absolute) or by a default style.
- ``X-Container-Meta-Web-Error: error.html``: a 404 or 401 answers the object ``404error.html`` /
  ``401error.html`` with that status, when it exists.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any
from urllib.parse import quote

from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from litestack.object.middleware.sub import headers_of, route_path, subrequest, swift_path, true_value

META = "x-container-meta-web-"
_DEFAULT_STYLE = """<style type="text/css">
   h1 {font-size: 1em; font-weight: bold;}
   th {text-align: left; padding: 0px 1em 0px 1em;}
   td {padding: 0px 1em 0px 1em;}
   a {text-decoration: none;}
  </style>"""


class StaticWeb:
    capabilities: dict[str, Any] = {"staticweb": {}}

    def __init__(self, app: ASGIApp, proxy: Any) -> None:
        self.app = app
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = swift_path(scope) if scope["type"] == "http" else None
        if path is None or path.container is None or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        h = headers_of(scope)
        web_mode = true_value(h.get("x-web-mode")) or not scope["state"]["context"].authenticated
        if not web_mode:
            await self.app(scope, receive, send)
            return
        info = await self.proxy.container_info(path.account, path.container, scope)
        if info is None:
            await self.app(scope, receive, send)
            return
        index = info.get(META + "index", "")
        listings = true_value(info.get(META + "listings"))
        error = info.get(META + "error", "")
        if not index and not listings and not error:
            await self.app(scope, receive, send)
            return
        raw = route_path(scope)
        if path.obj is None or path.obj.endswith("/"):
            if not index and not listings:
                await self.app(scope, receive, send)
                return
            if not raw.endswith("/"):
                await self._redirect(scope, receive, send, raw + "/")
                return
            prefix = path.obj or ""
            if index:
                r = await subrequest(self.app, scope, scope["method"], path.path(path.container, prefix + index))
                if r.ok:
                    await _relay(scope, receive, send, r)
                    return
                await r.aclose()
            if listings:
                await self._listing(scope, receive, send, path, prefix, info, error)
                return
            await self._error(scope, receive, send, path, 404, error)
            return
        # An object: as it is; a missing one may be a pseudo-directory (redirected) or an error page.
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            if status != 404 or not (index or listings or error):
                await send(message)

        from litestack.common import errors

        try:
            await self.app(scope, receive, watch)
        except errors.LitestackError as exc:
            if exc.status not in (401, 404) or not (index or listings or error):
                raise
            status = exc.status
        if status not in (401, 404) or not (index or listings or error):
            return
        if status == 404 and (index or listings):
            q = f"format=json&limit=1&prefix={quote(path.obj + '/')}"
            r = await subrequest(self.app, scope, "GET", path.path(path.container, None), query=q)
            rows = json.loads(await r.read()) if r.status == 200 else []
            if rows:
                await self._redirect(scope, receive, send, raw + "/")
                return
        await self._error(scope, receive, send, path, status, error)

    async def _redirect(self, scope: Scope, receive: Receive, send: Send, location: str) -> None:
        full = scope.get("root_path", "") + location
        await Response(status_code=301, headers={"Location": full})(scope, receive, send)

    async def _error(self, scope: Scope, receive: Receive, send: Send, path: Any, status: int, error: str) -> None:
        if error:
            r = await subrequest(self.app, scope, "GET", path.path(path.container, f"{status}{error}"))
            if r.ok:
                await StreamingResponse(r.body(), status, {"content-type": r.headers.get(
                    "content-type", "text/html")})(scope, receive, send)
                return
            await r.aclose()
        from litestack.common import errors

        raise errors.NotFound() if status == 404 else errors.Unauthorized(
            "The request you have made requires authentication.")

    async def _listing(self, scope: Scope, receive: Receive, send: Send, path: Any, prefix: str,
                       info: dict[str, str], error: str) -> None:
        r = await subrequest(self.app, scope, "GET", path.path(path.container, None),
                             query=f"format=json&delimiter=/&prefix={quote(prefix)}")
        if r.status not in (200, 204):
            await r.aclose()
            await self._error(scope, receive, send, path, 401 if r.status in (401, 403) else 404, error)
            return
        rows = json.loads(await r.read()) if r.status == 200 else []
        if prefix and not rows:
            await self._error(scope, receive, send, path, 404, error)
            return
        title = escape(f"Listing of {route_path(scope)}")
        css = info.get(META + "listings-css", "")
        if css:
            href = css if css.startswith("/") or "://" in css else "../" * prefix.count("/") + css
            style = f'<link rel="stylesheet" type="text/css" href="{escape(href, quote=True)}" />'
        else:
            style = _DEFAULT_STYLE
        out = ['<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" '
               '"http://www.w3.org/TR/html4/loose.dtd">', "<html>", " <head>", f"  <title>{title}</title>",
               f"  {style}", " </head>", " <body>", f'  <h1 id="title">{title}</h1>', '  <table id="listing">',
               '   <tr id="heading"><th class="colname">Name</th><th class="colsize">Size</th>'
               '<th class="coldate">Date</th></tr>']
        if prefix:
            out.append('   <tr id="parent" class="item"><td class="colname"><a href="../">../</a></td>'
                       '<td class="colsize">&nbsp;</td><td class="coldate">&nbsp;</td></tr>')
        for row in rows:
            name = (row.get("subdir") or row["name"])[len(prefix):]
            link = escape(quote(name), quote=True)
            if "subdir" in row:
                out.append(f'   <tr class="item subdir"><td class="colname"><a href="{link}">{escape(name)}</a></td>'
                           '<td class="colsize">&nbsp;</td><td class="coldate">&nbsp;</td></tr>')
            else:
                kind = escape(row.get("content_type", "").replace("/", "-"))
                date = escape(str(row.get("last_modified", ""))[:19].replace("T", " "))
                out.append(f'   <tr class="item type-{kind}"><td class="colname"><a href="{link}">{escape(name)}</a>'
                           f'</td><td class="colsize">{row.get("bytes", 0)}</td><td class="coldate">{date}</td></tr>')
        out += ["  </table>", " </body>", "</html>", ""]
        await Response("\n".join(out), 200, media_type="text/html; charset=UTF-8")(scope, receive, send)


async def _relay(scope: Scope, receive: Receive, send: Send, r: Any) -> None:
    headers = {k: v for k, v in r.headers.items() if k not in ("content-length", "transfer-encoding")}
    if "content-length" in r.headers:
        headers["content-length"] = r.headers["content-length"]
    if scope["method"] == "HEAD":
        await r.aclose()
        await Response(status_code=r.status, headers=headers)(scope, receive, send)
        return
    await StreamingResponse(r.body(), r.status, headers)(scope, receive, send)
