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
import datetime
import logging
import time
from typing import Any

from litestack.common import errors
from litestack.common.db import run_blocking
from litestack.compute import states
from litestack.compute.drivers.base import VIF, DriverError, InstanceSpec, InvalidDriverState, VirtDriver, power_state
from litestack.compute.imageclient import Images
from litestack.compute.manager.hosts import Hosts
from litestack.compute.manager.instances import InstanceNotFound, Instances, UnexpectedTaskState
from litestack.compute.manager.migrations import IN_PROGRESS, Migrations
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
    rpc_methods = ("build_and_run_instance", "terminate_instance", "stop_instance", "start_instance",
                   "pause_instance", "unpause_instance", "suspend_instance", "resume_instance",
                   "reboot_instance", "rebuild_instance", "get_console_output", "external_instance_event",
                   # moves (resize, migrations, evacuate), snapshots, shelve, rescue
                   "resize_instance", "finish_resize", "abort_resize", "confirm_resize", "revert_resize",
                   "finish_revert_resize", "cleanup_kept", "live_migration", "pre_live_migration",
                   "post_live_migration_at_destination", "rollback_live_migration_at_destination",
                   "live_migration_force_complete", "live_migration_abort", "evacuate_instance",
                   "snapshot_instance", "shelve_instance", "shelve_offload_instance", "unshelve_instance",
                   "rescue_instance", "unrescue_instance")
    rpc_version = "1.0"

    def __init__(self, host: str, az: str, driver: VirtDriver, instances: Instances, hosts: Hosts,
                 claims: Claims, network: Network, notifier: Any, conf: Any, migrations: Migrations,
                 images: Images) -> None:
        self.host, self.az, self.driver = host, az, driver
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
        self._listener = await bus.listen(COMPUTE, self, server=self.host)
        self._spawn(self._heartbeat())
        self._spawn(self._poll_moves_every(self.conf.get("compute", "move_poll_interval")))
        if self.conf.get("compute", "sync_power_state_interval"):
            self._spawn(self._sync_every(self.conf.get("compute", "sync_power_state_interval")))
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
        await self._recover_moves_elsewhere()
        for inst in await run_blocking(self.instances.on_host, self.host):
            if inst.task_state in MOVE_TASKS:
                LOG.warning("compute %s: %s of %s was interrupted by a restart", self.host, inst.task_state, inst.id)
                await self._recover_move(inst, inst.id in running)
                continue
            if inst.task_state == states.DELETING:
                LOG.warning("compute %s: finishing the delete of %s interrupted by a restart", self.host, inst.id)
                self._spawn(self.terminate_instance(inst.id))
            elif inst.vm_state == states.BUILDING:
                LOG.warning("compute %s: building %s again after a restart", self.host, inst.id)
                self._spawn(self.build_and_run_instance(inst.id, recovering=True))
            elif inst.id not in running and inst.vm_state in (states.ACTIVE, states.PAUSED, states.SUSPENDED):
                # The (fake) hypervisor lost it with the process: the server is stopped, as Nova's
                # power-state sync finds a guest that is gone.
                await run_blocking(lambda i=inst: self.instances.save(
                    i.id, vm_state=states.STOPPED, task_state=None, power_state=power_state.SHUTDOWN))

    async def _recover_move(self, inst: Any, has_guest: bool) -> None:
        """A move, snapshot, shelve or rescue this host was doing when it stopped: finished when
        it can be (offload, unshelve, revert), else rolled back (the allocation goes back to the
        instance, the migration is ``error``, the ports come back here); nothing is left held."""
        task = inst.task_state
        fields: dict[str, Any] = {"task_state": None}
        if not has_guest and inst.vm_state in (states.ACTIVE, states.PAUSED, states.SUSPENDED, states.RESCUED):
            fields.update(vm_state=states.STOPPED, power_state=power_state.SHUTDOWN)
        pending = (await run_blocking(self.migrations.sysmeta, inst.id)).get("pending_image_id")
        if pending:
            await self.images.delete(pending)
            await run_blocking(self.migrations.set_sysmeta, inst.id, {"pending_image_id": None})
        if task == states.SHELVING_OFFLOADING:
            self._spawn(self._offload(inst))
            return
        if task == states.UNSHELVING:
            self._spawn(self.unshelve_instance(inst.id))
            return
        if task == states.RESIZE_REVERTING:
            m = await run_blocking(self.migrations.in_progress, inst.id)
            if m is not None:
                self._spawn(self.revert_resize(inst.id, m.id))
                return
        if task in (*states.RESIZING, states.MIGRATING):
            m = await run_blocking(self.migrations.in_progress, inst.id)
            if m is not None:
                if task == states.MIGRATING and m.dest_compute:
                    with contextlib.suppress(Exception):
                        await self.agents_api.call(m.dest_compute, "rollback_live_migration_at_destination",
                                                   timeout=10, instance_id=inst.id, migration_id=m.id)
                await self.claims.move(m.uuid, inst.id, inst.project_id, inst.user_id)
                await run_blocking(lambda: self.migrations.save(m.id, status="error"))
                with contextlib.suppress(Exception):
                    await self.network.rebind(list(inst.ports or []), self.host)
            if not has_guest:  # back on the source's disks (the fake lost them with the process: made again)
                try:
                    await self.driver.finish_revert_migration(inst.id, False)
                except DriverError:
                    with contextlib.suppress(DriverError):
                        await self.driver.spawn(self._spec(inst))
                        await self.driver.power_off(inst.id)
        if task in (states.SHELVING, states.SHELVING_IMAGE_PENDING_UPLOAD, states.SHELVING_IMAGE_UPLOADING) \
                and inst.vm_state != states.STOPPED:
            fields.update(vm_state=states.STOPPED, power_state=power_state.SHUTDOWN)
        if task == states.UNRESCUING:
            fields.update(vm_state=states.STOPPED, power_state=power_state.SHUTDOWN)
        await run_blocking(self.instances.add_fault, inst.id, 500,
                           f"The compute agent of {self.host} restarted during {task}; the operation was rolled back.")
        await run_blocking(lambda: self.instances.save(inst.id, **fields))

    async def _recover_moves_elsewhere(self) -> None:
        """Moves whose instance is not on this host but whose next step is this host's: a
        confirm of a resize that left it, an evacuation coming to it, evacuated servers to clean."""
        for m in await run_blocking(lambda: self.migrations.find({"source_compute": self.host,
                                                                   "status": "confirming"})):
            self._spawn(self.confirm_resize(m.instance_id, m.id))
        for m in await run_blocking(lambda: self.migrations.find({"dest_compute": self.host,
                                                                   "migration_type": "evacuation",
                                                                   "status": "pre-migrating"})):
            self._spawn(self.evacuate_instance(m.instance_id, m.id))
        svc = await run_blocking(self.hosts.by_host, self.host)
        if svc is not None and not svc.forced_down:
            await self._clean_evacuated()

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
                instance_id, expected_task_state=[states.SCHEDULING, states.NETWORKING, states.SPAWNING],
                task_state=states.NETWORKING))
            req = inst.request or {}
            ports: list[dict[str, Any]] = []
            for net in req.get("networks", []):
                ports.append(await self.network.bind(inst, self.host, self.az, net, req.get("security_group_ids", [])))
                await run_blocking(lambda p=list(ports): self.instances.save(instance_id, ports=p))
            inst = await run_blocking(lambda: self.instances.save(
                instance_id, expected_task_state=[states.NETWORKING], task_state=states.SPAWNING))
            spec = InstanceSpec(inst.id, inst.name, int(inst.flavor["vcpus"]), int(inst.flavor["ram"]),
                                int(inst.flavor["disk"]), inst.image_id, dict(req.get("image_properties", {})),
                                [VIF(p["id"], p["mac"], p["network_id"], p["ips"]) for p in ports],
                                inst.user_data, inst.key_data)
            waiting = await self._prepare_vif_wait(inst.id, [p["id"] for p in ports])
            await self.driver.spawn(spec)
            await self._wait_vifs(inst.id, waiting)
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
        await self._drop_moves(inst)
        await self.network.release(await self.network.all_ports(inst))
        await self.claims.release(instance_id)
        done = await run_blocking(self.instances.mark_deleted, instance_id)
        if done is not None:
            self.notifier.emit("compute.instance.delete.end", self._payload(done))

    async def _drop_moves(self, inst: Any) -> None:
        """A server deleted in the middle of a move (VERIFY_RESIZE, say): the migration's
        allocation is released and the source's kept disks go (Nova confirms a resized server
        it deletes); a shelved server's image goes too."""
        m = await run_blocking(self.migrations.in_progress, inst.id)
        if m is not None:
            await self.claims.release(m.uuid)
            await run_blocking(lambda: self.migrations.save(m.id, status="confirmed" if m.status in (
                "finished", "confirming") else "error"))
            if m.source_compute and m.source_compute != self.host and self.agents_api is not None:
                with contextlib.suppress(Exception):
                    await self.agents_api.cast(m.source_compute, "cleanup_kept", instance_id=inst.id)
            else:
                await self.driver.confirm_migration(inst.id)
        image_id = (await run_blocking(self.migrations.sysmeta, inst.id)).get("shelved_image_id")
        if image_id:
            await self.images.delete(image_id)

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
                    [VIF(p["id"], p["mac"], p["network_id"], p["ips"]) for p in ports], inst.user_data, inst.key_data))
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

    async def get_console_output(self, instance_id: str, length: int | None = None) -> str:
        return await self.driver.console_output(instance_id, length)

    # --- moves: resize and cold migration -------------------------------------------------------

    def _spec(self, inst: Any, flavor: dict[str, Any] | None = None, image_data: bytes | None = None,
              image_id: str | None = None) -> InstanceSpec:
        f = flavor or inst.flavor
        req = inst.request or {}
        return InstanceSpec(inst.id, inst.name, int(f["vcpus"]), int(f["ram"]), int(f["disk"]),
                            image_id or inst.image_id, dict(req.get("image_properties", {})),
                            [VIF(p["id"], p["mac"], p["network_id"], p["ips"]) for p in inst.ports or []],
                            inst.user_data, inst.key_data, image_data)

    async def _finish(self, instance_id: str, request_id: str | None, message: str | None = None) -> None:
        if request_id:
            await run_blocking(self.instances.finish_action, instance_id, request_id, message)

    async def _move_failed(self, inst: Any, m: Any, exc: Exception, request_id: str | None,
                           vm_state: str | None = None) -> None:
        """A resize or migration that failed before the instance left its source: the allocation
        goes back to the instance (releasing the destination), its ports to the source, the
        migration is ``error`` and the server keeps its state (with a fault)."""
        LOG.warning("compute %s: %s of %s failed: %s", self.host, m.migration_type, inst.id, exc)
        with contextlib.suppress(Exception):
            if m.dest_compute != m.source_compute:
                await self.network.rebind(list(inst.ports or []), m.source_compute)
        await self.claims.move(m.uuid, inst.id, inst.project_id, inst.user_id)
        await run_blocking(lambda: self.migrations.save(m.id, status="error"))
        await run_blocking(self.instances.add_fault, inst.id, 500, f"{type(exc).__name__}: {exc}")
        fields: dict[str, Any] = {"task_state": None}
        if vm_state is not None:
            fields["vm_state"] = vm_state
        await run_blocking(lambda: self.instances.save(inst.id, **fields))
        await self._finish(inst.id, request_id, "Error")

    async def resize_instance(self, instance_id: str, migration_id: int, request_id: str | None = None) -> None:
        """Source side: power off, hand the disks to the destination (``finish_resize`` there)."""
        async with self._lock(instance_id):
            try:
                inst = await run_blocking(self.instances.get, instance_id)
                m = await run_blocking(self.migrations.get, migration_id)
                inst = await run_blocking(lambda: self.instances.save(
                    instance_id, expected_task_state=[states.RESIZE_PREP], task_state=states.RESIZE_MIGRATING))
            except (InstanceNotFound, UnexpectedTaskState, errors.NotFound):
                return
            self.notifier.emit("compute.instance.resize.start", self._payload(inst))
            await run_blocking(lambda: self.migrations.save(m.id, status="migrating"))
            try:
                disk_info = await self.driver.migrate_disk_and_power_off(instance_id, m.dest_compute or "")
                await run_blocking(lambda: self.instances.save(
                    instance_id, expected_task_state=[states.RESIZE_MIGRATING], task_state=states.RESIZE_MIGRATED))
                await run_blocking(lambda: self.migrations.save(m.id, status="post-migrating"))
                await self.agents_api.cast(m.dest_compute, "finish_resize", instance_id=instance_id,
                                           migration_id=m.id, disk_info=disk_info, request_id=request_id)
            except (InstanceNotFound, UnexpectedTaskState):
                return
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await self.driver.finish_revert_migration(instance_id, inst.vm_state != states.STOPPED)
                await self._move_failed(inst, m, exc, request_id)

    async def finish_resize(self, instance_id: str, migration_id: int, disk_info: dict[str, Any],
                            request_id: str | None = None) -> None:
        """Destination side: ports bound here, the instance made from the disks with its new
        flavor; VERIFY_RESIZE (a stopped server stays stopped)."""
        async with self._lock(instance_id):
            try:
                inst = await run_blocking(self.instances.get, instance_id)
                m = await run_blocking(self.migrations.get, migration_id)
                inst = await run_blocking(lambda: self.instances.save(
                    instance_id, expected_task_state=[states.RESIZE_MIGRATED], task_state=states.RESIZE_FINISH))
            except (InstanceNotFound, UnexpectedTaskState, errors.NotFound):
                return
            power_on = inst.vm_state != states.STOPPED
            try:
                await self.network.rebind(list(inst.ports or []), self.host)
                waiting = await self._prepare_vif_wait(inst.id, [p["id"] for p in inst.ports or []])
                await self.driver.finish_migration(self._spec(inst, m.new_flavor), disk_info, power_on)
                await self._wait_vifs(inst.id, waiting)
            except Exception as exc:
                await self.driver.destroy(instance_id)
                source = m.source_compute
                await run_blocking(lambda: self.instances.save(instance_id, task_state=states.RESIZE_MIGRATED))
                await self.agents_api.cast(source, "abort_resize", instance_id=instance_id, migration_id=m.id,
                                           reason=f"{type(exc).__name__}: {exc}", request_id=request_id)
                return
            inst = await run_blocking(lambda: self.instances.save(
                instance_id, expected_task_state=[states.RESIZE_FINISH], host=self.host, node=m.dest_node,
                flavor=dict(m.new_flavor), flavor_id=str(m.new_flavor.get("id", inst.flavor_id)),
                vm_state=states.RESIZED, task_state=None,
                power_state=power_state.RUNNING if power_on else power_state.SHUTDOWN))
            await run_blocking(self.migrations.set_sysmeta, instance_id, {
                "old_vm_state": states.ACTIVE if power_on else states.STOPPED})
            await run_blocking(lambda: self.migrations.save(m.id, status="finished"))
            await self._finish(instance_id, request_id)
            self.notifier.emit("compute.instance.resize.end", self._payload(inst))

    async def abort_resize(self, instance_id: str, migration_id: int, reason: str,
                           request_id: str | None = None) -> None:
        """Source side, when the destination could not finish: back on the kept disks."""
        async with self._lock(instance_id):
            try:
                inst = await run_blocking(self.instances.get, instance_id)
                m = await run_blocking(self.migrations.get, migration_id)
            except (InstanceNotFound, errors.NotFound):
                return
            power_on = inst.vm_state != states.STOPPED
            with contextlib.suppress(DriverError):
                await self.driver.finish_revert_migration(instance_id, power_on)
            await self._move_failed(inst, m, DriverError(reason), request_id)

    async def confirm_resize(self, instance_id: str, migration_id: int, request_id: str | None = None) -> None:
        """Source side: the kept disks go, the migration's allocation (the old flavor on the
        source) is released; the server is ACTIVE (or SHUTOFF) on its new host."""
        async with self._lock(instance_id):
            try:
                m = await run_blocking(self.migrations.get, migration_id)
                inst = await run_blocking(self.instances.get, instance_id)
            except (InstanceNotFound, errors.NotFound):
                return
            if m.status == "confirmed":
                return
            await self.driver.confirm_migration(instance_id)
            await self.claims.release(m.uuid)
            await run_blocking(lambda: self.migrations.save(m.id, status="confirmed"))
            old = (await run_blocking(self.migrations.sysmeta, instance_id)).get("old_vm_state", states.ACTIVE)
            try:
                inst = await run_blocking(lambda: self.instances.save(
                    instance_id, expected_vm_state=[states.RESIZED],
                    vm_state=states.STOPPED if old == states.STOPPED else states.ACTIVE, task_state=None))
            except (InstanceNotFound, errors.Conflict):
                return
            await run_blocking(self.migrations.set_sysmeta, instance_id, {"old_vm_state": None})
            await self._finish(instance_id, request_id)
            self.notifier.emit("compute.instance.resize.confirm.end", self._payload(inst))

    async def revert_resize(self, instance_id: str, migration_id: int, request_id: str | None = None) -> None:
        """Destination side: the new instance goes; the source takes it back (``finish_revert_resize``)."""
        async with self._lock(instance_id):
            try:
                m = await run_blocking(self.migrations.get, migration_id)
            except errors.NotFound:
                return
            await self.driver.destroy(instance_id)
            await self.agents_api.cast(m.source_compute, "finish_revert_resize", instance_id=instance_id,
                                       migration_id=m.id, request_id=request_id)

    async def finish_revert_resize(self, instance_id: str, migration_id: int,
                                   request_id: str | None = None) -> None:
        """Source side: the migration's allocation becomes the instance's again (the destination's
        is dropped in the same write), the ports come back, the old flavor, the kept disks."""
        async with self._lock(instance_id):
            try:
                m = await run_blocking(self.migrations.get, migration_id)
                inst = await run_blocking(self.instances.get, instance_id)
            except (InstanceNotFound, errors.NotFound):
                return
            if m.status == "reverted":
                return
            old = (await run_blocking(self.migrations.sysmeta, instance_id)).get("old_vm_state", states.ACTIVE)
            power_on = old != states.STOPPED
            await self.claims.move(m.uuid, instance_id, inst.project_id, inst.user_id)
            await self.network.rebind(list(inst.ports or []), self.host)
            try:
                await self.driver.finish_revert_migration(instance_id, power_on)
            except DriverError as exc:  # the kept disks are gone (a restart of the fake): rebuild them
                LOG.warning("compute %s: revert of %s without kept disks: %s", self.host, instance_id, exc)
                await self.driver.spawn(self._spec(inst, m.old_flavor))
                if not power_on:
                    await self.driver.power_off(instance_id)
            inst = await run_blocking(lambda: self.instances.save(
                instance_id, host=self.host, node=m.source_node, flavor=dict(m.old_flavor),
                flavor_id=str(m.old_flavor.get("id", inst.flavor_id)),
                vm_state=states.ACTIVE if power_on else states.STOPPED, task_state=None,
                power_state=power_state.RUNNING if power_on else power_state.SHUTDOWN))
            await run_blocking(lambda: self.migrations.save(m.id, status="reverted"))
            await run_blocking(self.migrations.set_sysmeta, instance_id, {"old_vm_state": None})
            await self._finish(instance_id, request_id)
            self.notifier.emit("compute.instance.resize.revert.end", self._payload(inst))

    async def cleanup_kept(self, instance_id: str) -> None:
        """Source side of a server deleted in VERIFY_RESIZE: its kept disks go."""
        await self.driver.confirm_migration(instance_id)

    # --- live migration --------------------------------------------------------------------

    async def live_migration(self, instance_id: str, migration_id: int, request_id: str | None = None) -> None:
        """Source side: the destination prepares (ports bound there, an incoming paused guest),
        the memory is copied (``fake_live_migration_time``; force_complete ends it, abort rolls
        back), then the guest runs on the destination and the source's allocation is released."""
        async with self._lock(instance_id):
            try:
                inst = await run_blocking(self.instances.get, instance_id)
                m = await run_blocking(self.migrations.get, migration_id)
            except (InstanceNotFound, errors.NotFound):
                return
            if inst.task_state != states.MIGRATING or m.status not in ("queued", "preparing", "running"):
                return
            self.notifier.emit("compute.instance.live_migration._pre.start", self._payload(inst))
            control = self._live.setdefault(instance_id, {"force": asyncio.Event(), "abort": asyncio.Event()})
            dest = m.dest_compute
            try:
                await run_blocking(lambda: self.migrations.save(m.id, status="preparing"))
                data = await self.driver.live_migration_data(instance_id)
                await self.agents_api.call(dest, "pre_live_migration", timeout=60, instance_id=instance_id,
                                           migration_id=m.id, data=data)
                total = int(inst.flavor["ram"]) * 1024 * 1024
                await run_blocking(lambda: self.migrations.save(m.id, status="running", progress={
                    **(m.progress or {}), "memory_total_bytes": total, "memory_processed_bytes": 0,
                    "memory_remaining_bytes": total, "disk_total_bytes": 0, "disk_processed_bytes": 0,
                    "disk_remaining_bytes": 0}))
                await self._copy_memory(m.id, total, control)
                if control["abort"].is_set():
                    raise asyncio.CancelledError
            except (asyncio.CancelledError, Exception) as exc:
                aborted = control["abort"].is_set()
                with contextlib.suppress(Exception):
                    await self.agents_api.call(dest, "rollback_live_migration_at_destination", timeout=60,
                                               instance_id=instance_id, migration_id=m.id)
                with contextlib.suppress(Exception):
                    await self.network.rebind(list(inst.ports or []), self.host)
                await self.claims.move(m.uuid, instance_id, inst.project_id, inst.user_id)
                await run_blocking(lambda: self.migrations.save(m.id, status="cancelled" if aborted else "error"))
                if not aborted:
                    await run_blocking(self.instances.add_fault, instance_id, 500, f"{type(exc).__name__}: {exc}")
                await run_blocking(lambda: self.instances.save(instance_id, task_state=None))
                await self._finish(instance_id, request_id, None if aborted else "Error")
                self._live.pop(instance_id, None)
                return
            await self.driver.destroy(instance_id)
            await self.agents_api.call(dest, "post_live_migration_at_destination", timeout=60,
                                       instance_id=instance_id, migration_id=m.id)
            await self.claims.release(m.uuid)
            await run_blocking(lambda: self.migrations.save(m.id, status="completed"))
            self._live.pop(instance_id, None)
            await self._finish(instance_id, request_id)

    async def _copy_memory(self, migration_id: int, total: int, control: dict[str, asyncio.Event]) -> None:
        """The fake memory copy: ``fake_live_migration_time`` seconds in ten steps, ended early by
        force_complete (the guest is paused to converge) or abort."""
        length = float(self.conf.get("compute", "fake_live_migration_time"))
        steps = 10
        for step in range(1, steps + 1):
            if control["abort"].is_set() or control["force"].is_set():
                return
            if length:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(length / steps):
                        await asyncio.wait({asyncio.ensure_future(control["force"].wait()),
                                            asyncio.ensure_future(control["abort"].wait())},
                                           return_when=asyncio.FIRST_COMPLETED)
            done = total * step // steps
            m = await run_blocking(self.migrations.get, migration_id)
            await run_blocking(lambda d=done, p=m.progress: self.migrations.save(migration_id, progress={
                **(p or {}), "memory_processed_bytes": d, "memory_remaining_bytes": total - d}))

    async def live_migration_force_complete(self, instance_id: str, migration_id: int) -> None:
        control = self._live.get(instance_id)
        if control is not None:
            control["force"].set()

    async def live_migration_abort(self, instance_id: str, migration_id: int) -> None:
        control = self._live.get(instance_id)
        if control is not None:
            control["abort"].set()

    async def pre_live_migration(self, instance_id: str, migration_id: int, data: dict[str, Any]) -> None:
        inst = await run_blocking(self.instances.get, instance_id)
        await self.network.rebind(list(inst.ports or []), self.host)
        await self.driver.pre_live_migration(self._spec(inst), data)

    async def post_live_migration_at_destination(self, instance_id: str, migration_id: int) -> None:
        m = await run_blocking(self.migrations.get, migration_id)
        await self.driver.post_live_migration_at_destination(instance_id)
        state = await self.driver.power_state(instance_id)
        inst = await run_blocking(lambda: self.instances.save(instance_id, host=self.host, node=m.dest_node,
                                                              task_state=None, power_state=state))
        self.notifier.emit("compute.instance.live_migration.post.dest.end", self._payload(inst))

    async def rollback_live_migration_at_destination(self, instance_id: str, migration_id: int) -> None:
        await self.driver.destroy(instance_id)

    # --- evacuate --------------------------------------------------------------------------

    async def evacuate_instance(self, instance_id: str, migration_id: int, request_id: str | None = None) -> None:
        """Destination side of an evacuation (the source's service is down): ports bound here, the
        instance built again from its image; a stopped server stays stopped. The dead source's
        allocation stays until its agent comes back and cleans up (``recover``)."""
        async with self._lock(instance_id):
            try:
                inst = await run_blocking(self.instances.get, instance_id)
                m = await run_blocking(self.migrations.get, migration_id)
            except (InstanceNotFound, errors.NotFound):
                return
            stopped = (await run_blocking(self.migrations.sysmeta, instance_id)).get("old_vm_state") == states.STOPPED
            self.notifier.emit("compute.instance.evacuate.start", self._payload(inst))
            try:
                await self.network.rebind(list(inst.ports or []), self.host)
                waiting = await self._prepare_vif_wait(inst.id, [p["id"] for p in inst.ports or []])
                await self.driver.spawn(self._spec(inst))
                await self._wait_vifs(inst.id, waiting)
                if stopped:
                    await self.driver.power_off(instance_id)
            except Exception as exc:
                await self.driver.destroy(instance_id)
                await self.claims.drop_provider(instance_id, m.dest_node or "")
                await run_blocking(lambda: self.migrations.save(m.id, status="error"))
                await run_blocking(self.instances.add_fault, instance_id, 500, f"{type(exc).__name__}: {exc}")
                await run_blocking(lambda: self.instances.save(instance_id, vm_state=states.ERROR, task_state=None))
                await self._finish(instance_id, request_id, "Error")
                return
            inst = await run_blocking(lambda: self.instances.save(
                instance_id, host=self.host, node=m.dest_node, task_state=None,
                vm_state=states.STOPPED if stopped else states.ACTIVE,
                power_state=power_state.SHUTDOWN if stopped else power_state.RUNNING, launched_at=utcnow()))
            await run_blocking(self.migrations.set_sysmeta, instance_id, {"old_vm_state": None})
            await run_blocking(lambda: self.migrations.save(m.id, status="done"))
            await self._finish(instance_id, request_id)
            self.notifier.emit("compute.instance.evacuate.end", self._payload(inst))

    async def _clean_evacuated(self) -> None:
        """Nova's ``_destroy_evacuated_instances``: guests of servers evacuated away while this
        host was down are destroyed and this host's part of their allocation released."""
        for m in await run_blocking(lambda: self.migrations.find({"source_compute": self.host,
                                                                   "migration_type": "evacuation",
                                                                   "statuses": ["done", "pre-migrating"]})):
            if m.status != "done":
                continue
            LOG.warning("compute %s: %s was evacuated; cleaning up here", self.host, m.instance_id)
            await self.driver.destroy(m.instance_id)
            if m.source_node:
                await self.claims.drop_provider(m.instance_id, m.source_node)
            await run_blocking(lambda mm=m: self.migrations.save(mm.id, status="completed"))

    # --- snapshots and backups -------------------------------------------------------------

    async def snapshot_instance(self, instance_id: str, image_id: str, request_id: str | None = None,
                                backup_type: str | None = None, rotation: int | None = None) -> None:
        """The driver's disk bytes uploaded into the queued image; backups then rotated."""
        async with self._lock(instance_id):
            try:
                inst = await run_blocking(lambda: self.instances.save(
                    instance_id, expected_task_state=[states.IMAGE_SNAPSHOT, states.IMAGE_BACKUP],
                    task_state=states.IMAGE_PENDING_UPLOAD))
            except (InstanceNotFound, UnexpectedTaskState):
                await self.images.delete(image_id)
                return
            self.notifier.emit("compute.instance.snapshot.start", self._payload(inst))
            await run_blocking(self.migrations.set_sysmeta, instance_id, {"pending_image_id": image_id})
            try:
                data = await self.driver.snapshot(instance_id)
                await run_blocking(lambda: self.instances.save(instance_id, task_state=states.IMAGE_UPLOADING))
                await self.images.upload(image_id, data)
                if backup_type is not None and rotation is not None:
                    await self.images.rotate(instance_id, backup_type, rotation)
            except Exception as exc:
                LOG.warning("compute %s: snapshot of %s failed: %s", self.host, instance_id, exc)
                await self.images.delete(image_id)
                await run_blocking(self.instances.add_fault, instance_id, 500, f"{type(exc).__name__}: {exc}")
                await run_blocking(lambda: self.instances.save(instance_id, task_state=None))
                await self._finish(instance_id, request_id, "Error")
                return
            await run_blocking(self.migrations.set_sysmeta, instance_id, {"pending_image_id": None})
            inst = await run_blocking(lambda: self.instances.save(instance_id, task_state=None))
            await self._finish(instance_id, request_id)
            self.notifier.emit("compute.instance.snapshot.end", self._payload(inst))

    # --- shelve ----------------------------------------------------------------------------

    async def shelve_instance(self, instance_id: str, image_id: str, request_id: str | None = None) -> None:
        """Power off, snapshot into the shelved image; SHELVED, offloaded at once when
        ``shelved_offload_time`` is 0."""
        async with self._lock(instance_id):
            try:
                inst = await run_blocking(lambda: self.instances.save(
                    instance_id, expected_task_state=[states.SHELVING],
                    task_state=states.SHELVING_IMAGE_PENDING_UPLOAD))
            except (InstanceNotFound, UnexpectedTaskState):
                return
            self.notifier.emit("compute.instance.shelve.start", self._payload(inst))
            await run_blocking(self.migrations.set_sysmeta, instance_id, {"pending_image_id": image_id})
            try:
                with contextlib.suppress(InvalidDriverState):
                    await self.driver.power_off(instance_id)
                data = await self.driver.snapshot(instance_id)
                await run_blocking(lambda: self.instances.save(instance_id,
                                                               task_state=states.SHELVING_IMAGE_UPLOADING))
                await self.images.upload(image_id, data)
            except Exception as exc:
                await self.images.delete(image_id)
                await run_blocking(self.instances.add_fault, instance_id, 500, f"{type(exc).__name__}: {exc}")
                await run_blocking(lambda: self.instances.save(instance_id, task_state=None))
                await self._finish(instance_id, request_id, "Error")
                return
            await run_blocking(self.migrations.set_sysmeta, instance_id, {
                "shelved_image_id": image_id, "shelved_at": utcnow().isoformat(), "shelved_host": self.host,
                "pending_image_id": None})
            inst = await run_blocking(lambda: self.instances.save(
                instance_id, vm_state=states.SHELVED, task_state=None, power_state=power_state.SHUTDOWN))
            self.notifier.emit("compute.instance.shelve.end", self._payload(inst))
            if self.conf.get("compute", "shelved_offload_time") == 0:
                await run_blocking(lambda: self.instances.save(instance_id, task_state=states.SHELVING_OFFLOADING))
                await self._offload(inst)
            await self._finish(instance_id, request_id)

    async def shelve_offload_instance(self, instance_id: str, request_id: str | None = None) -> None:
        async with self._lock(instance_id):
            try:
                inst = await run_blocking(self.instances.get, instance_id)
            except InstanceNotFound:
                return
            if inst.task_state == states.SHELVING_OFFLOADING:
                await self._offload(inst)
                await self._finish(instance_id, request_id)

    async def _offload(self, inst: Any) -> None:
        """The guest goes, the ports are unbound (kept, with their addresses), the allocation is
        released: SHELVED_OFFLOADED, on no host."""
        await self.driver.destroy(inst.id)
        await self.network.rebind(list(inst.ports or []), "")
        await self.claims.release(inst.id)
        inst = await run_blocking(lambda: self.instances.save(
            inst.id, vm_state=states.SHELVED_OFFLOADED, task_state=None, host=None, node=None,
            power_state=power_state.SHUTDOWN))
        self.notifier.emit("compute.instance.shelve_offload.end", self._payload(inst))

    async def unshelve_instance(self, instance_id: str, request_id: str | None = None) -> None:
        """SHELVED: started again here. Offloaded (the conductor chose this host and claimed it):
        the ports bound here, the guest spawned from the shelved image's bytes. The shelved
        image is deleted."""
        async with self._lock(instance_id):
            try:
                inst = await run_blocking(self.instances.get, instance_id)
            except InstanceNotFound:
                return
            if inst.task_state != states.UNSHELVING:
                return
            meta = await run_blocking(self.migrations.sysmeta, instance_id)
            image_id = meta.get("shelved_image_id")
            self.notifier.emit("compute.instance.unshelve.start", self._payload(inst))
            try:
                if inst.vm_state == states.SHELVED and instance_id in await self.driver.list_instances():
                    await self.driver.power_on(instance_id)
                else:
                    data = await self.images.download(image_id) if image_id else None
                    await self.network.rebind(list(inst.ports or []), self.host)
                    waiting = await self._prepare_vif_wait(inst.id, [p["id"] for p in inst.ports or []])
                    await self.driver.spawn(self._spec(inst, image_data=data))
                    await self._wait_vifs(inst.id, waiting)
            except Exception as exc:
                await self.driver.destroy(instance_id)
                if inst.vm_state == states.SHELVED_OFFLOADED:
                    await self.claims.release(instance_id)
                    await self.network.rebind(list(inst.ports or []), "")
                await run_blocking(self.instances.add_fault, instance_id, 500, f"{type(exc).__name__}: {exc}")
                await run_blocking(lambda: self.instances.save(
                    instance_id, task_state=None, **({"host": None, "node": None}
                                                     if inst.vm_state == states.SHELVED_OFFLOADED else {})))
                await self._finish(instance_id, request_id, "Error")
                return
            inst = await run_blocking(lambda: self.instances.save(
                instance_id, vm_state=states.ACTIVE, task_state=None, power_state=power_state.RUNNING,
                host=self.host, availability_zone=self.az))
            await run_blocking(self.migrations.set_sysmeta, instance_id, {
                "shelved_image_id": None, "shelved_at": None, "shelved_host": None})
            if image_id:
                await self.images.delete(image_id)
            await self._finish(instance_id, request_id)
            self.notifier.emit("compute.instance.unshelve.end", self._payload(inst))

    # --- rescue ----------------------------------------------------------------------------

    async def rescue_instance(self, instance_id: str, rescue_image_id: str, admin_password: str,
                              request_id: str | None = None) -> None:
        async with self._lock(instance_id):
            try:
                inst = await run_blocking(self.instances.get, instance_id)
            except InstanceNotFound:
                return
            try:
                await self.driver.rescue(instance_id, rescue_image_id, admin_password)
            except DriverError as exc:
                await run_blocking(self.instances.add_fault, instance_id, 500, str(exc))
                await run_blocking(lambda: self.instances.save(instance_id, vm_state=states.ERROR, task_state=None))
                await self._finish(instance_id, request_id, "Error")
                return
            await run_blocking(self.migrations.set_sysmeta, instance_id, {"old_vm_state": inst.vm_state})
            inst = await run_blocking(lambda: self.instances.save(
                instance_id, expected_task_state=[states.RESCUING], vm_state=states.RESCUED, task_state=None,
                power_state=power_state.RUNNING))
            await self._finish(instance_id, request_id)
            self.notifier.emit("compute.instance.rescue.end", self._payload(inst))

    async def unrescue_instance(self, instance_id: str, request_id: str | None = None) -> None:
        async with self._lock(instance_id):
            try:
                await self.driver.unrescue(instance_id)
            except InvalidDriverState:
                pass  # not in rescue any more (the guest was lost and rebuilt): it boots its own disk
            except DriverError as exc:
                await run_blocking(self.instances.add_fault, instance_id, 500, str(exc))
            await run_blocking(self.migrations.set_sysmeta, instance_id, {"old_vm_state": None})
            inst = await run_blocking(lambda: self.instances.save(
                instance_id, vm_state=states.ACTIVE, task_state=None, power_state=power_state.RUNNING))
            await self._finish(instance_id, request_id)
            self.notifier.emit("compute.instance.unrescue.end", self._payload(inst))

    # --- periodic: confirm old resizes, offload old shelved servers -------------------------

    async def _poll_moves_every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.poll_moves()
            except Exception as exc:  # the next run tries again
                LOG.warning("compute %s: move poll failed: %s", self.host, exc)

    async def poll_moves(self) -> None:
        """Nova's ``_poll_unconfirmed_resizes`` (on the destination, after ``resize_confirm_window``)
        and ``_poll_shelved_instances`` (after ``shelved_offload_time``)."""
        window = float(self.conf.get("compute", "resize_confirm_window"))
        if window > 0:
            for m in await run_blocking(self.migrations.older_than, self.host, "finished", "dest_compute", window):
                try:
                    await run_blocking(lambda mm=m: self.migrations.save(mm.id, expected_status=["finished"],
                                                                         status="confirming"))
                except errors.Conflict:
                    continue
                LOG.info("compute %s: confirming the resize of %s automatically", self.host, m.instance_id)
                await self.agents_api.cast(m.source_compute, "confirm_resize", instance_id=m.instance_id,
                                           migration_id=m.id)
        svc = await run_blocking(self.hosts.by_host, self.host)
        if svc is not None and not svc.forced_down:
            await self._clean_evacuated()
        keep = float(self.conf.get("compute", "shelved_offload_time"))
        if keep > 0:
            edge = utcnow() - datetime.timedelta(seconds=keep)
            for inst in await run_blocking(self.instances.on_host, self.host):
                if inst.vm_state != states.SHELVED or inst.task_state is not None:
                    continue
                at = (await run_blocking(self.migrations.sysmeta, inst.id)).get("shelved_at")
                if at and datetime.datetime.fromisoformat(at) <= edge:
                    try:
                        inst = await run_blocking(lambda i=inst: self.instances.save(
                            i.id, expected_task_state=[None], expected_vm_state=[states.SHELVED],
                            task_state=states.SHELVING_OFFLOADING))
                    except (InstanceNotFound, errors.Conflict):
                        continue
                    async with self._lock(inst.id):
                        await self._offload(inst)

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
