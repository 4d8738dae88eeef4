"""Address groups: named sets of addresses (CIDRs) that security group rules name as their remote
(``remote_address_group_id``); agents get the addresses with the rules."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from litestack.common.api.pagination import Listing
from litestack.network import exceptions as exc
from litestack.network.manager.base import (
    Caller,
    Filter,
    Part,
    Query,
    check_revision,
    integer,
    list_rows,
    new_id,
    now,
    standard,
    tags_of,
    touch,
)
from litestack.network.models import AddressGroup, AddressGroupAddress, SecurityGroupRule, Tag

LISTING = Listing(AddressGroup, sort_keys={k: getattr(AddressGroup, k) for k in (
    "id", "name", "project_id", "created_at", "updated_at", "revision_number")}
    | {"tenant_id": AddressGroup.project_id})
FILTERS: dict[str, Filter] = {
    "id": (AddressGroup.id, None), "name": (AddressGroup.name, None), "project_id": (AddressGroup.project_id, None),
    "tenant_id": (AddressGroup.project_id, None), "description": (AddressGroup.description, None),
    "revision_number": (AddressGroup.revision_number, integer),
}


def visible(caller: Caller) -> Any:
    return None if caller.is_admin else AddressGroup.project_id == caller.project_id


def cidrs(raw: Any) -> list[str]:
    """Addresses as Neutron stores them: each a CIDR (a host gets /32 or /128), host bits kept off."""
    if not isinstance(raw, list):
        raise exc.HTTPBadRequest.attr("addresses", f"'{str(raw)[:64]}' is not a list")
    out: list[str] = []
    for a in raw:
        try:
            if not isinstance(a, str):
                raise ValueError(a)
            net = ipaddress.ip_network(a, strict=False)
        except ValueError:
            raise exc.HTTPBadRequest.attr("addresses", f"'{str(a)[:64]}' is not a valid IP subnet") from None
        if str(net) not in out:
            out.append(str(net))
    return out


class AddressGroups(Part):
    def views(self, s: Session, rows: Sequence[Any]) -> list[dict[str, Any]]:
        ids = [r.id for r in rows]
        addresses: dict[str, list[str]] = {i: [] for i in ids}
        if ids:
            for gid, address in s.execute(select(AddressGroupAddress.group_id, AddressGroupAddress.address)
                                          .where(AddressGroupAddress.group_id.in_(ids))):
                addresses[gid].append(address)
        tags = tags_of(s, ids)
        return [{"id": g.id, "name": g.name, "project_id": g.project_id, "tenant_id": g.project_id,
                 "addresses": sorted(addresses[g.id]), **standard(g, tags[g.id])} for g in rows]

    def find(self, caller: Caller, q: Query) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            return self.views(s, list_rows(s, LISTING, FILTERS, q, visible(caller)))

    def row(self, s: Session, caller: Caller, group_id: str) -> AddressGroup:
        g = s.get(AddressGroup, group_id) if isinstance(group_id, str) and len(group_id) <= 36 else None
        if g is None or not (caller.is_admin or g.project_id == caller.project_id):
            raise exc.AddressGroupNotFound(str(group_id))
        return g

    def get(self, caller: Caller, group_id: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return self.views(s, [self.row(s, caller, group_id)])[0]

    def members(self, s: Session, group_ids: Sequence[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {g: [] for g in group_ids}
        if group_ids:
            for gid, address in s.execute(select(AddressGroupAddress.group_id, AddressGroupAddress.address)
                                          .where(AddressGroupAddress.group_id.in_(list(group_ids)))):
                out[gid].append(address)
        return {g: sorted(a) for g, a in out.items()}

    def create(self, caller: Caller, data: dict[str, Any]) -> dict[str, Any]:
        addresses = cidrs(data.get("addresses") or [])
        t = now()
        with self.db.writer() as s:
            g = AddressGroup(id=new_id(), project_id=data["project_id"], name=data.get("name") or "",
                             description=data.get("description") or "", revision_number=0, created_at=t,
                             updated_at=t)
            s.add(g)
            s.flush()
            for a in addresses:
                s.add(AddressGroupAddress(group_id=g.id, address=a))
            s.flush()
            view = self.views(s, [g])[0]
        self.notify("address_group.create.end", {"address_group": view})
        return view

    def update(self, caller: Caller, group_id: str, data: dict[str, Any], if_match: int | None) -> dict[str, Any]:
        with self.db.writer() as s:
            g = self.row(s, caller, group_id)
            check_revision(g, if_match)
            for key in ("name", "description"):
                if data.get(key) is not None:
                    setattr(g, key, data[key])
            touch(g)
            s.flush()
            view = self.views(s, [g])[0]
        self.notify("address_group.update.end", {"address_group": view})
        return view

    def change(self, caller: Caller, group_id: str, body: Any, add: bool) -> dict[str, Any]:
        """``add_addresses`` / ``remove_addresses``: adding one present, or removing one absent, is 400."""
        if not isinstance(body, dict) or "addresses" not in body:
            raise exc.HTTPBadRequest.missing("addresses")
        addresses = cidrs(body["addresses"])
        with self.db.writer() as s:
            g = self.row(s, caller, group_id)
            current = set(s.scalars(select(AddressGroupAddress.address).where(AddressGroupAddress.group_id == g.id)))
            if add:
                present = [a for a in addresses if a in current]
                if present:
                    raise exc.AddressesAlreadyExist(present, g.id)
                for a in addresses:
                    s.add(AddressGroupAddress(group_id=g.id, address=a))
            else:
                absent = [a for a in addresses if a not in current]
                if absent:
                    raise exc.AddressesNotFound(absent, g.id)
                s.execute(delete(AddressGroupAddress).where(AddressGroupAddress.group_id == g.id,
                                                            AddressGroupAddress.address.in_(addresses)))
            touch(g)
            s.flush()
            view = self.views(s, [g])[0]
        self.notify("address_group.update.end", {"address_group": view})
        self.tell_agents("address_group_updated", {"address_group_id": g.id})
        return view

    def delete(self, caller: Caller, group_id: str) -> None:
        with self.db.writer() as s:
            g = self.row(s, caller, group_id)
            used = s.scalar(select(SecurityGroupRule.security_group_id)
                            .where(SecurityGroupRule.remote_address_group_id == g.id).limit(1))
            if used:
                raise exc.AddressGroupInUse(g.id, used)
            s.execute(delete(AddressGroupAddress).where(AddressGroupAddress.group_id == g.id))
            s.execute(delete(Tag).where(Tag.resource_id == g.id))
            s.delete(g)
        self.notify("address_group.delete.end", {"address_group_id": group_id})
