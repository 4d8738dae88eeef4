"""Swift's gatekeeper: users never send nor see system metadata, which only middlewares set
(``X-{Account,Container,Object}-Sysmeta-*``), nor the large-object marker they may not forge."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_REQUEST = (b"x-account-sysmeta-", b"x-container-sysmeta-", b"x-object-sysmeta-", b"x-backend-",
            b"x-static-large-object")
_RESPONSE = (b"x-account-sysmeta-", b"x-container-sysmeta-", b"x-object-sysmeta-", b"x-backend-")


class Gatekeeper:
    def __init__(self, app: ASGIApp, proxy: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["headers"] = [(k, v) for k, v in scope["headers"] if not k.lower().startswith(_REQUEST)]

        async def send_clean(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [(k, v) for k, v in message.get("headers", [])
                                      if not k.lower().startswith(_RESPONSE)]
            await send(message)

        await self.app(scope, receive, send_clean)
