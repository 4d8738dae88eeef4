"""Allocations: what consumers hold on providers, written atomically with capacity checks, and the
usages summed from them.

A write replaces all the allocations of each consumer it names, in one transaction: the providers
touched (old and new) are locked first, capacity is checked against what is committed, and every
touched provider's generation and each consumer's generation grow by one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from litestack.common.db import Database
from litestack.placement import errors
from litestack.placement.manager import base
from litestack.placement.models import Allocation, Consumer, Provider

#: A claim that does not check the consumer's generation (before microversion 1.28).
UNCHECKED = -1
#: Placement's project and user of consumers written before 1.8 (without them).
INCOMPLETE = "00000000-0000-0000-0000-000000000000"


@dataclass
class Claim:
    """All the allocations one consumer is to hold (empty: none, which removes it)."""

    consumer: str
    allocations: dict[str, dict[str, int]]  # provider uuid -> resource class -> amount
    project_id: str = INCOMPLETE
    user_id: str = INCOMPLETE
    generation: int | None = UNCHECKED  # None: the consumer must be new
    consumer_type: str | None = None


class Allocations:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- reads -------------------------------------------------------------------------------

    def for_consumer(self, consumer: str) -> dict[str, Any]:
        """``allocations`` by provider (with generations), and the consumer's attributes when it exists."""
        with self.db.reader() as s:
            rows = s.execute(select(Provider.uuid, Provider.generation, Allocation.resource_class, Allocation.used)
                             .join(Provider, Provider.id == Allocation.resource_provider_id)
                             .where(Allocation.consumer_id == consumer))
            allocs: dict[str, dict[str, Any]] = {}
            for rp, gen, rc, used in rows:
                allocs.setdefault(rp, {"generation": gen, "resources": {}})["resources"][rc] = used
            out: dict[str, Any] = {"allocations": allocs}
            c = s.get(Consumer, consumer)
            if c is not None and allocs:
                out.update(project_id=c.project_id, user_id=c.user_id, consumer_generation=c.generation,
                           consumer_type=c.consumer_type or "unknown")
            return out

    def for_provider(self, uuid: str) -> tuple[dict[str, dict[str, Any]], int]:
        with self.db.reader() as s:
            p = base.provider(s, uuid)
            out: dict[str, dict[str, Any]] = {}
            for consumer, rc, used in s.execute(select(Allocation.consumer_id, Allocation.resource_class,
                                                       Allocation.used).where(Allocation.resource_provider_id == p.id)):
                out.setdefault(consumer, {"resources": {}})["resources"][rc] = used
            return out, p.generation

    def provider_usages(self, uuid: str) -> tuple[dict[str, int], int]:
        """Usage of every class the provider has inventory of (0 when unused) and of what is allocated."""
        with self.db.reader() as s:
            p = base.provider(s, uuid)
            result = {rc: 0 for rc in base.inventories(s, [p.id])[p.id]}
            result.update(base.usages(s, [p.id])[p.id])
            return result, p.generation

    def project_usages(self, project_id: str, user_id: str | None) -> dict[str, int]:
        with self.db.reader() as s:
            q = (select(Allocation.resource_class, func.sum(Allocation.used))
                 .join(Consumer, Consumer.uuid == Allocation.consumer_id).where(Consumer.project_id == project_id)
                 .group_by(Allocation.resource_class))
            if user_id is not None:
                q = q.where(Consumer.user_id == user_id)
            return {rc: int(n) for rc, n in s.execute(q)}

    def usages_by_type(self, project_id: str, user_id: str | None, consumer_type: str | None
                       ) -> dict[str, dict[str, int]]:
        """Usages grouped by consumer type (1.38), each with its ``consumer_count``: all types
        (None), everything under ``all``, the consumers without a type (``unknown``) or one type."""
        with self.db.reader() as s:
            kind = func.coalesce(Consumer.consumer_type, "unknown")
            cond = [Consumer.project_id == project_id]
            if user_id is not None:
                cond.append(Consumer.user_id == user_id)
            if consumer_type == "unknown":
                cond.append(Consumer.consumer_type.is_(None))
            elif consumer_type not in (None, "all"):
                cond.append(Consumer.consumer_type == consumer_type)
            group = (lambda: "all") if consumer_type == "all" else None
            out: dict[str, dict[str, int]] = {}
            sums = (select(kind, Allocation.resource_class, func.sum(Allocation.used))
                    .join(Consumer, Consumer.uuid == Allocation.consumer_id).where(*cond)
                    .group_by(kind, Allocation.resource_class))
            for ct, rc, n in s.execute(sums):
                entry = out.setdefault(group() if group else ct, {})
                entry[rc] = entry.get(rc, 0) + int(n)
            counts = (select(kind, func.count(func.distinct(Allocation.consumer_id)))
                      .join(Consumer, Consumer.uuid == Allocation.consumer_id).where(*cond).group_by(kind))
            for ct, n in s.execute(counts):
                key = group() if group else ct
                if key in out:
                    out[key]["consumer_count"] = out[key].get("consumer_count", 0) + int(n)
            return out

    # --- writes ------------------------------------------------------------------------------

    def delete(self, consumer: str) -> None:
        with self.db.writer() as s:
            base.begin_write(s)
            pids = set(s.scalars(select(Allocation.resource_provider_id).where(Allocation.consumer_id == consumer)))
            if not pids:
                raise errors.NotFound(f"No allocations for consumer '{consumer}'")
            provs = base.lock_providers(s, pids)
            s.execute(delete(Allocation).where(Allocation.consumer_id == consumer))
            s.execute(delete(Consumer).where(Consumer.uuid == consumer))
            for p in provs.values():
                base.bump(s, p)

    def replace(self, claims: list[Claim]) -> None:
        """Write the claims atomically: all of them, or (on any error) none."""
        with self.db.writer() as s:
            base.begin_write(s)
            self.replace_in(s, claims)

    def replace_in(self, s: Session, claims: list[Claim], *, check_capacity: bool = True) -> set[int]:
        """``replace`` inside the caller's transaction (the reshaper's); the providers touched."""
        wanted = {rp for c in claims for rp in c.allocations}
        ids: dict[str, int] = base.pairs(s, select(Provider.uuid, Provider.id).where(Provider.uuid.in_(wanted)))
        for rp in sorted(wanted - set(ids)):
            raise errors.BadRequest(f"Allocation for resource provider '{rp}' that does not exist.")
        for c in claims:
            text = f"Unable to allocate inventory for consumer {c.consumer}: No such resource class {{name}}."
            base.require_classes(s, {rc for res in c.allocations.values() for rc in res}, text)
        names = [c.consumer for c in claims]
        old_rows = list(s.execute(select(Allocation.consumer_id, Allocation.resource_provider_id,
                                         Allocation.resource_class, Allocation.used)
                                  .where(Allocation.consumer_id.in_(names))))
        touched = set(ids.values()) | {r[1] for r in old_rows}
        provs = base.lock_providers(s, touched)
        existing = {c.uuid: c for c in s.scalars(select(Consumer).where(Consumer.uuid.in_(names)).with_for_update())}
        # Old allocations re-read under the lock: a concurrent writer of the same consumer finished first.
        old_rows = list(s.execute(select(Allocation.consumer_id, Allocation.resource_provider_id,
                                         Allocation.resource_class, Allocation.used)
                                  .where(Allocation.consumer_id.in_(names))))
        for c in claims:
            if c.generation == UNCHECKED:
                continue
            have = existing.get(c.consumer)
            if have is None and c.generation is not None:
                raise errors.ConcurrentUpdate(f"consumer generation conflict - expected {c.generation} but "
                                              "the consumer does not exist (expected null)")
            if have is not None and c.generation != have.generation:
                expected = "null" if c.generation is None else c.generation
                raise errors.ConcurrentUpdate(f"consumer generation conflict - expected {expected} but got "
                                              f"{have.generation}")
        before: dict[tuple[int, str], int] = defaultdict(int)
        for _c, pid, rc, used in old_rows:
            before[(pid, rc)] += used
        s.execute(delete(Allocation).where(Allocation.consumer_id.in_(names)))
        if check_capacity:
            self._check(s, claims, ids, provs, before)
        t = base.now()
        for c in claims:
            for rp, res in c.allocations.items():
                for rc, amount in res.items():
                    s.add(Allocation(resource_provider_id=ids[rp], consumer_id=c.consumer, resource_class=rc,
                                     used=amount, created_at=t))
            have = existing.get(c.consumer)
            if not c.allocations:
                if have is not None:
                    s.delete(have)
            elif have is None:
                s.add(Consumer(uuid=c.consumer, project_id=c.project_id, user_id=c.user_id,
                               consumer_type=c.consumer_type, generation=1, created_at=t, updated_at=t))
            else:
                s.execute(update(Consumer).where(Consumer.uuid == c.consumer, Consumer.generation == have.generation)
                          .values(project_id=c.project_id, user_id=c.user_id, updated_at=t,
                                  consumer_type=c.consumer_type or have.consumer_type,
                                  generation=have.generation + 1).execution_options(synchronize_session=False))
        try:
            s.flush()
        except IntegrityError:
            raise errors.ConcurrentUpdate("consumer generation conflict - another request created the consumer "
                                          "at the same time") from None
        for p in provs.values():
            base.bump(s, p)
        return set(provs)

    @staticmethod
    def _check(s: Session, claims: list[Claim], ids: dict[str, int], provs: dict[int, base.ProviderRow],
               before: dict[tuple[int, str], int]) -> None:
        invs = base.inventories(s, ids.values())
        used = base.usages(s, ids.values())
        asked: dict[tuple[int, str], int] = defaultdict(int)
        for c in claims:
            for rp, res in c.allocations.items():
                for rc, amount in res.items():
                    inv = invs[ids[rp]].get(rc)
                    if inv is None:
                        raise errors.Conflict(f"Unable to allocate inventory: Inventory for '{rc}' on resource "
                                              f"provider '{rp}' invalid.")
                    if amount < inv.min_unit or amount > inv.max_unit or amount % inv.step_size:
                        raise errors.Conflict(
                            f"Unable to allocate inventory: Unable to create allocation for '{rc}' on resource "
                            f"provider '{rp}'. The requested amount would violate inventory constraints.")
                    asked[(ids[rp], rc)] += amount
        for (pid, rc), amount in asked.items():
            cap = invs[pid][rc].capacity
            # A provider already over capacity (its inventory shrank) keeps the claims it had.
            if used[pid].get(rc, 0) + amount > cap and amount > before.get((pid, rc), 0):
                raise errors.Conflict(
                    f"Unable to allocate inventory: Unable to create allocation for '{rc}' on resource provider "
                    f"'{provs[pid].uuid}'. The requested amount would exceed the capacity.")
