"""Backups in the database: create (full, or incremental on the latest available backup of the
volume), restore into a new or an existing volume on the backup's host, delete (not while an
incremental backup depends on it); quotas ``backups`` and ``backup_gigabytes``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from litestack.common import errors
from litestack.common.api import pagination
from litestack.common.db import Database
from litestack.volume.manager import Caller, filters, new_id, now
from litestack.volume.manager.quotas import QuotaExceeded, Quotas
from litestack.volume.manager.volumes import InvalidStatus, SnapshotNotFound, VolumeNotFound
from litestack.volume.models import Backup, Snapshot, Volume

TIMEOUTS = {"creating": "error", "restoring": "available", "deleting": "error_deleting"}
SORT_KEYS = {"created_at": Backup.created_at, "id": Backup.id, "name": Backup.name, "size": Backup.size,
             "status": Backup.status, "updated_at": Backup.updated_at}


class BackupNotFound(errors.NotFound):
    """No backup of that id visible to the caller."""


class Backups:
    def __init__(self, db: Database, quotas: Quotas) -> None:
        self.db, self.quotas = db, quotas

    def get(self, backup_id: str, caller: Caller) -> Backup:
        with self.db.reader() as s:
            b = s.get(Backup, backup_id) if len(backup_id) <= 36 else None
        if b is None or not (caller.is_admin or b.project_id == caller.project_id):
            raise BackupNotFound(f"Backup {backup_id} could not be found.")
        return b

    def find(self, backup_id: str) -> Backup | None:
        with self.db.reader() as s:
            return s.get(Backup, backup_id) if len(backup_id) <= 36 else None

    def listed(self, caller: Caller, params: dict[str, str], all_tenants: bool) -> list[Backup]:
        """Newest first, or by ``sort``/``sort_key`` (created_at, id, name (3.37), size, status)."""
        keys = pagination.parse_sort(params, list(SORT_KEYS), [("created_at", True)])
        stmt = select(Backup).order_by(*[(SORT_KEYS[k].desc() if d else SORT_KEYS[k].asc()) for k, d in keys],
                                       Backup.id)
        if "limit" in params:
            stmt = stmt.limit(pagination.parse_limit(params, 1000, 1000))
        if not (caller.is_admin and all_tenants):
            stmt = stmt.where(Backup.project_id == caller.project_id)
        for key, col in (("volume_id", Backup.volume_id), ("status", Backup.status), ("name", Backup.name)):
            if key in params:
                stmt = stmt.where(col == params[key])
        stmt = filters.like(stmt, params, {"name": Backup.name, "status": Backup.status})
        with self.db.reader() as s:
            return list(s.scalars(stmt))

    def has_dependents(self, backup_id: str) -> bool:
        with self.db.reader() as s:
            return s.scalar(select(Backup.id).where(Backup.parent_id == backup_id).limit(1)) is not None

    def _check_quota(self, session: Any, project_id: str, size: int) -> None:
        limits = self.quotas.limits(session, project_id, [])
        count, gigabytes = session.execute(select(func.count(), func.coalesce(func.sum(Backup.size), 0))
                                           .where(Backup.project_id == project_id)).one()
        if limits["backups"] >= 0 and count + 1 > limits["backups"]:
            raise QuotaExceeded(f"BackupLimitExceeded: Maximum number of backups allowed ({limits['backups']}) "
                                "exceeded.")
        if limits["backup_gigabytes"] >= 0 and gigabytes + size > limits["backup_gigabytes"]:
            raise QuotaExceeded(f"VolumeBackupSizeExceedsAvailableQuota: Requested backup exceeds allowed Backup "
                                f"gigabytes quota. Requested {size}G, quota is {limits['backup_gigabytes']}G and "
                                f"{gigabytes}G has been consumed.")

    def create(self, caller: Caller, volume_id: str, fields: dict[str, Any], incremental: bool,
               force: bool, snapshot_id: str | None = None) -> tuple[Backup, Volume, str]:
        """The backup row (``creating``) and the volume's status to restore afterwards."""
        with self.db.writer() as s:
            vol = s.get(Volume, volume_id) if len(volume_id) <= 36 else None
            if vol is None or not (caller.is_admin or vol.project_id == caller.project_id):
                raise VolumeNotFound(f"Volume {volume_id} could not be found.")
            snap = None
            if snapshot_id:
                snap = s.get(Snapshot, snapshot_id) if len(snapshot_id) <= 36 else None
                if snap is None or not (caller.is_admin or snap.project_id == caller.project_id):
                    raise SnapshotNotFound(f"Snapshot {snapshot_id} could not be found.")
                if snap.volume_id != vol.id:
                    raise errors.BadRequest(f"Invalid input received: snapshot {snapshot_id} is not a snapshot of "
                                            f"volume {vol.id}.")
                if snap.status != "available":
                    raise InvalidStatus(f"Invalid snapshot: Snapshot to be backed up must be available, but the "
                                        f"current status is \"{snap.status}\".")
            ok = ("available", "in-use") if force or snap is not None else ("available",)
            if vol.status not in ok:
                raise InvalidStatus(f"Invalid volume: Volume to be backed up must be available or in-use, but the "
                                    f"current status is \"{vol.status}\".")
            parent = None
            if incremental:
                parent = s.scalar(select(Backup).where(Backup.volume_id == vol.id, Backup.status == "available",
                                                       Backup.host == vol.host)
                                  .order_by(Backup.created_at.desc(), Backup.id).limit(1))
                if parent is None:
                    raise errors.BadRequest("Invalid backup: No backups available to do an incremental backup.")
            size = snap.size if snap is not None else vol.size
            self._check_quota(s, vol.project_id, size)
            t = now()
            b = Backup(id=new_id(), project_id=vol.project_id, user_id=caller.user_id, volume_id=vol.id,
                       name=fields.get("name"), description=fields.get("description"), size=size,
                       snapshot_id=snap.id if snap is not None else None,
                       status="creating", host=vol.host, parent_id=parent.id if parent else None,
                       is_incremental=parent is not None, object_count=0, created_at=t, updated_at=t,
                       task_started_at=t, volume_metadata=dict(vol.metadata_ or {}))
            b.metadata_ = dict(fields.get("metadata") or {})
            s.add(b)
            back_to = vol.status
            if snap is not None:  # the snapshot is read, the volume stays as it is (Cinder's way)
                snap.status, snap.task_started_at, snap.updated_at = "backing-up", t, t
            elif vol.status == "available":
                vol.status, vol.task_started_at = "backing-up", t
            vol.updated_at = t
        return b, vol, back_to

    def start_restore(self, backup_id: str, caller: Caller, volume_id: str) -> tuple[Backup, Volume]:
        with self.db.writer() as s:
            b = s.get(Backup, backup_id)
            if b is None or not (caller.is_admin or b.project_id == caller.project_id):
                raise BackupNotFound(f"Backup {backup_id} could not be found.")
            if b.status != "available":
                raise errors.BadRequest(f"Invalid backup: Backup status must be available but is {b.status}.")
            vol = s.get(Volume, volume_id)
            if vol is None or not (caller.is_admin or vol.project_id == caller.project_id):
                raise VolumeNotFound(f"Volume {volume_id} could not be found.")
            if vol.status not in ("available", "creating"):
                raise InvalidStatus(f"Invalid volume: Volume to be restored to must be available, but the current "
                                    f"status is \"{vol.status}\".")
            if vol.size < b.size:
                raise errors.BadRequest(f"Invalid volume: volume size {vol.size}GB cannot be smaller than the backup "
                                        f"size {b.size}GB.")
            if (vol.host or "").partition("#")[0] != (b.host or "").partition("#")[0]:
                raise errors.BadRequest("Invalid volume: the backup is kept on another host than the volume; restore "
                                        "it into a new volume instead.")
            t = now()
            b.status, b.task_started_at, b.updated_at = "restoring", t, t
            vol.status, vol.task_started_at, vol.updated_at = "restoring-backup", t, t
            vol.metadata_ = {**(vol.metadata_ or {}), **(b.volume_metadata or {})}
        return b, vol

    def start_delete(self, backup_id: str, caller: Caller, force: bool) -> Backup:
        with self.db.writer() as s:
            b = s.get(Backup, backup_id)
            if b is None or not (caller.is_admin or b.project_id == caller.project_id):
                raise BackupNotFound(f"Backup {backup_id} could not be found.")
            ok = ("available", "error", "creating", "restoring") if force else ("available", "error")
            if b.status not in ok:
                raise errors.BadRequest(f"Invalid backup: Backup status must be available or error, but is "
                                        f"{b.status}.")
            if s.scalar(select(Backup.id).where(Backup.parent_id == b.id).limit(1)) is not None:
                raise errors.BadRequest("Invalid backup: Incremental backups exist for this backup.")
            b.status, b.task_started_at, b.updated_at = "deleting", now(), now()
        return b

    def finish(self, backup_id: str, status: str, updates: dict[str, Any]) -> Backup | None:
        with self.db.writer() as s:
            b = s.get(Backup, backup_id)
            if b is None:
                return None
            if status == "deleted":
                s.delete(b)
                return b
            b.status, b.task_started_at, b.updated_at = status, None, now()
            if "object_count" in updates:
                b.object_count = int(updates["object_count"])
            if "error" in updates:
                b.fail_reason = str(updates["error"])[:1000]
        return b

    def add_imported(self, b: Backup, caller: Caller) -> None:
        """An imported record's row, counted against the importing project's quotas; its id must be free."""
        with self.db.writer() as s:
            if s.get(Backup, b.id) is not None:
                raise errors.BadRequest(f"Invalid backup: Backup {b.id} already exists.")
            self._check_quota(s, b.project_id, b.size)
            s.add(b)

    def set_container(self, backup_id: str, container: str) -> None:
        """The backup lives in this object-storage container (set before its agent starts on it)."""
        with self.db.writer() as s:
            b = s.get(Backup, backup_id)
            if b is not None:
                b.container = container

    def update(self, backup_id: str, caller: Caller, changes: dict[str, Any]) -> Backup:
        with self.db.writer() as s:
            b = s.get(Backup, backup_id)
            if b is None or not (caller.is_admin or b.project_id == caller.project_id):
                raise BackupNotFound(f"Backup {backup_id} could not be found.")
            for key, value in changes.items():
                setattr(b, key, value)
            b.updated_at = now()
        return b

    def reset_status(self, backup_id: str, status: str) -> None:
        with self.db.writer() as s:
            b = s.get(Backup, backup_id)
            if b is None:
                raise BackupNotFound(f"Backup {backup_id} could not be found.")
            b.status, b.task_started_at, b.updated_at = status, None, now()

    def reap(self, timeout: int) -> list[str]:
        limit = now() - timedelta(seconds=timeout)
        out = []
        with self.db.writer() as s:
            for b in s.scalars(select(Backup).where(Backup.status.in_(list(TIMEOUTS)), Backup.task_started_at < limit)):
                b.status, b.task_started_at = TIMEOUTS[b.status], None
                b.fail_reason = f"The operation did not finish in {timeout} s (volume agent down or restarted)."
                out.append(b.id)
        return out

    def usage(self, project_id: str) -> tuple[int, int]:
        with self.db.reader() as s:
            count, gigabytes = s.execute(select(func.count(), func.coalesce(func.sum(Backup.size), 0))
                                         .where(Backup.project_id == project_id)).one()
        return int(count), int(gigabytes)
