"""The RPC interface agents call on the server (topic ``q-plugin``), and the server's fan-out to
them (topic ``q-agent-notifier``).

When an agent reports a port up and the port belongs to a server (``device_owner`` ``compute:…``
with a ``device_id``), compute is told with Nova's ``network-vif-plugged`` external event (and
``network-vif-unplugged`` when it goes down), if compute is in the catalog.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestack.common.db import run_blocking
from litestack.network.agents import AGENT_TOPIC
from litestack.network.manager import Manager

LOG = logging.getLogger(__name__)


class ComputeEvents:
    """Sends Nova's ``os-server-external-events`` for ports of servers, through the network
    service's internal REST client; quietly nothing when compute is not in the catalog."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sent: list[dict[str, Any]] = []  # what was accepted, for the contract tests and logs

    async def port_changed(self, port: dict[str, Any], up: bool) -> None:
        owner, server = port.get("device_owner") or "", port.get("device_id") or ""
        if not owner.startswith("compute:") or not server:
            return
        event = {"name": "network-vif-plugged" if up else "network-vif-unplugged", "server_uuid": server,
                 "tag": port["id"], "status": "completed"}
        await self.send([event])

    def bind(self) -> None:
        """Called in the event loop: ``network_changed`` may then be called from worker threads."""
        self.loop = asyncio.get_running_loop()

    def network_changed(self, port: dict[str, Any]) -> None:
        """Nova's ``network-changed`` for a server's port whose addresses or floating IP changed; from
        the manager's worker thread after the commit, sent without blocking it."""
        owner, server = port.get("device_owner") or "", port.get("device_id") or ""
        loop = self.loop
        if not owner.startswith("compute:") or not server or loop is None or loop.is_closed():
            return
        event = {"name": "network-changed", "server_uuid": server, "tag": port["id"]}
        asyncio.run_coroutine_threadsafe(self.send([event]), loop)

    async def send(self, events: list[dict[str, Any]]) -> None:
        from litestack.common.client import send_server_events

        if await send_server_events(self.client, events, log=LOG):
            self.sent.extend(events)


class PluginEndpoint:
    """What agents call: state reports, the ports bound to their host and their details, security
    group information, port up/down, the DHCP agent's networks and the L3 agent's routers."""

    rpc_methods = ("report_state", "get_ports_on_host", "get_devices_details_list", "get_device_details",
                   "security_group_info_for_devices", "update_device_up", "update_device_down",
                   "get_active_networks_info", "sync_routers")
    rpc_version = "1.0"

    def __init__(self, manager: Manager, events: ComputeEvents | None) -> None:
        self.agents = manager.agents
        self.events = events

    async def report_state(self, agent_state: dict[str, Any], time: str | None = None) -> str:
        return await run_blocking(self.agents.report_state, agent_state)

    async def get_ports_on_host(self, host: str) -> list[str]:
        return await run_blocking(self.agents.ports_on_host, host)

    async def get_devices_details_list(self, devices: list[str], host: str,
                                       agent_id: str | None = None) -> list[dict[str, Any]]:
        return await run_blocking(self.agents.device_details, list(devices), host)

    async def get_device_details(self, device: str, host: str, agent_id: str | None = None) -> dict[str, Any]:
        return (await run_blocking(self.agents.device_details, [device], host))[0]

    async def security_group_info_for_devices(self, devices: list[str]) -> dict[str, Any]:
        return await run_blocking(self.agents.security_group_info, list(devices))

    async def update_device_up(self, device: str, host: str, agent_id: str | None = None) -> bool:
        return await self._status(device, host, True)

    async def update_device_down(self, device: str, host: str, agent_id: str | None = None) -> bool:
        return await self._status(device, host, False)

    async def _status(self, device: str, host: str, up: bool) -> bool:
        port = await run_blocking(self.agents.set_status, device, host, up)
        if port is None:
            return False
        if self.events is not None:
            await self.events.port_changed(port, port["status"] == "ACTIVE")
        return True

    async def get_active_networks_info(self, host: str) -> list[dict[str, Any]]:
        return await run_blocking(self.agents.networks_for_dhcp, host)

    async def sync_routers(self, host: str) -> list[dict[str, Any]]:
        return await run_blocking(self.agents.routers_for_l3, host)


class AgentFanout:
    """``(method, args)`` to every agent on ``q-agent-notifier``, from the loop or a worker thread,
    never blocking the request that caused it."""

    def __init__(self, bus: Any, topic: str = AGENT_TOPIC) -> None:
        self.bus, self.topic = bus, topic
        self.loop = asyncio.get_running_loop()
        self._sending: set[asyncio.Future[None]] = set()

    def __call__(self, method: str, args: dict[str, Any]) -> None:
        if self.loop.is_closed():
            return
        coro = self._send(method, args)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            task = self.loop.create_task(coro)
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        else:
            asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def _send(self, method: str, args: dict[str, Any]) -> None:
        try:
            await self.bus.fanout(self.topic, method, args)
        except Exception as exc:  # the change is made; agents resync on their next report
            LOG.warning("agent notification %s not sent: %s: %s", method, type(exc).__name__, exc)
