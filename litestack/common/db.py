"""Database engine, sessions and migrations, shared by every service.

Each service owns one database. SQLite (the default) runs in WAL mode with a
busy timeout, and writes are serialized inside the process by a lock, so a
burst of concurrent writers queues instead of failing with "database is
locked". PostgreSQL and MariaDB are used by URL and rely on their own locking.

Business code is synchronous SQLAlchemy; async API handlers run it through
``run_blocking``, the one way off the event loop (a worker thread, or with
``inline_first`` the loop itself when the code needs no I/O), so the event loop
never blocks; ``Database.reader`` and ``Database.writer`` are the sessions.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import DateTime, create_engine, event, text
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from litestack.common.errors import Conflict, ServiceUnavailable, StartupError

LOG = logging.getLogger(__name__)
T = TypeVar("T")

#: The column type for every timestamp: naive UTC with microseconds on all three databases.
#: MySQL/MariaDB's DATETIME keeps whole seconds unless declared DATETIME(6), which would, for
#: one, let a token issued in the same second before a revocation event survive it.
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


#: Seconds a request waits for a pooled database connection before it is answered 503.
DB_TIMEOUT = 10


def service_url(template: str, service: str, data_dir: Path) -> str:
    """The database URL of one service from the ``database_url`` template."""
    if not template:
        return f"sqlite:///{data_dir / (service + '.db')}"
    return template.replace("{service}", service)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=8, max_overflow=16)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Take transaction control from pysqlite, so that writers can BEGIN IMMEDIATE (below).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # A writer takes the write lock when it starts, not when it first writes: otherwise two
            # processes that both read first would deadlock on the upgrade, and SQLite answers that
            # with an immediate "database is locked" that busy_timeout does not cover.
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    # Bounded waits: with the server gone a request fails with 503 in seconds instead of hanging
    # for the kernel's TCP timeouts (minutes), and a load balancer sees /healthcheck fail.
    if url.startswith(("mysql", "mariadb")):
        return create_engine(url, pool_pre_ping=True, pool_recycle=3600, pool_size=10, max_overflow=20,
                             pool_timeout=DB_TIMEOUT,
                             connect_args={"connect_timeout": 5, "read_timeout": 30, "write_timeout": 30})
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, pool_timeout=DB_TIMEOUT,
                         connect_args={"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 10,
                                       "keepalives_interval": 3, "keepalives_count": 3,
                                       "tcp_user_timeout": 30_000})


class Database:
    """One service's database: engine, session factory, write serialization."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = url.startswith("sqlite")
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        writer_bind = self.engine.execution_options(sqlite_begin="IMMEDIATE") if self.is_sqlite else self.engine
        self._write_sessions = sessionmaker(writer_bind, expire_on_commit=False)
        self._write_lock = threading.Lock() if self.is_sqlite else None

    @contextlib.contextmanager
    def reader(self) -> Iterator[Session]:
        """A session for reads. Closing it (not rolling back) keeps loaded objects usable.

        A database that cannot be reached (or a pool with no free connection in ``DB_TIMEOUT``
        seconds) is ``ServiceUnavailable`` (503), never a 500.
        """
        if _inline.get():
            # Inline on the event loop (``run_blocking(..., inline_first=True)``) a query would block
            # it: the caller is run again in a worker thread. So any getter may be tried inline, and
            # only memoized reads stay there.
            raise NeedsIO("database read")
        try:
            with self._sessions() as session:
                yield session
        except (OperationalError, InterfaceError, SATimeoutError) as exc:
            LOG.error("database read failed: %s", getattr(exc, "orig", None) or exc)
            raise ServiceUnavailable("The database is unavailable.") from exc

    @contextlib.contextmanager
    def writer(self) -> Iterator[Session]:
        """A session committed at the end, or rolled back on any exception."""
        if _inline.get():
            raise NeedsIO("database write")
        lock = self._write_lock
        if lock is not None:
            lock.acquire()
        try:
            with self._write_sessions() as session:
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        except IntegrityError as exc:
            # A unique or foreign key the code did not check first (or a concurrent writer won the
            # race after the check): the request conflicts with stored state, it is not a 500.
            LOG.info("database write refused: %s", exc.orig)
            raise Conflict("Conflict occurred attempting to store the resource: it conflicts with "
                           "what is stored (a duplicate, or a reference that changed meanwhile).") from exc
        except (OperationalError, InterfaceError, SATimeoutError) as exc:
            LOG.error("database write failed: %s", getattr(exc, "orig", None) or exc)
            raise ServiceUnavailable("The database is unavailable.") from exc
        finally:
            if lock is not None:
                lock.release()

    def dispose(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def lock(self, name: str, timeout: float = 120) -> Iterator[None]:
        """An exclusive lock of every process sharing this database (start-up: migrations,
        bootstrap), so that hosts starting at the same time on an empty database take turns.

        PostgreSQL: a session advisory lock; MySQL/MariaDB: ``GET_LOCK``; SQLite (one host): a
        file lock next to the database file. Raises ``StartupError`` after ``timeout`` seconds.
        """
        if self.is_sqlite:
            import fcntl

            path = self.engine.url.database
            if not path or path == ":memory:":
                yield
                return
            with open(f"{path}.lock", "a") as f:
                deadline = time.monotonic() + timeout
                while True:
                    try:
                        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            raise StartupError(f"timed out waiting for the lock {name!r}") from None
                        time.sleep(0.05)
                try:
                    yield
                finally:
                    fcntl.flock(f, fcntl.LOCK_UN)
            return
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "postgresql":
                key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
                conn.execute(text("SELECT set_config('lock_timeout', :ms, false)"), {"ms": f"{int(timeout * 1000)}ms"})
                try:
                    conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
                except OperationalError as exc:
                    raise StartupError(f"timed out waiting for the lock {name!r}") from exc
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
            else:
                got = conn.execute(text("SELECT GET_LOCK(:n, :t)"), {"n": name[:64], "t": int(timeout)}).scalar()
                if got != 1:
                    raise StartupError(f"timed out waiting for the lock {name!r}")
                try:
                    yield
                finally:
                    conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": name[:64]})


class NeedsIO(Exception):
    """Raised by code running inline on the event loop (see ``run_blocking``) that would need I/O,
    e.g. on a cache miss; ``run_blocking`` then runs it again in a worker thread."""


_inline: contextvars.ContextVar[bool] = contextvars.ContextVar("litestack_inline", default=False)


def io_forbidden() -> bool:
    """Whether the caller runs inline on the event loop, where it must raise ``NeedsIO`` rather
    than block."""
    return _inline.get()


async def run_blocking(fn: Callable[..., T], *args: Any, inline_first: bool = False) -> T:
    """Run blocking code (database, hashing) off the event loop: the only way handlers leave it.

    With ``inline_first`` the call is tried on the event loop first, with I/O forbidden: code that
    needs only memoized data (token validation with warm caches takes tens of microseconds) is
    cheaper than the thread hop, and a miss raises ``NeedsIO`` and runs in a worker thread.
    """
    if inline_first:
        tok = _inline.set(True)
        try:
            return fn(*args)
        except NeedsIO:
            pass
        finally:
            _inline.reset(tok)
    return await anyio.to_thread.run_sync(fn, *args)


def upgrade(db: Database, migrations_pkg: str, base: type[DeclarativeBase], service: str | None = None) -> None:
    """Apply the service's Alembic migrations up to head (idempotent).

    Each service keeps its revision in its own table, ``alembic_version_<service>``, so that
    services can share one database (a ``database_url`` without ``{service}``). A database made
    before that keeps its revision in ``alembic_version``; it is moved over on first start.
    """
    import importlib

    from alembic import command
    from alembic.config import Config as AlembicConfig

    pkg = importlib.import_module(migrations_pkg)
    script_dir = Path(pkg.__file__ or "").parent
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(script_dir))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    cfg.attributes["target_metadata"] = base.metadata
    table = f"alembic_version_{service}" if service else "alembic_version"
    cfg.attributes["version_table"] = table
    lock = db._write_lock
    try:
        # Hosts that start together on an empty database migrate one after the other; the later
        # ones find the schema at head and do nothing.
        with db.lock(f"litestack-migrate-{pkg.__name__}"):
            if lock is not None:
                lock.acquire()
            try:
                with db.engine.begin() as conn:
                    if service:
                        _adopt_legacy_version(conn, cfg, table)
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
            finally:
                if lock is not None:
                    lock.release()
    except OperationalError as exc:
        raise StartupError(f"cannot reach the database {redact(db.url)}: {_reason(exc)}") from None


def _adopt_legacy_version(conn: Any, cfg: Any, table: str) -> None:
    """Move this service's revision from the shared ``alembic_version`` table to its own."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import Column, MetaData, String, Table, inspect, text

    names = set(inspect(conn).get_table_names())
    if table in names or "alembic_version" not in names:
        return
    script = ScriptDirectory.from_config(cfg)
    known = {rev.revision for rev in script.walk_revisions()}
    rows = [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]
    mine = [v for v in rows if v in known]
    if not mine:
        return
    own = Table(table, MetaData(), Column("version_num", String(32), primary_key=True))
    own.create(conn)
    conn.execute(own.insert(), [{"version_num": v} for v in mine])
    for v in mine:
        conn.execute(text("DELETE FROM alembic_version WHERE version_num = :v"), {"v": v})
    if len(mine) == len(rows):
        conn.execute(text("DROP TABLE alembic_version"))


def redact(url: str) -> str:
    """A database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _reason(exc: OperationalError) -> str:
    """The driver's first line (``connection refused``), without SQLAlchemy's boilerplate."""
    return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
