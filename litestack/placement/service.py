"""The placement service's registry entry (``SERVICE``) and its runtime in one process."""

from __future__ import annotations

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
    name="placement",
    code_name="Placement",
    description="Placement service (resource providers, inventories, allocations, candidates)",
    catalog=(CatalogEntry("placement", "placement", "Placement service"),),
    port=8778,
    path="/placement",
    factory="litestack.placement.service:PlacementService",
    ops="litestack.placement.api:op_table",
    options="litestack.placement.options",
    policy="litestack.placement.policy:RULES",
    migrations="litestack.placement.migrations",
    models="litestack.placement.models:Base",
    service_user="placement",
    tempest=TempestSettings(prefixes=("tempest.api.placement.",)),
)


class PlacementService(ServiceRuntime):
    """The placement API in one process: its manager (over its own database), policy and app."""

    def __init__(self, ctx: ServiceContext) -> None:
        from litestack.common.policy import Enforcer
        from litestack.placement import api
        from litestack.placement.manager import Manager
        from litestack.placement.policy import RULES

        self.db = open_database(SERVICE, ctx.conf, ctx.data_dir)
        self.manager = Manager(self.db, ctx.conf.get("placement", "max_allocation_candidates"))
        if ctx.prepare:
            # Standard resource classes and traits come from os-resource-classes and os-traits; a
            # newer library adds its names on the next start. Hosts starting together take turns.
            with self.db.lock("placement-sync"):
                self.manager.catalog.sync()
        self.enforcer = Enforcer(RULES, policy_file(ctx.conf, SERVICE.name))
        self.app = api.build(self.manager, self.enforcer, ctx.auth_middleware(SERVICE))

    def close(self) -> None:
        self.db.dispose()
