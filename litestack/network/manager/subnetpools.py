"""Subnet pools: prefixes subnets are allocated from, race-free (the pool's subnets are read with
a locking read in the transaction that allocates, so two allocations cannot overlap)."""

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
    retrying,
    set_tags,
    standard,
    tags_of,
    touch,
)
from litestack.network.models import Subnet, SubnetPool, Tag

Net = ipaddress.IPv4Network | ipaddress.IPv6Network
BITS = {4: 32, 6: 128}
DEFAULT_MIN = {4: 8, 6: 64}

LISTING = Listing(SubnetPool, sort_keys={k: getattr(SubnetPool, k) for k in (
    "id", "name", "ip_version", "default_prefixlen", "min_prefixlen", "max_prefixlen", "shared", "is_default",
    "project_id", "created_at", "updated_at", "revision_number")} | {"tenant_id": SubnetPool.project_id})
FILTERS: dict[str, Filter] = {
    "id": (SubnetPool.id, None), "name": (SubnetPool.name, None), "project_id": (SubnetPool.project_id, None),
    "tenant_id": (SubnetPool.project_id, None), "ip_version": (SubnetPool.ip_version, integer),
    "shared": (SubnetPool.shared, boolean), "is_default": (SubnetPool.is_default, boolean),
    "default_prefixlen": (SubnetPool.default_prefixlen, integer),
    "min_prefixlen": (SubnetPool.min_prefixlen, integer), "max_prefixlen": (SubnetPool.max_prefixlen, integer),
    "description": (SubnetPool.description, None), "revision_number": (SubnetPool.revision_number, integer),
}


def visible(caller: Caller) -> Any:
    if caller.is_admin:
        return None
    return or_(SubnetPool.project_id == caller.project_id, SubnetPool.shared.is_(True))


def _prefixes(raw: Any) -> list[Net]:
    if not isinstance(raw, list) or not raw:
        raise exc.HTTPBadRequest.attr("prefixes", f"'{raw}' is not a list of subnets")
    nets: list[Net] = []
    for p in raw:
        try:
            nets.append(ipaddress.ip_network(p, strict=False))
        except (TypeError, ValueError):
            raise exc.HTTPBadRequest.attr("prefixes", f"'{p}' is not a valid IP subnet") from None
    if len({n.version for n in nets}) > 1:
        raise exc.PrefixVersionMismatch()
    # Overlapping prefixes are merged, as Neutron compacts them.
    return list(ipaddress.collapse_addresses(nets))  # type: ignore[type-var]


def _bounds(version: int, nets: Sequence[Net], data: dict[str, Any], current: SubnetPool | None = None
            ) -> tuple[int, int, int]:
    def pick(key: str, default: int) -> int:
        value = data.get(key)
        if value is None:
            return getattr(current, key) if current is not None else default
        return int(value)

    max_len = pick("max_prefixlen", BITS[version])
    min_len = pick("min_prefixlen", DEFAULT_MIN[version])
    if max_len > BITS[version]:
        raise exc.IllegalSubnetPoolPrefixBounds("max_prefixlen", max_len, "ip_version_max", BITS[version])
    if min_len > max_len:
        raise exc.IllegalSubnetPoolPrefixBounds("min_prefixlen", min_len, "max_prefixlen", max_len)
    default = pick("default_prefixlen", min_len)
    if default < min_len:
        raise exc.IllegalSubnetPoolPrefixBounds("default_prefixlen", default, "min_prefixlen", min_len)
    if default > max_len:
        raise exc.IllegalSubnetPoolPrefixBounds("default_prefixlen", default, "max_prefixlen", max_len)
    return default, min_len, max_len


