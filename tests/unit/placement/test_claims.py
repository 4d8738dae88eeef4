"""Claims against one provider from writers that share nothing but the database (each its own
engine, as separate API processes would): never more than the capacity, on SQLite here and on
PostgreSQL and MariaDB (integration). Plus the pure parts of allocation candidates."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from litestack.common.db import Database, upgrade
from litestack.placement import errors
from litestack.placement.manager import Manager
from litestack.placement.manager.allocations import Claim
from litestack.placement.manager.candidates import _Prov, _same_subtree, _traits_ok
from litestack.placement.manager.inventories import make
from litestack.placement.manager.providers import TraitFilter
from litestack.placement.models import Base
from tests.databases import database

WRITERS = 4
CLAIMS = 6  # per writer, one VCPU each, against 10 VCPU


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration),
                        pytest.param("mariadb", marks=pytest.mark.integration)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'placement.db'}"
        return
    with database(request.param) as u:
        yield u


@pytest.mark.unit
def test_writers_on_separate_engines_never_exceed_capacity(url: str) -> None:
    first = Database(url)
    upgrade(first, "litestack.placement.migrations", Base, "placement")
    mgr = Manager(first)
    mgr.catalog.sync()
    rp = mgr.providers.create("host", None, None)["uuid"]
    mgr.inventories.set_all(rp, 0, {"VCPU": make("VCPU", {"total": 10})}, True)
    won: list[str] = []
    lost: list[str] = []
    lock = threading.Lock()

    def writer() -> None:
        db = Database(url)  # its own engine and pool, as another process would have
        mine = Manager(db)
        try:
            for _ in range(CLAIMS):
                consumer = str(uuid.uuid4())
                try:
                    mine.allocations.replace([Claim(consumer, {rp: {"VCPU": 1}}, "p", "u", None)])
                    with lock:
                        won.append(consumer)
                except errors.Conflict:
                    with lock:
                        lost.append(consumer)
        finally:
            db.dispose()

    threads = [threading.Thread(target=writer) for _ in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 10 and len(lost) == WRITERS * CLAIMS - 10
    used, generation = mgr.allocations.provider_usages(rp)
    assert used == {"VCPU": 10} and generation == 1 + 10  # one bump per inventory write and per claim
    first.dispose()


def _tree() -> dict[int, _Prov]:
    # 1 is the root; 2 and 3 its children; 4 under 2.
    return {1: _Prov(1, "root", 1, None), 2: _Prov(2, "a", 1, 1), 3: _Prov(3, "b", 1, 1), 4: _Prov(4, "c", 1, 2)}


@pytest.mark.unit
def test_same_subtree_needs_one_provider_above_all_others() -> None:
    provs = _tree()
    assert _same_subtree({2, 4}, provs)
    assert _same_subtree({1, 3, 4}, provs)
    assert _same_subtree({3}, provs)
    assert not _same_subtree({3, 4}, provs)
    assert not _same_subtree({2, 3}, provs)


@pytest.mark.unit
def test_trait_filter_any_of_and_forbidden() -> None:
    f = TraitFilter(required=[{"A"}, {"B", "C"}], forbidden={"X"})
    assert _traits_ok(f, {"A", "C"})
    assert not _traits_ok(f, {"A"})
    assert not _traits_ok(f, {"A", "B", "X"})
    assert _traits_ok(TraitFilter(), set())
