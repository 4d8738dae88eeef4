"""The registry entry of the throw-away ``toy`` service, and its runtime."""

from __future__ import annotations

from litestack.common.service import (
    CatalogEntry,
    LimitDefault,
    ServiceContext,
    ServiceRuntime,
    ServiceSpec,
    open_database,
    policy_file,
)

SERVICE = ServiceSpec(
    name="toy",
    code_name="Toy",
    description="A throw-away service of the test suite",
    catalog=(CatalogEntry("toy", "toy", "Throw-away service of the test suite"),),
    port=9999,
    path="/toy",
    factory="tests.functional.toyservice.service:ToyService",
    options="tests.functional.toyservice.options",
    policy="tests.functional.toyservice.policy:RULES",
    migrations="tests.functional.toyservice.migrations",
    models="tests.functional.toyservice.models:Base",
    service_user="toy",
    # Its quota, a unified limit kept in identity (registered there by bootstrap).
    limits=(LimitDefault("notes", 100, "Notes a project may keep."),),
)


class ToyService(ServiceRuntime):
    def __init__(self, ctx: ServiceContext) -> None:
        from litestack.common.limits import UnifiedLimits
        from litestack.common.policy import Enforcer
        from tests.functional.toyservice import api

        self.db = open_database(SERVICE, ctx.conf, ctx.data_dir)
        enforcer = Enforcer(SERVICE.rules(), policy_file(ctx.conf, SERVICE.name))
        limits = UnifiedLimits(ctx.client(SERVICE), "toy", ctx.conf.get("DEFAULT", "region"))
        self.app = api.build(self.db, enforcer, ctx.conf.get("toy", "max_text_length"), limits,
                             ctx.auth_middleware(SERVICE))

    def health(self) -> str:
        # A real service reports what its pollers saw (no I/O here: this runs on the event loop).
        return "ok"

    def close(self) -> None:
        self.db.dispose()
