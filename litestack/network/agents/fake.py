"""The fake L2/DHCP/L3 agent: product code standing in for the data plane until it lands.

It does what a real agent does on the control-plane side and nothing on the wire: it reports its
state (as an L2, a DHCP and an L3 agent of its host), fetches the details of every port bound to
its host (segment, addresses, security groups with their rules and remote-group members) and
records them, reports each port up (or down when its admin state is down), follows the server's
fan-out (``port_update``, ``port_delete``, ``security_groups_rule_updated``) and records the
networks a DHCP agent would serve and the routers an L3 agent would run. What it recorded is in
``ports``, ``security_groups``, ``networks``, ``routers`` and ``told``.

``litestack up`` runs one in process for ``[network] fake_agent_host`` (this machine's name by
default); ``litestack agent network-fake --host NAME`` runs one for another host over a shared bus.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
from pathlib import Path
from typing import Any

from litestack.network.agents import topics

LOG = logging.getLogger(__name__)
BINARY = "litestack-fake-agent"
#: (agent_type, topic) of each agent this one stands for.
KINDS = (("L2 agent", "q-agent-notifier"), ("DHCP agent", "dhcp_agent"), ("L3 agent", "l3_agent"))


class FakeAgent:
    rpc_methods = ("port_update", "port_delete", "security_groups_rule_updated", "qos_policy_updated",
                   "address_group_updated")
    rpc_version = "1.0"

    def __init__(self, bus: Any, host: str, report_interval: float = 30.0, vif_type: str = "ovs",
                 availability_zone: str = "nova", namespace: str = "", bridge_mappings: dict[str, str] | None = None,
                 tunnel_types: list[str] | None = None) -> None:
        self.bus, self.host, self.report_interval, self.vif_type = bus, host, report_interval, vif_type
        # What the host reaches, reported as an OVS agent does; None: every segment (the default).
        self.bridge_mappings, self.tunnel_types = bridge_mappings, tunnel_types
        self.availability_zone = availability_zone
        self.plugin_topic, self.agent_topic = topics(namespace)
        self.ports: dict[str, dict[str, Any]] = {}
        self.security_groups: dict[str, list[dict[str, Any]]] = {}
        self.sg_member_ips: dict[str, dict[str, list[str]]] = {}
        self.address_groups: dict[str, list[str]] = {}
        self.networks: list[dict[str, Any]] = []
        self.routers: list[dict[str, Any]] = []
        self.told: list[tuple[str, dict[str, Any]]] = []
        self._listener: Any = None
        self._task: asyncio.Task[None] | None = None
        self._work: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()

    # --- life ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._listener = await self.bus.listen(self.agent_topic, self, server=self.host)
        await self.report(start=True)
        await self.resync()
        self._task = asyncio.create_task(self._every_interval())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        for t in list(self._work):
            t.cancel()
        if self._listener is not None:
            await self._listener.stop()

    async def _every_interval(self) -> None:
        while True:
            await asyncio.sleep(self.report_interval)
            try:
                await self.report()
                await self.resync()
            except Exception as exc:  # the server is away for a moment: the next round tries again
                LOG.warning("fake agent %s: report failed: %s: %s", self.host, type(exc).__name__, exc)

    async def _call(self, method: str, **args: Any) -> Any:
        return await self.bus.call(self.plugin_topic, method, args, timeout=30)

    async def report(self, start: bool = False) -> None:
        config = {"vif_type": self.vif_type, "vif_details": {"port_filter": True, "connectivity": "l2"},
                  "fake": True, "devices": len(self.ports)}
        if self.bridge_mappings is not None:
            config["bridge_mappings"] = dict(self.bridge_mappings)
        if self.tunnel_types is not None:
            config["tunnel_types"] = list(self.tunnel_types)
        for agent_type, topic in KINDS:
            await self._call("report_state", agent_state={
                "agent_type": agent_type, "binary": BINARY, "host": self.host, "topic": topic,
                "configurations": config, "start_flag": start,
                "availability_zone": None if agent_type == "L2 agent" else self.availability_zone}, time=None)

    # --- what the agent does -------------------------------------------------------------

    async def resync(self) -> None:
        """Everything bound to this host, wired again; the DHCP and L3 views refreshed."""
        ids = await self._call("get_ports_on_host", host=self.host)
        await self.wire(list(ids), forget_others=True)
        self.networks = await self._call("get_active_networks_info", host=self.host)
        self.routers = await self._call("sync_routers", host=self.host)

    async def wire(self, ids: list[str], forget_others: bool = False) -> None:
        async with self._lock:
            details = await self._call("get_devices_details_list", devices=ids, host=self.host) if ids else []
            if forget_others:
                for gone in set(self.ports) - set(ids):
                    self.ports.pop(gone, None)
            bound = [d for d in details if "port_id" in d]
            for d in details:
                if "port_id" not in d:
                    self.ports.pop(d["device"], None)
            for d in bound:
                self.ports[d["port_id"]] = d
            if bound:
                await self._refresh_groups([d["port_id"] for d in bound])
            for d in bound:
                up = bool(d["admin_state_up"])
                if (d["status"] == "ACTIVE") != up:
                    await self._call("update_device_up" if up else "update_device_down", device=d["port_id"],
                                     host=self.host, agent_id=f"{BINARY}-{self.host}")
                    d["status"] = "ACTIVE" if up else "DOWN"

    async def _refresh_groups(self, devices: list[str]) -> None:
        info = await self._call("security_group_info_for_devices", devices=devices)
        self.security_groups.update(info["security_groups"])
        self.sg_member_ips.update(info["sg_member_ips"])
        self.address_groups.update(info.get("address_groups", {}))

    def _soon(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._work.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._work.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            LOG.warning("fake agent %s: %s: %s", self.host, type(exc).__name__, exc)

    # --- what the server tells (fan-out) -------------------------------------------------

    async def port_update(self, port_id: str, host: str) -> None:
        self.told.append(("port_update", {"port_id": port_id, "host": host}))
        if host == self.host or port_id in self.ports:
            self._soon(self.wire([port_id]))

    async def port_delete(self, port_id: str, host: str) -> None:
        self.told.append(("port_delete", {"port_id": port_id, "host": host}))
        self.ports.pop(port_id, None)

    async def security_groups_rule_updated(self, security_groups: list[str]) -> None:
        self.told.append(("security_groups_rule_updated", {"security_groups": list(security_groups)}))
        mine = [pid for pid, d in self.ports.items() if set(d.get("security_groups") or []) & set(security_groups)]
        if mine:
            self._soon(self._refresh_groups(mine))


    async def address_group_updated(self, address_group_id: str) -> None:
        self.told.append(("address_group_updated", {"address_group_id": address_group_id}))
        mine = list(self.ports)
        if mine:
            self._soon(self._refresh_groups(mine))

    async def qos_policy_updated(self, qos_policy_id: str) -> None:
        self.told.append(("qos_policy_updated", {"qos_policy_id": qos_policy_id}))


def default_host(conf: Any) -> str:
    return str(conf.get("network", "fake_agent_host") or socket.gethostname())


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--report-interval", type=float, default=None, metavar="S",
                   help="seconds between state reports (default: [network] report_interval)")


def main(conf: Any, data_dir: Path, args: argparse.Namespace) -> int:
    """``litestack agent network-fake --host NAME``: the fake agent of one host, over the cloud's bus."""
    from litestack.common.rpc import get_transport

    url = conf.get("DEFAULT", "transport_url")
    if not url or url.startswith("inproc"):
        print("litestack: the network agent needs a shared bus: set [DEFAULT] transport_url (amqp://…)", flush=True)
        return 2
    interval = args.report_interval or conf.get("network", "report_interval")

    async def run() -> None:
        bus = get_transport(url)
        await bus.start()
        agent = FakeAgent(bus, args.agent_host, interval, namespace=conf.get("network", "rpc_namespace"))
        await agent.start()
        print(f"litestack: fake network agent of host {args.agent_host} running", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await agent.stop()
        await bus.stop()

    asyncio.run(run())
    return 0
