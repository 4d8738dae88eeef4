"""What every part of the network manager shares: the caller, list queries, tags, revisions."""

from __future__ import annotations

import functools
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from litestack.common import errors
from litestack.common.api.pagination import Listing, ListQuery, apply
from litestack.common.db import Database
from litestack.common.notify import Notifier
from litestack.network import exceptions as exc
from litestack.network.models import Tag

F = TypeVar("F", bound=Callable[..., Any])
#: Transactions a write makes before a lost race is reported (Neutron retries its DB errors too).
ATTEMPTS = 8
#: SQLSTATEs and MySQL error numbers of a transaction the database rolled back to break a tie.
_RETRYABLE_STATES = {"40001", "40P01"}
#: (1305: a savepoint gone because a deadlock inside it rolled the whole transaction back.)
_RETRYABLE_MYSQL = {1213, 1205, 1305}


def _lost_race(exc: errors.LitestackError) -> bool:
    """Whether a write failed only because a concurrent transaction won: a unique key it raced
    for and re-read in an old snapshot (MariaDB's repeatable read), or a deadlock or serialization
    failure that rolled the whole transaction back. The typed errors (``IpAddressInUse``…) are
    answers, never retried."""
    if type(exc) not in (errors.Conflict, errors.ServiceUnavailable):
        return False
    from sqlalchemy.exc import IntegrityError, OperationalError

    cause = exc.__cause__
    if isinstance(cause, IntegrityError):
        return True
    if isinstance(cause, OperationalError):
        orig = cause.orig
        code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        errno = orig.args[0] if orig is not None and orig.args else None
        return code in _RETRYABLE_STATES or errno in _RETRYABLE_MYSQL
    return False


def retrying(fn: F) -> F:
    """Run a write again in a new transaction when it lost a race (see ``_lost_race``), after a
    short random pause, so concurrent requests end with an answer, not a 409 or 503 of the
    database's making."""
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(ATTEMPTS):
            try:
                return fn(*args, **kwargs)
            except (errors.Conflict, errors.ServiceUnavailable) as exc:
                if attempt == ATTEMPTS - 1 or not _lost_race(exc):
                    raise
                time.sleep(random.uniform(0.005, 0.02) * (attempt + 1))
        raise AssertionError("unreachable")
    return run  # type: ignore[return-value]


@dataclass(frozen=True)
class Caller:
    """Who asks: their project and whether the ``context_is_admin`` rule holds for them."""

    project_id: str | None
    is_admin: bool = False


@dataclass(frozen=True)
class Query:
    """A Neutron list request: attribute filters (each a list of accepted values), tag filters,
    and the page (sort, limit, marker, page_reverse) as ``pagination.ListQuery``."""

    filters: Mapping[str, list[str]] = field(default_factory=dict)
    tags: Mapping[str, list[str]] = field(default_factory=dict)
    page: ListQuery = field(default_factory=ListQuery)


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def iso(t: datetime) -> str:
    """Neutron's timestamps: ``2024-05-01T12:00:00Z`` (isoformat is ten times cheaper than strftime,
    which shows in a list of 10,000)."""
    return t.isoformat(timespec="seconds") + "Z"


def standard(row: Any, tags: Sequence[str]) -> dict[str, Any]:
    """The standard attributes of a resource's view."""
    return {"description": row.description, "tags": sorted(tags), "created_at": iso(row.created_at),
            "updated_at": iso(row.updated_at), "revision_number": row.revision_number}


def touch(row: Any) -> None:
    """A change of the resource: one revision more, a new ``updated_at``."""
    row.revision_number = (row.revision_number or 0) + 1
    row.updated_at = now()


def check_revision(row: Any, if_match: int | None) -> None:
    """``If-Match: revision_number=N``: 412 unless the stored revision is N."""
    if if_match is not None and row.revision_number != if_match:
        raise exc.RevisionNumberConstraintFailed(if_match, row.revision_number)


def boolean(text: str) -> bool:
    low = text.lower()
    if low in ("true", "1", "yes", "on"):
        return True
    if low in ("false", "0", "no", "off"):
        return False
    raise exc.HTTPBadRequest(f"'{text[:64]}' cannot be converted to boolean")


def integer(text: str, bits: int = 32) -> int:
    """An integer filter value; one its column cannot hold is a 400, not a database error (PostgreSQL
    refuses to compare an INTEGER column with a value beyond 32 bits)."""
    try:
        value = int(text)
    except ValueError:
        raise exc.HTTPBadRequest(f"'{text[:64]}' is not an integer") from None
    if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
        raise exc.HTTPBadRequest(f"'{text[:64]}' is out of range")
    return value


