"""Shared plumbing of the identity manager: database, clock, hashing, cache generation."""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import hmac
import logging
import math
import os
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import wraps
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import bcrypt
from sqlalchemy import select
from sqlalchemy.orm import Session

from litestack.common import errors
from litestack.common.config import Config
from litestack.common.context import get_current
from litestack.common.db import Database, NeedsIO, io_forbidden
from litestack.common.events import Events
from litestack.identity import models as m

if TYPE_CHECKING:
    from litestack.identity.manager.appcreds import CredentialManager
    from litestack.identity.manager.assignment import AssignmentManager
    from litestack.identity.manager.revoke import RevokeManager

LOG = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")
PartT = TypeVar("PartT", bound="Part")

#: ``listener(resource_type, operation, payload)`` for each committed change (see ``announces``).
ChangeListener = Callable[[str, str, dict[str, Any]], object]


def announces(resource_type: str, operation: str) -> Callable[[Callable[Concatenate[PartT, P], T]],
                                                               Callable[Concatenate[PartT, P], T]]:
    """Keystone's basic notification of a part's method: once the method has returned (its write
    transaction committed), ``identity.<resource_type>.<operation>`` with ``{"resource_info": id}``
    goes to the shared change listeners (the service puts them on the bus). The id is the created
    row's (the method's result, or the first item of a tuple result) or, for updates and deletes,
    the method's first argument. A method that raises announces nothing."""

    def decorate(fn: Callable[Concatenate[PartT, P], T]) -> Callable[Concatenate[PartT, P], T]:
        @wraps(fn)
        def announced(self: PartT, *args: P.args, **kwargs: P.kwargs) -> T:
            result = fn(self, *args, **kwargs)
            row = result[0] if isinstance(result, tuple) else result
            rid = getattr(row, "id", None) if operation == "created" else (args[0] if args else None)
            self.shared.changed(resource_type, operation, {"resource_info": rid})
            return result
        return announced
    return decorate


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


# Marks hashes made by pre-hashing (see ``Hasher``); a hash without it is plain bcrypt of the
# first 72 bytes, as every hash was before.
PREHASH_MARK = "$ls-hmac-sha256$"


def _prehash(password: bytes, salt: bytes) -> bytes:
    """The password as bcrypt sees it: HMAC-SHA256 keyed by the bcrypt salt, in base64 (44 bytes).

    bcrypt reads only 72 bytes of its input, so long passwords that share their first 72 bytes
    would be equal. The digest keeps every byte significant. It is keyed by the salt, as passlib's
    bcrypt_sha256 (version 2) does, so that a bare SHA-256 of the password leaked elsewhere cannot
    be tried against the hash.
    """
    return base64.b64encode(hmac.new(salt, password, hashlib.sha256).digest())


class Busy(errors.TooManyRequests):
    """Raised when a source already has as many password checks waiting as it may, or when the
    queue is full: answered 429 at once instead of holding a thread."""

    def __init__(self, message: str = "Too many authentication attempts are in progress; retry later.") -> None:
        super().__init__(message)
        self.headers = {"Retry-After": "1"}  # a check takes a fraction of a second


class FairSlots:
    """At most ``slots`` password checks run at once; waiting ones are served one source at a time
    in turn (round-robin), so a source with 200 attempts in flight delays another source's login by
    about one check, not 200.

    A source may have at most ``per_source`` checks waiting and all sources together ``total``;
    beyond that ``acquire`` raises ``Busy`` at once. Waiting blocks a worker thread, and the
    thread pool serves every other request too, so the queue must stay short.
    """

    def __init__(self, slots: int, per_source: int = 8, total: int = 24, wait: float = 30.0) -> None:
        self.per_source = per_source
        self.total = total
        self.wait = wait
        self._lock = threading.Lock()
        self._free = slots
        # Sources in turn order; each with its waiters, first come first served.
        self._queues: OrderedDict[str, deque[threading.Event]] = OrderedDict()
        self._waiting = 0

    def admit(self, source: str) -> None:
        """Raise ``Busy`` now if ``acquire`` would: lets a caller refuse before doing other work."""
        with self._lock:
            self._refuse_if_full(source)

    def _refuse_if_full(self, source: str) -> None:
        queue = self._queues.get(source)
        if (queue is not None and len(queue) >= self.per_source) or self._waiting >= self.total:
            raise Busy()

    def acquire(self, source: str) -> None:
        with self._lock:
            if self._free > 0 and not self._queues:
                self._free -= 1
                return
            self._refuse_if_full(source)
            queue = self._queues.get(source)
            ticket = threading.Event()
            if queue is None:
                queue = self._queues[source] = deque()
            queue.append(ticket)
            self._waiting += 1
        if ticket.wait(self.wait):
            return
        with self._lock:
            if ticket.is_set():  # granted just as the wait ran out
                return
            queue.remove(ticket)
            self._waiting -= 1
            if not queue and self._queues.get(source) is queue:
                del self._queues[source]
        raise Busy()

    def release(self) -> None:
        with self._lock:
            if not self._queues:
                self._free += 1
                return
            source, queue = self._queues.popitem(last=False)
            ticket = queue.popleft()
            self._waiting -= 1
            if queue:
                self._queues[source] = queue  # back of the line: the other sources go first
            ticket.set()  # the slot passes straight to the waiter

    @contextlib.contextmanager
    def held(self, source: str) -> Iterator[None]:
        self.acquire(source)
        try:
            yield
        finally:
            self.release()


