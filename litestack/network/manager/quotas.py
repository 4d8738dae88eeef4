"""Quotas: the defaults (``[network] quota_<resource>``), a project's own limits, usage counted
from the resources themselves, and the check every create makes in its own transaction.

Race-free: a create that counts against a limit first locks the project's ``quota_lock`` row
(``SELECT … FOR UPDATE``; on SQLite writes are serialized anyway), then counts and inserts, so two
concurrent creates cannot both take the last unit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from litestack.network import exceptions as exc
from litestack.network.manager.base import Caller, Part
from litestack.network.models import (
    FloatingIP,
    Network,
    Port,
    Quota,
    QuotaLock,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    SubnetPool,
)

#: Each resource with a quota, its model and Neutron's default limit.
RESOURCES: dict[str, tuple[Any, int]] = {
    "network": (Network, 100), "subnet": (Subnet, 100), "port": (Port, 500), "router": (Router, 10),
    "floatingip": (FloatingIP, 50), "security_group": (SecurityGroup, 10),
    "security_group_rule": (SecurityGroupRule, 100), "subnetpool": (SubnetPool, -1),
}


class Quotas(Part):
    def __init__(self, *args: Any, defaults: dict[str, int]) -> None:
        super().__init__(*args)
        self.defaults = {name: defaults.get(name, default) for name, (_, default) in RESOURCES.items()}

    # --- reads ---------------------------------------------------------------------------

    def limits(self, s: Session, project_id: str) -> dict[str, int]:
        out = dict(self.defaults)
        for resource, limit in s.execute(select(Quota.resource, Quota.limit).where(Quota.project_id == project_id)):
            if resource in out:
                out[resource] = limit
        return out

    def used(self, s: Session, project_id: str, resource: str, locking: bool = False) -> int:
        """The project's count of a resource; ``locking`` reads the latest committed rows (a locking
        read: MariaDB's repeatable-read snapshot would otherwise miss what the previous holder of
        the project's lock committed)."""
        model = RESOURCES[resource][0]
        if locking:
            return len(s.scalars(select(model.id).where(model.project_id == project_id).with_for_update()).all())
        return int(s.scalar(select(func.count()).select_from(model).where(model.project_id == project_id)) or 0)

    def show(self, caller: Caller, project_id: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return {**self.limits(s, project_id), "project_id": project_id, "tenant_id": project_id}

    def default(self, caller: Caller, project_id: str) -> dict[str, Any]:
        return {**self.defaults, "project_id": project_id, "tenant_id": project_id}

    def details(self, caller: Caller, project_id: str) -> dict[str, Any]:
        with self.db.reader() as s:
            limits = self.limits(s, project_id)
            return {name: {"limit": limit, "used": self.used(s, project_id, name), "reserved": 0}
                    for name, limit in limits.items()}

    def find(self, caller: Caller) -> list[dict[str, Any]]:
        """Every project with a limit of its own (Neutron's admin list)."""
        with self.db.reader() as s:
            projects = sorted(set(s.scalars(select(Quota.project_id))))
            return [{**self.limits(s, p), "project_id": p, "tenant_id": p} for p in projects]

    # --- writes --------------------------------------------------------------------------

    def update(self, caller: Caller, project_id: str, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise exc.HTTPBadRequest("Resource body required for quota")
        data = dict(data)
        check = data.pop("check_limit", False)
        if not isinstance(check, bool):
            raise exc.HTTPBadRequest.attr("check_limit", f"'{check}' cannot be converted to boolean")
        values: dict[str, int] = {}
        for name, raw in data.items():
            if name not in RESOURCES:
                raise exc.QuotaResourceUnknown(name)
            try:
                value = int(raw)
            except (TypeError, ValueError):
                raise exc.HTTPBadRequest.attr(name, f"'{raw}' is not an integer") from None
            if isinstance(raw, bool) or value < -1 or value > 2**31 - 1:
                raise exc.HTTPBadRequest.attr(name, f"'{raw}' should be greater than or equal to -1")
            values[name] = value
        with self.db.writer() as s:
            for name, value in values.items():
                if check and value >= 0:
                    self._lock(s, project_id)
                    used = self.used(s, project_id, name, locking=True)
                    if value < used:
                        raise exc.InvalidQuotaValue(value, name, used)
                row = s.get(Quota, (project_id, name))
                if row is None:
                    s.add(Quota(project_id=project_id, resource=name, limit=value))
                else:
                    row.limit = value
            s.flush()
            view = {**self.limits(s, project_id), "project_id": project_id, "tenant_id": project_id}
        self.notify("quota.update.end", {"quota": view})
        return view

    def reset(self, caller: Caller, project_id: str) -> None:
        with self.db.writer() as s:
            s.execute(delete(Quota).where(Quota.project_id == project_id))
        self.notify("quota.delete.end", {"project_id": project_id})

    def charge(self, s: Session, project_id: str, resource: str, delta: int = 1) -> None:
        """Refuse (409 ``OverQuota``) a create that would take the project over its limit; called in
        the transaction that inserts, after locking the project's row."""
        limit = self.limits(s, project_id)[resource]
        if limit < 0:
            return
        self._lock(s, project_id)
        if self.used(s, project_id, resource, locking=True) + delta > limit:
            raise exc.OverQuota(resource)

    @staticmethod
    def _lock(s: Session, project_id: str) -> None:
        if s.get(QuotaLock, project_id, with_for_update=True) is None:
            try:
                with s.begin_nested():
                    s.add(QuotaLock(project_id=project_id, generation=0))
                    s.flush()
            except IntegrityError:
                pass
            s.get(QuotaLock, project_id, with_for_update=True, populate_existing=True)
        s.execute(update(QuotaLock).where(QuotaLock.project_id == project_id)
                  .values(generation=QuotaLock.generation + 1))
