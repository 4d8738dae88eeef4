"""Existing storage under the cloud's management: what a backend holds that is not (or no longer) a
volume of the cloud can be adopted (manage) and a volume forgotten while its data stays (unmanage)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from litestack.common import errors
from litestack.common.db import Database
from litestack.volume.manager import Caller, new_id, now, retry_deadlocks
from litestack.volume.manager.quotas import Quotas
from litestack.volume.manager.volumes import InvalidStatus, VolumeNotFound
from litestack.volume.models import Attachment, Snapshot, Volume

UNMANAGEABLE = ("available", "error", "error_managing", "error_extending")


def classify(entries: list[dict[str, Any]], volume_ids: set[str], snapshot_ids: set[str], snapshots: bool
             ) -> list[dict[str, Any]]:
    """A backend's storage as Cinder lists it as manageable: ``reference``, ``size``,
    ``safe_to_manage`` with ``reason_not_safe``, ``cinder_id`` (already a volume or snapshot of the
    cloud) and ``extra_info``; volume files or snapshot files as asked."""
    out = []
    for e in entries:
        is_snapshot = e["kind"] == "snapshot"
        if is_snapshot != snapshots:
            continue
        prefix = "snapshot-" if is_snapshot else "volume-"
        ident = e["name"][len(prefix):] if e["name"].startswith(prefix) else None
        known = snapshot_ids if is_snapshot else volume_ids
        cinder_id = ident if ident in known else None
        reason = "Already managed." if cinder_id else ("Not a disk image." if not e["size"] else None)
        item: dict[str, Any] = {"reference": {"source-name": e["name"]}, "size": e["size"],
                                "safe_to_manage": reason is None, "reason_not_safe": reason,
                                "cinder_id": cinder_id, "extra_info": e.get("extra_info")}
        if snapshots:
            item["source_reference"] = {"source-name": None}
        out.append(item)
    return out


class Manage:
    def __init__(self, db: Database, quotas: Quotas) -> None:
        self.db, self.quotas = db, quotas

    def known_ids(self) -> tuple[set[str], set[str]]:
        with self.db.reader() as s:
            return set(s.scalars(select(Volume.id))), set(s.scalars(select(Snapshot.id)))

    def adopt_snapshot(self, caller: Caller, volume_id: str, server: str, size: int, fields: dict[str, Any],
                       type_names: dict[str, str]) -> Snapshot:
        """A snapshot row (``creating``) of the volume for the storage the agent will adopt."""
        def run() -> Snapshot:
            with self.db.writer() as s:
                vol = s.get(Volume, volume_id) if len(volume_id) <= 36 else None
                if vol is None or not (caller.is_admin or vol.project_id == caller.project_id):
                    raise VolumeNotFound(f"Volume {volume_id} could not be found.")
                if not vol.host or vol.host.partition("#")[0] != server:
                    raise errors.BadRequest(f"Invalid input received: volume {volume_id} is not on {server}.")
                self.quotas.check(s, vol.project_id, type_names, type_names.get(vol.volume_type_id, ""),
                                  "snapshots", size)
                t = now()
                snap = Snapshot(id=new_id(), volume_id=vol.id, project_id=vol.project_id, user_id=caller.user_id,
                                size=size, status="creating", progress="0%", host=vol.host, created_at=t,
                                updated_at=t, task_started_at=t, name=fields.get("name"),
                                description=fields.get("description"))
                snap.metadata_ = dict(fields.get("metadata") or {})
                s.add(snap)
            return snap
        return retry_deadlocks(run)

    def unmanage(self, volume_id: str, caller: Caller) -> Volume:
        """Forget the volume (its rows); the backend keeps its data."""
        with self.db.writer() as s:
            vol = s.get(Volume, volume_id)
            if vol is None or not (caller.is_admin or vol.project_id == caller.project_id):
                raise VolumeNotFound(f"Volume {volume_id} could not be found.")
            if vol.status not in UNMANAGEABLE:
                raise InvalidStatus(f"Invalid volume: Volume {volume_id} status must be {' or '.join(UNMANAGEABLE)}, "
                                    f"but current status is: {vol.status}.")
            if s.scalar(select(Attachment.id).where(Attachment.volume_id == volume_id).limit(1)) is not None:
                raise InvalidStatus(f"Invalid volume: Volume {volume_id} is attached.")
            if s.scalar(select(Snapshot.id).where(Snapshot.volume_id == volume_id).limit(1)) is not None:
                raise InvalidStatus(f"Invalid volume: Volume {volume_id} has snapshots; unmanage them first.")
            s.delete(vol)
        return vol

    def unmanage_snapshot(self, snapshot_id: str, caller: Caller) -> Snapshot:
        with self.db.writer() as s:
            snap = s.get(Snapshot, snapshot_id)
            if snap is None or not (caller.is_admin or snap.project_id == caller.project_id):
                raise errors.NotFound(f"Snapshot {snapshot_id} could not be found.")
            if snap.status not in ("available", "error"):
                raise InvalidStatus(f"Invalid snapshot: Snapshot status must be available or error, but current "
                                    f"status is: {snap.status}.")
            s.delete(snap)
        return snap
