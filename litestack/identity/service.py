"""The identity service's registry entry (``SERVICE``) and its runtime in one process."""

from __future__ import annotations

import logging
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

LOG = logging.getLogger(__name__)

SERVICE = ServiceSpec(
    name="identity",
    code_name="Keystone",
    description="Identity service (Keystone v3)",
    catalog=(CatalogEntry("identity", "keystone", "Identity service"),),
    port=5000,
    path="/identity",
    factory="litestack.identity.service:IdentityService",
    ops="litestack.identity.api:op_table",
    options="litestack.identity.options",
    policy="litestack.identity.policy:RULES",
    migrations="litestack.identity.migrations",
    models="litestack.identity.models:Base",
    tempest=TempestSettings(prefixes=("tempest.api.identity.",),
                            configure="litestack.identity.tempest:configure",
                            state="litestack.identity.tempest:state"),
    cli="litestack.identity.cli:register",
)


class IdentityService(ServiceRuntime):
    """The identity service in one process: its manager, its policy and its ASGI app.

    Identity owns the catalog and the credentials, so its bootstrap registers every enabled
    service (from the registry's specs) and writes clouds.yaml.
    """

    def __init__(self, ctx: ServiceContext) -> None:
        from litestack.common.auth import TokenCache
        from litestack.common.errors import ConfigError
        from litestack.common.policy import Enforcer
        from litestack.identity import api
        from litestack.identity.manager import Manager
        from litestack.identity.policy import RULES

        self.ctx = ctx
        if ctx.conf.get("identity", "key_store") == "database" and not ctx.conf.get("DEFAULT", "public_url"):
            raise ConfigError('[identity] key_store = "database" (several hosts) needs [DEFAULT] public_url: '
                              "the one URL of the cloud, e.g. its load balancer, for the catalog")
        self.db = open_database(SERVICE, ctx.conf, ctx.data_dir)
        self.manager = Manager(self.db, ctx.conf, ctx.data_dir)
        self.enforcer = Enforcer(RULES, policy_file(ctx.conf, SERVICE.name))
        # Identity validates its own tokens live (no cache): revocation applies to the next request.
        self.app = api.build(self.manager, self.enforcer, TokenCache(0, 0), ctx.service_url)

    def bootstrap(self) -> None:
        """Under a lock of the shared database, so hosts starting together take turns."""
        from dataclasses import asdict

        from litestack.common import secrets
        from litestack.identity.bootstrap import bootstrap, write_clouds_yaml
        from litestack.identity.keystore import DatabaseSecrets

        conf = self.ctx.conf
        admin_pw = conf.get("identity", "admin_password")
        shared = conf.get("identity", "key_store") == "database"
        with self.db.lock("litestack-bootstrap-identity"):
            creds = secrets.load_or_create(self.ctx.data_dir, admin_pw,
                                           [s.service_user for s in self.ctx.services if s.service_user])
            if shared:
                # Every host uses the passwords the first host chose (its clouds.yaml works anywhere).
                stored = DatabaseSecrets(self.db, conf.get("identity", "master_key")).merge(asdict(creds), admin_pw)
                creds = secrets.save(self.ctx.data_dir, stored)
            region = conf.get("DEFAULT", "region")
            # One host: the catalog follows this host's address. Several hosts: the cloud's URL is
            # [DEFAULT] public_url, written once, never rewritten by a host starting elsewhere.
            bootstrap(self.manager, creds, self.ctx.public_url, region, self.ctx.services,
                      reset_admin=bool(admin_pw), standalone=self.ctx.standalone,
                      rewrite_urls=not shared or bool(conf.get("DEFAULT", "public_url")))
        write_clouds_yaml(self.ctx.data_dir / "clouds.yaml", self.ctx.auth_url, region, creds)

    async def startup(self, bus: Any) -> None:
        """Announce every committed revocation on the bus, for the token caches of other services
        and other processes (``litestack.common.auth.REVOCATION_EVENT``), and every committed
        create, update and delete as Keystone's basic notifications (``identity.project.created``)."""
        from litestack.common.auth import REVOCATION_EVENT
        from litestack.common.notify import Notifier

        notifier = Notifier("identity")
        notifier.bind(bus)
        # Called from worker threads after the revocation is committed.
        self.manager.revocation.on_revoke.append(lambda event: notifier.emit(REVOCATION_EVENT, event))
        # Keystone's basic notifications, identity.<resource>.<operation>, after each commit.
        self.manager.shared.change_listeners.append(
            lambda resource, operation, payload: notifier.emit(f"identity.{resource}.{operation}", payload))

    def health(self) -> str:
        """From the generation poller, which reads the database every second: no I/O here."""
        generation = self.manager.generation
        generation.current()
        if not generation.healthy():
            return "error: database unreachable"
        return "ok"

    def share(self, counter: Any) -> None:
        self.manager.generation.share(counter)

    def close(self) -> None:
        self.manager.close()
