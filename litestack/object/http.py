"""HTTP details shared by the proxy and the storage servers: dates, ranges and preconditions."""

from __future__ import annotations

import math
import re
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


_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


def parse_range(header: str | None, length: int) -> list[tuple[int, int]] | None:
    """The ``[start, end)`` byte ranges a Range header asks for, or None to send the whole object
    (no header, or one Swift ignores as malformed). Raises ``RangeNotSatisfiable`` when every
    range lies beyond the end."""
    if not header:
        return None
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    wanted: list[tuple[int, int]] = []
    for part in spec.split(","):
        m = _RANGE.match(part)
        if m is None:
            return None
        first, last = m.groups()
        if not first and not last:
            return None
        if not first:  # the last N bytes
            n = int(last)
            if n == 0:
                continue
            wanted.append((max(length - n, 0), length))
            continue
        start = int(first)
        end = int(last) + 1 if last else length
        if last and int(last) < start:
            return None
        if start >= length:
            continue
        wanted.append((start, min(end, length)))
    if len(spec.split(",")) > 100:  # Swift refuses absurd range counts by ignoring the header
        return None
    if not wanted:
        raise errors.RangeNotSatisfiable()
    return wanted


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