def request_source() -> str:
    """Who is asking, for fairness and throttling: the client address of the current request."""
    ctx = get_current()
    return (ctx.remote_addr if ctx is not None else None) or "-"


class Hasher:
    """bcrypt hashing off the event loop: at most one check per core at once, shared fairly.

    New hashes pre-hash the password (``_prehash``) and carry ``PREHASH_MARK``, so passwords longer
    than bcrypt's 72 bytes count whole; hashes made before keep verifying as they were made.
    """

    def __init__(self, rounds: int, workers: int = 0, per_source: int = 8, queue: int = 24) -> None:
        self.rounds = rounds
        # bcrypt releases the GIL, so checks in worker threads use every core; at most one per core
        # runs at a time, so a burst of logins queues here instead of starving token validation.
        self.slots = FairSlots(workers or os.cpu_count() or 2, per_source, queue)
        # A hash of a random string: verifying it costs the same as a real check, so an unknown
        # user takes as long to refuse as a wrong password. Made in the background: it costs a
        # whole bcrypt round, which start-up should not wait for.
        self._dummy_ready = threading.Event()
        self._dummy = ""
        threading.Thread(target=self._make_dummy, name="bcrypt-dummy", daemon=True).start()
        # Whatever way the process ends (a start-up that fails before close() is called, too), let
        # the thread leave bcrypt first: a daemon thread inside it at exit aborts the interpreter
        # ("FATAL: exception not rethrown").
        atexit.register(self._dummy_ready.wait, 30)

    def _make_dummy(self) -> None:
        self._dummy = self._hash(os.urandom(16).hex())
        self._dummy_ready.set()

    def _hash(self, password: str) -> str:
        salt = bcrypt.gensalt(self.rounds)  # b"$2b$12$" and 22 characters of salt
        return PREHASH_MARK + bcrypt.hashpw(_prehash(password.encode(), salt[7:29]), salt).decode()

    def _check(self, password: str, hashed: str) -> bool:
        try:
            if hashed.startswith(PREHASH_MARK):
                inner = hashed[len(PREHASH_MARK):].encode()
                return bcrypt.checkpw(_prehash(password.encode(), inner[7:29]), inner)
            # A hash from before pre-hashing: bcrypt of the first 72 bytes, as it was made.
            return bcrypt.checkpw(password.encode()[:72], hashed.encode())
        except ValueError:
            return False

    def admit(self) -> None:
        """Raise ``Busy`` (429) at once if the caller's address has its share of checks waiting."""
        self.slots.admit(request_source())

    def hash(self, password: str) -> str:
        with self.slots.held(request_source()):
            return self._hash(password)

    def check(self, password: str, hashed: str) -> bool:
        with self.slots.held(request_source()):
            return self._check(password, hashed)

    def close(self) -> None:
        """Let the dummy hash finish: a daemon thread still inside bcrypt when the interpreter
        exits aborts the process ("FATAL: exception not rethrown"), e.g. after a short CLI command."""
        self._dummy_ready.wait(timeout=30)

    def burn(self, password: str) -> None:
        """Spend one verification's worth of time, for the unknown-user path."""
        self._dummy_ready.wait()
        with self.slots.held(request_source()):
            self._check(password, self._dummy)


