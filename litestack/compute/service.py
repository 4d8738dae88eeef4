"""The compute service's registry entry (``SERVICE``) and its runtimes: the API with its conductor
and scheduler in one process (``ComputeService``), and the compute agents of one or more hosts
(``AgentRuntime``: in the same process for ``litestack up``, alone for ``litestack agent compute``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from pathlib import Path
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
    name="compute",
    code_name="Nova",
    description="Compute service (Nova v2.1)",
    catalog=(CatalogEntry("compute", "nova", "Compute service", suffix="/v2.1"),),
    port=8774,
    path="/compute",
    service_user="nova",
    factory="litestack.compute.service:ComputeService",
    ops="litestack.compute.api:op_table",
    options="litestack.compute.options",
    policy="litestack.compute.policy:RULES",
    migrations="litestack.compute.migrations",
    models="litestack.compute.models:Base",
    tempest=TempestSettings(prefixes=("tempest.api.compute.",), flags=("nova",),
                            configure="litestack.compute.tempest:configure",
                            state="litestack.compute.tempest:state"),
    agents=(AgentSpec("compute", "Compute agent (nova-compute) of this host, with its virt driver",
                      main="litestack.compute.agent:main", arguments="litestack.compute.agent:arguments"),),
)


def host_names(conf: Any) -> list[str]:
    """The fake hosts of an all-in-one cloud: the machine's name, then NAME-2 … NAME-N."""
    first = conf.get("compute", "host") or socket.gethostname()
    n = conf.get("compute", "fake_hosts")
    return [first, *(f"{first}-{i}" for i in range(2, n + 1))][:n]


def uses_placement(service_names: list[str]) -> bool:
    return "placement" in service_names


class Parts:
    """The logic every compute process builds over the compute database."""

    def __init__(self, conf: Any, db: Any) -> None:
        from litestack.compute.manager.aggregates import Aggregates
        from litestack.compute.manager.block_devices import BlockDevices
        from litestack.compute.manager.flavors import Flavors
        from litestack.compute.manager.groups import Groups
        from litestack.compute.manager.hosts import Hosts
        from litestack.compute.manager.instances import Instances
        from litestack.compute.manager.keypairs import Keypairs
        from litestack.compute.manager.migrations import Migrations
        from litestack.compute.manager.quotas import Quotas
        from litestack.compute.manager.usage import Usage

        self.quotas = Quotas(db, conf)
        self.block_devices = BlockDevices(db)
        self.flavors = Flavors(db)
        self.keypairs = Keypairs(db, conf.get("compute", "quota_key_pairs"))
        self.instances = Instances(db, self.quotas)
        self.hosts = Hosts(db, conf.get("compute", "service_down_time"))
        self.groups = Groups(db, self.quotas)
        self.aggregates = Aggregates(db, conf.get("compute", "default_availability_zone"))
        self.usage = Usage(db)
        self.migrations = Migrations(db)

    def claims(self, conf: Any, db: Any, client: Any, placement: bool) -> Any:
        from litestack.compute.placement import LocalClaims, PlacementClaims

        if placement:
            return PlacementClaims(client, conf.get("compute", "placement_microversion"))
        ratios = {"VCPU": conf.get("compute", "cpu_allocation_ratio"),
                  "MEMORY_MB": conf.get("compute", "ram_allocation_ratio"),
                  "DISK_GB": conf.get("compute", "disk_allocation_ratio")}
        return LocalClaims(db, ratios, conf.get("compute", "reserved_host_memory_mb"))


