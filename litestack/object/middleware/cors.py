"""CORS for containers, as Swift's proxy answers it.

A container's owner lists the origins allowed to use it from a browser:
``X-Container-Meta-Access-Control-Allow-Origin`` (space-separated, or ``*``), with optional
``-Max-Age``, ``-Allow-Headers`` and ``-Expose-Headers``.

- ``OPTIONS`` (preflight, never authenticated): 200 with ``Access-Control-Allow-*`` when the
  container allows the ``Origin`` and the requested method, else 401; without ``Origin`` it answers
  ``Allow`` with the methods of the path.
- Other requests with an ``Origin`` the container allows get ``Access-Control-Allow-Origin`` and
  ``Access-Control-Expose-Headers`` (Swift's list, the object's metadata names and the container's).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from litestack.common import errors
from litestack.object.middleware.sub import headers_of, swift_path

METHODS = "HEAD, GET, PUT, POST, COPY, OPTIONS, DELETE"
_ALLOW = {"account": "HEAD, GET, POST, OPTIONS", "container": "HEAD, GET, PUT, POST, DELETE, OPTIONS",
          "object": "HEAD, GET, PUT, POST, COPY, DELETE, OPTIONS"}
EXPOSE = ["cache-control", "content-language", "content-type", "expires", "last-modified", "pragma", "etag",
          "x-timestamp", "x-trans-id", "x-openstack-request-id"]
META = "x-container-meta-access-control-"


def origin_allowed(origin: str, info: dict[str, str]) -> bool:
    allowed = info.get(META + "allow-origin", "").split()
    return "*" in allowed or origin in allowed


class CORS:
    def __init__(self, app: ASGIApp, proxy: Any) -> None:
        self.app = app
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = swift_path(scope) if scope["type"] == "http" else None
        if path is None:
            await self.app(scope, receive, send)
            return
        h = headers_of(scope)
        origin = h.get("origin")
        if scope["method"] == "OPTIONS":
            await self._preflight(scope, receive, send, path, h)
            return
        if not origin or path.container is None:
            await self.app(scope, receive, send)
            return
        info = await self.proxy.container_info(path.account, path.container)
        if info is None or not origin_allowed(origin, info):
            await self.app(scope, receive, send)
            return
        extra = info.get(META + "expose-headers", "").lower().replace(",", " ").split()
        allow_any = "*" in info.get(META + "allow-origin", "").split()

        async def send_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                meta = [k.decode("latin-1").lower() for k, _ in headers if k.lower().startswith(b"x-object-meta-")]
                expose = ", ".join(dict.fromkeys([*EXPOSE, *meta, *extra]))
                headers = [(k, v) for k, v in headers if not k.lower().startswith(b"access-control-")]
                headers += [(b"access-control-allow-origin", b"*" if allow_any else origin.encode("latin-1")),
                            (b"access-control-expose-headers", expose.encode("latin-1"))]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_cors)

    async def _preflight(self, scope: Scope, receive: Receive, send: Send, path: Any, h: dict[str, str]) -> None:
        origin, wanted = h.get("origin"), h.get("access-control-request-method")
        if not origin:
            await Response(status_code=200, headers={"Allow": _ALLOW[path.kind],
                                                     "Content-Length": "0"})(scope, receive, send)
            return
        info = (await self.proxy.container_info(path.account, path.container)
                if path.container is not None else None)
        if info is None or not wanted or wanted.upper() not in METHODS.split(", ") or not origin_allowed(
                origin, info):
            raise errors.Unauthorized("This origin or method is not allowed.")
        headers = {"Allow": _ALLOW[path.kind], "Access-Control-Allow-Methods": METHODS,
                   "Access-Control-Allow-Origin": "*" if "*" in info.get(META + "allow-origin", "").split()
                   else origin, "Content-Length": "0"}
        allow_headers = info.get(META + "allow-headers") or h.get("access-control-request-headers")
        if allow_headers:
            headers["Access-Control-Allow-Headers"] = allow_headers
        if info.get(META + "max-age", "").isdigit():
            headers["Access-Control-Max-Age"] = info[META + "max-age"]
        await Response(status_code=200, headers=headers)(scope, receive, send)
