"""Quotas as Cinder counts them: limits per project (else the ``default`` class, else the
configured defaults), usage counted from the real rows, checked in the same write transaction as
the row that consumes them, so two requests cannot both take the last unit (SQLite serializes
writers; on PostgreSQL and MariaDB the usage rows are read ``FOR UPDATE``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from litestack.common import errors
from litestack.common.db import Database
from litestack.volume.models import Backup, Group, Quota, QuotaClass, Snapshot, Volume

BASE_RESOURCES = ("volumes", "snapshots", "gigabytes", "backups", "backup_gigabytes", "groups",
                  "per_volume_gigabytes")
PER_TYPE = ("volumes", "snapshots", "gigabytes")


class QuotaExceeded(errors.PayloadTooLarge):
    """A request would take a project over one of its quotas (Cinder's 413 ``overLimit``)."""


class Quotas:
    def __init__(self, db: Database, defaults: dict[str, int]) -> None:
        self.db = db
        self.defaults = dict(defaults)
        self.defaults.setdefault("groups", 10)
        self.defaults.setdefault("per_volume_gigabytes", -1)

    def resources(self, type_names: list[str]) -> list[str]:
        return [*BASE_RESOURCES, *(f"{r}_{t}" for t in type_names for r in PER_TYPE)]

    def class_defaults(self, session: Session, type_names: list[str]) -> dict[str, int]:
        out = {r: self.defaults.get(r, -1) for r in self.resources(type_names)}
        for row in session.scalars(select(QuotaClass).where(QuotaClass.class_name == "default")):
            if row.resource in out:
                out[row.resource] = row.hard_limit
        return out

    def limits(self, session: Session, project_id: str, type_names: list[str]) -> dict[str, int]:
        out = self.class_defaults(session, type_names)
        for row in session.scalars(select(Quota).where(Quota.project_id == project_id)):
            if row.resource in out:
                out[row.resource] = row.hard_limit
        return out

    @staticmethod
    def usage(session: Session, project_id: str, type_names: dict[str, str]) -> dict[str, int]:
        vols = session.execute(select(Volume.volume_type_id, func.count(), func.coalesce(func.sum(Volume.size), 0))
                               .where(Volume.project_id == project_id).group_by(Volume.volume_type_id)).all()
        snaps = session.execute(
            select(Volume.volume_type_id, func.count(), func.coalesce(func.sum(Snapshot.size), 0))
            .join(Volume, Volume.id == Snapshot.volume_id)
            .where(Snapshot.project_id == project_id).group_by(Volume.volume_type_id)).all()
        backups, backup_gb = session.execute(select(func.count(), func.coalesce(func.sum(Backup.size), 0))
                                             .where(Backup.project_id == project_id)).one()
        groups = session.scalar(select(func.count()).select_from(Group).where(Group.project_id == project_id))
        out: dict[str, int] = {"volumes": 0, "snapshots": 0, "gigabytes": 0, "backups": int(backups),
                               "backup_gigabytes": int(backup_gb), "groups": int(groups or 0),
                               "per_volume_gigabytes": 0}
        for kind, rows in (("volumes", vols), ("snapshots", snaps)):
            for type_id, count, size in rows:
                name = type_names.get(type_id, type_id)
                out[kind] += int(count)
                out["gigabytes"] += int(size)
                out[f"{kind}_{name}"] = out.get(f"{kind}_{name}", 0) + int(count)
                out[f"gigabytes_{name}"] = out.get(f"gigabytes_{name}", 0) + int(size)
        return out

    def check(self, session: Session, project_id: str, type_names: dict[str, str], type_name: str,
              count_kind: str, gigabytes: int, count: int = 1) -> None:
        """Raise ``QuotaExceeded`` when adding ``count`` of ``count_kind`` (volumes or snapshots)
        and ``gigabytes`` would go over a limit; call inside the writer that adds the row."""
        if not self.db.is_sqlite:
            # Serialize concurrent reservations of one project on the real servers.
            session.execute(select(Volume.id).where(Volume.project_id == project_id).with_for_update())
        limits = self.limits(session, project_id, list(type_names.values()))
        used = self.usage(session, project_id, type_names)
        per_volume = limits.get("per_volume_gigabytes", -1)
        if count_kind == "volumes" and per_volume >= 0 and gigabytes > per_volume:
            raise QuotaExceeded(f"VolumeSizeExceedsLimit: Requested volume size {gigabytes}G is larger than "
                                f"maximum allowed limit {per_volume}G.")
        for name in (count_kind, f"{count_kind}_{type_name}"):
            limit = limits.get(name, -1)
            if limit >= 0 and used.get(name, 0) + count > limit:
                what = "VolumeLimitExceeded" if count_kind == "volumes" else "SnapshotLimitExceeded"
                raise QuotaExceeded(f"{what}: Maximum number of {count_kind} allowed ({limit}) exceeded for "
                                    f"quota '{name}'.")
        for name in ("gigabytes", f"gigabytes_{type_name}"):
            limit = limits.get(name, -1)
            if gigabytes and limit >= 0 and used.get(name, 0) + gigabytes > limit:
                what = "VolumeSizeExceedsAvailableQuota" if count_kind == "volumes" else \
                    "SnapshotSizeExceedsAvailableQuota"
                raise QuotaExceeded(f"{what}: Requested volume or snapshot exceeds allowed {name} quota. "
                                    f"Requested {gigabytes}G, quota is {limit}G and {used.get(name, 0)}G has "
                                    "been consumed.")

    # --- the quota-sets API ---------------------------------------------------------------------

    def show(self, project_id: str, type_names: dict[str, str], usage: bool) -> dict[str, Any]:
        with self.db.reader() as s:
            limits = self.limits(s, project_id, list(type_names.values()))
            used = self.usage(s, project_id, type_names) if usage else {}
        if not usage:
            return dict(limits)
        return {k: {"limit": v, "in_use": used.get(k, 0), "reserved": 0, "allocated": 0} for k, v in limits.items()}

    def defaults_of(self, type_names: dict[str, str]) -> dict[str, int]:
        with self.db.reader() as s:
            return self.class_defaults(s, list(type_names.values()))

    def update(self, project_id: str, changes: dict[str, int], type_names: dict[str, str]) -> dict[str, int]:
        known = set(self.resources(list(type_names.values())))
        for key, value in changes.items():
            if key not in known:
                raise errors.BadRequest(f"Bad key(s) in quota set: {key}")
            if value < -1:
                raise errors.BadRequest(f"Quota limit {value} for {key} must be -1 or greater.")
        with self.db.writer() as s:
            used = self.usage(s, project_id, type_names)
            for key, value in changes.items():
                if value >= 0 and key != "per_volume_gigabytes" and used.get(key, 0) > value:
                    raise errors.BadRequest(f"Quota {key} limit must be equal or greater than existing resources. "
                                            f"Current usage is {used.get(key, 0)} and the requested limit is "
                                            f"{value}.")
                row = s.get(Quota, (project_id, key))
                if row is None:
                    s.add(Quota(project_id=project_id, resource=key, hard_limit=value))
                else:
                    row.hard_limit = value
        with self.db.reader() as s:
            return self.limits(s, project_id, list(type_names.values()))

    def reset(self, project_id: str) -> None:
        with self.db.writer() as s:
            for row in s.scalars(select(Quota).where(Quota.project_id == project_id)):
                s.delete(row)

    def update_class(self, changes: dict[str, int], type_names: dict[str, str]) -> dict[str, int]:
        known = set(self.resources(list(type_names.values())))
        with self.db.writer() as s:
            for key, value in changes.items():
                if key not in known:
                    continue
                row = s.get(QuotaClass, ("default", key))
                if row is None:
                    s.add(QuotaClass(class_name="default", resource=key, hard_limit=value))
                else:
                    row.hard_limit = value
        return self.defaults_of(type_names)
