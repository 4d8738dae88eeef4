"""The compute agent's moves: resize and cold migration (source and destination sides, confirm,
revert), live migration, evacuation, snapshots and backups, shelve/offload/unshelve, rescue, the
periodic auto-confirm and offload, and what a restart finishes or rolls back of them.

``ComputeAgent`` (``agent.py``) owns one ``Moves`` and exposes its operations on the bus; the
state machines are Nova's (``docs/compute.md``, "Moves"). As Nova, a move's source resources are
held in placement by the migration (consumer = the migration's uuid) and its destination's by
the instance, and the server's host changes only when the move finishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from typing import TYPE_CHECKING, Any

from litestack.common import errors
from litestack.common.db import run_blocking
from litestack.compute import states
from litestack.compute.drivers.base import VIF, DriverError, InstanceSpec, InvalidDriverState, power_state
from litestack.compute.manager.instances import InstanceNotFound, UnexpectedTaskState

if TYPE_CHECKING:
    from litestack.compute.agent import ComputeAgent

LOG = logging.getLogger(__name__)


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Moves:
    def __init__(self, agent: ComputeAgent) -> None:
        self.agent = agent
        # what the agent was built with (its bus client, ``agents_api``, comes at its start)
        self.host, self.az, self.driver, self.conf = agent.host, agent.az, agent.driver, agent.conf
        self.instances, self.hosts, self.claims = agent.instances, agent.hosts, agent.claims
        self.network, self.notifier = agent.network, agent.notifier
        self.migrations, self.images, self._live = agent.migrations, agent.images, agent._live
        self._lock, self._spawn, self._payload = agent._lock, agent._spawn, agent._payload
        self._prepare_vif_wait, self._wait_vifs = agent._prepare_vif_wait, agent._wait_vifs

    @property
    def agents_api(self) -> Any:
        return self.agent.agents_api

    async def recover_move(self, inst: Any, has_guest: bool) -> None:
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

    async def recover_elsewhere(self) -> None:
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

    async def drop(self, inst: Any) -> None:
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

    async def poll_moves_every(self, interval: float) -> None:
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
