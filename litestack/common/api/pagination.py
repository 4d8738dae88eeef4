"""Listing in SQL: filters, sorting, limit/marker pagination with ``next`` links, field selection.

A resource declares once how it is listed (``Listing``: the model, the query parameters that
filter, the keys it sorts by); ``parse`` reads a request's query into a ``ListQuery`` and ``apply``
turns it into clauses of a SQLAlchemy ``Select``: ``WHERE`` for filters and for the marker (keyset
pagination: the rows after the marker row in sort order, so a page costs the same wherever it
starts), ``ORDER BY`` with the id as the last tie-breaker, and ``LIMIT`` one more than asked, so
whether a next page exists is known without counting. Glance, Nova, Neutron and Cinder page the
same way (``sort_key``/``sort_dir``, ``sort=key:dir``, ``limit``, ``marker``).

The parsing and link helpers are pure functions; only ``apply`` and ``marker_row`` touch SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from litestack.common import errors

T = TypeVar("T")
S = TypeVar("S", bound=Select)  # any select: one entity or several
Coerce = Callable[[str], Any]


def boolean(value: str) -> bool:
    """OpenStack's query booleans: anything but '0'/'false'/'no'/'off' (any case) is true."""
    return value.lower() not in ("0", "false", "no", "off")


@dataclass(frozen=True)
class Listing:
    """How one resource is listed: declared once, next to its model.

    ``filters`` maps a query parameter to its column (exact match) and an optional coercion of
    the text (``boolean``, ``int``); ``sort_keys`` maps each sort key clients may use to its
    column; ``default_sort`` is the order when the client asks none. The ``id`` column is always
    the last sort key, so the order is total and markers are unambiguous.
    """

    model: Any
    filters: Mapping[str, Any] = field(default_factory=dict)
    sort_keys: Mapping[str, Any] = field(default_factory=dict)
    default_sort: Sequence[tuple[str, bool]] = ()
    coerce: Mapping[str, Coerce] = field(default_factory=dict)
    id_key: str = "id"

    @property
    def id_column(self) -> InstrumentedAttribute[Any]:
        col: InstrumentedAttribute[Any] = getattr(self.model, self.id_key)
        return col


@dataclass(frozen=True)
class ListQuery:
    """What a request asks of a list: filter values, sort keys (key, descending), page, fields."""

    filters: Mapping[str, Any] = field(default_factory=dict)
    sort: Sequence[tuple[str, bool]] = ()
    limit: int | None = None
    marker: str | None = None
    fields: Sequence[str] | None = None
    #: Neutron's ``page_reverse``: the page before the marker, fetched in reverse order (``apply``
    #: flips the order; ``Page.items`` of ``page(..., reverse=True)`` are in the asked order again).
    reverse: bool = False


@dataclass
class Page(Generic[T]):
    """One page of rows, and whether rows follow it."""

    items: list[T]
    more: bool


# --- parsing (pure) ----------------------------------------------------------------------------


def parse_limit(params: Mapping[str, str], default: int | None, maximum: int | None) -> int | None:
    """``limit``: a non-negative integer, capped at ``maximum``; 400 otherwise."""
    raw = params.get("limit")
    if raw is None:
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise errors.BadRequest(f"limit must be an integer, got '{raw[:64]}'.") from None
    if limit < 0:
        raise errors.BadRequest("limit must be zero or positive.")
    return limit if maximum is None else min(limit, maximum)


def parse_sort(params: Mapping[str, str], allowed: Sequence[str], default: Sequence[tuple[str, bool]] = ()
               ) -> list[tuple[str, bool]]:
    """``sort=k1:dir,k2`` or ``sort_key``/``sort_dir``; the default when neither; 400 for an
    unknown key or direction."""
    keys: list[tuple[str, bool]] = []
    if "sort" in params:
        for part in params["sort"].split(","):
            key, _, direction = part.partition(":")
            keys.append((key.strip(), _desc(direction or "asc")))
    elif "sort_key" in params:
        keys.append((params["sort_key"], _desc(params.get("sort_dir", "asc"))))
    else:
        return list(default)
    for key, _ in keys:
        if key not in allowed:
            raise errors.BadRequest(f"Invalid sort key '{key[:64]}'.")
    return keys


def parse_sort_pairs(keys: Sequence[str], dirs: Sequence[str], allowed: Sequence[str],
                     default: Sequence[tuple[str, bool]] = ()) -> list[tuple[str, bool]]:
    """Repeated ``sort_key``/``sort_dir`` parameters (Neutron's ``?sort_key=a&sort_dir=asc&sort_key=b``):
    the n-th direction goes with the n-th key, a missing one is ascending; 400 for an unknown key
    or direction, or more directions than keys."""
    if not keys:
        if dirs:
            raise errors.BadRequest("The number of sort_keys and sort_dirs must be same")
        return list(default)
    if len(dirs) > len(keys):
        raise errors.BadRequest("The number of sort_keys and sort_dirs must be same")
    out = [(k, _desc(dirs[i]) if i < len(dirs) else False) for i, k in enumerate(keys)]
    for key, _ in out:
        if key not in allowed:
            raise errors.BadRequest(f"Invalid sort key '{key[:64]}'.")
    return out


def _desc(direction: str) -> bool:
    d = direction.strip().lower()
    if d not in ("asc", "desc"):
        raise errors.BadRequest(f"Invalid sort direction '{direction[:64]}'.")
    return d == "desc"


def parse_fields(params: Mapping[str, str]) -> list[str] | None:
    """``fields=a,b``: the attributes to show (``id`` always stays)."""
    raw = params.get("fields")
    if not raw:
        return None
    return [f for f in (p.strip() for p in raw.split(",")) if f]


