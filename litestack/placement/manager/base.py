"""What the parts of placement's logic share: the clock, provider lookups, the provider lock and
generation compare-and-swap, resource class checks and usage sums.

Every write that changes what a provider can give (inventory) or what it gives (allocations) first
locks the providers it touches (``SELECT … FOR UPDATE`` in id order, in one statement) and then
bumps their generations with a compare-and-swap. On PostgreSQL and MariaDB the writer reads at READ
COMMITTED, so the capacity sums read after the lock see every claim committed before it; on SQLite
the writers are serialized by the database's write lock. Two claims that together exceed a
provider's capacity therefore never both succeed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from litestack.placement import errors
from litestack.placement.models import Allocation, Inventory, Provider, ResourceClass


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def pairs(s: Session, stmt: Any) -> dict[Any, Any]:
    """The two-column rows of ``stmt`` as a dict."""
    return dict(s.execute(stmt).tuples().all())


def begin_write(s: Session) -> None:
    """Start a writer's transaction at READ COMMITTED on the database servers (see the module)."""
    if s.get_bind().dialect.name != "sqlite":
        s.connection(execution_options={"isolation_level": "READ COMMITTED"})


@dataclass
class ProviderRow:
    id: int
    uuid: str
    name: str
    generation: int
    parent_provider_id: int | None
    root_provider_id: int
    updated_at: datetime
    created_at: datetime


COLUMNS = (Provider.id, Provider.uuid, Provider.name, Provider.generation, Provider.parent_provider_id,
            Provider.root_provider_id, Provider.updated_at, Provider.created_at)


def row(r: object) -> ProviderRow:
    return ProviderRow(*r)  # type: ignore[misc]


def provider(s: Session, uuid: str, *, lock: bool = False) -> ProviderRow:
    """The provider ``uuid`` (``NotFound`` with placement's code when there is none)."""
    q = select(*COLUMNS).where(Provider.uuid == uuid)
    if lock:
        q = q.with_for_update()
    r = s.execute(q).first()
    if r is None:
        raise errors.provider_not_found(uuid)
    return row(r)


def providers_by_id(s: Session, ids: Iterable[int]) -> dict[int, ProviderRow]:
    ids = list(set(ids))
    if not ids:
        return {}
    return {r.id: row(r) for r in s.execute(select(*COLUMNS).where(Provider.id.in_(ids)))}


def lock_providers(s: Session, ids: Iterable[int]) -> dict[int, ProviderRow]:
    """Lock the providers ``ids`` (in id order, one statement: no deadlock between writers)."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    rows = s.execute(select(*COLUMNS).where(Provider.id.in_(ids)).order_by(Provider.id).with_for_update())
    return {r.id: row(r) for r in rows}


def bump(s: Session, p: ProviderRow, expected: int | None = None) -> int:
    """Increment ``p``'s generation if it is still ``expected`` (default: the one read); the new one.

    Raises ``ConcurrentUpdate`` (409 ``placement.concurrent_update``) when another writer got there first.
    """
    seen = p.generation if expected is None else expected
    done = s.execute(update(Provider).where(Provider.id == p.id, Provider.generation == seen)
                     .values(generation=seen + 1, updated_at=now()).execution_options(synchronize_session=False))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise errors.generation_conflict(p.uuid)
    p.generation = seen + 1
    return p.generation


def check_generation(p: ProviderRow, sent: int) -> None:
    if p.generation != sent:
        raise errors.generation_conflict(p.uuid)


def known_classes(s: Session, names: Iterable[str]) -> set[str]:
    names = set(names)
    if not names:
        return set()
    return set(s.scalars(select(ResourceClass.name).where(ResourceClass.name.in_(names))))


def require_classes(s: Session, names: Iterable[str], message: str = "No such resource class {name}.") -> None:
    """Raise 400 for the first resource class that does not exist."""
    names = set(names)
    missing = sorted(names - known_classes(s, names))
    if missing:
        raise errors.BadRequest(message.format(name=missing[0]))


def usages(s: Session, provider_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """What is allocated, per provider and resource class."""
    ids = list(set(provider_ids))
    out: dict[int, dict[str, int]] = {i: {} for i in ids}
    if not ids:
        return out
    q = (select(Allocation.resource_provider_id, Allocation.resource_class, func.sum(Allocation.used))
         .where(Allocation.resource_provider_id.in_(ids))
         .group_by(Allocation.resource_provider_id, Allocation.resource_class))
    for rp, rc, used in s.execute(q):
        out[rp][rc] = int(used)
    return out


@dataclass
class Inv:
    total: int
    reserved: int
    min_unit: int
    max_unit: int
    step_size: int
    allocation_ratio: float

    @property
    def capacity(self) -> int:
        return int((self.total - self.reserved) * self.allocation_ratio)

    def view(self) -> dict[str, object]:
        return {"total": self.total, "reserved": self.reserved, "min_unit": self.min_unit,
                "max_unit": self.max_unit, "step_size": self.step_size,
                "allocation_ratio": self.allocation_ratio}


INV_FIELDS = ("total", "reserved", "min_unit", "max_unit", "step_size", "allocation_ratio")


def inventories(s: Session, provider_ids: Iterable[int]) -> dict[int, dict[str, Inv]]:
    ids = list(set(provider_ids))
    out: dict[int, dict[str, Inv]] = {i: {} for i in ids}
    if not ids:
        return out
    q = select(Inventory.resource_provider_id, Inventory.resource_class,
               *(getattr(Inventory, f) for f in INV_FIELDS)).where(Inventory.resource_provider_id.in_(ids))
    for rp, rc, *vals in s.execute(q):
        out[rp][rc] = Inv(*vals)
    return out
