"""Two small endpoints of Swift's proxy pipeline, under the service's path (``/object-store``):

- ``GET /healthcheck`` (Swift's ``healthcheck``): ``200 OK`` while the proxy can load its ring,
  else ``503 ERROR`` (the storage servers themselves are not probed: a load balancer's check must
  stay cheap);
- ``GET /crossdomain.xml`` (Swift's ``crossdomain``): the Flash/Silverlight cross-domain policy,
  Swift's default one (any domain).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from litestack.object.middleware.sub import route_path

POLICY = ('<?xml version="1.0"?>\n<!DOCTYPE cross-domain-policy SYSTEM '
          '"http://www.adobe.com/xml/dtds/cross-domain-policy.dtd" >\n<cross-domain-policy>\n'
          '<allow-access-from domain="*" secure="false" />\n</cross-domain-policy>')


class Endpoints:
    capabilities: dict[str, Any] = {"crossdomain": {}}

    def __init__(self, app: ASGIApp, proxy: Any) -> None:
        self.app = app
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = route_path(scope).rstrip("/") if scope["type"] == "http" else ""
        if scope.get("method") not in ("GET", "HEAD") or path not in ("/healthcheck", "/crossdomain.xml"):
            await self.app(scope, receive, send)
            return
        if path == "/crossdomain.xml":
            response = Response(POLICY, 200, media_type="application/xml")
        else:
            try:
                ring = self.proxy.backend.ring  # loads (or reloads) the ring file
                response = Response("OK" if ring.replicas else "ERROR", 200 if ring.replicas else 503,
                                    media_type="text/plain")
            except Exception:  # no ring, or one that does not load: not ready to serve
                response = Response("ERROR", 503, media_type="text/plain")
        await response(scope, receive, send)
