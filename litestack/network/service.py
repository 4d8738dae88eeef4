"""The network service's registry entry (``SERVICE``) and its runtime in one process."""

from __future__ import annotations

from typing import Any

from litestack.common.service import (
    CatalogEntry,
    ServiceContext,
    ServiceRuntime,
    ServiceSpec,
    TempestSettings,
    open_database,
    policy_file,
)

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

    async def startup(self, bus: Any) -> None:
        """Announce every committed change on the bus (``network.create.end``, …)."""
        self.notifier.bind(bus)

    async def shutdown(self) -> None:
        await self.notifier.drain()

    def close(self) -> None:
        self.db.dispose()
