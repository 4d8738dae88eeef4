"""Shared plumbing of the identity manager: database, clock, hashing, cache generation."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import bcrypt
from sqlalchemy import select
from sqlalchemy.orm import Session

from litestack.common import errors
from litestack.common.config import Config
from litestack.common.db import Database, NeedsIO, io_forbidden
from litestack.identity import models as m

LOG = logging.getLogger(__name__)
T = TypeVar("T")


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    """Naive UTC now (the database stores naive UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso(dt: datetime | None) -> str | None:
    """Keystone's timestamp format: ``2026-11-27T22:40:12.000000Z``."""
    if dt is None:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    # isoformat is several times cheaper than strftime, and this runs on every token validation.
    return dt.isoformat(timespec="microseconds") + "Z"


def parse_time(text: str) -> datetime:
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise errors.ValidationError(f"Invalid timestamp '{text}'.") from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


class Hasher:
    """bcrypt hashing on a dedicated thread pool: off the event loop, one thread per core."""

    def __init__(self, rounds: int, workers: int = 0) -> None:
        self.rounds = rounds
        # bcrypt releases the GIL, so checks in worker threads use every core; at most one per core
        # runs at a time, so a burst of logins queues here instead of starving token validation.
        self.slots = threading.BoundedSemaphore(workers or os.cpu_count() or 2)
        # A hash of a random string: verifying it costs the same as a real check, so an unknown
        # user takes as long to refuse as a wrong password. Made in the background: it costs a
        # whole bcrypt round, which start-up should not wait for.
        self._dummy_ready = threading.Event()
        self._dummy = b""
        threading.Thread(target=self._make_dummy, name="bcrypt-dummy", daemon=True).start()

    def _make_dummy(self) -> None:
        self._dummy = bcrypt.hashpw(os.urandom(16).hex().encode(), bcrypt.gensalt(self.rounds))
        self._dummy_ready.set()

    def hash(self, password: str) -> str:
        with self.slots:
            return bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(self.rounds)).decode()

    def check(self, password: str, hashed: str) -> bool:
        with self.slots:
            try:
                return bcrypt.checkpw(password.encode()[:72], hashed.encode())
            except ValueError:
                return False

    def close(self) -> None:
        """Let the dummy hash finish: a daemon thread still inside bcrypt when the interpreter
        exits aborts the process ("FATAL: exception not rethrown"), e.g. after a short CLI command."""
        self._dummy_ready.wait(timeout=30)

    def burn(self, password: str) -> None:
        """Spend one verification's worth of time, for the unknown-user path."""
        self._dummy_ready.wait()
        with self.slots:
            bcrypt.checkpw(password.encode()[:72], self._dummy)


class Generation:
    """A counter bumped on every write, read by caches to know when they are stale.

    In-process writes bump it at once; writes by another process (``litestack serve`` workers
    sharing PostgreSQL) are seen within ``poll`` seconds through the ``generation`` table.
    """

    def __init__(self, db: Database, poll: float = 1.0) -> None:
        self.db = db
        self.poll = poll
        self._local = 0
        self._remote = 0
        self._lock = threading.Lock()
        # Set by ``share()`` when several worker processes serve one database on one host.
        self._shared: Any = None
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._last_ok = time.monotonic()

    def bump(self, session: Session) -> None:
        row = session.get(m.Generation, 1)
        if row is None:
            session.add(m.Generation(id=1, value=1))
        else:
            row.value = row.value + 1
        self.incr()

    def incr(self) -> None:
        shared = self._shared
        if shared is not None:
            with shared.get_lock():
                shared.value += 1
        else:
            with self._lock:
                self._local += 1

    def share(self, counter: Any) -> None:
        """Use a counter in shared memory (``multiprocessing.Value``) so that sibling worker
        processes see each other's writes at once, with no I/O."""
        self._shared = counter

    @property
    def local(self) -> int:
        shared = self._shared
        return int(shared.value) if shared is not None else self._local

    def current(self) -> tuple[int, int]:
        """The generation now; no I/O (a background thread polls the table)."""
        if self._poller is None:
            self.refresh()
            self._poller = threading.Thread(target=self._poll, name="identity-generation", daemon=True)
            self._poller.start()
        return self.local, self._remote

    def refresh(self) -> None:
        with self.db.reader() as s:
            v = s.execute(select(m.Generation.value).where(m.Generation.id == 1)).scalar()
        self._remote = v or 0
        self._last_ok = time.monotonic()

    def healthy(self) -> bool:
        """Whether the database answered a poll lately (what ``/healthcheck`` reports; no I/O)."""
        return time.monotonic() - self._last_ok < max(3 * self.poll, 5.0)

    def _poll(self) -> None:
        down_since: float | None = None
        while not self._stop.wait(self.poll):
            try:
                self.refresh()
            except Exception as exc:  # a database outage must not kill the poller; the next poll retries
                if down_since is None:  # said once, not every second: an outage must not flood the log
                    down_since = time.monotonic()
                    LOG.error("identity database unreachable: %s (said once; its recovery is logged)",
                              str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                continue
            if down_since is not None:
                LOG.warning("identity database reachable again after %.0f s", time.monotonic() - down_since)
                down_since = None

    def close(self) -> None:
        self._stop.set()


class ManagerBase:
    """State every part of the identity manager shares."""

    def __init__(self, db: Database, conf: Config, hasher: Hasher,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.conf = conf
        self.hasher = hasher
        self.now = clock
        self.generation = Generation(db)
        self._memo: dict[Any, tuple[tuple[int, int], Any]] = {}
        self.on_revoke: list[Callable[[dict[str, Any]], object]] = []

    def opt(self, name: str) -> Any:
        return self.conf.get("identity", name)

    def write(self) -> Any:
        """A write session that also bumps the cache generation."""
        return _WriteScope(self)

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        """Memoize derived data until the next identity write.

        Run inline on the event loop (``run_blocking(..., inline_first=True)``), a miss raises
        ``NeedsIO`` instead of computing (which would query the database): ``run_blocking`` then
        runs the call again in a worker thread.
        """
        gen = self.generation.current()
        hit = self._memo.get(key)
        if hit is not None and hit[0] == gen:
            return hit[1]
        if io_forbidden():
            raise NeedsIO(key)
        value = compute()
        if len(self._memo) > 50000:
            self._memo.clear()
        self._memo[key] = (gen, value)
        return value

    # Provided by the parts of the manager (see ``litestack.identity.manager.Manager``).
    def revoke(self, **fields: Any) -> None:
        raise NotImplementedError

    def _delete_user_rows(self, s: Session, user: m.User) -> None:
        raise NotImplementedError

    def _delete_group_rows(self, s: Session, group: m.Group) -> None:
        raise NotImplementedError

    def _delete_trusts_of(self, s: Session, *, user_id: str | None = None, project_id: str | None = None) -> None:
        raise NotImplementedError


class _WriteScope:
    def __init__(self, mgr: ManagerBase) -> None:
        self.mgr = mgr
        self._cm: Any = None

    def __enter__(self) -> Session:
        self._cm = self.mgr.db.writer()
        session: Session = self._cm.__enter__()
        self.mgr.generation.bump(session)
        return session

    def __exit__(self, *exc: Any) -> Any:
        try:
            return self._cm.__exit__(*exc)
        finally:
            self.mgr.generation.incr()


def get_or_404(session: Session, model: type[Any], ident: str, kind: str) -> Any:
    obj = session.get(model, ident) if isinstance(ident, str) and len(ident) <= 255 else None
    if obj is None:
        raise errors.NotFound(f"Could not find {kind}: {ident}.")
    return obj
