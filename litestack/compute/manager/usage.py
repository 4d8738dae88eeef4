"""Usage of servers over a period (os-simple-tenant-usage), from the instance records: every
server, deleted ones included, that ran during the period, with the hours it ran inside it."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select

from litestack.common.db import Database
from litestack.compute.models import Instance


def aware(dt: datetime.datetime) -> datetime.datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=datetime.UTC)


@dataclass
class ServerUsage:
    instance: Instance
    hours: float
    started_at: datetime.datetime
    ended_at: datetime.datetime | None


class Usage:
    def __init__(self, db: Database) -> None:
        self.db = db

    def servers(self, start: datetime.datetime, end: datetime.datetime, project_id: str | None = None,
                ) -> list[ServerUsage]:
        """The servers that ran between ``start`` and ``end`` (launched before the end, not
        terminated before the start), oldest first, each with its hours inside the period."""
        stmt = select(Instance).where(Instance.launched_at.is_not(None), Instance.launched_at <= end,
                                      or_(Instance.terminated_at.is_(None), Instance.terminated_at >= start))
        if project_id is not None:
            stmt = stmt.where(Instance.project_id == project_id)
        stmt = stmt.order_by(Instance.created_at, Instance.id)
        with self.db.reader() as s:
            rows = list(s.scalars(stmt))
        start, end = aware(start), aware(end)
        out = []
        for inst in rows:
            launched = aware(inst.launched_at) if inst.launched_at else start
            terminated = aware(inst.terminated_at) if inst.terminated_at else None
            first, last = max(launched, start), min(terminated or end, end)
            hours = max((last - first).total_seconds(), 0.0) / 3600.0
            out.append(ServerUsage(inst, hours, launched, terminated))
        return out


def totals(usages: list[ServerUsage]) -> dict[str, Any]:
    """Nova's per-project sums: hours, and memory, disk and VCPUs each times hours."""
    out = {"total_hours": 0.0, "total_memory_mb_usage": 0.0, "total_local_gb_usage": 0.0,
           "total_vcpus_usage": 0.0}
    for u in usages:
        f = u.instance.flavor or {}
        out["total_hours"] += u.hours
        out["total_memory_mb_usage"] += int(f.get("ram", 0)) * u.hours
        out["total_local_gb_usage"] += (int(f.get("disk", 0)) + int(f.get("OS-FLV-EXT-DATA:ephemeral", 0) or 0)
                                        ) * u.hours
        out["total_vcpus_usage"] += int(f.get("vcpus", 0)) * u.hours
    return out
