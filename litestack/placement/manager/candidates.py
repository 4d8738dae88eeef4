"""Allocation candidates: the ways a request (groups of resources, traits, aggregates) can be met.

The database does the heavy part: for each requested resource class and amount, one query returns
the providers whose inventory still has that much capacity within its unit limits. The tree walk
over those few rows is done here:

* the unnumbered group may take each resource class from a different provider of one tree, or
  from a sharing provider (trait ``MISC_SHARES_VIA_AGGREGATE``) in an aggregate with the tree;
  its required and forbidden traits apply to the providers it uses, together;
* a numbered group (``resources1``…, 1.25) takes all its resources from one provider;
  ``group_policy=isolate`` makes different numbered groups use different providers;
* member_of is met by a provider in the aggregate, or whose root is; in_tree keeps one tree;
* a group without resources (1.36) names a provider of the tree with its traits and aggregates,
  for ``same_subtree``: the providers of the groups it lists have one among them that is an
  ancestor of (or is) all the others.

Candidates are grouped by tree, in provider id order, merged when two groups use the same
provider (the sum is checked against capacity again), de-duplicated and cut at ``limit``.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from litestack.common.db import Database
from litestack.placement.manager import base
from litestack.placement.manager.providers import AggregateFilter, TraitFilter, require_traits
from litestack.placement.models import (
    Aggregate,
    Allocation,
    Inventory,
    Provider,
    ProviderAggregate,
    ProviderTrait,
    Trait,
)

SHARES = "MISC_SHARES_VIA_AGGREGATE"


@dataclass
class Group:
    suffix: str
    resources: dict[str, int]
    traits: TraitFilter = field(default_factory=TraitFilter)
    member_of: AggregateFilter = field(default_factory=AggregateFilter)
    in_tree: str | None = None


@dataclass
class Request:
    groups: list[Group]
    isolate: bool = False
    limit: int | None = None
    root_traits: TraitFilter = field(default_factory=TraitFilter)
    #: Sets of group suffixes whose providers must share a subtree (1.36).
    same_subtree: list[set[str]] = field(default_factory=list)


@dataclass
class Result:
    #: Each candidate: provider uuid -> resource class -> amount, and group suffix -> provider uuids.
    requests: list[tuple[dict[str, dict[str, int]], dict[str, list[str]]]]
    #: provider uuid -> its summary (resources with capacity and used, traits, parent, root).
    summaries: dict[str, dict[str, Any]]


@dataclass(eq=False)
class _Prov:
    id: int
    uuid: str
    root: int
    parent: int | None
    traits: set[str] = field(default_factory=set)
    aggs: set[str] = field(default_factory=set)


class Candidates:
    def __init__(self, db: Database, max_candidates: int = 1000) -> None:
        self.db = db
        self.max_candidates = max_candidates

    def find(self, req: Request) -> Result:
        with self.db.reader() as s:
            return self._find(s, req)

    @staticmethod
    def _fitting(s: Session, rc: str, amount: int) -> dict[int, tuple[int, int, int]]:
        """Providers that can give ``amount`` of ``rc``: id -> (capacity, used, step_size)."""
        used = (select(Allocation.resource_provider_id.label("rp"), func.sum(Allocation.used).label("used"))
                .where(Allocation.resource_class == rc).group_by(Allocation.resource_provider_id).subquery())
        u = func.coalesce(used.c.used, 0)
        q = (select(Inventory.resource_provider_id, Inventory.total, Inventory.reserved, Inventory.allocation_ratio,
                    Inventory.step_size, u)
             .outerjoin(used, used.c.rp == Inventory.resource_provider_id)
             .where(Inventory.resource_class == rc, Inventory.min_unit <= amount, Inventory.max_unit >= amount,
                    (Inventory.total - Inventory.reserved) * Inventory.allocation_ratio >= u + amount))
        out = {}
        for rp, total, reserved, ratio, step, n in s.execute(q):
            cap = int((total - reserved) * ratio)
            if amount % step == 0 and cap - int(n) >= amount:
                out[rp] = (cap, int(n), step)
        return out

    def _find(self, s: Session, req: Request) -> Result:
        base.require_classes(s, {rc for g in req.groups for rc in g.resources},
                             "Invalid resource class in resources parameter: No such resource class {name}.")
        names = set().union(*(g.traits.names() for g in req.groups), req.root_traits.names())
        require_traits(s, names)
        fits = {(g.suffix, rc): self._fitting(s, rc, amount) for g in req.groups for rc, amount in g.resources.items()}
        ids = {p for f in fits.values() for p in f}
        if any(not f for f in fits.values()) or not ids:
            return Result([], {})
        in_tree_roots = None
        for g in req.groups:
            if g.in_tree is not None:
                r = s.scalar(select(Provider.root_provider_id).where(Provider.uuid == g.in_tree))
                in_tree_roots = {r} if in_tree_roots is None else in_tree_roots & {r}
        share_ids = set(s.scalars(select(ProviderTrait.resource_provider_id)
                                  .join(Trait, Trait.id == ProviderTrait.trait_id).where(Trait.name == SHARES)))
        root_of: dict[int, int] = base.pairs(s, select(Provider.id, Provider.root_provider_id)
                                             .where(Provider.id.in_(ids - share_ids)))
        tree_roots = sorted({r or i for i, r in root_of.items()
                             if in_tree_roots is None or (r or i) in in_tree_roots})
        provs = self._load(s, Provider.id.in_(share_ids)) if share_ids else {}
        sharing = list(provs.values())
        trees: dict[int, list[_Prov]] = defaultdict(list)
        requests: list[tuple[dict[str, dict[str, int]], dict[str, list[str]]]] = []
        seen: set[tuple[Any, ...]] = set()
        limit = min(req.limit or self.max_candidates, self.max_candidates)
        used_trees: set[int] = set()
        used_sharing: set[int] = set()
        # Trees are loaded a chunk at a time, so that a small limit reads only the first few.
        chunk = max(limit, 100)
        for start in range(0, len(tree_roots), chunk):
            if len(requests) >= limit:
                break
            batch = tree_roots[start:start + chunk]
            loaded = self._load(s, Provider.root_provider_id.in_(batch))
            provs.update(loaded)
            for p in loaded.values():
                trees[p.root].append(p)
            for root in batch:
                if len(requests) >= limit:
                    break
                if root not in provs or not _traits_ok(req.root_traits, provs[root].traits):
                    continue
                tree_aggs = set().union(*(p.aggs for p in trees[root]))
                shared = [p for p in sharing if p.root != root and p.aggs & tree_aggs]
                for alloc, mapping, used_ids in self._tree_candidates(req, fits, trees[root], shared, provs):
                    key = tuple(sorted((rp, tuple(sorted(res.items()))) for rp, res in alloc.items()))
                    if key in seen:
                        continue
                    seen.add(key)
                    requests.append((alloc, mapping))
                    used_trees.add(root)
                    used_sharing |= {i for i in used_ids if provs[i].root != root}
                    if len(requests) >= limit:
                        break
        summary_ids = [p.id for r in used_trees for p in trees[r]] + sorted(used_sharing)
        return Result(requests, self._summaries(s, [provs[i] for i in dict.fromkeys(summary_ids)], provs))

    def _tree_candidates(self, req: Request, fits: dict[tuple[str, str], dict[int, tuple[int, int, int]]],
                         tree: list[_Prov], shared: list[_Prov], provs: dict[int, _Prov]
                         ) -> Iterator[tuple[dict[str, dict[str, int]], dict[str, list[str]], set[int]]]:
        pool = [*tree, *shared]
        root = provs[tree[0].root]
        # Per group its ways: (resource class -> provider id, the providers it uses).
        options: list[list[tuple[dict[str, int], frozenset[int]]]] = []
        for g in req.groups:
            ways: list[tuple[dict[str, int], frozenset[int]]] = []
            if not g.resources:  # resourceless (1.36): a provider of the tree with the traits and aggregates
                ways = [({}, frozenset({p.id})) for p in tree
                        if _member(g.member_of, p, root) and _traits_ok(g.traits, p.traits)]
            elif g.suffix == "":
                per_rc = [[p.id for p in pool if p.id in fits[(g.suffix, rc)] and _member(g.member_of, p, root)]
                          for rc in g.resources]
                for pick in itertools.product(*per_rc):
                    members = [provs[i] for i in set(pick)]
                    if _traits_ok(g.traits, set().union(*(p.traits for p in members))):
                        ways.append((dict(zip(g.resources, pick, strict=True)), frozenset(pick)))
                    if len(ways) >= self.max_candidates:
                        break
            else:
                for p in pool:
                    if all(p.id in fits[(g.suffix, rc)] for rc in g.resources) and _member(g.member_of, p, root) \
                            and _traits_ok(g.traits, p.traits):
                        ways.append((dict.fromkeys(g.resources, p.id), frozenset({p.id})))
            if not ways:
                return
            options.append(ways)
        for combo in itertools.product(*options):
            if req.isolate:
                numbered = [used for g, (_w, used) in zip(req.groups, combo, strict=True) if g.suffix and g.resources]
                if sum(len(x) for x in numbered) != len(set().union(*numbered)):
                    continue
            used_by = {g.suffix: used for g, (_w, used) in zip(req.groups, combo, strict=True)}
            if not all(_same_subtree(set().union(*(used_by[x] for x in group)), provs) for group in req.same_subtree):
                continue
            alloc: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            mapping: dict[str, list[str]] = {}
            for g, (way, used) in zip(req.groups, combo, strict=True):
                for rc, pid in way.items():
                    alloc[pid][rc] += g.resources[rc]
                mapping[g.suffix] = sorted({provs[pid].uuid for pid in used})
            if not self._merged_fit(alloc, fits, req.groups):
                continue
            yield ({provs[pid].uuid: dict(res) for pid, res in sorted(alloc.items())}, mapping, set(alloc))

    @staticmethod
    def _merged_fit(alloc: dict[int, dict[str, int]], fits: dict[tuple[str, str], dict[int, tuple[int, int, int]]],
                    groups: list[Group]) -> bool:
        for pid, res in alloc.items():
            for rc, amount in res.items():
                for g in groups:
                    got = fits.get((g.suffix, rc), {}).get(pid)
                    if got is not None:
                        cap, used, _step = got
                        if used + amount > cap:
                            return False
                        break
        return True

    @staticmethod
    def _load(s: Session, which: Any) -> dict[int, _Prov]:
        """The providers ``which`` selects, with their traits and aggregates."""
        rows = s.execute(select(Provider.id, Provider.uuid, Provider.root_provider_id, Provider.parent_provider_id)
                         .where(which).order_by(Provider.id))
        provs = {i: _Prov(i, u, r or i, par) for i, u, r, par in rows}
        if not provs:
            return provs
        for pid, name in s.execute(select(ProviderTrait.resource_provider_id, Trait.name)
                                   .join(Trait, Trait.id == ProviderTrait.trait_id)
                                   .where(ProviderTrait.resource_provider_id.in_(provs))):
            provs[pid].traits.add(name)
        for pid, agg in s.execute(select(ProviderAggregate.resource_provider_id, Aggregate.uuid)
                                  .join(Aggregate, Aggregate.id == ProviderAggregate.aggregate_id)
                                  .where(ProviderAggregate.resource_provider_id.in_(provs))):
            provs[pid].aggs.add(agg)
        return provs

    @staticmethod
    def _summaries(s: Session, chosen: list[_Prov], provs: dict[int, _Prov]) -> dict[str, dict[str, Any]]:
        ids = [p.id for p in chosen]
        invs = base.inventories(s, ids)
        used = base.usages(s, ids)
        out = {}
        for p in chosen:
            out[p.uuid] = {
                "resources": {rc: {"capacity": inv.capacity, "used": used[p.id].get(rc, 0)}
                              for rc, inv in sorted(invs[p.id].items())},
                "traits": sorted(p.traits),
                "parent_provider_uuid": provs[p.parent].uuid if p.parent in provs else None,
                "root_provider_uuid": provs[p.root].uuid if p.root in provs else p.uuid,
            }
        return out


def _traits_ok(f: TraitFilter, have: set[str]) -> bool:
    return all(any_of & have for any_of in f.required) and not (f.forbidden & have)


def _same_subtree(ids: set[int], provs: dict[int, _Prov]) -> bool:
    """Whether one of the providers ``ids`` is an ancestor of (or is) every other one."""
    def lineage(pid: int) -> set[int]:
        seen: set[int] = set()
        cur: int | None = pid
        while cur is not None and cur not in seen and cur in provs:
            seen.add(cur)
            cur = provs[cur].parent
        return seen

    return any(all(top in lineage(pid) for pid in ids) for top in ids)


def _member(f: AggregateFilter, p: _Prov, root: _Prov) -> bool:
    if not f:
        return True
    aggs = p.aggs | (root.aggs if SHARES not in p.traits else set())
    return all(any_of & aggs for any_of in f.any_of) and not (f.forbidden & aggs)
