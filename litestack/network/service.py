"""The network service's registry entry (``SERVICE``) and its runtime in one process."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestack.common.service import (
    AgentSpec,
    CatalogEntry,
    ServiceContext,
    ServiceRuntime,
    ServiceSpec,
    TempestSettings,
    open_database,
    policy_file,
)

LOG = logging.getLogger(__name__)


class BootstrapPending(Exception):
    """The cloud is not ready yet: DevStack's networks are still being made."""


SERVICE = ServiceSpec(
    name="network",
    code_name="Neutron",
    description="Network service control plane (Neutron v2.0)",
    catalog=(CatalogEntry("network", "neutron", "Network service"),),
    port=9696,
    path="/networking",
    factory="litestack.network.service:NetworkService",
    ops="litestack.network.api:op_table",
    options="litestack.network.options",
    policy="litestack.network.policy:RULES",
    migrations="litestack.network.migrations",
    models="litestack.network.models:Base",
    service_user="neutron",
    tempest=TempestSettings(prefixes=("tempest.api.network.",), flags=("neutron",),
                            configure="litestack.network.tempest:configure",
                            state="litestack.network.tempest:state"),
    agents=(AgentSpec("network-fake", "Fake L2/DHCP/L3 agent of a host: reports the ports bound to it up (no "
                      "data plane)", main="litestack.network.agents.fake:main",
                      arguments="litestack.network.agents.fake:arguments"),),
)


class NetworkService(ServiceRuntime):
    """The network API in one process: its manager (over its own database), policy and app."""

    def __init__(self, ctx: ServiceContext) -> None:
        from litestack.common.notify import Notifier
        from litestack.common.policy import Enforcer
        from litestack.network import api
        from litestack.network.manager import Manager
        from litestack.network.policy import RULES

        self.db = open_database(SERVICE, ctx.conf, ctx.data_dir)
        self.notifier = Notifier("network")
        self.manager = Manager(self.db, ctx.conf, self.notifier)
        self.enforcer = Enforcer(RULES, policy_file(ctx.conf, SERVICE.name))
        self.app = api.build(self.manager, self.enforcer, ctx.auth_middleware(SERVICE))
        self.ctx = ctx
        # DevStack's networks are made once the cloud serves (the projects' ids come from identity
        # over REST); until then the service reports itself not ready.
        self._bootstrap_pending = (ctx.prepare and not ctx.standalone and ctx.conf.get("network", "bootstrap")
                                   and any(s.name == "identity" for s in ctx.services))
        self._bootstrap_task: asyncio.Task[None] | None = None
        self._plugin_listener: Any = None
        self.fake_agent: Any = None
        self.compute_events: Any = None

    async def startup(self, bus: Any) -> None:
        """Announce every committed change on the bus (``network.create.end``, …); make DevStack's
        networks in the background."""
        self.notifier.bind(bus)
        from litestack.network.agents import topics
        from litestack.network.agents.rpc import AgentFanout, ComputeEvents, PluginEndpoint

        self.compute_events = ComputeEvents(self.ctx.client(SERVICE))
        self.compute_events.bind()
        for part in self.manager.parts:
            part.network_changed = self.compute_events.network_changed
        namespace = self.ctx.conf.get("network", "rpc_namespace")
        plugin_topic, agent_topic = topics(namespace)
        self._plugin_listener = await bus.listen(plugin_topic, PluginEndpoint(self.manager, self.compute_events))
        fanout = AgentFanout(bus, agent_topic)
        for part in self.manager.parts:
            part.agent_fanout = fanout
        conf = self.ctx.conf
        if conf.get("network", "fake_agent") and self.ctx.prepare and not self.ctx.standalone:
            from litestack.network.agents.fake import FakeAgent, default_host

            self.fake_agent = FakeAgent(bus, default_host(conf), conf.get("network", "report_interval"),
                                        namespace=namespace)
            await self.fake_agent.start()
        if self._bootstrap_pending:
            self._bootstrap_task = asyncio.create_task(self._bootstrap())

    async def _bootstrap(self) -> None:
        from litestack.common.db import run_blocking
        from litestack.network.bootstrap import devstack_networks

        client = self.ctx.client(SERVICE)
        ids: dict[str, str | None] = {}
        for attempt in range(600):
            try:
                for name in ("admin", "demo"):
                    r = await client.request("GET", "identity", "/v3/projects", params={"name": name})
                    r.raise_for_status()
                    found = r.json()["projects"]
                    ids[name] = found[0]["id"] if found else None
                break
            except Exception as exc:  # identity not answering yet: try again
                if attempt % 50 == 49:
                    LOG.warning("network bootstrap still waiting for identity: %s: %s", type(exc).__name__, exc)
                await asyncio.sleep(0.1)
        try:
            if not ids.get("admin"):
                LOG.warning("network bootstrap: no project admin; DevStack's networks not made")
            else:
                made = await run_blocking(devstack_networks, self.manager, ids["admin"], ids.get("demo"))
                if made:
                    LOG.info("network bootstrap: made %s", ", ".join(made))
        except Exception:
            LOG.exception("network bootstrap failed; DevStack's networks are incomplete")
        self._bootstrap_pending = False

    def health(self) -> str:
        if self._bootstrap_pending:
            raise BootstrapPending("DevStack's networks are being made")
        return "ok"

    async def shutdown(self) -> None:
        if self._bootstrap_task is not None and not self._bootstrap_task.done():
            self._bootstrap_task.cancel()
        if self.fake_agent is not None:
            await self.fake_agent.stop()
        if self._plugin_listener is not None:
            await self._plugin_listener.stop()
        await self.notifier.drain()

    def close(self) -> None:
        self.db.dispose()