class AgentRuntime:
    """The compute agents of ``hosts``, each with its own driver, on one bus and database."""

    def __init__(self, conf: Any, data_dir: Path, hosts: list[str], az: str | None = None, *,
                 bus: Any = None, db: Any = None, client: Any = None, placement: bool | None = None) -> None:
        from litestack.common.notify import Notifier
        from litestack.compute.agent import ComputeAgent
        from litestack.compute.attach import AgentVolumes
        from litestack.compute.drivers import make_driver
        from litestack.compute.imageclient import Images
        from litestack.compute.netclient import Network
        from litestack.compute.volclient import BlockStorage

        self.conf, self.data_dir = conf, data_dir
        self._own_bus = bus is None
        self.bus = bus
        self._own_db = db is None
        self.db = db if db is not None else open_database(SERVICE, conf, data_dir)
        if client is None:
            client = _standalone_client(conf, data_dir)
        self.client = client
        if placement is None:
            from litestack.common.service import from_config

            placement = uses_placement(list(conf.get("DEFAULT", "services")) or from_config(conf).default_names())
        parts = Parts(conf, self.db)
        claims = parts.claims(conf, self.db, client, placement)
        zone = az or conf.get("compute", "default_availability_zone")
        timeout = conf.get("compute", "block_device_allocate_timeout")
        self.agents = []
        for h in hosts:
            driver = make_driver(conf, h)
            volumes = AgentVolumes(h, driver, parts.block_devices, BlockStorage(client), parts.instances, timeout)
            self.agents.append(ComputeAgent(h, zone, driver, parts.instances, parts.hosts, claims, Network(client),
                                            Notifier("compute", h), conf, parts.migrations, Images(client),
                                            volumes))
        self._starting: asyncio.Task[None] | None = None

    async def start(self, wait_for_services: bool = False) -> None:
        if self.bus is None:
            from litestack.common.rpc import get_transport

            self.bus = get_transport(self.conf.get("DEFAULT", "transport_url"))
            await self.bus.start()
        for agent in self.agents:
            agent.notifier.bind(self.bus)
        if wait_for_services:
            # In ``litestack up`` the APIs this calls (placement, network) are served by this very
            # process, which starts serving only after every startup hook returned.
            self._starting = asyncio.create_task(self._start_when_ready())
        else:
            await self._start_agents()

    async def _start_agents(self) -> None:
        await asyncio.gather(*(agent.start(self.bus) for agent in self.agents))

    async def _start_when_ready(self) -> None:
        for attempt in range(120):
            try:
                await self._start_agents()
                return
            except Exception as exc:  # the cloud is still starting: try again shortly
                if attempt % 20 == 19:
                    LOG.warning("compute agents not started yet: %s", exc)
                for agent in self.agents:
                    await agent.stop()
                await asyncio.sleep(0.25)
        LOG.error("compute agents could not start")

    async def stop(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._starting
        for agent in self.agents:
            await agent.stop()
        if self._own_bus and self.bus is not None:
            await self.bus.stop()
        if self._own_db:
            self.db.dispose()


def _standalone_client(conf: Any, data_dir: Path) -> Any:
    """The ``nova`` user's REST client of an agent running alone ([auth] identity_url)."""

    from litestack.common.client import ServiceClient, ServiceUserSession, http_client
    from litestack.common.secrets import service_password

    identity = conf.get("auth", "identity_url") or f"http://127.0.0.1:{conf.get('DEFAULT', 'port')}/identity"
    session = ServiceUserSession(identity, "nova", lambda: service_password(data_dir, "nova"),
                                 http_client())
    return ServiceClient(session, region=conf.get("DEFAULT", "region"), endpoints={"identity": identity.rstrip("/")})


class ComputeService(ServiceRuntime):
    """The compute API, conductor and scheduler in one process, plus the fake hosts' agents."""

    def __init__(self, ctx: ServiceContext) -> None:
        from litestack.common.notify import Notifier
        from litestack.common.policy import Enforcer
        from litestack.compute import api
        from litestack.compute.api.base import ComputeAPI
        from litestack.compute.api.base import Parts as APIParts
        from litestack.compute.imageclient import Images
        from litestack.compute.netclient import Network
        from litestack.compute.policy import RULES
        from litestack.compute.volclient import BlockStorage

        conf = ctx.conf
        self.ctx = ctx
        self.db = open_database(SERVICE, conf, ctx.data_dir)
        self.parts = Parts(conf, self.db)
        self.notifier = Notifier("compute")
        self.enforcer = Enforcer(RULES, policy_file(conf, SERVICE.name))
        self.placement = uses_placement([s.name for s in ctx.services])
        self._client: Any = None
        self.network = Network(_LazyClient(self))
        self.claims = self.parts.claims(conf, self.db, _LazyClient(self), self.placement)
        self.block_storage = BlockStorage(_LazyClient(self))
        self.api_parts = APIParts(
            flavors=self.parts.flavors, keypairs=self.parts.keypairs, quotas=self.parts.quotas,
            instances=self.parts.instances, hosts=self.parts.hosts, groups=self.parts.groups,
            network=self.network, image=self.image, claims=self.claims, notifier=self.notifier, conf=conf,
            aggregates=self.parts.aggregates, usage=self.parts.usage,
            volumes=self.block_storage, block_devices=self.parts.block_devices,
            extra={"delete": self.delete, "migrations": self.parts.migrations,
                   "images": Images(_LazyClient(self))})
        self.api = ComputeAPI(self.enforcer, self.api_parts)
        self.app = api.build(self.api, ctx.auth_middleware(SERVICE))
        self.agents: AgentRuntime | None = None
        self._listeners: list[Any] = []

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self.ctx.client(SERVICE)
        return self._client

    def bootstrap(self) -> None:
        self.parts.flavors.bootstrap()

    async def startup(self, bus: Any) -> None:
        from litestack.compute.conductor import Conductor
        from litestack.compute.rpc import CONDUCTOR, SCHEDULER, ComputeAgentAPI, ConductorAPI, SchedulerAPI
        from litestack.compute.scheduler import Scheduler

        conf = self.ctx.conf
        self.notifier.bind(bus)
        self.api_parts.conductor = ConductorAPI(bus)
        self.api_parts.agents = ComputeAgentAPI(bus)
        if not self.ctx.prepare:
            return  # a forked API worker: the conductor, scheduler and agents run in the parent's first process
        multipliers = {"MEMORY_MB": conf.get("compute", "ram_weight_multiplier"),
                       "VCPU": conf.get("compute", "cpu_weight_multiplier"),
                       "DISK_GB": conf.get("compute", "disk_weight_multiplier")}
        scheduler = Scheduler(self.parts.instances, self.parts.hosts, self.parts.groups, self.claims, multipliers,
                              conf.get("compute", "max_attempts"), self.parts.aggregates)
        self.conductor = Conductor(self.parts.instances, SchedulerAPI(bus), ComputeAgentAPI(bus), self.claims,
                                   self.network, self.notifier, self.parts.migrations,
                                   conf.get("compute", "allow_resize_to_same_host"))
        self._listeners = [await bus.listen(SCHEDULER, scheduler), await bus.listen(CONDUCTOR, self.conductor)]
        hosts = host_names(conf)
        if hosts:
            self.agents = AgentRuntime(conf, self.ctx.data_dir, hosts, bus=bus, db=self.db,
                                       client=_LazyClient(self), placement=self.placement)
            await self.agents.start(wait_for_services=True)

    async def shutdown(self) -> None:
        if self.agents is not None:
            await self.agents.stop()
        for listener in self._listeners:
            await listener.stop(grace=1.0)
        await self.notifier.drain()

    def close(self) -> None:
        self.db.dispose()

    # --- what the API needs beyond the database ------------------------------------------

    async def image(self, image_id: str, token: str) -> dict[str, Any]:
        """The image, as the user sees it (400 when missing, not visible or not active)."""
        from urllib.parse import quote

        from litestack.common import errors

        r = await self.client.request("GET", "image", f"/v2/images/{quote(image_id, safe='')}", user_token=token)
        if r.status_code == 404:
            raise errors.BadRequest(f"Image {image_id} could not be found.")
        if r.status_code != 200:
            raise errors.ServiceUnavailable(f"The image service answered {r.status_code}.")
        image: dict[str, Any] = r.json()
        if image.get("status") != "active":
            raise errors.BadRequest(f"Image {image_id} is not active.")
        return image

    async def delete(self, inst: Any) -> None:
        """Delete a server: on its host through the agent when that host is up; here otherwise
        (never built, or its host is down: Nova's local delete)."""
        from litestack.common.db import run_blocking
        from litestack.compute import states
        from litestack.compute.attach import release_volumes

        svc = await run_blocking(self.parts.hosts.by_host, inst.host) if inst.host else None
        await run_blocking(lambda: self.parts.instances.save(inst.id, task_state=states.DELETING))
        if svc is not None and self.parts.hosts.is_up(svc):
            await self.api_parts.agents.cast(inst.host, "terminate_instance", instance_id=inst.id)
            return
        self.notifier.emit("compute.instance.delete.start", {"instance_id": inst.id})
        moving = await run_blocking(self.parts.migrations.in_progress, inst.id)
        if moving is not None:
            await self.claims.release(moving.uuid)
            await run_blocking(lambda: self.parts.migrations.save(moving.id, status="error"))
        shelved = (await run_blocking(self.parts.migrations.sysmeta, inst.id)).get("shelved_image_id")
        if shelved:
            from litestack.compute.imageclient import Images

            await Images(_LazyClient(self)).delete(shelved)
        await self.claims.release(inst.id)
        await release_volumes(self.parts.block_devices, self.block_storage, inst.id)
        await self.network.release(await self.network.all_ports(inst))
        await run_blocking(self.parts.instances.mark_deleted, inst.id)
        self.notifier.emit("compute.instance.delete.end", {"instance_id": inst.id})


class _LazyClient:
    """The service's REST client, made on first use (the service user exists after bootstrap)."""

    def __init__(self, service: ComputeService) -> None:
        self.service = service

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        return await self.service.client.request(*args, **kwargs)

    async def endpoint(self, service_type: str) -> str:
        endpoint: str = await self.service.client.endpoint(service_type)
        return endpoint
