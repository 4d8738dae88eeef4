"""Listing in SQL: filters, sort keys, keyset markers with next links, field selection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Boolean, Integer, String, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from litestack.common import errors
from litestack.common.api import pagination as p

pytestmark = pytest.mark.unit


class Base(DeclarativeBase):
    pass


class Thing(Base):
    __tablename__ = "thing"
    id: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(8))
    size: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean)


THINGS = p.Listing(Thing, filters={"name": Thing.name, "enabled": Thing.enabled},
                   coerce={"enabled": p.boolean},
                   sort_keys={"id": Thing.id, "name": Thing.name, "size": Thing.size},
                   default_sort=[("name", False)])


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add_all(Thing(id=f"t{i:02d}", name=f"n{i % 3}", size=i, enabled=i % 2 == 0) for i in range(10))
        s.commit()
        yield s


def ids(page: p.Page[Any]) -> list[str]:
    return [t.id for t in page.items]


def walk(session: Session, params: dict[str, str]) -> list[str]:
    seen: list[str] = []
    while True:
        q = p.parse(params, THINGS)
        pg = p.fetch(session, p.query(THINGS), THINGS, q)
        seen += ids(pg)
        if not pg.more:
            return seen
        params = {**params, "marker": pg.items[-1].id}


def test_limit_and_marker_walk_the_whole_list_once_in_the_default_order(session: Session) -> None:
    # Default order: name, then id as the tie-breaker.
    expected = sorted((f"n{i % 3}", f"t{i:02d}") for i in range(10))
    assert walk(session, {"limit": "3"}) == [i for _, i in expected]


@pytest.mark.parametrize("params, key", [({"sort_key": "size", "sort_dir": "desc"}, lambda i: -i),
                                          ({"sort": "name:desc,size"}, lambda i: (-(i % 3), i))])
def test_sorting_is_done_by_the_database_and_pages_follow_it(session: Session, params: dict[str, str],
                                                              key: Any) -> None:
    expected = [f"t{i:02d}" for i in sorted(range(10), key=key)]
    assert walk(session, {**params, "limit": "4"}) == expected


def test_filters_are_where_clauses_with_coerced_values(session: Session) -> None:
    q = p.parse({"name": "n1", "enabled": "false", "ignored": "x"}, THINGS)
    assert q.filters == {"name": "n1", "enabled": False}
    assert ids(p.fetch(session, p.query(THINGS), THINGS, q)) == ["t01", "t07"]


def test_one_query_per_page(session: Session) -> None:
    statements: list[str] = []
    event.listen(session.get_bind(), "before_cursor_execute",
                 lambda *a: statements.append(a[2]))
    p.fetch(session, p.query(THINGS), THINGS, p.parse({"limit": "2"}, THINGS))
    assert len(statements) == 1 and "LIMIT" in statements[0]


@pytest.mark.parametrize("params", [{"limit": "x"}, {"limit": "-1"}, {"sort_key": "secret"},
                                    {"sort_dir": "up", "sort_key": "id"}, {"sort": "name:sideways"}])
def test_bad_list_parameters_are_400(params: dict[str, str]) -> None:
    with pytest.raises(errors.BadRequest):
        p.parse(params, THINGS)


def test_unknown_marker_is_400(session: Session) -> None:
    with pytest.raises(errors.BadRequest):
        p.fetch(session, p.query(THINGS), THINGS, p.parse({"marker": "nope"}, THINGS))


def test_limit_is_capped_and_ignored_without_paging() -> None:
    assert p.parse({"limit": "5000"}, THINGS, max_limit=100).limit == 100
    q = p.parse({"limit": "2", "marker": "t01"}, THINGS, default_limit=7, paging=False)
    assert (q.limit, q.marker) == (7, None)


def test_next_link_keeps_filters_and_sets_marker() -> None:
    link = p.next_link("http://h/v3/things", {"name": "a b", "marker": "old", "limit": "2"}, "t05")
    assert link == "http://h/v3/things?name=a+b&limit=2&marker=t05"
    assert p.next_link("http://h/v3/things", {}, None) is None


def test_fields_select_attributes_and_keep_the_id() -> None:
    assert p.parse_fields({"fields": "name, size"}) == ["name", "size"]
    assert p.select_fields({"id": "1", "name": "n", "size": 3}, ["size"]) == {"id": "1", "size": 3}
    assert p.select_fields({"id": "1"}, None) == {"id": "1"}


def test_page_reverse_gives_the_page_before_the_marker_in_the_asked_order(session: Session) -> None:
    # Sorted by size: t00..t09. Backwards from t06, three items: t03, t04, t05, and more before them.
    q = p.ListQuery(sort=[("size", False)], limit=3, marker="t06", reverse=True)
    pg = p.fetch(session, p.query(THINGS), THINGS, q)
    assert ids(pg) == ["t03", "t04", "t05"] and pg.more
    q = p.ListQuery(sort=[("size", False)], limit=3, marker="t02", reverse=True)
    pg = p.fetch(session, p.query(THINGS), THINGS, q)
    assert ids(pg) == ["t00", "t01"] and not pg.more


def test_repeated_sort_keys_pair_with_their_directions() -> None:
    allowed = ["name", "size"]
    assert p.parse_sort_pairs(["name", "size"], ["desc"], allowed) == [("name", True), ("size", False)]
    assert p.parse_sort_pairs([], [], allowed, [("name", False)]) == [("name", False)]
    for keys, dirs in ((["name"], ["asc", "desc"]), (["nope"], []), (["name"], ["sideways"])):
        with pytest.raises(errors.BadRequest):
            p.parse_sort_pairs(keys, dirs, allowed)