def big_integer(text: str) -> int:
    """An integer filter value of a 64-bit column."""
    return integer(text, 64)


#: A filter: the column (or a function of the values giving a WHERE clause) and a coercion.
Filter = tuple[Any, Callable[[str], Any] | None]


def tags_of(s: Session, ids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        for rid, tag in s.execute(select(Tag.resource_id, Tag.tag).where(Tag.resource_id.in_(ids))):
            out[rid].append(tag)
    return out


def tag_clauses(id_col: Any, tags: Mapping[str, list[str]]) -> list[Any]:
    """Neutron's tag filters: ``tags`` (all of), ``tags-any``, ``not-tags`` (not all of),
    ``not-tags-any`` (none of); each value a comma-separated list, as SQL sub-queries."""
    def having_all(values: list[str]) -> Any:
        return id_col.in_(select(Tag.resource_id).where(Tag.tag.in_(values)).group_by(Tag.resource_id)
                          .having(func.count(func.distinct(Tag.tag)) == len(set(values))))

    def having_any(values: list[str]) -> Any:
        return id_col.in_(select(Tag.resource_id).where(Tag.tag.in_(values)))

    clauses = []
    for name, raw in tags.items():
        values = [t for v in raw for t in v.split(",") if t]
        if not values:
            continue
        clause = {"tags": having_all, "tags-any": having_any}.get(name)
        if clause is not None:
            clauses.append(clause(values))
        elif name == "not-tags":
            clauses.append(~having_all(values))
        elif name == "not-tags-any":
            clauses.append(~having_any(values))
    return clauses


def list_rows(s: Session, listing: Listing, filters: Mapping[str, Filter], q: Query, scope: Any | None,
              stmt: Select[Any] | None = None) -> list[Any]:
    """The rows of one list page: the caller's scope, the filters (a value list is ``IN``), the
    tag filters, then sorting and the page (``pagination.apply``: keyset markers, page_reverse)."""
    # Plain rows, not ORM objects: views only read columns, and a list of 10,000 would spend half
    # its time building and tracking objects nobody changes.
    stmt = stmt if stmt is not None else select(*listing.model.__table__.columns)
    if scope is not None:
        stmt = stmt.where(scope)
    for name, values in q.filters.items():
        spec = filters.get(name)
        if spec is None:
            continue  # Neutron ignores filters on attributes it does not filter by
        col, coerce = spec
        vals = [coerce(v) if coerce else v for v in values]
        if callable(col) and not hasattr(col, "in_"):
            stmt = stmt.where(col(vals))
        else:
            stmt = stmt.where(col.in_(vals) if len(vals) > 1 else col == vals[0])
    for clause in tag_clauses(listing.id_column, q.tags):
        stmt = stmt.where(clause)
    return list(s.execute(apply(stmt, listing, q.page, s)))


def set_tags(s: Session, resource_type: str, rid: str, tags: Sequence[str]) -> None:
    s.execute(delete(Tag).where(Tag.resource_id == rid))
    for t in dict.fromkeys(tags):
        s.add(Tag(resource_id=rid, tag=t, resource_type=resource_type))


class Part:
    """One part of the manager: its database and the notifier that announces its changes."""

    #: The quotas part (set by the manager); ``charge`` is a no-op without it.
    quotas: Any = None
    #: The agents part (set by the manager): port bindings.
    agents: Any = None
    #: The QoS part (set by the manager): the policies ports and networks are bound to.
    qos: Any = None
    #: Tells compute a server's port changed (``network-changed``), after the commit (set by the service).
    network_changed: Callable[[dict[str, Any]], None] | None = None
    #: ``(method, args)`` fanned out to the agents after a commit (set by the service once the bus runs).
    agent_fanout: Callable[[str, dict[str, Any]], None] | None = None

    def __init__(self, db: Database, notifier: Notifier) -> None:
        self.db = db
        self.notifier = notifier

    def tell_agents(self, method: str, args: dict[str, Any]) -> None:
        """After the commit: tell every agent (``port_update``, ``security_groups_rule_updated``…)."""
        if self.agent_fanout is not None:
            self.agent_fanout(method, args)

    def charge(self, s: Session, project_id: str, resource: str) -> None:
        """In a create's transaction: 409 ``OverQuota`` when the project has no room for one more."""
        if self.quotas is not None:
            self.quotas.charge(s, project_id, resource)

    def notify(self, event: str, payload: dict[str, Any]) -> None:
        """After the commit: Neutron's ``<resource>.<action>.end`` with the resource."""
        self.notifier.emit(event, payload)
