"""Ranges and preconditions, as Swift evaluates them."""

from __future__ import annotations

import pytest

from litestack.object.errors import RangeNotSatisfiable
from litestack.object.http import Multipart, check_preconditions, parse_range, range_specs

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("header", "expected"), [
    (None, None),
    ("bytes=0-4", [(0, 5)]),
    ("bytes=5-", [(5, 10)]),
    ("bytes=-3", [(7, 10)]),
    ("bytes=-30", [(0, 10)]),
    ("bytes=8-100", [(8, 10)]),
    ("bytes=0-0,2-3", [(0, 1), (2, 4)]),
    ("bytes=0-0,50-60", [(0, 1)]),          # the unsatisfiable one dropped
    ("bytes=-0,1-2", [(1, 3)]),             # "-0" asks for nothing
    ("bytes=0-9,100-199,-5", [(0, 10), (5, 10)]),
    ("bytes=0-3,2-5", [(0, 4), (2, 6)]),    # overlaps kept, in the order asked
    ("bytes=5-6,0-1", [(5, 7), (0, 2)]),
    ("bytes = 0-1 , 3-4", [(0, 2), (3, 5)]),  # spaces dropped
    ("Bytes=0-1", [(0, 2)]),
    ("bytes=5-2", None),   # malformed: ignored, the whole object
    ("bytes=5-2,0-1", None),  # one malformed spec: the whole header is ignored
    ("bytes=1-2,", None),
    ("bytes=", None),
    ("bytes=-", None),
    ("bytes=4", None),
    ("bytes=0-1;3-4", None),
    ("bytes=1--2", None),
    ("items=0-1", None),
    ("bytes=x-1", None),
])
def test_parse_range(header: str | None, expected: list[tuple[int, int]] | None) -> None:
    assert parse_range(header, 10) == expected


@pytest.mark.parametrize("header", [
    "bytes=10-20", "bytes=20-30,40-50", "bytes=-0",
    "bytes=0-5,1-6,2-7",                                          # three overlapping pairs
    "bytes=" + ",".join(f"{i}-{i}" for i in range(9, 0, -1)),     # 9 ranges out of order
    "bytes=" + ",".join(f"{i % 10}-{i % 10}" for i in range(51)),  # more than 50
])
def test_unsatisfiable_or_egregious_ranges_are_416(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as exc:
        parse_range(header, 10)
    assert exc.value.headers == {"Content-Range": "bytes */10"}


def test_a_few_ranges_out_of_order_are_served() -> None:
    seven = "bytes=" + ",".join(f"{i}-{i}" for i in range(9, 2, -1))
    assert parse_range(seven, 10) == [(i, i + 1) for i in range(9, 2, -1)]


def test_an_empty_object_is_whole_for_a_suffix_and_416_otherwise() -> None:
    assert parse_range("bytes=-5", 0) is None
    assert parse_range("bytes=-5,0-1", 0) is None
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=0-5", 0)


def test_range_specs_keep_what_was_written() -> None:
    assert range_specs("bytes=-0,1-2,7-") == [(None, 0), (1, 2), (7, None)]
    assert range_specs("bytes=9-0") is None


def test_multipart_frame_matches_its_length() -> None:
    ranges = [(0, 2), (5, 10)]
    frame = Multipart.of(ranges, 10, "text/plain")
    data = b"0123456789"
    body = b"".join(h + data[s:e] + b"\r\n" for h, (s, e) in zip(frame.heads, ranges, strict=True)) + frame.tail
    assert len(body) == frame.content_length
    boundary = frame.content_type.split("boundary=", 1)[1]
    assert frame.content_type == f"multipart/byteranges;boundary={boundary}"
    assert body.startswith(f"--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n01\r\n"
                           .encode())
    assert body.endswith(f"Content-Range: bytes 5-9/10\r\n\r\n56789\r\n--{boundary}--".encode())


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
