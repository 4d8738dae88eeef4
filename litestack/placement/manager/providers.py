"""Resource providers: create, list with placement's filters, update (name, parent), delete; their
traits and aggregates (each change bumps the provider's generation)."""

from __future__ import annotations

import contextlib
import uuid as uuidlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from litestack.common.db import Database
from litestack.placement import errors
from litestack.placement.manager import base
from litestack.placement.models import (
    Aggregate,
    Allocation,
    Inventory,
    Provider,
    ProviderAggregate,
    ProviderTrait,
    Trait,
)


@dataclass
class TraitFilter:
    """``required``: each inner set is "any of" (one name: that trait); ``forbidden``: none of."""

    required: list[set[str]] = field(default_factory=list)
    forbidden: set[str] = field(default_factory=set)

    def names(self) -> set[str]:
        return set().union(*self.required, self.forbidden) if self.required or self.forbidden else set()

    def __bool__(self) -> bool:
        return bool(self.required or self.forbidden)


@dataclass
class AggregateFilter:
    """``member_of``: each inner set is "in any of"; ``forbidden``: in none of."""

    any_of: list[set[str]] = field(default_factory=list)
    forbidden: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.any_of or self.forbidden)


@dataclass
class ProviderQuery:
    name: str | None = None
    uuid: str | None = None
    in_tree: str | None = None
    member_of: AggregateFilter = field(default_factory=AggregateFilter)
    resources: dict[str, int] = field(default_factory=dict)
    traits: TraitFilter = field(default_factory=TraitFilter)


def require_traits(s: Session, names: set[str]) -> dict[str, int]:
    """Trait ids by name; 400 naming the unknown ones (placement's text)."""
    if not names:
        return {}
    found = {n: i for i, n in s.execute(select(Trait.id, Trait.name).where(Trait.name.in_(names)))}
    missing = sorted(names - set(found))
    if missing:
        raise errors.BadRequest(f"No such trait(s): {', '.join(missing)}.")
    return found


def _in_aggregates(uuids: set[str], column: Any) -> Any:
    return column.in_(select(ProviderAggregate.resource_provider_id).join(
        Aggregate, Aggregate.id == ProviderAggregate.aggregate_id).where(Aggregate.uuid.in_(uuids)))


def _has_trait(ids: Sequence[int], column: Any) -> Any:
    return column.in_(select(ProviderTrait.resource_provider_id).where(ProviderTrait.trait_id.in_(ids)))


def _fits(rc: str, amount: int) -> Any:
    """Providers that can still give ``amount`` of ``rc`` (capacity left, unit limits)."""
    used = (select(func.coalesce(func.sum(Allocation.used), 0))
            .where(Allocation.resource_provider_id == Inventory.resource_provider_id,
                   Allocation.resource_class == rc).scalar_subquery())
    return Provider.id.in_(select(Inventory.resource_provider_id).where(
        Inventory.resource_class == rc, Inventory.min_unit <= amount, Inventory.max_unit >= amount,
        (Inventory.total - Inventory.reserved) * Inventory.allocation_ratio >= used + amount))


@contextlib.contextmanager
def _unique_name(name: str) -> Iterator[None]:
    """A provider name another request stored meanwhile is placement's duplicate-name 409."""
    try:
        yield
    except IntegrityError:
        raise errors.Conflict(f"Conflicting resource provider name: {name} already exists.",
                              code=errors.DUPLICATE_NAME) from None


