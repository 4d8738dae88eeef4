"""Volumes and snapshots in the database, and Cinder's status machine.

Every change of status is a compare-and-set inside one write transaction (``transition``): the
operation is refused with Cinder's 400 when the resource is not in a status it starts from, so
two concurrent requests cannot both start conflicting operations. Transitional statuses carry
``task_started_at``; the reaper sends what stays in them past ``[volume] operation_timeout`` to
its error status (an agent that died or a lost message).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select

from litestack.common import errors
from litestack.common.api import pagination
from litestack.common.db import Database
from litestack.volume.manager import Caller, filters, new_id, now, retry_deadlocks
from litestack.volume.manager.quotas import Quotas
from litestack.volume.models import Attachment, BackendService, Cluster, Snapshot, Volume, VolumeType

#: Transitional statuses and where the reaper sends them when they last too long.
VOLUME_TIMEOUTS = {"creating": "error", "downloading": "error", "deleting": "error_deleting",
                   "extending": "error_extending", "reverting": "error", "uploading": "available",
                   "retyping": "available", "attaching": "available", "detaching": "in-use",
                   "managing": "error_managing"}
SNAPSHOT_TIMEOUTS = {"creating": "error", "deleting": "error_deleting"}
TRANSITIONAL = {"creating", "deleting", "extending", "downloading", "uploading", "attaching", "detaching",
                "reverting", "retyping", "backing-up", "restoring-backup", "maintenance", "managing"}

VOLUMES = pagination.Listing(
    Volume,
    filters={"status": Volume.status, "availability_zone": Volume.availability_zone, "name": Volume.name,
             "bootable": Volume.bootable, "group_id": Volume.group_id, "migration_status": Volume.migration_status,
             "size": Volume.size},
    coerce={"bootable": pagination.boolean, "size": lambda raw: _bounded(int(raw))},
    sort_keys={"created_at": Volume.created_at, "id": Volume.id, "name": Volume.name, "size": Volume.size,
               "status": Volume.status, "updated_at": Volume.updated_at, "availability_zone": Volume.availability_zone},
    default_sort=[("created_at", True)])
SNAPSHOTS = pagination.Listing(
    Snapshot,
    filters={"status": Snapshot.status, "volume_id": Snapshot.volume_id, "name": Snapshot.name},
    sort_keys={"created_at": Snapshot.created_at, "id": Snapshot.id, "name": Snapshot.name,
               "size": Snapshot.size, "status": Snapshot.status, "updated_at": Snapshot.updated_at},
    default_sort=[("created_at", True)])


class VolumeNotFound(errors.NotFound):
    """No volume of that id visible to the caller."""


class SnapshotNotFound(errors.NotFound):
    """No snapshot of that id visible to the caller."""


class InvalidStatus(errors.BadRequest):
    """The volume or snapshot is not in a status the operation starts from (Cinder's InvalidVolume)."""


class NoValidBackend(errors.LitestackError):
    """The scheduler found no backend for a volume (it goes to error, as in Cinder)."""

    status = 500


class Volumes:
    def __init__(self, db: Database, quotas: Quotas) -> None:
        self.db = db
        self.quotas = quotas

    # --- reads --------------------------------------------------------------------------------

    def get(self, volume_id: str, caller: Caller) -> Volume:
        with self.db.reader() as s:
            vol = s.get(Volume, volume_id) if len(volume_id) <= 36 else None
        if vol is None or not (caller.is_admin or vol.project_id == caller.project_id):
            raise VolumeNotFound(f"Volume {volume_id} could not be found.")
        return vol

    def find(self, volume_id: str) -> Volume | None:
        """The volume whatever its project (the manager's reads of agents' reports)."""
        with self.db.reader() as s:
            return s.get(Volume, volume_id) if len(volume_id) <= 36 else None

    def find_snapshot(self, snapshot_id: str) -> Snapshot | None:
        with self.db.reader() as s:
            return s.get(Snapshot, snapshot_id) if len(snapshot_id) <= 36 else None

    def attachments(self, volume_ids: Iterable[str]) -> dict[str, list[Attachment]]:
        ids = list(volume_ids)
        out: dict[str, list[Attachment]] = {i: [] for i in ids}
        if not ids:
            return out
        with self.db.reader() as s:
            for a in s.scalars(select(Attachment).where(Attachment.volume_id.in_(ids))
                               .order_by(Attachment.created_at)):
                out[a.volume_id].append(a)
        return out

    def list_volumes(self, caller: Caller, params: dict[str, str], all_tenants: bool,
             type_ids: dict[str, str]) -> tuple[list[Volume], bool, int]:
        params = _cinder_params(params)
        q = pagination.parse(params, VOLUMES, default_limit=1000, max_limit=1000)
        stmt = pagination.query(VOLUMES)
        if not (caller.is_admin and all_tenants):
            stmt = stmt.where(Volume.project_id == caller.project_id)
        elif "project_id" in params:
            stmt = stmt.where(Volume.project_id == params["project_id"])
        if "volume_type" in params:
            wanted = params["volume_type"]
            stmt = stmt.where(Volume.volume_type_id.in_([i for i, n in type_ids.items() if wanted in (i, n)] or [""]))
        if params.get("metadata"):
            stmt = filters.json_items(stmt, Volume.metadata_, filters.dict_param(params["metadata"]))
        if params.get("glance_metadata"):
            stmt = filters.json_items(stmt, Volume.image_metadata,
                                      filters.dict_param(params["glance_metadata"], "glance_metadata"))
        stmt = filters.like(stmt, params, {"name": Volume.name, "status": Volume.status,
                                           "availability_zone": Volume.availability_zone,
                                           "migration_status": Volume.migration_status})
        for key, col in (("created_at", Volume.created_at), ("updated_at", Volume.updated_at)):
            if key in params:
                stmt = filters.time_compare(stmt, col, params[key], key)
        with self.db.reader() as s:
            count = 0
            if params.get("with_count", "").lower() in ("true", "1", "yes"):
                count = int(s.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
            _marker(s, Volume, q.marker)
            pg = pagination.fetch(s, stmt.offset(_offset(params)), VOLUMES, q)
        return pg.items, pg.more, count

    # --- create -------------------------------------------------------------------------------

    def create(self, caller: Caller, fields: dict[str, Any], vtype: VolumeType, type_names: dict[str, str],
               down_time: int, backend: str | None = None) -> Volume:
        """A volume row in ``creating`` with its backend chosen (``host`` None when none fits, then
        it is in ``error``), after the quota check, in one transaction."""
        return retry_deadlocks(lambda: self._create(caller, fields, vtype, type_names, down_time, backend))

    def _create(self, caller: Caller, fields: dict[str, Any], vtype: VolumeType, type_names: dict[str, str],
                down_time: int, backend: str | None) -> Volume:
        assert caller.project_id is not None
        with self.db.writer() as s:
            self.quotas.check(s, caller.project_id, type_names, vtype.name, "volumes", fields["size"])
            t = now()
            vol = Volume(id=new_id(), project_id=caller.project_id, user_id=caller.user_id, status="creating",
                         attach_status="detached", volume_type_id=vtype.id, created_at=t, updated_at=t,
                         task_started_at=t, **fields)
            vol.metadata_ = fields.get("metadata_") or {}
            vol.image_metadata = fields.get("image_metadata") or {}
            if backend is not None:
                vol.host = backend
            else:
                chosen = choose_backend(s, fields["size"], vtype, fields["availability_zone"], down_time)
                if chosen is None:
                    vol.status, vol.error, vol.task_started_at = "error", "No valid backend was found.", None
                else:
                    vol.host = f"{chosen.host}#{chosen.backend_name}"
            s.add(vol)
        return vol

    # --- status machine -----------------------------------------------------------------------

    def transition(self, volume_id: str, caller: Caller, allowed: Iterable[str], new: str | None,
                   what: str = "", updates: dict[str, Any] | None = None) -> Volume:
        """Move the volume from one of ``allowed`` statuses to ``new`` (None: keep) with ``updates``;
        ``InvalidStatus`` (400) otherwise."""
        allowed = tuple(allowed)
        with self.db.writer() as s:
            vol = s.get(Volume, volume_id)
            if vol is None or not (caller.is_admin or vol.project_id == caller.project_id):
                raise VolumeNotFound(f"Volume {volume_id} could not be found.")
            if allowed and vol.status not in allowed:
                raise InvalidStatus(f"Invalid volume: Volume {volume_id} status must be "
                                    f"{' or '.join(allowed)}{what}, but current status is: {vol.status}.")
            if new is not None:
                vol.status = new
                vol.task_started_at = now() if new in TRANSITIONAL else None
            for key, value in (updates or {}).items():
                setattr(vol, key, value)
            vol.updated_at = now()
        return vol

    def update(self, volume_id: str, caller: Caller, changes: dict[str, Any]) -> Volume:
        return self.transition(volume_id, caller, (), None, "", changes)

    def finish(self, volume_id: str, status: str, updates: dict[str, Any]) -> Volume | None:
        """An agent's outcome: the new status (``deleted`` removes the rows) with its updates."""
        with self.db.writer() as s:
            vol = s.get(Volume, volume_id)
            if vol is None:
                return None
            if status == "deleted":
                for snap in s.scalars(select(Snapshot).where(Snapshot.volume_id == volume_id)):
                    s.delete(snap)
                s.delete(vol)
                return vol
            vol.status = status
            vol.task_started_at = None
            vol.updated_at = now()
            for key in ("size", "error"):
                if key in updates:
                    setattr(vol, key, updates[key])
            if not status.startswith("error") and "error" not in updates:
                vol.error = None
        return vol

    def reap(self, timeout: int) -> list[str]:
        """Send what stayed transitional longer than ``timeout`` seconds to its error status."""
        limit = now() - timedelta(seconds=timeout)
        reaped: list[str] = []
        with self.db.writer() as s:
            for vol in s.scalars(select(Volume).where(Volume.status.in_(list(VOLUME_TIMEOUTS)),
                                                      Volume.task_started_at < limit)):
                vol.status = VOLUME_TIMEOUTS[vol.status]
                vol.error = f"The operation did not finish in {timeout} s (volume agent down or restarted)."
                vol.task_started_at = None
                reaped.append(vol.id)
            for snap in s.scalars(select(Snapshot).where(Snapshot.status.in_(list(SNAPSHOT_TIMEOUTS)),
                                                         Snapshot.task_started_at < limit)):
                snap.status = SNAPSHOT_TIMEOUTS[snap.status]
                snap.task_started_at = None
                reaped.append(snap.id)
        return reaped

    def in_use_types(self, type_id: str) -> bool:
        with self.db.reader() as s:
            return s.scalar(select(Volume.id).where(Volume.volume_type_id == type_id).limit(1)) is not None

    # --- snapshots ----------------------------------------------------------------------------

    def snapshot(self, snapshot_id: str, caller: Caller) -> Snapshot:
        with self.db.reader() as s:
            snap = s.get(Snapshot, snapshot_id) if len(snapshot_id) <= 36 else None
        if snap is None or not (caller.is_admin or snap.project_id == caller.project_id):
            raise SnapshotNotFound(f"Snapshot {snapshot_id} could not be found.")
        return snap

    def snapshots_of(self, volume_id: str) -> list[Snapshot]:
        with self.db.reader() as s:
            return list(s.scalars(select(Snapshot).where(Snapshot.volume_id == volume_id)
                                  .order_by(Snapshot.created_at)))

    def list_snapshots(self, caller: Caller, params: dict[str, str], all_tenants: bool,
                       counted: list[int] | None = None) -> tuple[list[Snapshot], bool]:
        """A page of snapshots; with ``with_count`` (3.45) the count of all that match is appended
        to ``counted``."""
        counted = counted if counted is not None else []
        params = _cinder_params(params)
        q = pagination.parse(params, SNAPSHOTS, default_limit=1000, max_limit=1000)
        stmt = pagination.query(SNAPSHOTS)
        if not (caller.is_admin and all_tenants):
            stmt = stmt.where(Snapshot.project_id == caller.project_id)
        elif "project_id" in params:
            stmt = stmt.where(Snapshot.project_id == params["project_id"])
        if params.get("metadata"):
            stmt = filters.json_items(stmt, Snapshot.metadata_, filters.dict_param(params["metadata"]))
        if params.get("availability_zone"):
            stmt = stmt.where(Snapshot.volume_id.in_(select(Volume.id).where(
                Volume.availability_zone == params["availability_zone"])))
        stmt = filters.like(stmt, params, {"name": Snapshot.name, "status": Snapshot.status})
        with self.db.reader() as s:
            if params.get("with_count", "").lower() in ("true", "1", "yes"):
                counted.append(int(s.scalar(select(func.count()).select_from(
                    pagination.apply(stmt, SNAPSHOTS, pagination.ListQuery(filters=q.filters)).subquery())) or 0))
            _marker(s, Snapshot, q.marker)
            pg = pagination.fetch(s, stmt.offset(_offset(params)), SNAPSHOTS, q)
        return pg.items, pg.more

    def create_snapshot(self, caller: Caller, volume_id: str, fields: dict[str, Any], force: bool,
                        type_names: dict[str, str]) -> tuple[Snapshot, Volume]:
        return retry_deadlocks(lambda: self._create_snapshot(caller, volume_id, fields, force, type_names))

    def _create_snapshot(self, caller: Caller, volume_id: str, fields: dict[str, Any], force: bool,
                         type_names: dict[str, str]) -> tuple[Snapshot, Volume]:
        assert caller.project_id is not None
        with self.db.writer() as s:
            vol = s.get(Volume, volume_id)
            if vol is None or not (caller.is_admin or vol.project_id == caller.project_id):
                raise VolumeNotFound(f"Volume {volume_id} could not be found.")
            ok = ("available", "in-use") if force else ("available",)
            if vol.status not in ok:
                raise InvalidStatus(f"Invalid volume: Volume {volume_id} status must be available, but current "
                                    f"status is: {vol.status}.")
            self.quotas.check(s, vol.project_id, type_names, type_names.get(vol.volume_type_id, ""), "snapshots",
                              vol.size)
            t = now()
            snap = Snapshot(id=new_id(), volume_id=volume_id, project_id=vol.project_id, user_id=caller.user_id,
                            size=vol.size, status="creating", progress="0%", host=vol.host, created_at=t,
                            updated_at=t, task_started_at=t, name=fields.get("name"),
                            description=fields.get("description"))
            snap.metadata_ = fields.get("metadata") or {}
            s.add(snap)
        return snap, vol

    def snapshot_transition(self, snapshot_id: str, caller: Caller, allowed: Iterable[str], new: str | None,
                            updates: dict[str, Any] | None = None) -> Snapshot:
        allowed = tuple(allowed)
        with self.db.writer() as s:
            snap = s.get(Snapshot, snapshot_id)
            if snap is None or not (caller.is_admin or snap.project_id == caller.project_id):
                raise SnapshotNotFound(f"Snapshot {snapshot_id} could not be found.")
            if allowed and snap.status not in allowed:
                raise InvalidStatus(f"Invalid snapshot: Snapshot status must be {' or '.join(allowed)}, but "
                                    f"current status is: {snap.status}.")
            if new is not None:
                snap.status = new
                snap.task_started_at = now() if new in TRANSITIONAL else None
            for key, value in (updates or {}).items():
                setattr(snap, key, value)
            snap.updated_at = now()
        return snap

    def snapshot_finish(self, snapshot_id: str, status: str, updates: dict[str, Any]) -> Snapshot | None:
        with self.db.writer() as s:
            snap = s.get(Snapshot, snapshot_id)
            if snap is None:
                return None
            if status == "deleted":
                s.delete(snap)
                return snap
            snap.status, snap.task_started_at, snap.updated_at = status, None, now()
            if "progress" in updates:
                snap.progress = updates["progress"]
        return snap

    # --- attachments ----------------------------------------------------------------------------

    def attachment(self, attachment_id: str, caller: Caller) -> Attachment:
        with self.db.reader() as s:
            a = s.get(Attachment, attachment_id) if len(attachment_id) <= 36 else None
        if a is None or not (caller.is_admin or a.project_id == caller.project_id):
            raise errors.NotFound(f"Volume attachment {attachment_id} could not be found.")
        return a

    def list_attachments(self, caller: Caller, params: dict[str, str], all_tenants: bool) -> list[Attachment]:
        stmt = select(Attachment).order_by(Attachment.created_at.desc(), Attachment.id)
        if not (caller.is_admin and all_tenants):
            stmt = stmt.where(Attachment.project_id == caller.project_id)
        for key, col in (("volume_id", Attachment.volume_id), ("instance_id", Attachment.instance_uuid),
                         ("status", Attachment.attach_status)):
            if key in params:
                stmt = stmt.where(col == params[key])
        with self.db.reader() as s:
            return list(s.scalars(stmt))

    def reserve(self, volume_id: str, caller: Caller, instance_uuid: str | None, mode: str,
                status: str, also: tuple[str, ...] = ()) -> tuple[Attachment, Volume]:
        """A new attachment of the volume (``reserved``); the volume goes to ``status``. A volume
        already attached takes another one only when it is multiattach."""
        with self.db.writer() as s:
            vol = s.get(Volume, volume_id)
            if vol is None or not (caller.is_admin or vol.project_id == caller.project_id):
                raise VolumeNotFound(f"Volume {volume_id} could not be found.")
            ok = ("available", "in-use", "reserved", "attaching") if vol.multiattach else ("available", *also)
            if vol.status not in ok:
                raise InvalidStatus(f"Invalid volume: Volume {volume_id} status must be available"
                                    f"{' or in-use' if vol.multiattach else ''}, but current status is: "
                                    f"{vol.status}.")
            if vol.status in ("in-use", "reserved", "attaching") and instance_uuid and s.scalar(
                    select(Attachment.id).where(Attachment.volume_id == volume_id,
                                                Attachment.instance_uuid == instance_uuid)) is not None:
                raise InvalidStatus(f"Invalid volume: volume {volume_id} is already attached to {instance_uuid}.")
            t = now()
            a = Attachment(id=new_id(), volume_id=volume_id, project_id=vol.project_id, instance_uuid=instance_uuid,
                           attach_mode=mode, attach_status="reserved", created_at=t)
            s.add(a)
            if vol.status != "in-use":
                vol.status = status
                vol.task_started_at = t if status in TRANSITIONAL else None
            vol.updated_at = t
        return a, vol

    def connect(self, attachment_id: str, connector: dict[str, Any] | None, info: dict[str, Any] | None,
                attach_status: str, volume_status: str | None = None, **fields: Any) -> Attachment:
        with self.db.writer() as s:
            a = s.get(Attachment, attachment_id)
            if a is None:
                raise errors.NotFound(f"Volume attachment {attachment_id} could not be found.")
            if connector is not None:
                a.connector = connector
                a.attached_host = connector.get("host")
            if info is not None:
                a.connection_info = info
            a.attach_status = attach_status
            for key, value in fields.items():
                setattr(a, key, value)
            vol = s.get(Volume, a.volume_id)
            if attach_status == "attached":
                a.attached_at = now()
            if vol is not None:
                if attach_status == "attached":
                    vol.status, vol.attach_status, vol.task_started_at = "in-use", "attached", None
                elif volume_status is not None and vol.status != "in-use":
                    vol.status = volume_status
                    vol.task_started_at = now() if volume_status in TRANSITIONAL else None
                vol.updated_at = now()
        return a

    def detach(self, attachment_id: str) -> Volume | None:
        """Remove the attachment; the volume is ``available`` once none is left, else ``in-use``."""
        with self.db.writer() as s:
            a = s.get(Attachment, attachment_id)
            if a is None:
                raise errors.NotFound(f"Volume attachment {attachment_id} could not be found.")
            vol = s.get(Volume, a.volume_id)
            s.delete(a)
            s.flush()
            if vol is not None:
                left = list(s.scalars(select(Attachment).where(Attachment.volume_id == vol.id)))
                if not left:
                    vol.status, vol.attach_status = "available", "detached"
                elif any(x.attach_status == "attached" for x in left):
                    vol.status, vol.attach_status = "in-use", "attached"
                else:
                    vol.status = "reserved"
                vol.task_started_at, vol.updated_at = None, now()
        return vol

    # --- backends -------------------------------------------------------------------------------

    def report(self, host: str, backend: str, zone: str, total_gb: int, cluster: str | None = None,
               backend_state: str | None = None, started_at: datetime | None = None) -> None:
        with self.db.writer() as s:
            row = s.get(BackendService, host)
            t = now()
            if row is None:
                row = BackendService(host=host, backend_name=backend, availability_zone=zone,
                                     total_capacity_gb=total_gb, created_at=t, updated_at=t, frozen=False)
                s.add(row)
            else:
                row.backend_name, row.availability_zone, row.total_capacity_gb = backend, zone, total_gb
                row.updated_at = t
            row.cluster_name, row.backend_state = cluster or None, backend_state
            if started_at is not None:
                row.started_at = started_at

    def services(self) -> list[BackendService]:
        with self.db.reader() as s:
            return list(s.scalars(select(BackendService).order_by(BackendService.host)))


def allocated_gb(session: Any, host: str) -> int:
    """GiB of the volumes placed on a backend (``host@backend#pool``), snapshots included: what
    the scheduler subtracts from its capacity, so deleting a volume frees exactly its size."""
    vols = session.scalar(select(func.coalesce(func.sum(Volume.size), 0)).where(Volume.host.like(f"{host}#%")))
    snaps = session.scalar(select(func.coalesce(func.sum(Snapshot.size), 0)).where(Snapshot.host.like(f"{host}#%")))
    return int(vols or 0) + int(snaps or 0)


def choose_backend(session: Any, size: int, vtype: VolumeType, zone: str | None, down_time: int
                   ) -> BackendService | None:
    """Cinder's filter scheduler in short: backends that reported within ``down_time`` seconds,
    are enabled, in the zone, match the type's ``volume_backend_name`` and have room; the one with
    the most free capacity wins."""
    fresh = now() - timedelta(seconds=down_time)
    disabled_clusters = select(Cluster.name).where(Cluster.disabled.is_(True), Cluster.binary == "cinder-volume")
    rows = session.scalars(select(BackendService).where(
        BackendService.updated_at >= fresh, BackendService.disabled.is_(False), BackendService.frozen.is_(False),
        or_(BackendService.cluster_name.is_(None), BackendService.cluster_name.not_in(disabled_clusters))))
    best: tuple[int, BackendService] | None = None
    for row in rows:
        if zone and row.availability_zone != zone:
            continue
        if not satisfies(capabilities(row), vtype.extra_specs or {}):
            continue
        free = row.total_capacity_gb - allocated_gb(session, row.host)
        if free < size:
            continue
        if best is None or free > best[0]:
            best = (free, row)
    return None if best is None else best[1]


def _cinder_params(params: dict[str, str]) -> dict[str, str]:
    """Cinder's list parameters: ``display_name`` is ``name`` (also as a sort key: ``sort_key`` and
    ``sort=k:dir``); a marker that names no visible row is 404."""
    out = dict(params)
    for key in ("sort_key", "sort"):
        if key in out:
            out[key] = ",".join(("name" + part[len("display_name"):]) if part.startswith("display_name") else part
                                for part in out[key].split(","))
    return out


def _bounded(value: int) -> int:
    """An integer filter the databases can compare (ValueError: 400 otherwise)."""
    if not -(1 << 31) <= value < (1 << 31):
        raise ValueError(f"{value} is out of range")
    return value


def _marker(session: Any, model: Any, marker: str | None) -> None:
    if marker is not None and (len(marker) > 36 or session.get(model, marker) is None):
        raise errors.NotFound(f"Marker {marker[:64]} could not be found.")


def _offset(params: dict[str, str]) -> int:
    raw = params.get("offset")
    if raw is None:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise errors.BadRequest(f"Invalid offset: {raw[:32]}") from None
    if value < 0:
        raise errors.BadRequest("Invalid offset: it must not be negative.")
    return value


def capabilities(row: BackendService) -> dict[str, str]:
    """What a backend offers, as Cinder's capabilities filter matches type extra specs against."""
    return {"volume_backend_name": row.backend_name, "vendor_name": "litestack", "storage_protocol": "local",
            "driver_version": "1.0", "thin_provisioning_support": "True", "thick_provisioning_support": "False",
            "multiattach": "True"}


def satisfies(caps: dict[str, str], specs: dict[str, str]) -> bool:
    """Cinder's capabilities filter, in short: each unscoped (or ``capabilities:``) extra spec that
    names a capability must match it (``<is> True`` compares booleans); other scoped specs and
    specs of capabilities the backend does not report are left to their consumers."""
    for key, wanted in specs.items():
        scope, sep, name = key.partition(":")
        if sep and scope != "capabilities":
            continue
        cap = caps.get(name if sep else key)
        if cap is None:
            continue
        text = str(wanted).strip()
        if text.lower().startswith("<is>"):
            text = text[4:].strip()
            if text.lower() != cap.lower():
                return False
        elif text.lower().startswith("<in>"):
            if text[4:].strip() not in cap:
                return False
        elif text != cap:
            return False
    return True

