"""The compute agent of one host (Nova's nova-compute): builds, power actions and deletes of the
instances the conductor and the API send it over the bus, through the host's virt driver.

It registers its service and node (its resource provider's inventory in placement) at start,
heartbeats every ``report_interval``, and on start finishes what a crash interrupted: builds are
run again (the driver's spawn is idempotent, half-made ports are released first), deletes are
completed. ``litestack agent compute --host NAME`` runs one alone; ``litestack up`` runs one per
fake host in its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import logging
import time
from typing import Any

from litestack.common import errors
from litestack.common.db import run_blocking
from litestack.compute import states
from litestack.compute.action_events import recording
from litestack.compute.attach import AgentVolumes, attached_devices, release_volumes
from litestack.compute.drivers.base import VIF, DriverError, InstanceSpec, VirtDriver, power_state
from litestack.compute.imageclient import Images
from litestack.compute.manager.hosts import Hosts
from litestack.compute.manager.instances import InstanceNotFound, Instances, UnexpectedTaskState
from litestack.compute.manager.migrations import IN_PROGRESS, Migrations
from litestack.compute.moves import Moves
from litestack.compute.netclient import Network
from litestack.compute.placement import Claims
from litestack.compute.rpc import COMPUTE, ComputeAgentAPI, ConductorAPI

LOG = logging.getLogger(__name__)

#: The power actions: (task state while it runs, driver method, vm_state after, power state after).
POWER_ACTIONS: dict[str, tuple[str, str, str]] = {
    "stop_instance": (states.POWERING_OFF, "power_off", states.STOPPED),
    "start_instance": (states.POWERING_ON, "power_on", states.ACTIVE),
    "pause_instance": (states.PAUSING, "pause", states.PAUSED),
    "unpause_instance": (states.UNPAUSING, "unpause", states.ACTIVE),
    "suspend_instance": (states.SUSPENDING, "suspend", states.SUSPENDED),
    "resume_instance": (states.RESUMING, "resume", states.ACTIVE),
}
#: The task states of the moves, snapshots, shelve and rescue, which a restart finishes or rolls back.
MOVE_TASKS = (*states.RESIZING, states.RESIZE_REVERTING, states.MIGRATING, states.SHELVING,
              states.SHELVING_IMAGE_PENDING_UPLOAD, states.SHELVING_IMAGE_UPLOADING, states.SHELVING_OFFLOADING,
              states.UNSHELVING, states.RESCUING, states.UNRESCUING, states.IMAGE_SNAPSHOT, states.IMAGE_BACKUP,
              states.IMAGE_PENDING_UPLOAD, states.IMAGE_UPLOADING)
NOTIFY = {"stop_instance": "power_off", "start_instance": "power_on", "pause_instance": "pause",
          "unpause_instance": "unpause", "suspend_instance": "suspend", "resume_instance": "resume"}


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class ComputeAgent:
    rpc_methods: tuple[str, ...] = ("build_and_run_instance", "terminate_instance", "stop_instance", "start_instance",
                   "pause_instance", "unpause_instance", "suspend_instance", "resume_instance",
                   "reboot_instance", "rebuild_instance", "get_console_output", "external_instance_event",
                   # moves (resize, migrations, evacuate), snapshots, shelve, rescue
                   "resize_instance", "finish_resize", "abort_resize", "confirm_resize", "revert_resize",
                   "finish_revert_resize", "cleanup_kept", "live_migration", "pre_live_migration",
                   "post_live_migration_at_destination", "rollback_live_migration_at_destination",
                   "live_migration_force_complete", "live_migration_abort", "evacuate_instance",
                   "snapshot_instance", "shelve_instance", "shelve_offload_instance", "unshelve_instance",
                   "rescue_instance", "unrescue_instance",
                   # soft delete, password, diagnostics, crash dump, interfaces
                   "soft_delete_instance", "restore_instance", "set_admin_password", "get_diagnostics",
                   "trigger_crash_dump", "attach_interface", "detach_interface", "get_host_uptime",
                   "inject_network_info",
                   # volumes
                   "attach_volume", "detach_volume")
    rpc_version = "1.0"

    def __init__(self, host: str, az: str, driver: VirtDriver, instances: Instances, hosts: Hosts,
                 claims: Claims, network: Network, notifier: Any, conf: Any, migrations: Migrations,
                 images: Images, volumes: AgentVolumes | None = None) -> None:
        self.host, self.az, self.driver = host, az, driver
        #: The volumes of this host's instances (None: a cloud without block storage).
        self.volumes = volumes
        self.migrations, self.images = migrations, images
        self.agents_api: Any = None
        #: Live migrations running from this host: their force-complete and abort events.
        self._live: dict[str, dict[str, asyncio.Event]] = {}
        self.instances, self.hosts, self.claims, self.network = instances, hosts, claims, network
        self.notifier = notifier
        self.conf = conf
        self.conductor: ConductorAPI | None = None
        self._waiters: dict[tuple[str, str], asyncio.Future[str]] = {}
        #: network-vif-plugged events that came before their waiter (the network service may see a
        #: port up as soon as it is bound, before the spawn waits): (status, monotonic time).
        self._early: dict[tuple[str, str], tuple[str, float]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listener: Any = None
        self._locks: dict[str, asyncio.Lock] = {}
        self.moves = Moves(self)

    def _lock(self, instance_id: str) -> asyncio.Lock:
        """One operation at a time per instance on this host (a delete waits for the build)."""
        return self._locks.setdefault(instance_id, asyncio.Lock())

    # --- life ----------------------------------------------------------------------------

    def inventory(self, res: Any) -> dict[str, dict[str, Any]]:
        c = self.conf
        return {
            "VCPU": {"total": res.vcpus, "reserved": 0, "min_unit": 1, "max_unit": res.vcpus, "step_size": 1,
                     "allocation_ratio": c.get("compute", "cpu_allocation_ratio")},
            "MEMORY_MB": {"total": res.memory_mb, "reserved": c.get("compute", "reserved_host_memory_mb"),
                          "min_unit": 1, "max_unit": res.memory_mb, "step_size": 1,
                          "allocation_ratio": c.get("compute", "ram_allocation_ratio")},
            "DISK_GB": {"total": res.local_gb, "reserved": 0, "min_unit": 1, "max_unit": res.local_gb,
                        "step_size": 1, "allocation_ratio": c.get("compute", "disk_allocation_ratio")},
        }

    async def start(self, bus: Any) -> None:
        """Register, report the inventory, listen on ``compute.<host>``, heartbeat, recover."""
        res = await self.driver.host_resources()
        svc = await run_blocking(self.hosts.register, self.host, self.az, res)
        await self.claims.report(svc.node_uuid, self.host, self.inventory(res))
        self.conductor = ConductorAPI(bus)
        self.agents_api = ComputeAgentAPI(bus)
        self._listener = await bus.listen(COMPUTE, recording(self), server=self.host)
        # Up from now: its inventory is in placement and it takes casts (a scheduler that sees it up
        # finds it among the allocation candidates).
        await run_blocking(self.hosts.heartbeat, self.host)
        self._spawn(self._heartbeat())
        self._spawn(self.moves.poll_moves_every(self.conf.get("compute", "move_poll_interval")))
        if self.conf.get("compute", "sync_power_state_interval"):
            self._spawn(self._sync_every(self.conf.get("compute", "sync_power_state_interval")))
        if self.conf.get("compute", "reclaim_instance_interval"):
            self._spawn(self._reclaim_every(self.conf.get("compute", "reclaim_instance_interval")))
        await self.recover()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._listener is not None:
            await self._listener.stop(grace=1.0)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _heartbeat(self) -> None:
        interval = self.conf.get("compute", "report_interval")
        while True:
            await asyncio.sleep(interval)
            try:
                await run_blocking(self.hosts.heartbeat, self.host)
            except Exception as exc:  # the next beat tries again
                LOG.warning("compute %s: heartbeat failed: %s", self.host, exc)

    async def _sync_every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sync_power_states()
            except Exception as exc:  # the next run tries again
                LOG.warning("compute %s: power state sync failed: %s", self.host, exc)

    async def sync_power_states(self) -> None:
        """Nova's periodic ``_sync_power_states`` and ``_cleanup_running_deleted_instances``: a
        settled server whose guest is gone is stopped; a guest whose server is gone is destroyed."""
        running = await self.driver.list_instances()
        known = {}
        for inst in await run_blocking(self.instances.on_host, self.host):
            known[inst.id] = inst
            if inst.task_state is not None or inst.vm_state not in (states.ACTIVE, states.PAUSED, states.SUSPENDED):
                continue
            if inst.id not in running:
                LOG.warning("compute %s: the guest of %s is gone; the server is stopped", self.host, inst.id)
                await run_blocking(lambda i=inst: self.instances.save(
                    i.id, expected_task_state=[None], vm_state=states.STOPPED, power_state=power_state.SHUTDOWN))
            elif running[inst.id] != inst.power_state:
                await run_blocking(lambda i=inst: self.instances.save(
                    i.id, expected_task_state=[None], power_state=running[i.id]))
        incoming = {m.instance_id for m in await run_blocking(lambda: self.migrations.find(
            {"dest_compute": self.host, "statuses": list(IN_PROGRESS)}))}
        for uuid in running:
            if uuid not in known and uuid not in incoming and not self._lock(uuid).locked():
                LOG.warning("compute %s: destroying guest %s of a deleted server", self.host, uuid)
                await self.driver.destroy(uuid)
                self._locks.pop(uuid, None)

    async def recover(self) -> None:
        """After a crash: builds left on this host run again, deletes finish, power states are
        read back from the driver."""
        running = await self.driver.list_instances()
        await self.moves.recover_elsewhere()
        for inst in await run_blocking(self.instances.on_host, self.host):
            if inst.task_state in MOVE_TASKS:
                LOG.warning("compute %s: %s of %s was interrupted by a restart", self.host, inst.task_state, inst.id)
                await self.moves.recover_move(inst, inst.id in running)
                continue
            if inst.task_state == states.DELETING:
                LOG.warning("compute %s: finishing the delete of %s interrupted by a restart", self.host, inst.id)
                self._spawn(self.terminate_instance(inst.id))
                continue
            if inst.vm_state == states.BUILDING:
                LOG.warning("compute %s: building %s again after a restart", self.host, inst.id)
                self._spawn(self.build_and_run_instance(inst.id, recovering=True))
                continue
            if self.volumes is not None and getattr(inst, "block_devices", None):
                self._spawn(self._recover_volumes(inst.id))
            if inst.task_state == states.SOFT_DELETING:
                self._spawn(self.soft_delete_instance(inst.id))
            elif inst.task_state == states.RESTORING:
                self._spawn(self.restore_instance(inst.id))
            elif inst.task_state == states.UPDATING_PASSWORD:  # the caller had its answer (an error): clear it
                await run_blocking(lambda i=inst: self.instances.save(i.id, task_state=None))
            elif inst.id not in running and inst.vm_state in (states.ACTIVE, states.PAUSED, states.SUSPENDED):
                # The (fake) hypervisor lost it with the process: the server is stopped, as Nova's
                # power-state sync finds a guest that is gone.
                await run_blocking(lambda i=inst: self.instances.save(
                    i.id, vm_state=states.STOPPED, task_state=None, power_state=power_state.SHUTDOWN))

    # --- build -----------------------------------------------------------------------------

    async def build_and_run_instance(self, instance_id: str, recovering: bool = False) -> None:
        async with self._lock(instance_id):
            await self._build(instance_id, recovering)

    async def _build(self, instance_id: str, recovering: bool) -> None:
        try:
            inst = await run_blocking(self.instances.get, instance_id)
        except InstanceNotFound:
            return
        if inst.task_state == states.DELETING or inst.host != self.host:
            return
        self.notifier.emit("compute.instance.create.start", self._payload(inst))
        try:
            if recovering:
                await self.network.release(await self.network.all_ports(inst))
                await run_blocking(lambda: self.instances.save(instance_id, ports=[]))
            inst = await run_blocking(lambda: self.instances.save(
                instance_id, expected_task_state=[states.SCHEDULING, states.NETWORKING, states.BLOCK_DEVICE_MAPPING,
                                                  states.SPAWNING],
                task_state=states.NETWORKING))
            req = inst.request or {}
            ports: list[dict[str, Any]] = []
            for net in req.get("networks", []):
                ports.append(await self.network.bind(inst, self.host, self.az, net, req.get("security_group_ids", [])))
                await run_blocking(lambda p=list(ports): self.instances.save(instance_id, ports=p))
            devices = []
            if getattr(inst, "block_devices", None):
                inst = await run_blocking(lambda: self.instances.save(
                    instance_id, expected_task_state=[states.NETWORKING], task_state=states.BLOCK_DEVICE_MAPPING))
                devices = await self._volumes().for_spawn(instance_id)
            inst = await run_blocking(lambda: self.instances.save(
                instance_id, expected_task_state=[states.NETWORKING, states.BLOCK_DEVICE_MAPPING],
                task_state=states.SPAWNING))
            spec = InstanceSpec(inst.id, inst.name, int(inst.flavor["vcpus"]), int(inst.flavor["ram"]),
                                int(inst.flavor["disk"]), inst.image_id, dict(req.get("image_properties", {})),
                                [VIF(p["id"], p["mac"], p["network_id"], p["ips"]) for p in ports],
                                inst.user_data, inst.key_data, block_devices=devices)
            waiting = await self._prepare_vif_wait(inst.id, [p["id"] for p in ports])
            await self.driver.spawn(spec)
            await self._wait_vifs(inst.id, waiting)
            if devices:
                await self._volumes().spawned(instance_id)
        except (InstanceNotFound, UnexpectedTaskState):
            return  # deleted meanwhile: the delete, waiting for this build, cleans up
        except Exception as exc:  # any failure of this host: clean up here, try another host
            await self._build_failed(instance_id, exc)
            return
        try:
            inst = await run_blocking(lambda: self.instances.save(
                instance_id, expected_task_state=[states.SPAWNING], vm_state=states.ACTIVE, task_state=None,
                power_state=power_state.RUNNING, launched_at=utcnow(), progress=100))
        except Exception:  # deleted while spawning: the delete cleans up
            return
        self.notifier.emit("compute.instance.create.end", self._payload(inst))

    async def _build_failed(self, instance_id: str, exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        LOG.warning("compute %s: build of %s failed: %s", self.host, instance_id, reason)
        with contextlib.suppress(Exception):
            await self.driver.destroy(instance_id)
        try:
            inst = await run_blocking(self.instances.get, instance_id)
            await self.network.release(await self.network.all_ports(inst))
            await self.claims.release(instance_id)
            await run_blocking(lambda: self.instances.save(
                instance_id, ports=[], host=None, node=None, task_state=states.SCHEDULING,
                tried_hosts=[*(inst.tried_hosts or []), self.host]))
        except InstanceNotFound:
            return
        assert self.conductor is not None
        await self.conductor.reschedule(instance_id, reason)

    async def _prepare_vif_wait(self, instance_id: str, port_ids: list[str]) -> list[asyncio.Future[str]]:
        timeout = self.conf.get("compute", "vif_plugging_timeout")
        if not port_ids or not timeout or not await self.network.has_l2_agent(self.host):
            return []
        loop = asyncio.get_running_loop()
        futures = []
        for pid in port_ids:
            fut: asyncio.Future[str] = loop.create_future()
            early = self._early.pop((instance_id, pid), None)
            if early is not None:
                fut.set_result(early[0])
            else:
                self._waiters[(instance_id, pid)] = fut
            futures.append(fut)
        return futures

    async def _wait_vifs(self, instance_id: str, futures: list[asyncio.Future[str]]) -> None:
        if not futures:
            return
        try:
            async with asyncio.timeout(self.conf.get("compute", "vif_plugging_timeout")):
                results = await asyncio.gather(*futures)
            if any(r == "failed" for r in results):
                raise DriverError("A network-vif-plugged event reported a failure.")
        except TimeoutError:
            if self.conf.get("compute", "vif_plugging_is_fatal"):
                raise DriverError("Timeout waiting for vif plugging callback") from None
            LOG.warning("compute %s: no network-vif-plugged event for %s; going on", self.host, instance_id)
        finally:
            for key in [k for k in self._waiters if k[0] == instance_id]:
                self._waiters.pop(key, None)

    def external_instance_event(self, instance_id: str, name: str, tag: str | None, status: str) -> None:
        if name in ("network-vif-plugged", "network-vif-unplugged") and tag:
            fut = self._waiters.get((instance_id, tag))
            if fut is not None and not fut.done() and name == "network-vif-plugged":
                fut.set_result(status)
            elif fut is None and name == "network-vif-plugged":
                now = time.monotonic()
                keep = self.conf.get("compute", "vif_plugging_timeout") or 300
                for key in [k for k, (_, at) in self._early.items() if now - at > keep]:
                    del self._early[key]
                self._early[(instance_id, tag)] = (status, now)
        elif name == "network-changed":
            self._spawn(self._refresh_network_cache(instance_id))
        elif name == "volume-extended" and tag and self.volumes is not None:
            self._spawn(self._volume_extended(instance_id, tag))

    async def _refresh_network_cache(self, instance_id: str) -> None:
        """Nova's info-cache refresh on ``network-changed``: the addresses (fixed and floating) of
        the instance's recorded ports read again from the network service."""
        async with self._lock(instance_id):
            try:
                inst = await run_blocking(lambda: self.instances.get(instance_id))
            except InstanceNotFound:
                return
            if not inst.ports:
                return
            ports = await self.network.refresh(list(inst.ports))
            await run_blocking(lambda: self.instances.save(instance_id, ports=ports))

    # --- delete ----------------------------------------------------------------------------

    async def terminate_instance(self, instance_id: str) -> None:
        async with self._lock(instance_id):
            await self._terminate(instance_id)
        self._locks.pop(instance_id, None)

    async def _terminate(self, instance_id: str) -> None:
        try:
            inst = await run_blocking(lambda: self.instances.get(instance_id))
        except InstanceNotFound:
            return
        self.notifier.emit("compute.instance.delete.start", self._payload(inst))
        await self.driver.destroy(instance_id)
        await self.moves.drop(inst)
        if self.volumes is not None:
            await release_volumes(self.volumes.bdms, self.volumes.storage, instance_id)
        await self.network.release(await self.network.all_ports(inst))
        await self.claims.release(instance_id)
        done = await run_blocking(self.instances.mark_deleted, instance_id)
        if done is not None:
            self.notifier.emit("compute.instance.delete.end", self._payload(done))

    # --- power -----------------------------------------------------------------------------

    async def _power(self, action: str, instance_id: str, request_id: str | None = None) -> None:
        async with self._lock(instance_id):
            await self._power_locked(action, instance_id, request_id)

    async def _power_locked(self, action: str, instance_id: str, request_id: str | None) -> None:
        task, method, vm_after = POWER_ACTIONS[action]
        inst = await run_blocking(self.instances.get, instance_id)
        self.notifier.emit(f"compute.instance.{NOTIFY[action]}.start", self._payload(inst))
        try:
            await getattr(self.driver, method)(instance_id)
        except DriverError as exc:
            await run_blocking(self.instances.add_fault, instance_id, 500, str(exc))
            await run_blocking(lambda: self.instances.save(instance_id, task_state=None))
            return
        state = await self.driver.power_state(instance_id)
        inst = await run_blocking(lambda: self.instances.save(
            instance_id, expected_task_state=[task], vm_state=vm_after, task_state=None, power_state=state))
        if request_id:
            await run_blocking(self.instances.finish_action, instance_id, request_id, None)
        self.notifier.emit(f"compute.instance.{NOTIFY[action]}.end", self._payload(inst))

    async def stop_instance(self, instance_id: str, request_id: str | None = None) -> None:
        await self._power("stop_instance", instance_id, request_id)

    async def start_instance(self, instance_id: str, request_id: str | None = None) -> None:
        await self._power("start_instance", instance_id, request_id)

    async def pause_instance(self, instance_id: str, request_id: str | None = None) -> None:
        await self._power("pause_instance", instance_id, request_id)

    async def unpause_instance(self, instance_id: str, request_id: str | None = None) -> None:
        await self._power("unpause_instance", instance_id, request_id)

    async def suspend_instance(self, instance_id: str, request_id: str | None = None) -> None:
        await self._power("suspend_instance", instance_id, request_id)

    async def resume_instance(self, instance_id: str, request_id: str | None = None) -> None:
        await self._power("resume_instance", instance_id, request_id)

    async def reboot_instance(self, instance_id: str, hard: bool, request_id: str | None = None) -> None:
        inst = await run_blocking(self.instances.get, instance_id)
        self.notifier.emit("compute.instance.reboot.start", self._payload(inst))
        await self.driver.reboot(instance_id, hard)
        inst = await run_blocking(lambda: self.instances.save(
            instance_id, vm_state=states.ACTIVE, task_state=None, power_state=power_state.RUNNING))
        self.notifier.emit("compute.instance.reboot.end", self._payload(inst))

    async def rebuild_instance(self, instance_id: str, request_id: str | None = None) -> None:
        """A new root disk from the instance's (new) image: destroy, spawn again on the same
        ports; a stopped server stays stopped. A failure is ERROR with a fault (no reschedule)."""
        async with self._lock(instance_id):
            inst = await run_blocking(self.instances.get, instance_id)
            stopped = inst.vm_state == states.STOPPED
            self.notifier.emit("compute.instance.rebuild.start", self._payload(inst))
            try:
                await self.driver.destroy(instance_id)
                inst = await run_blocking(lambda: self.instances.save(
                    instance_id, expected_task_state=[states.REBUILDING], task_state=states.REBUILD_SPAWNING))
                req = inst.request or {}
                ports = inst.ports or []
                await self.driver.spawn(InstanceSpec(
                    inst.id, inst.name, int(inst.flavor["vcpus"]), int(inst.flavor["ram"]), int(inst.flavor["disk"]),
                    inst.image_id, dict(req.get("image_properties", {})),
                    [VIF(p["id"], p["mac"], p["network_id"], p["ips"]) for p in ports], inst.user_data, inst.key_data,
                    block_devices=attached_devices(inst)))
                if stopped:
                    await self.driver.power_off(instance_id)
            except (InstanceNotFound, UnexpectedTaskState):
                return
            except DriverError as exc:
                await run_blocking(self.instances.add_fault, instance_id, 500, str(exc))
                await run_blocking(lambda: self.instances.save(instance_id, vm_state=states.ERROR, task_state=None,
                                                               power_state=power_state.NOSTATE))
                return
            inst = await run_blocking(lambda: self.instances.save(
                instance_id, vm_state=states.STOPPED if stopped else states.ACTIVE, task_state=None,
                power_state=power_state.SHUTDOWN if stopped else power_state.RUNNING, launched_at=utcnow()))
            if request_id:
                await run_blocking(self.instances.finish_action, instance_id, request_id, None)
            self.notifier.emit("compute.instance.rebuild.end", self._payload(inst))

    # --- volumes -----------------------------------------------------------------------------

    def _volumes(self) -> AgentVolumes:
        if self.volumes is None:
            from litestack.common import errors

            raise errors.ServiceUnavailable("This compute host has no block storage client.")
        return self.volumes

    async def attach_volume(self, instance_id: str, bdm_id: str, request_id: str | None = None) -> None:
        async with self._lock(instance_id):
            await self._volume_step("volume_attach", instance_id, bdm_id,
                                    self._volumes().attach(instance_id, bdm_id, request_id))

    async def detach_volume(self, instance_id: str, volume_id: str, request_id: str | None = None) -> None:
        async with self._lock(instance_id):
            await self._volume_step("volume_detach", instance_id, volume_id,
                                    self._volumes().detach(instance_id, volume_id, request_id))

    async def _volume_step(self, event: str, instance_id: str, ref: str, step: Any) -> None:
        """Nova's ``instance.volume_attach`` / ``volume_detach`` notifications around a step."""
        try:
            inst = await run_blocking(self.instances.get, instance_id)
        except InstanceNotFound:
            step.close()
            return
        payload = {**self._payload(inst), "volume": ref}
        self.notifier.emit(f"compute.instance.{event}.start", payload)
        await step
        self.notifier.emit(f"compute.instance.{event}.end", payload)

    async def _volume_extended(self, instance_id: str, volume_id: str) -> None:
        async with self._lock(instance_id):
            await self._volumes().extended(instance_id, volume_id)

    async def _recover_volumes(self, instance_id: str) -> None:
        async with self._lock(instance_id):
            await self._volumes().recover(instance_id)

    async def get_console_output(self, instance_id: str, length: int | None = None) -> str:
        return await self.driver.console_output(instance_id, length)

    # --- soft delete, restore, password, diagnostics, NMI, interfaces ------------------------

    async def soft_delete_instance(self, instance_id: str, request_id: str | None = None) -> None:
        """Power the guest off and keep everything (disks, ports, claim) until it is restored or
        reclaimed ([compute] reclaim_instance_interval)."""
        async with self._lock(instance_id):
            try:
                inst = await run_blocking(self.instances.get, instance_id)
                self.notifier.emit("compute.instance.soft_delete.start", self._payload(inst))
                with contextlib.suppress(DriverError):  # a guest already off (or gone) is fine
                    await self.driver.power_off(instance_id)
                inst = await run_blocking(lambda: self.instances.save(
                    instance_id, expected_task_state=[states.SOFT_DELETING], vm_state=states.SOFT_DELETED,
                    task_state=None, power_state=power_state.SHUTDOWN))
            except (InstanceNotFound, UnexpectedTaskState):
                return
            if request_id:
                await run_blocking(self.instances.finish_action, instance_id, request_id, None)
            self.notifier.emit("compute.instance.soft_delete.end", self._payload(inst))

    async def restore_instance(self, instance_id: str, request_id: str | None = None) -> None:
        async with self._lock(instance_id):
            try:
                inst = await run_blocking(self.instances.get, instance_id)
                self.notifier.emit("compute.instance.restore.start", self._payload(inst))
                await self.driver.power_on(instance_id)
                inst = await run_blocking(lambda: self.instances.save(
                    instance_id, expected_task_state=[states.RESTORING], vm_state=states.ACTIVE, task_state=None,
                    power_state=power_state.RUNNING, deleted_at=None))
            except (InstanceNotFound, UnexpectedTaskState):
                return
            except DriverError as exc:
                await run_blocking(self.instances.add_fault, instance_id, 500, str(exc))
                await run_blocking(lambda: self.instances.save(instance_id, task_state=None))
                return
            if request_id:
                await run_blocking(self.instances.finish_action, instance_id, request_id, None)
            self.notifier.emit("compute.instance.restore.end", self._payload(inst))

    async def _reclaim_every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(min(interval, 60.0))
            try:
                await self.reclaim_soft_deleted(interval)
            except Exception as exc:  # the next run tries again
                LOG.warning("compute %s: reclaiming soft-deleted servers failed: %s", self.host, exc)

    async def reclaim_soft_deleted(self, interval: float) -> None:
        """Nova's ``_reclaim_queued_deletes``: delete the servers of this host soft-deleted more
        than ``interval`` seconds ago."""
        for inst in await run_blocking(self.instances.on_host, self.host):
            if inst.vm_state != states.SOFT_DELETED or inst.task_state is not None:
                continue
            deleted_at = inst.deleted_at
            if deleted_at is not None and deleted_at.tzinfo is None:
                deleted_at = deleted_at.replace(tzinfo=datetime.UTC)
            if deleted_at is not None and (utcnow() - deleted_at).total_seconds() < interval:
                continue
            try:
                await run_blocking(lambda i=inst: self.instances.save(
                    i.id, expected_task_state=[None], expected_vm_state=[states.SOFT_DELETED],
                    task_state=states.DELETING))
            except (InstanceNotFound, UnexpectedTaskState, errors.Conflict):
                continue  # restored or deleted meanwhile
            LOG.info("compute %s: reclaiming soft-deleted server %s", self.host, inst.id)
            await self.terminate_instance(inst.id)

    async def set_admin_password(self, instance_id: str, password: str) -> None:
        """Set the guest's administrator password (an RPC call: the API answers with its outcome)."""
        async with self._lock(instance_id):
            try:
                await self.driver.set_admin_password(instance_id, password)
            finally:
                with contextlib.suppress(InstanceNotFound, UnexpectedTaskState):
                    await run_blocking(lambda: self.instances.save(
                        instance_id, expected_task_state=[states.UPDATING_PASSWORD], task_state=None))

    async def inject_network_info(self, instance_id: str, request_id: str | None = None) -> None:
        """Read the server's ports again from the network service (Nova's injectNetworkInfo: the
        info cache, which a real driver then writes into the guest's network config)."""
        await self._refresh_network_cache(instance_id)
        if request_id:
            with contextlib.suppress(InstanceNotFound):
                await run_blocking(self.instances.finish_action, instance_id, request_id, None)

    async def get_host_uptime(self) -> str:
        return await self.driver.host_uptime()

    async def get_diagnostics(self, instance_id: str) -> dict[str, Any]:
        return dataclasses.asdict(await self.driver.diagnostics(instance_id))

    async def trigger_crash_dump(self, instance_id: str, request_id: str | None = None) -> None:
        async with self._lock(instance_id):
            try:
                await self.driver.inject_nmi(instance_id)
            except DriverError as exc:
                await run_blocking(self.instances.add_fault, instance_id, 500, str(exc))
            if request_id:
                await run_blocking(self.instances.finish_action, instance_id, request_id, None)

    async def attach_interface(self, instance_id: str, network_id: str | None, port_id: str | None,
                               fixed_ip: str | None) -> dict[str, Any]:
        """Bind a new (or the user's) port to this host for the server and hot-plug it; its cache
        entry. A failure of the plug releases the port again."""
        async with self._lock(instance_id):
            inst = await run_blocking(self.instances.get, instance_id)
            groups = (inst.request or {}).get("security_group_ids", []) if not port_id else []
            entry = await self.network.bind(inst, self.host, inst.availability_zone or self.az,
                                            {"network_id": network_id, "port_id": port_id, "fixed_ip": fixed_ip},
                                            groups)
            try:
                await self.driver.attach_interface(instance_id, VIF(entry["id"], entry["mac"], entry["network_id"],
                                                                    entry["ips"]))
            except Exception:
                await self.network.release([entry])
                raise
            await run_blocking(lambda: self.instances.save(instance_id, ports=[*(inst.ports or []), entry]))
            self.notifier.emit("compute.instance.interface_attach", {**self._payload(inst), "port_id": entry["id"]})
            return entry

    async def detach_interface(self, instance_id: str, port_id: str, request_id: str | None = None) -> None:
        async with self._lock(instance_id):
            try:
                inst = await run_blocking(self.instances.get, instance_id)
            except InstanceNotFound:
                return
            entry = next((p for p in inst.ports or [] if p["id"] == port_id), None)
            if entry is None:
                return
            with contextlib.suppress(DriverError):  # a guest gone has nothing to unplug
                await self.driver.detach_interface(instance_id, port_id)
            await self.network.release([entry])
            await run_blocking(lambda: self.instances.save(
                instance_id, ports=[p for p in inst.ports or [] if p["id"] != port_id]))
            if request_id:
                await run_blocking(self.instances.finish_action, instance_id, request_id, None)
            self.notifier.emit("compute.instance.interface_detach", {**self._payload(inst), "port_id": port_id})

    # --- moves (litestack/compute/moves.py does the work) ----------------------------------

    async def resize_instance(self, instance_id: str, migration_id: int, request_id: str | None = None) -> None:
        await self.moves.resize_instance(instance_id, migration_id, request_id)

    async def finish_resize(self, instance_id: str, migration_id: int, disk_info: dict[str, Any],
                            request_id: str | None = None) -> None:
        await self.moves.finish_resize(instance_id, migration_id, disk_info, request_id)

    async def abort_resize(self, instance_id: str, migration_id: int, reason: str,
                           request_id: str | None = None) -> None:
        await self.moves.abort_resize(instance_id, migration_id, reason, request_id)

    async def confirm_resize(self, instance_id: str, migration_id: int, request_id: str | None = None) -> None:
        await self.moves.confirm_resize(instance_id, migration_id, request_id)

    async def revert_resize(self, instance_id: str, migration_id: int, request_id: str | None = None) -> None:
        await self.moves.revert_resize(instance_id, migration_id, request_id)

    async def finish_revert_resize(self, instance_id: str, migration_id: int,
                                   request_id: str | None = None) -> None:
        await self.moves.finish_revert_resize(instance_id, migration_id, request_id)

    async def cleanup_kept(self, instance_id: str) -> None:
        await self.moves.cleanup_kept(instance_id)

    async def live_migration(self, instance_id: str, migration_id: int, request_id: str | None = None) -> None:
        await self.moves.live_migration(instance_id, migration_id, request_id)

    async def live_migration_force_complete(self, instance_id: str, migration_id: int) -> None:
        await self.moves.live_migration_force_complete(instance_id, migration_id)

    async def live_migration_abort(self, instance_id: str, migration_id: int) -> None:
        await self.moves.live_migration_abort(instance_id, migration_id)

    async def pre_live_migration(self, instance_id: str, migration_id: int, data: dict[str, Any]) -> None:
        await self.moves.pre_live_migration(instance_id, migration_id, data)

    async def post_live_migration_at_destination(self, instance_id: str, migration_id: int) -> None:
        await self.moves.post_live_migration_at_destination(instance_id, migration_id)

    async def rollback_live_migration_at_destination(self, instance_id: str, migration_id: int) -> None:
        await self.moves.rollback_live_migration_at_destination(instance_id, migration_id)

    async def evacuate_instance(self, instance_id: str, migration_id: int, request_id: str | None = None) -> None:
        await self.moves.evacuate_instance(instance_id, migration_id, request_id)

    async def snapshot_instance(self, instance_id: str, image_id: str, request_id: str | None = None,
                                backup_type: str | None = None, rotation: int | None = None) -> None:
        await self.moves.snapshot_instance(instance_id, image_id, request_id, backup_type, rotation)

    async def shelve_instance(self, instance_id: str, image_id: str, request_id: str | None = None) -> None:
        await self.moves.shelve_instance(instance_id, image_id, request_id)

    async def shelve_offload_instance(self, instance_id: str, request_id: str | None = None) -> None:
        await self.moves.shelve_offload_instance(instance_id, request_id)

    async def unshelve_instance(self, instance_id: str, request_id: str | None = None) -> None:
        await self.moves.unshelve_instance(instance_id, request_id)

    async def rescue_instance(self, instance_id: str, rescue_image_id: str, admin_password: str,
                              request_id: str | None = None) -> None:
        await self.moves.rescue_instance(instance_id, rescue_image_id, admin_password, request_id)

    async def unrescue_instance(self, instance_id: str, request_id: str | None = None) -> None:
        await self.moves.unrescue_instance(instance_id, request_id)

    def _payload(self, inst: Any) -> dict[str, Any]:
        return {"instance_id": inst.id, "display_name": inst.name, "tenant_id": inst.project_id,
                "user_id": inst.user_id, "host": inst.host or self.host, "state": inst.vm_state,
                "state_description": inst.task_state or "", "instance_type": inst.flavor.get("name"),
                "image_ref_url": inst.image_id}


# --- litestack agent compute --host NAME ------------------------------------------------------


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--availability-zone", dest="agent_az", metavar="AZ",
                        help="this host's availability zone (default [compute] default_availability_zone)")


def main(conf: Any, data_dir: Any, args: argparse.Namespace) -> int:
    """Run one compute agent in the foreground, on the configured bus and compute database."""
    import signal

    from litestack.common import log
    from litestack.compute.service import AgentRuntime

    log.setup(conf.get("DEFAULT", "log_level"), data_dir / "logs" / f"compute-agent-{args.agent_host}.log",
              conf.get("DEFAULT", "log_max_bytes"), conf.get("DEFAULT", "log_backup_count"))

    async def run() -> None:
        runtime = AgentRuntime(conf, data_dir, [args.agent_host], getattr(args, "agent_az", None))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await runtime.start()
        print(f"litestack: compute agent {args.agent_host} running", flush=True)
        await stop.wait()
        await runtime.stop()

    asyncio.run(run())
    return 0
