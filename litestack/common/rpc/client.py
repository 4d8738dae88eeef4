"""``RPCClient``: a service's view of one topic, so that its ``rpc.py`` reads like a list of methods.

::

    class ConductorAPI:
        def __init__(self, transport: Transport) -> None:
            self.client = RPCClient(transport, "conductor", version="1.2")

        async def build(self, instance_id: str) -> None:
            await self.client.cast("build", instance_id=instance_id)

        async def resize_on(self, host: str, instance_id: str) -> dict:
            return await self.client.prepare(server=host, timeout=120).call("resize", instance_id=instance_id)
"""

from __future__ import annotations

from typing import Any

from litestack.common.rpc import message as msg
from litestack.common.rpc.base import Transport

_UNSET: Any = object()


class RPCClient:
    """Sends to ``topic`` (optionally to one ``server`` of it) with RPC API ``version``; immutable."""

    def __init__(
        self,
        transport: Transport,
        topic: str,
        version: str = "1.0",
        *,
        server: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        msg.check_topic(topic)
        msg.check_server(server)
        msg.parse_version(version)
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        self.transport = transport
        self.topic = topic
        self.version = version
        self.server = server
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"<RPCClient {self.topic}{'.' + self.server if self.server else ''} v{self.version}>"

    def prepare(
        self, *, server: str | None = _UNSET, timeout: float = _UNSET, version: str = _UNSET
    ) -> RPCClient:
        """A copy of this client with some of ``server``, ``timeout`` and ``version`` replaced."""
        return RPCClient(
            self.transport,
            self.topic,
            self.version if version is _UNSET else version,
            server=self.server if server is _UNSET else server,
            timeout=self.timeout if timeout is _UNSET else timeout,
        )

    def can_send_version(self, version: str) -> bool:
        """Whether ``version`` is within this client's cap (same major, minor not above)."""
        asked, cap = msg.parse_version(version), msg.parse_version(self.version)
        return asked[0] == cap[0] and asked[1] <= cap[1]

    async def call(self, method: str, /, **kwargs: Any) -> Any:
        return await self.transport.call(
            self.topic, method, kwargs, server=self.server, timeout=self.timeout, version=self.version
        )

    async def cast(self, method: str, /, **kwargs: Any) -> None:
        await self.transport.cast(self.topic, method, kwargs, server=self.server, version=self.version)

    async def fanout(self, method: str, /, **kwargs: Any) -> None:
        await self.transport.fanout(self.topic, method, kwargs, version=self.version)
