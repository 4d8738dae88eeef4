"""Unified limits: registered (default) limits per service and resource, and project or domain limits.

Identity only stores them; the services that own the resources read them (oslo.limit does, through
``GET /v3/limits`` and ``/v3/registered_limits``) and enforce them. The enforcement model is
``flat``: a project's limit does not depend on its parent's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from litestack.common import errors
from litestack.common.api.pagination import apply
from litestack.identity import models as m
from litestack.identity.manager import listing
from litestack.identity.manager.base import Part, get_or_404, new_id

MODEL = {"name": "flat",
         "description": "Limit enforcement and validation does not take project hierarchy into consideration."}


class LimitManager(Part):
    """Unified limits: registered limits and project or domain limits (flat model)."""

    def _limits_of_deleted(self, s: Session, project_id: str | None = None, domain_id: str | None = None) -> None:
        """On "project.deleted" and "domain.deleted": the limits set for it."""
        col = m.Limit.project_id if project_id is not None else m.Limit.domain_id
        s.execute(delete(m.Limit).where(col == (project_id or domain_id)))

    # --- registered limits --------------------------------------------------------------

    def create_registered_limits(self, items: list[dict[str, Any]]) -> list[m.RegisteredLimit]:
        """Create them all or none (one transaction); 400 for an unknown service or region, 409 for a repeat."""
        with self.write() as s:
            out = []
            for item in items:
                self._check_refs(s, item, "registered_limit")
                self._unique_registered(s, item["service_id"], item.get("region_id"), item["resource_name"])
                row = m.RegisteredLimit(id=new_id(), service_id=item["service_id"], region_id=item.get("region_id"),
                                        resource_name=item["resource_name"], default_limit=item["default_limit"],
                                        description=item.get("description"))
                s.add(row)
                s.flush()
                out.append(row)
            return out

    def get_registered_limit(self, limit_id: str) -> m.RegisteredLimit:
        with self.db.reader() as s:
            row: m.RegisteredLimit = get_or_404(s, m.RegisteredLimit, limit_id, "registered limit")
            return row

    def list_registered_limits(self, filters: dict[str, Any], limit: int | None = None
                               ) -> list[m.RegisteredLimit]:
        """Registered limits by resource name (empty filter values ignored); at most ``limit + 1``."""
        with self.db.reader() as s:
            return listing.rows(s, listing.REGISTERED_LIMITS, {k: v for k, v in filters.items() if v}, limit)

    def update_registered_limit(self, limit_id: str, data: dict[str, Any]) -> m.RegisteredLimit:
        with self.write() as s:
            row: m.RegisteredLimit = get_or_404(s, m.RegisteredLimit, limit_id, "registered limit")
            self._check_refs(s, data, "registered_limit")
            key = (row.service_id, row.region_id, row.resource_name)
            new_key = (data.get("service_id", row.service_id), data.get("region_id", row.region_id),
                       data.get("resource_name", row.resource_name))
            if new_key != key:
                # Project limits find their resource through this row: it may not move under them.
                if self._referenced(s, row.id):
                    raise errors.Forbidden(f"Unable to update or delete registered limit {row.id} because there "
                                           f"are project limits associated with it.")
                self._unique_registered(s, *new_key)
            for col in ("service_id", "region_id", "resource_name", "default_limit", "description"):
                if col in data:
                    setattr(row, col, data[col])
            return row

    def delete_registered_limit(self, limit_id: str) -> None:
        with self.write() as s:
            row = get_or_404(s, m.RegisteredLimit, limit_id, "registered limit")
            if self._referenced(s, row.id):
                raise errors.Forbidden(f"Unable to update or delete registered limit {row.id} because there are "
                                       f"project limits associated with it.")
            s.delete(row)

    @staticmethod
    def _referenced(s: Session, registered_id: str) -> bool:
        return s.scalar(select(m.Limit.id).where(m.Limit.registered_limit_id == registered_id).limit(1)) is not None

    @staticmethod
    def _unique_registered(s: Session, service_id: str, region_id: str | None, resource: str) -> None:
        q = select(m.RegisteredLimit.id).where(
            m.RegisteredLimit.service_id == service_id, m.RegisteredLimit.resource_name == resource,
            m.RegisteredLimit.region_id.is_(None) if region_id is None else m.RegisteredLimit.region_id == region_id)
        if s.scalar(q.limit(1)) is not None:
            raise errors.Conflict.duplicate("registered_limit")

    @staticmethod
    def _check_refs(s: Session, item: dict[str, Any], target: str) -> None:
        """Keystone's answer to a limit naming something that does not exist: 400 on that attribute."""
        checks = (("service_id", m.Service), ("region_id", m.Region), ("project_id", m.Project),
                  ("domain_id", m.Domain))
        for attr, model in checks:
            value = item.get(attr)
            if value is not None and s.get(model, value) is None:
                raise errors.ValidationError(f"Invalid input for field '{attr}' of {target}: {value} does not "
                                             f"exist.")

    # --- limits -------------------------------------------------------------------------

    def create_limits(self, items: list[dict[str, Any]]) -> list[tuple[m.Limit, m.RegisteredLimit]]:
        with self.write() as s:
            out = []
            for item in items:
                item = dict(item)
                # A project that is a domain (is_domain) names the domain itself.
                if item.get("project_id") and s.get(m.Project, item["project_id"]) is None \
                        and s.get(m.Domain, item["project_id"]) is not None:
                    item["domain_id"] = item.pop("project_id")
                self._check_refs(s, item, "limit")
                region = item.get("region_id")
                registered = s.scalar(select(m.RegisteredLimit).where(
                    m.RegisteredLimit.service_id == item["service_id"],
                    m.RegisteredLimit.resource_name == item["resource_name"],
                    m.RegisteredLimit.region_id.is_(None) if region is None
                    else m.RegisteredLimit.region_id == region).limit(1))
                if registered is None:
                    raise errors.Forbidden("Unable to create a limit that has no corresponding registered limit.")
                owner = (m.Limit.project_id == item["project_id"]) if item.get("project_id") \
                    else (m.Limit.domain_id == item["domain_id"])
                if s.scalar(select(m.Limit.id).where(m.Limit.registered_limit_id == registered.id, owner).limit(1)):
                    raise errors.Conflict.duplicate("limit")
                row = m.Limit(id=new_id(), registered_limit_id=registered.id, project_id=item.get("project_id"),
                              domain_id=item.get("domain_id"), resource_limit=item["resource_limit"],
                              description=item.get("description"))
                s.add(row)
                s.flush()
                out.append((row, registered))
            return out

    def get_limit(self, limit_id: str) -> tuple[m.Limit, m.RegisteredLimit]:
        with self.db.reader() as s:
            row: m.Limit = get_or_404(s, m.Limit, limit_id, "limit")
            reg = s.get(m.RegisteredLimit, row.registered_limit_id)
            assert reg is not None  # a registered limit with limits cannot be deleted
            return row, reg

    def list_limits(self, filters: dict[str, Any], project_ids: list[str] | None = None,
                    domain_id: str | None = None, limit: int | None = None
                    ) -> list[tuple[m.Limit, m.RegisteredLimit]]:
        """Limits matching ``filters`` (empty values ignored); with ``project_ids``/``domain_id``
        only those of these owners; at most ``limit + 1`` (see ``manager.listing``)."""
        with self.db.reader() as s:
            q = select(m.Limit, m.RegisteredLimit).join(
                m.RegisteredLimit, m.RegisteredLimit.id == m.Limit.registered_limit_id)
            if project_ids is not None or domain_id is not None:
                owners: list[Any] = []
                if project_ids:
                    owners.append(m.Limit.project_id.in_(project_ids))
                if domain_id is not None:
                    owners.append(m.Limit.domain_id == domain_id)
                if not owners:
                    return []
                q = q.where(or_(*owners))
            q = apply(q, listing.LIMITS, listing.list_query(listing.LIMITS, {k: v for k, v in filters.items() if v},
                                                             limit))
            return [(lim, reg) for lim, reg in s.execute(q).tuples().all()]

    def update_limit(self, limit_id: str, data: dict[str, Any]) -> tuple[m.Limit, m.RegisteredLimit]:
        with self.write() as s:
            row: m.Limit = get_or_404(s, m.Limit, limit_id, "limit")
            if "resource_limit" in data:
                row.resource_limit = data["resource_limit"]
            if "description" in data:
                row.description = data["description"]
            reg = s.get(m.RegisteredLimit, row.registered_limit_id)
            assert reg is not None
            return row, reg

    def delete_limit(self, limit_id: str) -> None:
        with self.write() as s:
            s.delete(get_or_404(s, m.Limit, limit_id, "limit"))

    def projects_in_domain(self, domain_id: str) -> list[str]:
        with self.db.reader() as s:
            return list(s.scalars(select(m.Project.id).where(m.Project.domain_id == domain_id)))
