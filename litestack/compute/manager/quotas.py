"""Nova's quotas, counted from real usage: instances, cores and ram per project, key pairs per
user, metadata items per server, server groups and their members."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from litestack.common import errors
from litestack.common.db import Database
from litestack.compute.models import Instance, KeyPair, QuotaClassLimit, QuotaLimit, ServerGroup

#: The quota class whose limits are every project's defaults.
DEFAULT_CLASS = "default"
RESOURCES = ("instances", "cores", "ram", "key_pairs", "metadata_items", "server_groups",
             "server_group_members")


class OverQuota(errors.Forbidden):
    """Nova's 403 ``Quota exceeded for <resources>: Requested N, but already used U of L <resources>``."""


def defaults(conf: Any) -> dict[str, int]:
    return {r: int(conf.get("compute", f"quota_{r}")) for r in RESOURCES}


class Quotas:
    def __init__(self, db: Database, conf: Any) -> None:
        self.db = db
        self.defaults = defaults(conf)

    def limits(self, session: Session, project_id: str) -> dict[str, int]:
        """A project's limits: its own, else the ``default`` quota class's, else the options."""
        own = {q.resource: q.hard_limit for q in session.scalars(
            select(QuotaLimit).where(QuotaLimit.project_id == project_id))}
        defaults = self.class_limits(session, DEFAULT_CLASS)
        return {r: own.get(r, d) for r, d in defaults.items()}

    def class_limits(self, session: Session, class_name: str) -> dict[str, int]:
        """A quota class's limits (os-quota-class-sets): its own rows over the configured defaults.
        Only the ``default`` class is applied to projects, as in Nova."""
        own = {q.resource: q.hard_limit for q in session.scalars(
            select(QuotaClassLimit).where(QuotaClassLimit.class_name == class_name))}
        # Limits of resources other services enforce (the network proxies', injected files) are kept
        # and shown as set, besides the compute ones.
        return {**own, **{r: own.get(r, d) for r, d in self.defaults.items()}}

    def class_limits_of(self, class_name: str) -> dict[str, int]:
        with self.db.reader() as s:
            return self.class_limits(s, class_name)

    def update_class(self, class_name: str, values: dict[str, int]) -> dict[str, int]:
        with self.db.writer() as s:
            for resource, limit in values.items():
                row = s.get(QuotaClassLimit, (class_name, resource))
                if row is None:
                    s.add(QuotaClassLimit(class_name=class_name, resource=resource, hard_limit=int(limit)))
                else:
                    row.hard_limit = int(limit)
            s.flush()
            return self.class_limits(s, class_name)

    def default_limits(self) -> dict[str, int]:
        """What a project without limits of its own gets (os-quota-sets defaults)."""
        return self.class_limits_of(DEFAULT_CLASS)

    def limits_of(self, project_id: str) -> dict[str, int]:
        with self.db.reader() as s:
            return self.limits(s, project_id)

    def usage(self, session: Session, project_id: str, user_id: str | None = None) -> dict[str, int]:
        live = select(Instance).where(Instance.project_id == project_id, Instance.deleted.is_(False)).subquery()
        rows = list(session.execute(select(live.c.flavor)))
        used = {"instances": len(rows), "cores": sum(int(r[0]["vcpus"]) for r in rows),
                "ram": sum(int(r[0]["ram"]) for r in rows)}
        used["server_groups"] = int(session.scalar(select(func.count()).select_from(ServerGroup).where(
            ServerGroup.project_id == project_id)) or 0)
        used["key_pairs"] = int(session.scalar(select(func.count()).select_from(KeyPair).where(
            KeyPair.user_id == user_id)) or 0) if user_id else 0
        return used

    def usage_of(self, project_id: str, user_id: str | None = None) -> dict[str, int]:
        with self.db.reader() as s:
            return self.usage(s, project_id, user_id)

    def check_instances(self, session: Session, project_id: str, count: int, vcpus: int, ram: int) -> None:
        """Raise ``OverQuota`` when ``count`` more servers of this size do not fit (inside the
        writer transaction that creates them, so concurrent creates cannot both pass)."""
        limits, used = self.limits(session, project_id), self.usage(session, project_id)
        asked = {"instances": count, "cores": vcpus * count, "ram": ram * count}
        over = [r for r, n in asked.items() if limits[r] >= 0 and used[r] + n > limits[r]]
        if over:
            names = ", ".join(over)
            raise OverQuota(f"Quota exceeded for {names}: Requested {', '.join(str(asked[r]) for r in over)}, "
                            f"but already used {', '.join(str(used[r]) for r in over)} of "
                            f"{', '.join(str(limits[r]) for r in over)} {names}")

    def update(self, project_id: str, values: dict[str, int]) -> dict[str, int]:
        with self.db.writer() as s:
            for resource, limit in values.items():
                row = s.get(QuotaLimit, (project_id, resource))
                if row is None:
                    s.add(QuotaLimit(project_id=project_id, resource=resource, hard_limit=int(limit)))
                else:
                    row.hard_limit = int(limit)
            s.flush()
            return self.limits(s, project_id)

    def reset(self, project_id: str) -> None:
        with self.db.writer() as s:
            for row in s.scalars(select(QuotaLimit).where(QuotaLimit.project_id == project_id)):
                s.delete(row)