class FailureThrottle:
    """Failed logins counted per source address and per user name over a sliding window.

    Past the limit, ``check`` refuses at once (429 with ``Retry-After``) without a password
    check, so guessing costs the server nothing more; unknown user names are counted like real
    ones, so the answer says nothing about which names exist. Counts live in this process.
    """

    MAX_KEYS = 100_000

    def __init__(self, per_source: int, per_user: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = {"source": per_source, "user": per_user}
        self.window = window
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def check(self, source: str | None = None, user: str | None = None) -> None:
        now = self.clock()
        with self._lock:
            for kind, name in (("source", source), ("user", user)):
                limit = self.limits[kind]
                if name is None or not limit:
                    continue
                times = self._recent((kind, name), now)
                if len(times) >= limit:
                    err = errors.TooManyRequests(
                        "Too many failed authentication attempts; retry later.")
                    err.headers = {"Retry-After": str(max(1, math.ceil(times[0] + self.window - now)))}
                    raise err

    def failed(self, source: str | None = None, user: str | None = None) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) >= self.MAX_KEYS:
                for key in list(self._failures):
                    self._recent(key, now)
                if len(self._failures) >= self.MAX_KEYS:
                    self._failures.clear()  # a flood of distinct names: forget rather than grow
            for kind, name in (("source", source), ("user", user)):
                limit = self.limits[kind]
                if name is None or not limit:
                    continue
                times = self._failures.setdefault((kind, name), deque())
                times.append(now)
                while len(times) > limit:
                    times.popleft()

    def succeeded(self, user: str) -> None:
        with self._lock:
            self._failures.pop(("user", user), None)


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


class Shared:
    """What every part of the identity manager shares: the database, the configuration, the
    password hasher, the clock, the cache generation (and the memo it guards), the failed-secret
    throttle and the events that carry cascades between the parts."""

    def __init__(self, db: Database, conf: Config, hasher: Hasher,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.conf = conf
        self.hasher = hasher
        self.now = clock
        self.generation = Generation(db)
        # Failed secrets (logins, self-service password changes) per client address and user name.
        self.throttle = FailureThrottle(self.opt("auth_failures_per_source"), self.opt("auth_failures_per_user"),
                                        self.opt("auth_failure_window"))
        self._memo: dict[Any, tuple[tuple[int, int], Any]] = {}
        #: Cascades between the parts: "domain.deleted", "project.deleted", "user.deleted",
        #: "group.deleted" (wired in ``litestack.identity.manager.Manager``).
        self.events = Events()
        #: Told of every committed create, update and delete (``announces``); the service's
        #: notifier is one, so each change is announced on the bus as Keystone announces it.
        self.change_listeners: list[ChangeListener] = []

    def changed(self, resource_type: str, operation: str, payload: dict[str, Any]) -> None:
        for listener in self.change_listeners:
            try:
                listener(resource_type, operation, payload)
            except Exception:  # the change is committed; a listener's failure must not fail it
                LOG.exception("change listener failed for %s.%s", resource_type, operation)

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


class Part:
    """One part of the identity manager (``litestack.identity.manager.Manager`` builds them in
    dependency order). It reaches the shared state through these handles; the other parts it uses
    are arguments of its constructor, kept as attributes named as the manager names them
    (``self.revocation``, ``self.assignments``, ...)."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.db = shared.db
        self.conf = shared.conf
        self.hasher = shared.hasher
        self.now = shared.now
        self.generation = shared.generation
        self.throttle = shared.throttle
        self.events = shared.events
        self.opt = shared.opt
        self.write = shared.write
        self.memo = shared.memo


class DelegationPart(Part):
    """A part that delegates a user's roles (trusts, OAuth1 access tokens): it reads the user's
    roles from ``assignments``, deletes the credentials made through a delegation with
    ``credentials`` and revokes the tokens issued through one with ``revocation``."""

    def __init__(self, shared: Shared, revocation: RevokeManager, assignments: AssignmentManager,
                 credentials: CredentialManager) -> None:
        super().__init__(shared)
        self.revocation = revocation
        self.assignments = assignments
        self.credentials = credentials


class _WriteScope:
    def __init__(self, mgr: Shared) -> None:
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
        raise errors.NotFound.of(kind, ident)
    return obj
