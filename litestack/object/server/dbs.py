"""Account and container databases: one SQLite file per account and per container, per replica.

``<device>/containers/<partition>/<suffix>/<hash>/<hash>.db`` lists a container's objects (name,
timestamp, size, content type, ETag, deleted flag); ``<device>/accounts/…/<hash>.db`` lists an
account's containers with their object counts and bytes. Both keep their own metadata and their
put/delete timestamps in a one-row ``info`` table. Rows are merged by timestamp: an update older
than the row it would replace is ignored, so replicas converge whatever order updates arrive in.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_SCHEMA = {
    "container": """
        CREATE TABLE IF NOT EXISTS info (put_timestamp TEXT, delete_timestamp TEXT, metadata TEXT,
                                         account_update TEXT);
        CREATE TABLE IF NOT EXISTS objects (name TEXT PRIMARY KEY, created_at TEXT, size INTEGER,
                                            content_type TEXT, etag TEXT, deleted INTEGER);
    """,
    "account": """
        CREATE TABLE IF NOT EXISTS info (put_timestamp TEXT, delete_timestamp TEXT, metadata TEXT,
                                         account_update TEXT);
        CREATE TABLE IF NOT EXISTS containers (name TEXT PRIMARY KEY, put_timestamp TEXT,
                                               delete_timestamp TEXT, object_count INTEGER,
                                               bytes_used INTEGER, deleted INTEGER);
    """,
}


class _Connections:
    """Open SQLite connections by database path, least recently used closed beyond ``size``; each
    with a lock, since the storage server's threads share it."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._open: OrderedDict[Path, tuple[sqlite3.Connection, threading.Lock]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path) -> tuple[sqlite3.Connection, threading.Lock]:
        with self._lock:
            hit = self._open.get(path)
            if hit is not None:
                self._open.move_to_end(path)
                return hit
            conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            # Commits reach the WAL without an fsync each (a process crash loses nothing; a power
            # loss may lose the last listing updates, as Swift's unsynced .pending files can).
            # The objects themselves are fsynced by the object server.
            conn.execute("PRAGMA synchronous=NORMAL")
            made = self._open[path] = (conn, threading.Lock())
            while len(self._open) > self.size:
                _, (old, old_lock) = self._open.popitem(last=False)
                with old_lock:
                    old.close()
            return made

    def drop(self, path: Path) -> None:
        with self._lock:
            hit = self._open.pop(path, None)
        if hit is not None:
            with hit[1]:
                hit[0].close()


_CONNECTIONS = _Connections()


