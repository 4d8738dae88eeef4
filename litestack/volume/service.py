"""The block storage service's registry entry (``SERVICE``) and its runtime in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
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

SERVICE = ServiceSpec(
    name="volume",
    code_name="Cinder",
    description="Block storage service (Cinder v3)",
    # DevStack registers both types at /volume/v3/$(project_id)s (openstacksdk asks for block-storage,
    # python-openstackclient and tempest accept volumev3 too).
    catalog=(CatalogEntry("block-storage", "cinder", "Cinder Volume Service V3", suffix="/v3/$(project_id)s"),
             CatalogEntry("volumev3", "cinderv3", "Cinder Volume Service V3", suffix="/v3/$(project_id)s")),
    port=8776,
    path="/volume",
    service_user="cinder",
    factory="litestack.volume.service:VolumeService",
    ops="litestack.volume.api:op_table",
    options="litestack.volume.options",
    policy="litestack.volume.policy:RULES",
    migrations="litestack.volume.migrations",
    models="litestack.volume.models:Base",
    tempest=TempestSettings(prefixes=("tempest.api.volume.",), flags=("cinder",),
                            configure="litestack.volume.tempest:configure",
                            state="litestack.volume.tempest:state"),
    agents=(AgentSpec("volume", "Volume agent: this host's storage backends ([volume] backends), over the bus",
                      "litestack.volume.agent:main", "litestack.volume.agent:arguments"),),
)


class VolumeService(ServiceRuntime):
    """The block storage API, its scheduler and manager endpoint, and (all-in-one) this host's agent."""

    def __init__(self, ctx: ServiceContext) -> None:
        from litestack.common.notify import Notifier
        from litestack.common.policy import Enforcer
        from litestack.volume import api
        from litestack.volume.api.base import VolumeAPI
        from litestack.volume.manager.flow import Flow, Settings
        from litestack.volume.manager.quotas import Quotas
        from litestack.volume.manager.types import Types
        from litestack.volume.manager.volumes import Volumes
        from litestack.volume.policy import RULES

        conf = ctx.conf
        self.ctx = ctx
        self.host = conf.get("volume", "host") or socket.gethostname()
        self.db = open_database(SERVICE, conf, ctx.data_dir)
        self.notifier = Notifier("volume", self.host)
        self.types = Types(self.db, conf.get("volume", "default_volume_type"))
        defaults = {r: conf.get("volume", f"quota_{r}")
                    for r in ("volumes", "snapshots", "gigabytes", "backups", "backup_gigabytes", "groups")}
        self.quotas = Quotas(self.db, defaults)
        self.volumes = Volumes(self.db, self.quotas)
        settings = Settings(availability_zone=conf.get("volume", "availability_zone"),
                            service_down_time=conf.get("volume", "service_down_time"),
                            operation_timeout=conf.get("volume", "operation_timeout"),
                            scheduler_host=self.host,
                            backup_container=conf.get("volume", "backup_container"),
                            message_ttl=conf.get("volume", "message_ttl"))
        client = ctx.client(SERVICE)
        self.flow = Flow(self.volumes, self.types, self.quotas, settings, self.notifier, client)
        self.enforcer = Enforcer(RULES, policy_file(conf, SERVICE.name))
        from litestack.volume.manager.groups import Groups

        self.groups = Groups(self.db, self.quotas, conf.get("volume", "default_group_type"))
        self.api = VolumeAPI(self.enforcer, self.volumes, self.types, self.quotas, self.flow, self.notifier,
                             groups=self.groups)
        self.app = api.build(self.api, ctx.auth_middleware(SERVICE))
        self.agent: Any = None
        if conf.get("volume", "local_agent"):
            from litestack.volume.agent import build_agent

            self.agent = build_agent(conf, ctx.data_dir, self.host)
        self._tasks: list[asyncio.Task[None]] = []
        self._listener: Any = None

    def bootstrap(self) -> None:
        self.types.ensure_default()

    async def startup(self, bus: Any) -> None:
        from litestack.volume.manager.flow import ManagerEndpoint
        from litestack.volume.rpc import MANAGER_TOPIC, AgentAPI, ManagerAPI

        self.notifier.bind(bus)
        self.flow.bind(AgentAPI(bus), ManagerAPI(bus))
        self._listener = await bus.listen(MANAGER_TOPIC, ManagerEndpoint(self.volumes, self.notifier,
                                                                         self.api.backups, self.groups,
                                                                         self.flow.messages, self.flow.client))
        if self.agent is not None:
            await self.agent.start(bus)
        if self.ctx.prepare:
            self._tasks.append(asyncio.create_task(self._reap_every()))

    async def _reap_every(self) -> None:
        """Nothing stays transitional for ever: past ``operation_timeout`` it goes to its error status."""
        from litestack.common.db import run_blocking

        timeout = self.ctx.conf.get("volume", "operation_timeout")
        while True:
            try:
                reaped = await run_blocking(self.volumes.reap, timeout)
                reaped += await run_blocking(self.api.backups.reap, timeout)
                reaped += await run_blocking(self.groups.reap, timeout)
                await run_blocking(self.flow.messages.reap)
                if reaped:
                    LOG.warning("volume: %d operation(s) timed out after %d s: %s", len(reaped), timeout,
                                ", ".join(reaped))
            except Exception as exc:  # the next round tries again
                LOG.warning("volume reaper failed: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(min(30, max(1, timeout // 5)))

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.agent is not None:
            await self.agent.stop()
        if self._listener is not None:
            await self._listener.stop()
        await self.notifier.drain()

    def close(self) -> None:
        self.db.dispose()
