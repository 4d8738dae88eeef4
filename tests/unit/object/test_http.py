"""Ranges and preconditions, as Swift evaluates them."""

from __future__ import annotations

import pytest

from litestack.object.errors import RangeNotSatisfiable
from litestack.object.http import check_preconditions, parse_range

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("header", "expected"), [
    (None, None),
    ("bytes=0-4", [(0, 5)]),
    ("bytes=5-", [(5, 10)]),
    ("bytes=-3", [(7, 10)]),
    ("bytes=-30", [(0, 10)]),
    ("bytes=8-100", [(8, 10)]),
    ("bytes=0-0,2-3", [(0, 1), (2, 4)]),
    ("bytes=0-0,50-60", [(0, 1)]),
    ("bytes=5-2", None),   # malformed: ignored, the whole object
    ("items=0-1", None),
    ("bytes=x-1", None),
])
def test_parse_range(header: str | None, expected: list[tuple[int, int]] | None) -> None:
    assert parse_range(header, 10) == expected


def test_a_range_past_the_end_is_416() -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=10-20", 10)


TS = "1700000000.50000"  # Last-Modified is 1700000001 (rounded up)


@pytest.mark.parametrize(("headers", "method", "expected"), [
    ({}, "GET", None),
    ({"if-match": '"abc"'}, "GET", None),
    ({"if-match": "*"}, "GET", None),
    ({"if-match": '"zzz"'}, "GET", 412),
    ({"if-none-match": '"abc"'}, "GET", 304),
    ({"if-none-match": '"abc"'}, "PUT", 412),
    ({"if-none-match": '"zzz"'}, "GET", None),
    ({"if-modified-since": "Tue, 14 Nov 2023 22:13:21 GMT"}, "GET", 304),   # 1700000001
    ({"if-modified-since": "Tue, 14 Nov 2023 22:13:20 GMT"}, "GET", None),
    ({"if-unmodified-since": "Tue, 14 Nov 2023 22:13:20 GMT"}, "GET", 412),
    ({"if-unmodified-since": "Tue, 14 Nov 2023 22:13:21 GMT"}, "GET", None),
    ({"if-modified-since": "not a date"}, "GET", None),
])
def test_preconditions(headers: dict[str, str], method: str, expected: int | None) -> None:
    assert check_preconditions(headers, "abc", TS, method) == expected