class Providers:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- views -------------------------------------------------------------------------------

    @staticmethod
    def describe(s: Session, rows: Sequence[base.ProviderRow]) -> list[dict[str, Any]]:
        """Rows with their parent's and root's uuids."""
        ids = {i for r in rows for i in (r.parent_provider_id, r.root_provider_id) if i is not None}
        uuids = base.pairs(s, select(Provider.id, Provider.uuid).where(Provider.id.in_(ids)))
        return [{"uuid": r.uuid, "name": r.name, "generation": r.generation,
                 "parent_provider_uuid": uuids.get(r.parent_provider_id) if r.parent_provider_id else None,
                 "root_provider_uuid": uuids.get(r.root_provider_id, r.uuid),
                 "updated_at": r.updated_at, "created_at": r.created_at} for r in rows]

    # --- providers ---------------------------------------------------------------------------

    def create(self, name: str, uuid: str | None, parent_uuid: str | None) -> dict[str, Any]:
        uuid = uuid or str(uuidlib.uuid4())
        with self.db.writer() as s:
            base.begin_write(s)
            if s.scalar(select(Provider.id).where(Provider.uuid == uuid)) is not None:
                raise errors.Conflict(f"Conflicting resource provider uuid: {uuid} already exists.",
                                      code=errors.DUPLICATE_NAME)
            if s.scalar(select(Provider.id).where(Provider.name == name)) is not None:
                raise errors.Conflict(f"Conflicting resource provider name: {name} already exists.",
                                      code=errors.DUPLICATE_NAME)
            parent = None
            if parent_uuid is not None:
                try:
                    parent = base.provider(s, parent_uuid)
                except errors.NotFound:
                    raise errors.BadRequest(f"parent provider UUID {parent_uuid} does not exist.") from None
            t = base.now()
            p = Provider(uuid=uuid, name=name, generation=0, parent_provider_id=parent.id if parent else None,
                         root_provider_id=parent.root_provider_id if parent else None, created_at=t, updated_at=t)
            s.add(p)
            with _unique_name(name):
                s.flush()
            if parent is None:
                p.root_provider_id = p.id
                s.flush()
            return self.describe(s, [base.provider(s, uuid)])[0]

    def get(self, uuid: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return self.describe(s, [base.provider(s, uuid)])[0]

    def find(self, q: ProviderQuery) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            cond: list[Any] = []
            if q.name is not None:
                cond.append(Provider.name == q.name)
            if q.uuid is not None:
                cond.append(Provider.uuid == q.uuid)
            if q.in_tree is not None:
                root = s.scalar(select(Provider.root_provider_id).where(Provider.uuid == q.in_tree))
                if root is None:
                    return []
                cond.append(Provider.root_provider_id == root)
            for any_of in q.member_of.any_of:
                cond.append(_in_aggregates(any_of, Provider.id))
            if q.member_of.forbidden:
                cond.append(~_in_aggregates(q.member_of.forbidden, Provider.id))
            if q.resources:
                base.require_classes(s, q.resources, "Invalid resource class in resources parameter: "
                                                     "No such resource class {name}.")
                cond += [_fits(rc, amount) for rc, amount in q.resources.items()]
            if q.traits:
                ids = require_traits(s, q.traits.names())
                for any_of in q.traits.required:
                    cond.append(_has_trait([ids[n] for n in any_of], Provider.id))
                if q.traits.forbidden:
                    cond.append(~_has_trait([ids[n] for n in q.traits.forbidden], Provider.id))
            rows = s.execute(select(*base.COLUMNS).where(and_(True, *cond)).order_by(Provider.id))
            return self.describe(s, [base.row(r) for r in rows])

    def update(self, uuid: str, name: str, parent_uuid: str | None, parent_given: bool,
               reparent: bool) -> dict[str, Any]:
        """Rename, and set a parent (any change of parent only when ``reparent``, from 1.37)."""
        with self.db.writer() as s:
            base.begin_write(s)
            p = base.provider(s, uuid, lock=True)
            other = s.scalar(select(Provider.id).where(Provider.name == name, Provider.id != p.id))
            if other is not None:
                raise errors.Conflict(f"Conflicting resource provider name: {name} already exists.",
                                      code=errors.DUPLICATE_NAME)
            # As placement: a rename or a new parent does not change the provider's generation.
            values: dict[str, Any] = {"name": name, "updated_at": base.now()}
            if parent_given:
                self._reparent(s, p, parent_uuid, reparent, values)
            with _unique_name(name):
                s.execute(update(Provider).where(Provider.id == p.id).values(**values)
                          .execution_options(synchronize_session=False))
            return self.describe(s, [base.provider(s, uuid)])[0]

    def _reparent(self, s: Session, p: base.ProviderRow, parent_uuid: str | None, reparent: bool,
                  values: dict[str, Any]) -> None:
        current = p.parent_provider_id
        if parent_uuid is None:
            if current is None:
                return
            if not reparent:
                raise errors.BadRequest("Un-parenting a provider is not allowed.")
            values.update(parent_provider_id=None)
            self._move_subtree(s, p, p.id)
            return
        try:
            parent = base.provider(s, parent_uuid)
        except errors.NotFound:
            raise errors.BadRequest(f"parent provider UUID {parent_uuid} does not exist.") from None
        if parent.id == current:
            return
        if current is not None and not reparent:
            raise errors.BadRequest("Re-parenting a provider is not allowed.")
        if parent.id in self._subtree(s, p.id):
            raise errors.BadRequest("creating loop in the provider tree is not allowed.")
        values.update(parent_provider_id=parent.id)
        self._move_subtree(s, p, parent.root_provider_id)

    @staticmethod
    def _subtree(s: Session, pid: int) -> set[int]:
        seen, frontier = {pid}, [pid]
        while frontier:
            kids = list(s.scalars(select(Provider.id).where(Provider.parent_provider_id.in_(frontier))))
            frontier = [k for k in kids if k not in seen]
            seen.update(frontier)
        return seen

    def _move_subtree(self, s: Session, p: base.ProviderRow, root: int) -> None:
        ids = self._subtree(s, p.id)
        s.execute(update(Provider).where(Provider.id.in_(ids)).values(root_provider_id=root)
                  .execution_options(synchronize_session=False))

    def delete(self, uuid: str) -> None:
        with self.db.writer() as s:
            base.begin_write(s)
            p = base.provider(s, uuid, lock=True)
            if s.scalar(select(exists().where(Allocation.resource_provider_id == p.id))):
                raise errors.Conflict(f"Unable to delete resource provider {uuid}: Resource provider has "
                                      "allocations.", code=errors.PROVIDER_IN_USE)
            if s.scalar(select(exists().where(Provider.parent_provider_id == p.id))):
                raise errors.Conflict(f"Unable to delete parent resource provider {uuid}: It has child "
                                      "resource providers.", code=errors.PROVIDER_CANNOT_DELETE_PARENT)
            for table in (Inventory, ProviderTrait, ProviderAggregate):
                s.execute(delete(table).where(table.resource_provider_id == p.id))
            s.execute(delete(Provider).where(Provider.id == p.id))

    # --- traits of a provider ----------------------------------------------------------------

    @staticmethod
    def _traits(s: Session, pid: int) -> list[str]:
        return sorted(s.scalars(select(Trait.name).join(ProviderTrait, ProviderTrait.trait_id == Trait.id)
                                .where(ProviderTrait.resource_provider_id == pid)))

    def traits(self, uuid: str) -> tuple[list[str], int]:
        with self.db.reader() as s:
            p = base.provider(s, uuid)
            return self._traits(s, p.id), p.generation

    def set_traits(self, uuid: str, names: list[str], generation: int | None) -> tuple[list[str], int]:
        """Replace the provider's traits (``generation`` None: no check, for DELETE)."""
        with self.db.writer() as s:
            base.begin_write(s)
            p = base.provider(s, uuid, lock=True)
            if generation is not None:
                base.check_generation(p, generation)
            ids = require_traits(s, set(names))
            s.execute(delete(ProviderTrait).where(ProviderTrait.resource_provider_id == p.id))
            for tid in sorted(set(ids.values())):
                s.add(ProviderTrait(resource_provider_id=p.id, trait_id=tid))
            base.bump(s, p)
            return self._traits(s, p.id), p.generation

    # --- aggregates of a provider ------------------------------------------------------------

    @staticmethod
    def _aggregates(s: Session, pid: int) -> list[str]:
        return sorted(s.scalars(select(Aggregate.uuid).join(
            ProviderAggregate, ProviderAggregate.aggregate_id == Aggregate.id)
            .where(ProviderAggregate.resource_provider_id == pid)))

    def aggregates(self, uuid: str) -> tuple[list[str], int]:
        with self.db.reader() as s:
            p = base.provider(s, uuid)
            return self._aggregates(s, p.id), p.generation

    def set_aggregates(self, uuid: str, aggs: list[str], generation: int | None) -> tuple[list[str], int]:
        with self.db.writer() as s:
            base.begin_write(s)
            p = base.provider(s, uuid, lock=True)
            if generation is not None:
                base.check_generation(p, generation)
            wanted: set[str] = set(aggs)
            known: dict[str, int] = base.pairs(s, select(Aggregate.uuid, Aggregate.id)
                                               .where(Aggregate.uuid.in_(wanted)))
            for a in sorted(wanted - set(known)):
                made = Aggregate(uuid=a)
                s.add(made)
                try:
                    s.flush()
                except IntegrityError:  # another request made the same aggregate just now
                    raise errors.ConcurrentUpdate(f"Aggregate {a} was created by another request at the same "
                                                  "time; retry.") from None
                known[a] = made.id
            s.execute(delete(ProviderAggregate).where(ProviderAggregate.resource_provider_id == p.id))
            for a in sorted(wanted):
                s.add(ProviderAggregate(resource_provider_id=p.id, aggregate_id=known[a]))
            base.bump(s, p)
            return self._aggregates(s, p.id), p.generation

