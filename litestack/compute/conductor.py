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
from litestack.compute.netclient import Network
from litestack.compute.placement import Claims
from litestack.compute.rpc import ComputeAgentAPI, SchedulerAPI
from litestack.compute.scheduler import NoValidHost

LOG = logging.getLogger(__name__)


class Conductor:
    rpc_methods = ("build_instances", "reschedule")
    rpc_version = "1.0"

    def __init__(self, instances: Instances, scheduler: SchedulerAPI, agents: ComputeAgentAPI, claims: Claims,
                 network: Network, notifier: Any) -> None:
        self.instances, self.scheduler, self.agents = instances, scheduler, agents
        self.claims, self.network, self.notifier = claims, network, notifier

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
