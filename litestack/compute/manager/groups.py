"""Server groups: affinity, anti-affinity and their soft variants, with max_server_per_host."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from litestack.common import errors
from litestack.common.db import Database
from litestack.compute.manager.flavors import now
from litestack.compute.manager.quotas import OverQuota, Quotas
from litestack.compute.models import Instance, ServerGroup, ServerGroupMember

POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


class Groups:
    def __init__(self, db: Database, quotas: Quotas) -> None:
        self.db = db
        self.quotas = quotas

    def create(self, project_id: str, user_id: str, name: str, policy: str, rules: dict[str, Any]) -> ServerGroup:
        if rules and policy != "anti-affinity":
            raise errors.BadRequest(f"Only anti-affinity policy supports rules, not {policy}.")
        with self.db.writer() as s:
            limit = self.quotas.limits(s, project_id)["server_groups"]
            used = self.quotas.usage(s, project_id)["server_groups"]
            if 0 <= limit <= used:
                raise OverQuota("Quota exceeded, too many server groups.")
            g = ServerGroup(id=str(uuid.uuid4()), name=name, project_id=project_id, user_id=user_id,
                            policy=policy, rules=rules, created_at=now())
            s.add(g)
            s.flush()
            s.refresh(g)
            return g

    def get(self, group_id: str, project_id: str | None) -> ServerGroup:
        with self.db.reader() as s:
            g = s.get(ServerGroup, group_id)
            if g is None or (project_id is not None and g.project_id != project_id):
                raise errors.NotFound(f"Instance group {group_id} could not be found.")
            return g

    def find(self, project_id: str | None) -> list[ServerGroup]:
        stmt = select(ServerGroup).order_by(ServerGroup.created_at)
        if project_id is not None:
            stmt = stmt.where(ServerGroup.project_id == project_id)
        with self.db.reader() as s:
            return list(s.scalars(stmt))

    def delete(self, group_id: str, project_id: str | None) -> None:
        with self.db.writer() as s:
            g = s.get(ServerGroup, group_id)
            if g is None or (project_id is not None and g.project_id != project_id):
                raise errors.NotFound(f"Instance group {group_id} could not be found.")
            s.delete(g)

    def of_instance(self, instance_id: str) -> ServerGroup | None:
        with self.db.reader() as s:
            m = s.scalar(select(ServerGroupMember).where(ServerGroupMember.instance_id == instance_id))
            return s.get(ServerGroup, m.group_id) if m is not None else None

    def member_hosts(self, group_id: str, exclude: str) -> list[str]:
        """Hosts the group's other members are on (or being built on)."""
        with self.db.reader() as s:
            rows = s.scalars(select(Instance.host).join(ServerGroupMember, ServerGroupMember.instance_id == Instance.id)
                             .where(ServerGroupMember.group_id == group_id, Instance.id != exclude,
                                    Instance.deleted.is_(False), Instance.host.is_not(None)))
            return [h for h in rows if h]