class Broker:
    """One account or container database (``kind`` is ``account`` or ``container``)."""

    def __init__(self, device_path: Path, kind: str, partition: int, name_hash: str) -> None:
        self.kind = kind
        self.path = device_path / f"{kind}s" / str(partition) / name_hash[-3:] / name_hash / f"{name_hash}.db"
        self.rows = "objects" if kind == "container" else "containers"

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def exists_now(self) -> bool:
        """Whether the database exists (a callable, for a thread)."""
        return self.path.exists()

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """This database's connection, kept open (closing the last connection of a WAL database
        checkpoints and fsyncs it: per request, that would cost more than the write itself)."""
        conn, lock = _CONNECTIONS.get(self.path)
        with lock:
            yield conn

    def initialize(self, timestamp: str) -> bool:
        """Create the database, or revive it with a newer put timestamp; True when it was new."""
        created = not self.exists
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as c:
            c.executescript(_SCHEMA[self.kind])
            c.execute("BEGIN IMMEDIATE")
            row = c.execute("SELECT put_timestamp, delete_timestamp FROM info").fetchone()
            if row is None:
                c.execute("INSERT INTO info VALUES (?, '0', '{}', NULL)", (timestamp,))
                created = True
            elif timestamp > row[0]:
                created = row[1] > row[0]  # a deleted one comes back
                c.execute("UPDATE info SET put_timestamp = ?", (timestamp,))
            c.execute("COMMIT")
        return created

    def info(self) -> dict[str, Any] | None:
        """Counts, timestamps and metadata; None when absent or deleted."""
        if not self.exists:
            return None
        with self.connect() as c:
            row = c.execute("SELECT put_timestamp, delete_timestamp, metadata, account_update FROM info").fetchone()
            if row is None:
                return None
            if self.kind == "container":
                count, used = c.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM objects "
                                        "WHERE deleted = 0").fetchone()
                extra = {"object_count": count, "bytes_used": used}
            else:
                n, count, used = c.execute("SELECT COUNT(*), COALESCE(SUM(object_count), 0), "
                                           "COALESCE(SUM(bytes_used), 0) FROM containers "
                                           "WHERE deleted = 0").fetchone()
                extra = {"container_count": n, "object_count": count, "bytes_used": used}
        put_ts, del_ts, meta, account_update = row
        return {"put_timestamp": put_ts, "delete_timestamp": del_ts, "metadata": json.loads(meta),
                "deleted": del_ts > put_ts, "account_update": json.loads(account_update or "null"), **extra}

    def set_account_update(self, where: dict[str, str]) -> None:
        with self.connect() as c:
            c.execute("UPDATE info SET account_update = ?", (json.dumps(where),))

    def update_metadata(self, updates: dict[str, tuple[str, str]]) -> None:
        """Merge ``{header: (value, timestamp)}``: a newer timestamp wins; an empty value removes."""
        with self.connect() as c:
            c.execute("BEGIN IMMEDIATE")
            meta = json.loads(c.execute("SELECT metadata FROM info").fetchone()[0])
            for key, (value, ts) in updates.items():
                old = meta.get(key)
                if old is None or ts >= old[1]:
                    meta[key] = [value, ts]
            meta = {k: v for k, v in meta.items() if v[0] != ""}
            c.execute("UPDATE info SET metadata = ?", (json.dumps(meta),))
            c.execute("COMMIT")

    def mark_deleted(self, timestamp: str) -> bool:
        """Delete an (empty) container or account; False when it still lists live rows."""
        with self.connect() as c:
            c.execute("BEGIN IMMEDIATE")
            if c.execute(f"SELECT 1 FROM {self.rows} WHERE deleted = 0 LIMIT 1").fetchone():  # noqa: S608
                c.execute("ROLLBACK")
                return False
            c.execute("UPDATE info SET delete_timestamp = ? WHERE delete_timestamp < ?", (timestamp, timestamp))
            c.execute("COMMIT")
        return True

    # --- rows ----------------------------------------------------------------------------------

    def put_object(self, name: str, timestamp: str, size: int, content_type: str, etag: str,
                   deleted: bool) -> None:
        with self.connect() as c:
            c.execute(
                "INSERT INTO objects VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "created_at = excluded.created_at, size = excluded.size, content_type = excluded.content_type, "
                "etag = excluded.etag, deleted = excluded.deleted WHERE excluded.created_at > objects.created_at",
                (name, timestamp, size, content_type, etag, int(deleted)))

    def put_container(self, name: str, put_ts: str, delete_ts: str, count: int, used: int) -> None:
        deleted = int(delete_ts > put_ts)
        with self.connect() as c:
            c.execute(
                "INSERT INTO containers VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "put_timestamp = MAX(put_timestamp, excluded.put_timestamp), "
                "delete_timestamp = MAX(delete_timestamp, excluded.delete_timestamp), "
                "object_count = excluded.object_count, bytes_used = excluded.bytes_used, "
                "deleted = MAX(excluded.put_timestamp, put_timestamp) < "
                "MAX(excluded.delete_timestamp, delete_timestamp)",
                (name, put_ts, delete_ts, count, used, deleted))

    def list(self, *, prefix: str = "", delimiter: str = "", marker: str = "", end_marker: str = "",
             limit: int = 10000, reverse: bool = False) -> list[dict[str, Any]]:
        """Listing rows in name order (or reversed), with pseudo-folders for ``delimiter``:
        ``{"subdir": "a/"}`` for every name that has the delimiter after the prefix."""
        out: list[dict[str, Any]] = []
        if self.kind == "container":
            cols = "name, created_at, size, content_type, etag"
        else:
            cols = "name, object_count, bytes_used, put_timestamp"
        # Swift compares names as UTF-8 bytes; SQLite's default BINARY collation on UTF-8 text does too.
        orig_marker = marker
        if reverse:
            marker, end_marker = end_marker, marker
        lo, hi = marker, end_marker
        with self.connect() as c:
            while len(out) < limit:
                q = f"SELECT {cols} FROM {self.rows} WHERE deleted = 0"  # noqa: S608
                args: list[Any] = []
                if prefix:
                    q += " AND name >= ? AND substr(name, 1, ?) = ?"
                    args += [prefix, len(prefix), prefix]
                if not reverse:
                    if lo:
                        q += " AND name > ?"
                        args.append(lo)
                    if hi:
                        q += " AND name < ?"
                        args.append(hi)
                else:
                    if hi:
                        q += " AND name < ?"
                        args.append(hi)
                    if lo:
                        q += " AND name > ?"
                        args.append(lo)
                q += f" ORDER BY name {'DESC' if reverse else 'ASC'} LIMIT ?"
                args.append(limit - len(out))
                rows = c.execute(q, args).fetchall()
                if not rows:
                    break
                restart = False
                for row in rows:
                    name = row[0]
                    if delimiter:
                        cut = name.find(delimiter, len(prefix))
                        if cut >= 0:
                            sub = name[:cut + len(delimiter)]
                            if sub != orig_marker and (not out or out[-1].get("subdir") != sub):
                                out.append({"subdir": sub})
                            # Skip the rest of that pseudo-folder in one step.
                            if reverse:
                                hi = sub
                            else:
                                lo = sub + "\U0010ffff"
                            restart = True
                            break
                    out.append(self._row(row))
                    if reverse:
                        hi = name
                    else:
                        lo = name
                    if len(out) >= limit:
                        break
                if not restart and len(rows) < limit:
                    break
        return out[:limit]

    def _row(self, row: tuple[Any, ...]) -> dict[str, Any]:
        if self.kind == "container":
            return {"name": row[0], "created_at": row[1], "bytes": row[2], "content_type": row[3],
                    "hash": row[4]}
        return {"name": row[0], "count": row[1], "bytes": row[2], "put_timestamp": row[3]}

    # --- replication -----------------------------------------------------------------------------

    def _columns(self) -> str:
        return ("name, created_at, size, content_type, etag, deleted" if self.kind == "container"
                else "name, put_timestamp, delete_timestamp, object_count, bytes_used, deleted")

    def dump(self) -> dict[str, Any] | None:
        """Everything a replica needs to merge this database: its info and all its rows (deleted
        ones too: they are how a delete reaches the other replicas)."""
        if not self.exists:
            return None
        with self.connect() as c:
            row = c.execute("SELECT put_timestamp, delete_timestamp, metadata, account_update FROM info").fetchone()
            if row is None:
                return None
            rows = c.execute(f"SELECT {self._columns()} FROM {self.rows} ORDER BY name").fetchall()  # noqa: S608
        return {"put_timestamp": row[0], "delete_timestamp": row[1], "metadata": json.loads(row[2]),
                "account_update": json.loads(row[3] or "null"), "rows": [list(r) for r in rows]}

    def digest(self) -> str | None:
        """An md5 of ``dump()``: equal on two replicas exactly when they hold the same."""
        d = self.dump()
        if d is None:
            return None
        return hashlib.md5(json.dumps(d, sort_keys=True).encode(), usedforsecurity=False).hexdigest()

    def merge(self, d: dict[str, Any]) -> None:
        """Merge another replica's ``dump()``: newest timestamps win, row by row."""
        self.initialize(d["put_timestamp"])
        with self.connect() as c:
            c.execute("BEGIN IMMEDIATE")
            c.execute("UPDATE info SET delete_timestamp = ? WHERE delete_timestamp < ?",
                      (d["delete_timestamp"], d["delete_timestamp"]))
            if d.get("account_update"):
                c.execute("UPDATE info SET account_update = ? WHERE account_update IS NULL",
                          (json.dumps(d["account_update"]),))
            c.execute("COMMIT")
        if d["metadata"]:
            self.update_metadata({k: (v[0], v[1]) for k, v in d["metadata"].items()})
        with self.connect() as c:
            c.execute("BEGIN IMMEDIATE")
            if self.kind == "container":
                c.executemany(
                    "INSERT INTO objects VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                    "created_at = excluded.created_at, size = excluded.size, "
                    "content_type = excluded.content_type, etag = excluded.etag, deleted = excluded.deleted "
                    "WHERE excluded.created_at > objects.created_at", d["rows"])
            else:
                c.executemany(
                    "INSERT INTO containers VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                    "put_timestamp = MAX(put_timestamp, excluded.put_timestamp), "
                    "delete_timestamp = MAX(delete_timestamp, excluded.delete_timestamp), "
                    "object_count = CASE WHEN excluded.put_timestamp >= put_timestamp "
                    "THEN excluded.object_count ELSE object_count END, "
                    "bytes_used = CASE WHEN excluded.put_timestamp >= put_timestamp "
                    "THEN excluded.bytes_used ELSE bytes_used END, "
                    "deleted = MAX(excluded.put_timestamp, put_timestamp) < "
                    "MAX(excluded.delete_timestamp, delete_timestamp)", d["rows"])
            c.execute("COMMIT")

    def reclaim(self, before: str) -> int:
        """Forget rows deleted before ``before`` (a timestamp): every replica has had time to
        hear of the delete by then (Swift's reclaim age)."""
        if not self.exists:
            return 0
        col = "created_at" if self.kind == "container" else "delete_timestamp"
        with self.connect() as c:
            cur = c.execute(f"DELETE FROM {self.rows} WHERE deleted = 1 AND {col} < ?", (before,))  # noqa: S608
            return cur.rowcount

    def close(self) -> None:
        """Close this database's kept connection (before its file is removed)."""
        _CONNECTIONS.drop(self.path)
