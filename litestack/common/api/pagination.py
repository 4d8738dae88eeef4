"""Listing helpers: filtering, sorting, limit/marker pagination with links, field selection."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from litestack.common import errors


def parse_limit(params: Mapping[str, str], default: int | None, maximum: int) -> int | None:
    raw = params.get("limit")
    if raw is None:
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise errors.BadRequest(f"limit must be an integer, got '{raw}'.") from None
    if limit < 0:
        raise errors.BadRequest("limit must be zero or positive.")
    return min(limit, maximum)


def parse_sort(params: Mapping[str, str], allowed: Sequence[str], default: str = "id") -> list[tuple[str, bool]]:
    """``sort_key``/``sort_dir`` (repeatable in the list forms, or ``sort=k:dir,k2``)."""
    keys: list[tuple[str, bool]] = []
    if "sort" in params:
        for part in params["sort"].split(","):
            key, _, direction = part.partition(":")
            keys.append((key.strip(), _desc(direction or "asc")))
    elif "sort_key" in params:
        keys.append((params["sort_key"], _desc(params.get("sort_dir", "asc"))))
    else:
        keys.append((default, False))
    for key, _ in keys:
        if key not in allowed:
            raise errors.BadRequest(f"Invalid sort key '{key}'.")
    return keys


def _desc(direction: str) -> bool:
    d = direction.strip().lower()
    if d not in ("asc", "desc"):
        raise errors.BadRequest(f"Invalid sort direction '{direction}'.")
    return d == "desc"


def sort_items(items: list[dict[str, Any]], keys: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    for key, desc in reversed(keys):

        def sort_key(it: dict[str, Any], k: str = key) -> tuple[bool, Any]:
            return (it.get(k) is None, _sortable(it.get(k)))

        items.sort(key=sort_key, reverse=desc)
    return items


def _sortable(v: Any) -> Any:
    return str(v) if isinstance(v, dict | list) else v


def paginate(items: list[dict[str, Any]], limit: int | None, marker: str | None,
             key: str = "id") -> tuple[list[dict[str, Any]], bool]:
    """Items after ``marker`` (404-like BadRequest if unknown), at most ``limit``; and whether more remain."""
    start = 0
    if marker is not None:
        for i, it in enumerate(items):
            if str(it.get(key)) == marker:
                start = i + 1
                break
        else:
            raise errors.BadRequest(f"Marker {marker} could not be found.")
    page = items[start:] if limit is None else items[start:start + limit]
    more = limit is not None and start + limit < len(items)
    return page, more


def next_link(base_url: str, params: Mapping[str, str], page: list[dict[str, Any]],
              key: str = "id") -> str | None:
    if not page:
        return None
    q = {k: v for k, v in params.items() if k != "marker"}
    q["marker"] = str(page[-1][key])
    return f"{base_url}?{urlencode(q)}"


def select_fields(item: dict[str, Any], fields: Sequence[str] | None) -> dict[str, Any]:
    if not fields:
        return item
    return {k: v for k, v in item.items() if k in fields}


def filter_items(items: list[dict[str, Any]], params: Mapping[str, str], allowed: Sequence[str],
                 coerce: Callable[[str, str], Any] | None = None) -> list[dict[str, Any]]:
    """Exact-match filters for the query parameters named in ``allowed``."""
    for name in allowed:
        if name in params:
            want: Any = params[name] if coerce is None else coerce(name, params[name])
            items = [it for it in items if _match(it.get(name), want)]
    return items


def _match(value: Any, want: Any) -> bool:
    if isinstance(want, bool) or isinstance(value, bool):
        return bool(value) == (want if isinstance(want, bool) else str(want).lower() in ("true", "1"))
    return str(value) == str(want)
