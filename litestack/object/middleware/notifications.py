"""Notifications of object storage changes on the bus (``common/notify.py``; Swift itself sends none).

Every write that succeeds (2xx) is announced once it is answered: ``objectstore.<kind>.<action>``
with kind ``account``, ``container`` or ``object`` and action ``create`` (PUT, COPY), ``update``
(POST) or ``delete``. This layer sits just above the router, so the writes the other middlewares
make (each segment of a bulk upload, each object of a bulk delete, versions archived or restored)
are announced too. The payload names the account, container and object, the account's project,
the method and the status; an object's create also has its size and etag.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from litestack.object.middleware.sub import swift_path

ACTIONS = {"PUT": "create", "COPY": "create", "POST": "update", "DELETE": "delete"}


class Notifications:
    def __init__(self, app: ASGIApp, proxy: Any) -> None:
        self.app = app
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = swift_path(scope) if scope["type"] == "http" else None
        notifier = getattr(self.proxy, "notifier", None)
        if path is None or notifier is None or scope["method"] not in ACTIONS:
            await self.app(scope, receive, send)
            return

        async def watch(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])}
                payload: dict[str, Any] = {
                    "account": path.account, "container": path.container, "object": path.obj,
                    "project_id": path.account.removeprefix("AUTH_"), "method": scope["method"],
                    "status": message["status"]}
                if path.kind == "object" and scope["method"] in ("PUT", "COPY") and "etag" in headers:
                    payload["etag"] = headers["etag"]
                    for k, v in scope["headers"]:
                        if k == b"content-length":
                            payload["size"] = int(v) if v.isdigit() else None
                notifier.emit(f"objectstore.{path.kind}.{ACTIONS[scope['method']]}", payload)

        await self.app(scope, receive, watch)