def parse(params: Mapping[str, str], listing: Listing, *, default_limit: int | None = None,
          max_limit: int | None = 1000, paging: bool = True) -> ListQuery:
    """A request's list query. Without ``paging`` the client's ``limit`` and ``marker`` are
    ignored (Keystone's lists: the server's ``list_limit`` alone caps them)."""
    filters: dict[str, Any] = {}
    for name in listing.filters:
        if name in params:
            coerce = listing.coerce.get(name)
            try:
                filters[name] = coerce(params[name]) if coerce else params[name]
            except ValueError:
                raise errors.BadRequest(f"Invalid value for filter {name}.") from None
    return ListQuery(
        filters=filters,
        sort=parse_sort(params, list(listing.sort_keys), listing.default_sort),
        limit=parse_limit(params, default_limit, max_limit) if paging else default_limit,
        marker=params.get("marker") if paging else None,
        fields=parse_fields(params))


# --- SQL ---------------------------------------------------------------------------------------


def _order(listing: Listing, q: ListQuery) -> list[tuple[Any, bool]]:
    cols = [(listing.sort_keys[k], desc) for k, desc in q.sort]
    if not any(c is listing.id_column for c, _ in cols):
        cols.append((listing.id_column, q.sort[-1][1] if q.sort else False))
    return cols


def marker_row(session: Session, listing: Listing, marker: str) -> Any:
    row = session.get(listing.model, marker) if len(marker) <= 255 else None
    if row is None:
        raise errors.BadRequest(f"Marker {marker[:64]} could not be found.")
    return row


def apply(stmt: S, listing: Listing, q: ListQuery, session: Session | None = None) -> S:
    """``stmt`` filtered, ordered, started after the marker and limited to one row more than the
    page (``page`` then tells whether more follow). A marker needs the ``session`` to read the
    marker row's sort values."""
    for name, value in q.filters.items():
        stmt = stmt.where(listing.filters[name] == value)
    order = _order(listing, q)
    if q.reverse:
        order = [(c, not desc) for c, desc in order]
    if q.marker is not None:
        if session is None:
            raise ValueError("a marker needs a session")
        row = marker_row(session, listing, q.marker)
        stmt = stmt.where(_after(order, row))
    stmt = stmt.order_by(*[(c.desc() if desc else c.asc()) for c, desc in order])
    if q.limit is not None:
        stmt = stmt.limit(q.limit + 1)
    return stmt


def _after(order: list[tuple[Any, bool]], row: Any) -> ColumnElement[bool]:
    """Rows strictly after ``row`` in this order: (k1 > v1) or (k1 = v1 and k2 > v2) or ...

    SQL compares NULL with nothing, so declare NOT NULL columns as sort keys: rows whose sort value
    is NULL would be skipped by the pages after a marker."""
    terms = []
    for i, (col, desc) in enumerate(order):
        value = getattr(row, col.key)
        equal = [c == getattr(row, c.key) for c, _ in order[:i]]
        terms.append(and_(*equal, col < value if desc else col > value))
    return or_(*terms)


_OPERATORS = {"eq": "__eq__", "neq": "__ne__", "gt": "__gt__", "gte": "__ge__", "lt": "__lt__", "lte": "__le__"}


def compare(column: Any, raw: str, coerce: Coerce = str, allowed: Sequence[str] = (*_OPERATORS, "in")
            ) -> ColumnElement[bool]:
    """A filter with an operator prefix, as Glance and Cinder take them: ``gt:2026-01-01T00:00:00Z``,
    ``in:a,b``, or a bare value (``eq``). ``coerce`` parses each value (``ValueError``: 400);
    a prefix that is not an operator is part of the value."""
    op, sep, value = raw.partition(":")
    if not sep or op not in (*_OPERATORS, "in"):
        op, value = "eq", raw
    if op not in allowed:
        raise errors.BadRequest(f"Unable to filter using operator '{op}'.")
    try:
        if op == "in":
            return column.in_([coerce(v.strip().strip('"')) for v in value.split(",")])
        clause: ColumnElement[bool] = getattr(column, _OPERATORS[op])(coerce(value))
        return clause
    except ValueError:
        raise errors.BadRequest(f"Invalid filter value {value[:64]}.") from None


def page(rows: list[T], limit: int | None, reverse: bool = False) -> Page[T]:
    """The page of ``rows`` fetched with ``apply`` (one row more than ``limit``); with ``reverse``
    (rows fetched backwards from the marker) the items are put back in the asked order."""
    if limit is not None and len(rows) > limit:
        pg = Page(rows[:limit], True)
    else:
        pg = Page(rows, False)
    if reverse:
        pg.items.reverse()
    return pg


def fetch(session: Session, stmt: Select[Any], listing: Listing, q: ListQuery) -> Page[Any]:
    """Run ``stmt`` (a ``select`` of the listing's model) under ``q``: one query, one page."""
    return page(list(session.scalars(apply(stmt, listing, q, session))), q.limit, q.reverse)


def query(listing: Listing) -> Select[Any]:
    return select(listing.model)


# --- responses (pure) --------------------------------------------------------------------------


def next_link(url: str, params: Mapping[str, str], last_id: str | None) -> str | None:
    """The URL of the next page: this query with ``marker`` set to the last item's id."""
    if last_id is None:
        return None
    q = {k: v for k, v in params.items() if k != "marker"}
    q["marker"] = last_id
    return f"{url}?{urlencode(q)}"


def select_fields(item: dict[str, Any], fields: Sequence[str] | None, keep: Sequence[str] = ("id",)
                  ) -> dict[str, Any]:
    """The item with only the requested ``fields`` (and ``keep``)."""
    if not fields:
        return item
    return {k: v for k, v in item.items() if k in fields or k in keep}
