"""The conductor: takes a build from the API, asks the scheduler for a host (which claims it in
placement) and casts the build to that host's compute agent; reschedules failed builds on
alternates, and puts a build that no host can take into ERROR with Nova's fault, releasing what
it held (claims, ports)."""

from __future__ import annotations

import logging
from typing import Any

from litestack.common.db import run_blocking
from litestack.compute import states
from litestack.compute.manager.instances import InstanceNotFound, Instances
from litestack.compute.manager.migrations import MigrationNotFound, Migrations
from litestack.compute.netclient import Network
from litestack.compute.placement import Claims
from litestack.compute.rpc import ComputeAgentAPI, SchedulerAPI
from litestack.compute.scheduler import NoValidHost

LOG = logging.getLogger(__name__)


class Conductor:
    rpc_methods = ("build_instances", "reschedule", "move_instance", "unshelve_instance")
    rpc_version = "1.0"

    def __init__(self, instances: Instances, scheduler: SchedulerAPI, agents: ComputeAgentAPI, claims: Claims,
                 network: Network, notifier: Any, migrations: Migrations | None = None,
                 same_host_resize: bool = False) -> None:
        self.instances, self.scheduler, self.agents = instances, scheduler, agents
        self.claims, self.network, self.notifier = claims, network, notifier
        self.migrations = migrations
        self.same_host_resize = same_host_resize

    # --- moves -----------------------------------------------------------------------------

    async def move_instance(self, instance_id: str, migration_id: int, request_id: str | None = None) -> None:
        """Schedule a resize, cold or live migration or evacuation, then hand it to the agents.

        As Nova: the instance's allocation on its source becomes the migration's (consumer = the
        migration uuid) and the instance claims its new flavor on the destination; an evacuation
        claims the destination on top (the dead source is cleaned up when its agent comes back).
        When no host fits, the allocation goes back, the migration is ``error`` and the server
        keeps its state (with a fault)."""
        assert self.migrations is not None
        try:
            inst = await run_blocking(self.instances.get, instance_id)
            m = await run_blocking(self.migrations.get, migration_id)
        except (InstanceNotFound, MigrationNotFound):
            return
        kind = m.migration_type
        asked = m.dest_compute
        force = bool((m.progress or {}).get("force"))
        if kind == "evacuation":
            move: dict[str, Any] = {"ignore_hosts": [inst.host], "extend": True}
        else:
            stay = kind == "resize" and self.same_host_resize
            move = {"flavor": m.new_flavor, "ignore_hosts": [] if stay else [inst.host]}
            await self.claims.move(inst.id, m.uuid, inst.project_id, inst.user_id)
        if asked:
            move.update(host=asked, force=force)
        try:
            dest = await self.scheduler.select_destinations(instance_id, move)
        except Exception as exc:
            message = exc.message if isinstance(exc, NoValidHost) else f"{type(exc).__name__}: {exc}"
            LOG.warning("%s of %s failed: %s", kind, instance_id, message)
            if kind != "evacuation":
                await self.claims.move(m.uuid, inst.id, inst.project_id, inst.user_id)
            await run_blocking(lambda: self.migrations.save(m.id, status="error"))  # type: ignore[union-attr]
            await run_blocking(self.instances.add_fault, instance_id, 400 if isinstance(exc, NoValidHost) else 500,
                               message)
            await run_blocking(lambda: self.instances.save(instance_id, task_state=None))
            if request_id:
                await run_blocking(self.instances.finish_action, instance_id, request_id, "Error")
            return
        m = await run_blocking(lambda: self.migrations.save(  # type: ignore[union-attr]
            m.id, dest_compute=dest["host"], dest_node=dest["node"], dest_host=dest["host"],
            status={"resize": "pre-migrating", "migration": "pre-migrating", "live-migration": "queued",
                    "evacuation": "pre-migrating"}[kind]))
        if kind == "evacuation":
            await self.agents.cast(dest["host"], "evacuate_instance", instance_id=instance_id, migration_id=m.id,
                                   request_id=request_id)
        elif kind == "live-migration":
            await self.agents.cast(inst.host or "", "live_migration", instance_id=instance_id, migration_id=m.id,
                                   request_id=request_id)
        else:
            await self.agents.cast(inst.host or "", "resize_instance", instance_id=instance_id, migration_id=m.id,
                                   request_id=request_id)

    async def unshelve_instance(self, instance_id: str, request_id: str | None = None) -> None:
        """An offloaded server is scheduled again; the chosen host's agent spawns it from its
        shelved image. No host: it stays SHELVED_OFFLOADED (with a fault)."""
        try:
            inst = await run_blocking(self.instances.get, instance_id)
        except InstanceNotFound:
            return
        try:
            dest = await self.scheduler.select_destinations(instance_id, {"flavor": inst.flavor})
        except Exception as exc:
            message = exc.message if isinstance(exc, NoValidHost) else f"{type(exc).__name__}: {exc}"
            await run_blocking(self.instances.add_fault, instance_id, 400, message)
            await run_blocking(lambda: self.instances.save(instance_id, task_state=None))
            return
        await run_blocking(lambda: self.instances.save(instance_id, host=dest["host"], node=dest["node"]))
        await self.agents.cast(dest["host"], "unshelve_instance", instance_id=instance_id, request_id=request_id)

    async def build_instances(self, instance_ids: list[str]) -> None:
        for instance_id in instance_ids:
            await self._schedule(instance_id)

    async def reschedule(self, instance_id: str, reason: str) -> None:
        LOG.info("rescheduling %s: %s", instance_id, reason)
        await self._schedule(instance_id, reason)

    async def _schedule(self, instance_id: str, last_error: str = "") -> None:
        try:
            inst = await run_blocking(self.instances.get, instance_id)
        except InstanceNotFound:
            return  # deleted meanwhile
        if inst.task_state == states.DELETING:
            return
        try:
            dest = await self.scheduler.select_destinations(instance_id)
        except NoValidHost as exc:
            await self.fail_build(instance_id, exc.message, last_error)
            return
        except Exception as exc:  # the scheduler or placement is down: the build cannot go on
            LOG.warning("scheduling %s failed: %s", instance_id, exc)
            await self.fail_build(instance_id, f"Build of instance {instance_id} aborted: {exc}", last_error,
                                  code=500)
            return
        await self.agents.cast(dest["host"], "build_and_run_instance", instance_id=instance_id)

    async def fail_build(self, instance_id: str, message: str, details: str = "", code: int = 500) -> None:
        """ERROR with a fault; release the claim and every port made for the build."""
        try:
            inst = await run_blocking(lambda: self.instances.save(
                instance_id, vm_state=states.ERROR, task_state=None, host=None, node=None))
        except InstanceNotFound:
            return
        await run_blocking(self.instances.add_fault, instance_id, code, message, details)
        await self.claims.release(instance_id)
        await self.network.release(await self.network.all_ports(inst))
        await run_blocking(lambda: self.instances.save(instance_id, ports=[]))
        self.notifier.emit("compute.instance.create.error", {"instance_id": instance_id, "message": message})