class SubnetPools(Part):
    #: The address scopes part (set by the manager).
    scopes: Any = None

    def views(self, s: Session, rows: Sequence[SubnetPool]) -> list[dict[str, Any]]:
        tags = tags_of(s, [r.id for r in rows])
        return [{
            "id": p.id, "name": p.name, "tenant_id": p.project_id, "project_id": p.project_id,
            "ip_version": p.ip_version, "prefixes": list(p.prefixes), "default_prefixlen": p.default_prefixlen,
            "min_prefixlen": p.min_prefixlen, "max_prefixlen": p.max_prefixlen, "shared": p.shared,
            "is_default": p.is_default, "default_quota": p.default_quota, "address_scope_id": p.address_scope_id,
            **standard(p, tags[p.id]),
        } for p in rows]

    def find(self, caller: Caller, q: Query) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            return self.views(s, list_rows(s, LISTING, FILTERS, q, visible(caller)))

    def row(self, s: Session, caller: Caller, pool_id: str) -> SubnetPool:
        p = s.get(SubnetPool, pool_id) if len(pool_id) <= 36 else None
        if p is None or not (caller.is_admin or p.shared or p.project_id == caller.project_id):
            raise exc.SubnetPoolNotFound(pool_id)
        return p

    def get(self, caller: Caller, pool_id: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return self.views(s, [self.row(s, caller, pool_id)])[0]

    def default(self, s: Session, version: int) -> SubnetPool | None:
        return s.scalar(select(SubnetPool).where(SubnetPool.is_default.is_(True), SubnetPool.ip_version == version))

    @retrying
    def create(self, caller: Caller, data: dict[str, Any]) -> dict[str, Any]:
        nets = _prefixes(data.get("prefixes"))
        version = nets[0].version
        default, min_len, max_len = _bounds(version, nets, data)
        t = now()
        with self.db.writer() as s:
            self.charge(s, data["project_id"], "subnetpool")
            if data.get("is_default") and self.default(s, version) is not None:
                raise exc.InvalidInput("A default subnetpool for this IP family has already been set. Only one "
                                       "default may exist per IP family")
            pool = SubnetPool(id=new_id(), project_id=data["project_id"], name=data.get("name") or "",
                              description=data.get("description") or "", ip_version=version,
                              prefixes=[str(n) for n in nets], default_prefixlen=default, min_prefixlen=min_len,
                              max_prefixlen=max_len, shared=data.get("shared", False),
                              is_default=data.get("is_default", False), default_quota=data.get("default_quota"),
                              revision_number=0, created_at=t, updated_at=t)
            if data.get("address_scope_id") is not None and self.scopes is not None:
                self.scopes.join(s, caller, pool, data["address_scope_id"])
            s.add(pool)
            set_tags(s, "subnetpools", pool.id, data.get("tags") or [])
            s.flush()
            view = self.views(s, [pool])[0]
        self.notify("subnetpool.create.end", {"subnetpool": view})
        return view

    @retrying
    def update(self, caller: Caller, pool_id: str, data: dict[str, Any], if_match: int | None) -> dict[str, Any]:
        with self.db.writer() as s:
            pool = self.row(s, caller, pool_id)
            check_revision(pool, if_match)
            if "prefixes" in data:
                nets = _prefixes(data["prefixes"])
                if nets[0].version != pool.ip_version:
                    raise exc.PrefixVersionMismatch()
                old = [ipaddress.ip_network(p) for p in pool.prefixes]
                for o in old:
                    if not any(o.subnet_of(n) for n in nets):  # type: ignore[arg-type]
                        raise exc.IllegalSubnetPoolPrefixUpdate(f"{o} is not covered by the new prefixes")
                pool.prefixes = [str(n) for n in nets]
            rescoped = "address_scope_id" in data or ("prefixes" in data and pool.address_scope_id)
            if self.scopes is not None and rescoped:
                self.scopes.join(s, caller, pool, data.get("address_scope_id", pool.address_scope_id))
            default, min_len, max_len = _bounds(pool.ip_version, [], data, pool)
            pool.default_prefixlen, pool.min_prefixlen, pool.max_prefixlen = default, min_len, max_len
            if data.get("is_default") and not pool.is_default:
                other = self.default(s, pool.ip_version)
                if other is not None and other.id != pool.id:
                    raise exc.InvalidInput("A default subnetpool for this IP family has already been set. Only "
                                           "one default may exist per IP family")
            for key in ("name", "description", "is_default", "default_quota"):
                if key in data:
                    setattr(pool, key, data[key] if data[key] is not None or key == "default_quota"
                            else getattr(pool, key))
            touch(pool)
            s.flush()
            view = self.views(s, [pool])[0]
        self.notify("subnetpool.update.end", {"subnetpool": view})
        return view

    def delete(self, caller: Caller, pool_id: str) -> None:
        with self.db.writer() as s:
            pool = self.row(s, caller, pool_id)
            if s.scalar(select(func.count()).select_from(Subnet).where(Subnet.subnetpool_id == pool.id)):
                raise exc.SubnetPoolInUse(pool.id)
            s.execute(delete(Tag).where(Tag.resource_id == pool.id))
            s.delete(pool)
        self.notify("subnetpool.delete.end", {"subnetpool_id": pool_id})

    # --- allocation (inside the subnet's create transaction) ------------------------------

    def allocate(self, s: Session, pool: SubnetPool, cidr: Net | None, prefixlen: int | None) -> Net:
        """The subnet's CIDR from ``pool``: the one asked for if it is free inside the pool, else
        the first free block of ``prefixlen`` (the pool's default)."""
        # The pool's row is written first: allocations from one pool take turns (a row lock on
        # PostgreSQL and MariaDB), and the locking read below sees every committed subnet.
        touch(pool)
        s.flush()
        taken = [ipaddress.ip_network(c) for c in s.scalars(
            select(Subnet.cidr).where(Subnet.subnetpool_id == pool.id).with_for_update())]
        length = cidr.prefixlen if cidr is not None else (prefixlen if prefixlen is not None
                                                          else pool.default_prefixlen)
        if length < pool.min_prefixlen:
            raise exc.MinPrefixSubnetAllocationError(length, pool.min_prefixlen)
        if length > pool.max_prefixlen:
            raise exc.MaxPrefixSubnetAllocationError(length, pool.max_prefixlen)
        prefixes = [ipaddress.ip_network(p) for p in pool.prefixes]
        if cidr is not None:
            if not any(cidr.subnet_of(p) for p in prefixes if p.version == cidr.version) or any(  # type: ignore[arg-type]
                    cidr.overlaps(t) for t in taken):
                raise exc.SubnetAllocationError("Cannot allocate requested subnet from the available set of "
                                                "prefixes")
            return cidr
        for block in _free_blocks(prefixes, taken):
            if block.prefixlen <= length:
                first: Net = next(iter(block.subnets(new_prefix=length)))  # type: ignore[assignment]
                return first
        raise exc.SubnetAllocationError(f"Insufficient prefix space to allocate subnet size /{length}")


def _free_blocks(prefixes: Sequence[Net], taken: Sequence[Net]) -> list[Net]:
    """The pool's address space minus its subnets, as CIDR blocks in address order."""
    free: list[Net] = list(prefixes)
    for t in taken:
        nxt: list[Net] = []
        for block in free:
            if t.subnet_of(block):  # type: ignore[arg-type]
                nxt.extend(block.address_exclude(t))  # type: ignore[arg-type]
            elif block.subnet_of(t):  # type: ignore[arg-type]
                continue
            else:
                nxt.append(block)
        free = nxt
    return sorted(free, key=lambda n: int(n.network_address))
