from __future__ import annotations

import pytest

from litestack.common import errors
from litestack.common.api import pagination as p

pytestmark = pytest.mark.unit

ITEMS = [{"id": str(i), "name": f"n{i % 3}", "size": i} for i in range(10)]


def test_limit_and_marker_walk_the_whole_list_once() -> None:
    seen: list[str] = []
    marker = None
    while True:
        page, more = p.paginate(list(ITEMS), 3, marker)
        seen += [it["id"] for it in page]
        if not more:
            break
        marker = page[-1]["id"]
    assert seen == [it["id"] for it in ITEMS]


def test_unknown_marker_is_400() -> None:
    with pytest.raises(errors.BadRequest):
        p.paginate(list(ITEMS), 3, "nope")


def test_next_link_keeps_filters_and_sets_marker() -> None:
    link = p.next_link("http://x/v2/things", {"name": "a", "limit": "2", "marker": "old"}, [{"id": "7"}])
    assert link == "http://x/v2/things?name=a&limit=2&marker=7"


def test_sort_by_two_keys() -> None:
    keys = p.parse_sort({"sort": "name:asc,size:desc"}, ["name", "size", "id"])
    out = p.sort_items(list(ITEMS), keys)
    assert [it["size"] for it in out[:4]] == [9, 6, 3, 0]


@pytest.mark.parametrize("params", [{"sort_key": "secret"}, {"sort": "name:sideways"}, {"limit": "-1"},
                                    {"limit": "many"}])
def test_bad_list_parameters_are_400(params: dict[str, str]) -> None:
    with pytest.raises(errors.BadRequest):
        p.parse_sort(params, ["name"]) if "limit" not in params else p.parse_limit(params, None, 100)


def test_filters_and_fields() -> None:
    out = p.filter_items(list(ITEMS), {"name": "n1", "ignored": "x"}, ["name"])
    assert [it["id"] for it in out] == ["1", "4", "7"]
    assert p.select_fields(out[0], ["id"]) == {"id": "1"}
    assert p.parse_limit({"limit": "5000"}, None, 1000) == 1000
