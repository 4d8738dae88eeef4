"""Address scopes: subnet pools join one (``address_scope_id``) when their IP version matches and
their prefixes overlap no other pool of the scope; networks show the scope of their subnets'
pools (``ipv4_address_scope``, ``ipv6_address_scope``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from litestack.common.api.pagination import Listing
from litestack.network import exceptions as exc
from litestack.network.manager.base import (
    Caller,
    Filter,
    Part,
    Query,
    boolean,
    check_revision,
    integer,
    list_rows,
    new_id,
    now,
    set_tags,
    standard,
    tags_of,
    touch,
)
from litestack.network.models import AddressScope, SubnetPool, Tag

LISTING = Listing(AddressScope, sort_keys={k: getattr(AddressScope, k) for k in (
    "id", "name", "ip_version", "shared", "project_id", "created_at", "updated_at", "revision_number")}
    | {"tenant_id": AddressScope.project_id})
FILTERS: dict[str, Filter] = {
    "id": (AddressScope.id, None), "name": (AddressScope.name, None), "ip_version": (AddressScope.ip_version, integer),
    "shared": (AddressScope.shared, boolean), "project_id": (AddressScope.project_id, None),
    "tenant_id": (AddressScope.project_id, None), "description": (AddressScope.description, None),
}


def visible(caller: Caller) -> Any:
    if caller.is_admin:
        return None
    return or_(AddressScope.project_id == caller.project_id, AddressScope.shared.is_(True))


class AddressScopes(Part):
    def views(self, s: Session, rows: Sequence[Any]) -> list[dict[str, Any]]:
        tags = tags_of(s, [r.id for r in rows])
        return [{"id": a.id, "name": a.name, "ip_version": a.ip_version, "shared": a.shared,
                 "project_id": a.project_id, "tenant_id": a.project_id, **standard(a, tags[a.id])} for a in rows]

    def find(self, caller: Caller, q: Query) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            return self.views(s, list_rows(s, LISTING, FILTERS, q, visible(caller)))

    def row(self, s: Session, caller: Caller, scope_id: str) -> AddressScope:
        a = s.get(AddressScope, scope_id) if isinstance(scope_id, str) and len(scope_id) <= 36 else None
        if a is None or not (caller.is_admin or a.project_id == caller.project_id or a.shared):
            raise exc.AddressScopeNotFound(str(scope_id))
        return a

    def get(self, caller: Caller, scope_id: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return self.views(s, [self.row(s, caller, scope_id)])[0]

    def create(self, caller: Caller, data: dict[str, Any]) -> dict[str, Any]:
        version = data.get("ip_version")
        if version is None:
            raise exc.HTTPBadRequest.missing("ip_version")
        if version not in (4, 6):
            raise exc.HTTPBadRequest.attr("ip_version", f"{version} is not in [4, 6]")
        t = now()
        with self.db.writer() as s:
            a = AddressScope(id=new_id(), project_id=data["project_id"], name=data.get("name") or "",
                             description=data.get("description") or "", ip_version=version,
                             shared=data.get("shared", False), revision_number=0, created_at=t, updated_at=t)
            s.add(a)
            set_tags(s, "address-scopes", a.id, data.get("tags") or [])
            s.flush()
            view = self.views(s, [a])[0]
        self.notify("address_scope.create.end", {"address_scope": view})
        return view

    def update(self, caller: Caller, scope_id: str, data: dict[str, Any], if_match: int | None) -> dict[str, Any]:
        with self.db.writer() as s:
            a = self.row(s, caller, scope_id)
            check_revision(a, if_match)
            if data.get("shared") is False and a.shared:
                raise exc.InvalidInput("Cannot unshare an address scope")  # Neutron refuses it too
            for key in ("name", "description", "shared"):
                if data.get(key) is not None:
                    setattr(a, key, data[key])
            touch(a)
            s.flush()
            view = self.views(s, [a])[0]
        self.notify("address_scope.update.end", {"address_scope": view})
        return view

    def delete(self, caller: Caller, scope_id: str) -> None:
        with self.db.writer() as s:
            a = self.row(s, caller, scope_id)
            if s.scalar(select(func.count()).select_from(SubnetPool).where(SubnetPool.address_scope_id == a.id)):
                raise exc.AddressScopeInUse(a.id)
            s.execute(delete(Tag).where(Tag.resource_id == a.id))
            s.delete(a)
        self.notify("address_scope.delete.end", {"address_scope_id": scope_id})

    def join(self, s: Session, caller: Caller, pool: SubnetPool, scope_id: str | None) -> None:
        """Put a subnet pool in an address scope (or take it out with None), with Neutron's checks."""
        if scope_id is None:
            pool.address_scope_id = None
            return
        a = self.row(s, caller, scope_id)
        if a.ip_version != pool.ip_version:
            raise exc.IllegalSubnetPoolAssociationToAddressScope(
                pool.id, a.id, f"subnetpool ip_version is not {a.ip_version}")
        if not caller.is_admin and a.project_id != caller.project_id and not a.shared:
            raise exc.AddressScopeNotFound(a.id)
        mine = [ipaddress.ip_network(p) for p in pool.prefixes]
        for other in s.scalars(select(SubnetPool).where(SubnetPool.address_scope_id == a.id,
                                                        SubnetPool.id != pool.id)):
            for p in other.prefixes:
                theirs = ipaddress.ip_network(p)
                if any(m.overlaps(theirs) for m in mine):
                    raise exc.IllegalSubnetPoolAssociationToAddressScope(
                        pool.id, a.id, f"prefixes overlap those of subnetpool {other.id}")
        pool.address_scope_id = a.id

    def of_networks(self, s: Session, network_ids: Sequence[str]) -> dict[str, dict[int, str | None]]:
        """Each network's address scope per IP version (from its subnets' pools)."""
        from litestack.network.models import Subnet

        out: dict[str, dict[int, str | None]] = {}
        if network_ids:
            for nid, version, scope in s.execute(
                    select(Subnet.network_id, SubnetPool.ip_version, SubnetPool.address_scope_id)
                    .join(SubnetPool, SubnetPool.id == Subnet.subnetpool_id)
                    .where(Subnet.network_id.in_(list(network_ids)), SubnetPool.address_scope_id.is_not(None))):
                out.setdefault(nid, {})[version] = scope
        return out
