"""Regions, services, endpoints and the token catalog."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from litestack.common import errors
from litestack.identity import models as m
from litestack.identity.manager import listing
from litestack.identity.manager.base import Part, announces, get_or_404, new_id

INTERFACES = ("public", "internal", "admin")


class CatalogManager(Part):
    """Regions, services and endpoints, and the full token catalog (``extensions.project_catalog``
    cuts it down to a project's endpoints)."""

    @announces("region", "created")
    def create_region(self, data: dict[str, Any]) -> m.Region:
        with self.write() as s:
            rid = data.get("id") or new_id()
            if s.get(m.Region, rid) is not None:
                raise errors.Conflict.duplicate("region", "id", rid)
            parent = data.get("parent_region_id")
            if parent:
                get_or_404(s, m.Region, parent, "region")
            region = m.Region(id=rid, description=data.get("description", ""), parent_region_id=parent,
                              extra={k: v for k, v in data.items()
                                     if k not in ("id", "description", "parent_region_id", "links")})
            s.add(region)
            return region

    def get_region(self, region_id: str) -> m.Region:
        with self.db.reader() as s:
            r: m.Region = get_or_404(s, m.Region, region_id, "region")
            return r

    def list_regions(self, parent_region_id: str | None = None, limit: int | None = None) -> list[m.Region]:
        """Regions by id; at most ``limit + 1`` (see ``manager.listing``)."""
        filters = {} if parent_region_id is None else {"parent_region_id": parent_region_id}
        with self.db.reader() as s:
            return listing.rows(s, listing.REGIONS, filters, limit)

    @announces("region", "updated")
    def update_region(self, region_id: str, data: dict[str, Any]) -> m.Region:
        with self.write() as s:
            r: m.Region = get_or_404(s, m.Region, region_id, "region")
            if "parent_region_id" in data:
                parent = data["parent_region_id"]
                if parent:
                    get_or_404(s, m.Region, parent, "region")
                    walk: str | None = parent
                    while walk:
                        if walk == region_id:
                            raise errors.ValidationError("Circular region hierarchy is not allowed.")
                        nxt = s.get(m.Region, walk)
                        walk = nxt.parent_region_id if nxt else None
                r.parent_region_id = parent
            if "description" in data:
                r.description = data["description"]
            return r

    @announces("region", "deleted")
    def delete_region(self, region_id: str) -> None:
        with self.write() as s:
            r = get_or_404(s, m.Region, region_id, "region")
            if s.scalar(select(m.Region.id).where(m.Region.parent_region_id == region_id).limit(1)):
                raise errors.Forbidden("Unable to delete region because it has child regions.")
            if s.scalar(select(m.Endpoint.id).where(m.Endpoint.region_id == region_id).limit(1)):
                raise errors.Forbidden("Unable to delete region because it has endpoints.")
            if s.scalar(select(m.RegisteredLimit.id).where(m.RegisteredLimit.region_id == region_id).limit(1)):
                raise errors.Forbidden("Unable to delete region because it has registered limits.")
            s.delete(r)

    @announces("service", "created")
    def create_service(self, data: dict[str, Any]) -> m.Service:
        with self.write() as s:
            if data.get("id") and s.get(m.Service, data["id"]) is not None:
                raise errors.Conflict.duplicate("service", "id", data['id'])
            svc = m.Service(id=data.get("id") or new_id(), type=data["type"], enabled=data.get("enabled", True),
                            extra={k: v for k, v in data.items() if k not in ("id", "type", "enabled", "links")})
            s.add(svc)
            return svc

    def get_service(self, service_id: str) -> m.Service:
        with self.db.reader() as s:
            svc: m.Service = get_or_404(s, m.Service, service_id, "service")
            return svc

    def list_services(self, type_: str | None = None, name: str | None = None,
                      limit: int | None = None) -> list[m.Service]:
        """Services by type; at most ``limit + 1`` (see ``manager.listing``). The name lives in the
        JSON ``extra``, so that filter runs here, and the limit after it."""
        filters = {} if type_ is None else {"type": type_}
        with self.db.reader() as s:
            services = listing.rows(s, listing.SERVICES, filters, limit if name is None else None)
        if name is None:
            return services
        services = [x for x in services if x.extra.get("name") == name]
        return services if limit is None else services[:limit + 1]

    @announces("service", "updated")
    def update_service(self, service_id: str, data: dict[str, Any]) -> m.Service:
        with self.write() as s:
            svc: m.Service = get_or_404(s, m.Service, service_id, "service")
            if "type" in data:
                svc.type = data["type"]
            if "enabled" in data:
                svc.enabled = data["enabled"]
            svc.extra = {**svc.extra, **{k: v for k, v in data.items()
                                         if k not in ("id", "type", "enabled", "links")}}
            return svc

    @announces("service", "deleted")
    def delete_service(self, service_id: str) -> None:
        with self.write() as s:
            svc = get_or_404(s, m.Service, service_id, "service")
            if s.scalar(select(m.RegisteredLimit.id).where(m.RegisteredLimit.service_id == service_id).limit(1)):
                raise errors.Forbidden("Unable to delete service because it has registered limits; delete them "
                                       "first.")
            s.execute(delete(m.Endpoint).where(m.Endpoint.service_id == service_id))
            s.delete(svc)

    @announces("endpoint", "created")
    def create_endpoint(self, data: dict[str, Any]) -> m.Endpoint:
        with self.write() as s:
            get_or_404(s, m.Service, data["service_id"], "service")
            region = data.get("region_id") or data.get("region")
            if region and s.get(m.Region, region) is None:
                # Keystone creates a region an endpoint names but that does not exist yet.
                s.add(m.Region(id=region, description="", parent_region_id=None, extra={}))
                s.flush()
            ep = m.Endpoint(id=new_id(), service_id=data["service_id"], interface=data["interface"],
                            url=data["url"], region_id=region, enabled=data.get("enabled", True),
                            extra={k: v for k, v in data.items() if k not in (
                                "id", "service_id", "interface", "url", "region_id", "region", "enabled",
                                "links")})
            s.add(ep)
            return ep

    def get_endpoint(self, endpoint_id: str) -> m.Endpoint:
        with self.db.reader() as s:
            ep: m.Endpoint = get_or_404(s, m.Endpoint, endpoint_id, "endpoint")
            return ep

    def list_endpoints(self, filters: dict[str, Any], limit: int | None = None) -> list[m.Endpoint]:
        """Endpoints by id (empty filter values ignored); at most ``limit + 1`` (``manager.listing``)."""
        with self.db.reader() as s:
            return listing.rows(s, listing.ENDPOINTS, {k: v for k, v in filters.items() if v}, limit)

    @announces("endpoint", "updated")
    def update_endpoint(self, endpoint_id: str, data: dict[str, Any]) -> m.Endpoint:
        with self.write() as s:
            ep: m.Endpoint = get_or_404(s, m.Endpoint, endpoint_id, "endpoint")
            if "service_id" in data:
                get_or_404(s, m.Service, data["service_id"], "service")
                ep.service_id = data["service_id"]
            if "region_id" in data or "region" in data:
                region = data.get("region_id", data.get("region"))
                if region and s.get(m.Region, region) is None:
                    s.add(m.Region(id=region, description="", parent_region_id=None, extra={}))
                    s.flush()
                ep.region_id = region
            for col in ("interface", "url", "enabled"):
                if col in data:
                    setattr(ep, col, data[col])
            return ep

    @announces("endpoint", "deleted")
    def delete_endpoint(self, endpoint_id: str) -> None:
        with self.write() as s:
            s.delete(get_or_404(s, m.Endpoint, endpoint_id, "endpoint"))

    def catalog(self, project_id: str | None) -> list[dict[str, Any]]:
        """The token catalog; ``$(project_id)s`` / ``%(tenant_id)s`` in URLs are filled in."""
        base = self.memo(("catalog",), self._catalog_template)
        if not project_id:
            return [{**svc, "endpoints": [ep for ep in svc["endpoints"] if "$(project_id)s" not in ep["url"]
                                          and "%(tenant_id)s" not in ep["url"]]} for svc in base]
        out = []
        for svc in base:
            eps = [{**ep, "url": ep["url"].replace("$(project_id)s", project_id)
                    .replace("%(tenant_id)s", project_id).replace("$(tenant_id)s", project_id)}
                   for ep in svc["endpoints"]]
            out.append({**svc, "endpoints": eps})
        return out

    def _catalog_template(self) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            services = list(s.scalars(select(m.Service).where(m.Service.enabled.is_(True))))
            endpoints = list(s.scalars(select(m.Endpoint).where(m.Endpoint.enabled.is_(True))))
        out = []
        for svc in services:
            eps = [{"id": ep.id, "interface": ep.interface, "region_id": ep.region_id,
                    "url": ep.url, "region": ep.region_id}
                   for ep in endpoints if ep.service_id == svc.id]
            out.append({"endpoints": eps, "id": svc.id, "type": svc.type, "name": svc.extra.get("name", "")})
        return out
