"""HTTP details shared by the proxy and the storage servers: dates, ranges and preconditions."""

from __future__ import annotations

import itertools
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from litestack.object import errors

#: The header that carries the cluster's shared secret between the proxy and the storage servers.
SECRET_HEADER = "x-backend-cluster-secret"  # noqa: S105 (a header name)


def http_date(timestamp: str | float) -> str:
    """Last-Modified of a timestamp: rounded up to the second, as Swift does."""
    return format_datetime(datetime.fromtimestamp(math.ceil(float(timestamp)), UTC), usegmt=True)


def iso_date(timestamp: str | float) -> str:
    """A listing's ``last_modified``: ``2016-03-02T14:27:06.460110`` (UTC, no zone suffix)."""
    return datetime.fromtimestamp(float(timestamp), UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def _parse_http_date(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


#: Swift's limits on one Range header (``swob``): more ranges, more overlapping pairs, or this
#: many ranges out of ascending order make the request unsatisfiable (416), as RFC 7233 §6.1 allows.
MAX_RANGES = 50
MAX_RANGE_OVERLAPS = 2
MAX_NONASCENDING_RANGES = 8


def range_specs(header: str | None) -> list[tuple[int | None, int | None]] | None:
    """The ``(first, last)`` byte-range-specs of a Range header as written (either may be None:
    ``-N`` is ``(None, N)``, ``N-`` is ``(N, None)``), or None when there is no header or Swift
    ignores it: not ``bytes=``, a spec without a hyphen or with a non-number, ``last < first``, an
    empty spec. Spaces are dropped first, as Swift does."""
    if not header:
        return None
    value = header.replace(" ", "")
    if not value.lower().startswith("bytes="):
        return None
    specs: list[tuple[int | None, int | None]] = []
    for spec in value[6:].split(","):
        first_s, hyphen, last_s = spec.partition("-")
        if not hyphen:
            return None
        try:
            first = int(first_s) if first_s else None
            last = int(last_s) if last_s else None
        except ValueError:
            return None
        if last_s and not last_s.isdigit():
            return None  # "--0" and the like
        if last is None and first is None:
            return None
        if first is not None and last is not None and last < first:
            return None
        specs.append((first, last))
    return specs


def ranges_for_length(specs: list[tuple[int | None, int | None]], length: int) -> list[tuple[int, int]]:
    """The ``[start, end)`` ranges of ``specs`` that fall inside ``length`` bytes, in the order
    asked (overlaps kept, as Swift keeps them). Raises ``RangeNotSatisfiable`` (with its
    ``Content-Range: bytes */length``) when none does, or when the set is egregious: more than
    ``MAX_RANGES`` ranges, more than ``MAX_RANGE_OVERLAPS`` overlapping pairs, or
    ``MAX_NONASCENDING_RANGES`` or more ranges out of order."""
    out: list[tuple[int, int]] = []
    for first, last in specs:
        if first is None:
            if last:  # "-0" asks for nothing
                out.append((max(length - last, 0), length))
        elif first < length:
            out.append((first, length if last is None else min(last + 1, length)))
    overlaps = sum(1 for i, (s1, e1) in enumerate(out) for s2, e2 in out[i + 1:]
                   if s1 < s2 < e1 or s1 < e2 < e1 or s2 < s1 < e2 or s2 < e1 < e2)
    ascending = all(a <= b for a, b in itertools.pairwise(out))
    if (not out or len(out) > MAX_RANGES or overlaps > MAX_RANGE_OVERLAPS
            or (not ascending and len(out) >= MAX_NONASCENDING_RANGES)):
        err = errors.RangeNotSatisfiable()
        err.headers = {"Content-Range": f"bytes */{length}"}
        raise err
    return out


def parse_range(header: str | None, length: int) -> list[tuple[int, int]] | None:
    """The ``[start, end)`` byte ranges a Range header asks of ``length`` bytes, or None to send
    the whole object with 200 (no header, one Swift ignores, or an empty object of which only a
    suffix was asked). Raises ``RangeNotSatisfiable`` as ``ranges_for_length`` does."""
    specs = range_specs(header)
    if specs is None:
        return None
    ranges = ranges_for_length(specs, length)
    return ranges if length else None


@dataclass(frozen=True)
class Multipart:
    """The frame of a ``multipart/byteranges`` answer (Swift's layout): for each range, its
    ``heads[i]``, its bytes, then ``\r\n``; after the last, ``tail``."""

    content_type: str
    heads: list[bytes]
    tail: bytes
    content_length: int

    @classmethod
    def of(cls, ranges: list[tuple[int, int]], length: int, content_type: str) -> Multipart:
        boundary = uuid.uuid4().hex
        heads = [f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {s}-{e - 1}/{length}\r\n"
                 "\r\n".encode("latin-1", "replace") for s, e in ranges]
        tail = f"--{boundary}--".encode()
        total = sum(len(h) + (e - s) + 2 for h, (s, e) in zip(heads, ranges, strict=True)) + len(tail)
        return cls(f"multipart/byteranges;boundary={boundary}", heads, tail, total)


def _etags(value: str) -> list[str]:
    return [v.strip().strip('"') for v in value.split(",") if v.strip()]


def check_preconditions(headers: dict[str, str], etag: str, timestamp: str, method: str) -> int | None:
    """Evaluate If-Match, If-None-Match, If-Modified-Since and If-Unmodified-Since: None when
    the request goes on, else 304 (not modified) or 412 (precondition failed)."""
    last_modified = math.ceil(float(timestamp))
    if_match = headers.get("if-match")
    if if_match is not None:
        tags = _etags(if_match)
        if "*" not in tags and etag not in tags:
            return 412
    if_none = headers.get("if-none-match")
    if if_none is not None:
        tags = _etags(if_none)
        if "*" in tags or etag in tags:
            return 304 if method in ("GET", "HEAD") else 412
    ius = headers.get("if-unmodified-since")
    if ius is not None and if_match is None:
        when = _parse_http_date(ius)
        if when is not None and last_modified > when:
            return 412
    ims = headers.get("if-modified-since")
    if ims is not None and if_none is None and method in ("GET", "HEAD"):
        when = _parse_http_date(ims)
        if when is not None and last_modified <= when:
            return 304
    return None
