"""Keys shared by several identity hosts through their common database.

With ``[identity] key_store = "database"`` the Fernet token keys, the auth-receipt keys, the
credential keys and the cloud's generated passwords live in the ``stored_key`` table, each
encrypted under the master key every host is given (``[identity] master_key``, a Fernet key made
by ``litestack identity new-master-key``). Why the database and not copied files: the hosts
already share it, so a rotation on any host reaches every other host within ``poll`` seconds
with nothing to copy, a new host needs only the master key and the database URL, and a stolen
database dump alone reveals no key.

``DatabaseKeyRepository`` has the interface of the file-based ``KeyRepository`` (index 0 is the
staged key, the highest the primary), so the token and credential code does not know which it
uses. ``keys()`` is called for every token: it returns a copy refreshed by a background thread,
never touching the database itself.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, select

from litestack.common import errors
from litestack.common.db import Database
from litestack.common.errors import ConfigError
from litestack.identity import models as m
from litestack.identity.keys import STAGED_INDEX, KeyStore

LOG = logging.getLogger(__name__)


def master_fernet(master_key: str) -> Fernet:
    if not master_key:
        raise ConfigError('[identity] key_store = "database" needs [identity] master_key, the same on every '
                          "host (make one with `litestack identity new-master-key`)")
    try:
        return Fernet(master_key.encode())
    except ValueError:
        raise ConfigError("[identity] master_key is not a valid key (make one with "
                          "`litestack identity new-master-key`)") from None


class DatabaseKeyRepository:
    """One set of Fernet keys in the shared database (see the module docstring)."""

    def __init__(self, db: Database, name: str, max_active_keys: int, master_key: str, poll: float = 1.0) -> None:
        if max_active_keys < 2:
            raise ValueError(f"max_active_keys must be at least 2, got {max_active_keys}")
        self.db = db
        self.name = name
        self.path = f"database:{name}"  # for messages, where the file repository prints its directory
        self.max_active_keys = max_active_keys
        self.poll = poll
        self._master = master_fernet(master_key)
        self._keys: tuple[bytes, ...] = ()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    # --- readers ---------------------------------------------------------------------------

    def exists(self) -> bool:
        with self.db.reader() as s:
            return s.scalar(select(m.StoredKey.idx).where(m.StoredKey.repo == self.name).limit(1)) is not None

    def load(self) -> list[bytes]:
        """Every key, primary first, then secondaries newest to oldest, then the staged key."""
        with self.db.reader() as s:
            rows = {r.idx: r.value for r in s.scalars(select(m.StoredKey).where(m.StoredKey.repo == self.name))}
        if not rows:
            raise ConfigError(f"no keys in {self.path}; it has not been set up")
        by_index: dict[int, bytes] = {}
        for idx, value in rows.items():
            try:
                by_index[idx] = self._master.decrypt(value.encode())
            except InvalidToken:
                raise ConfigError(f"the keys in {self.path} are not encrypted with this host's [identity] "
                                  f"master_key: every host needs the same one") from None
        ordered = [by_index[i] for i in sorted(by_index, reverse=True) if i != STAGED_INDEX]
        if STAGED_INDEX in by_index:
            ordered.append(by_index[STAGED_INDEX])
        self._keys = tuple(ordered)
        return ordered

    def keys(self) -> list[bytes]:
        """The keys as last read: at most ``poll`` seconds old; no I/O on this path."""
        if not self._keys:
            self.load()
            self._start_poller()
        return list(self._keys)

    def _start_poller(self) -> None:
        if self._poller is None and self.poll > 0:
            self._poller = threading.Thread(target=self._poll_loop, name=f"keys-{self.name}", daemon=True)
            self._poller.start()

    def _poll_loop(self) -> None:
        failing = False
        while not self._stop.wait(self.poll):
            try:
                self.load()
                if failing:
                    LOG.warning("key store %s readable again", self.path)
                failing = False
            except Exception as exc:  # the database may be down: keep the keys we have, say so once
                if not failing:
                    LOG.warning("cannot refresh %s (keeping the keys already loaded): %s", self.path, exc)
                failing = True

    def close(self) -> None:
        self._stop.set()

    # --- writers ---------------------------------------------------------------------------

    def setup(self) -> bool:
        """Create a primary and a staged key when the set is empty; True if it created them."""
        try:
            with self.db.writer() as s:
                if s.scalar(select(m.StoredKey.idx).where(m.StoredKey.repo == self.name).limit(1)) is not None:
                    return False
                s.add(self._row(1))
                s.add(self._row(STAGED_INDEX))
        except errors.Conflict:  # another host starting at the same moment made them first
            return False
        LOG.info("created keys %s", self.path)
        return True

    def rotate(self) -> int:
        """Promote the staged key, add a new staged key, drop the oldest beyond ``max_active_keys``."""
        with self.db.writer() as s:
            rows = list(s.scalars(select(m.StoredKey).where(m.StoredKey.repo == self.name)
                                  .with_for_update()))
            if not rows:
                raise ConfigError(f"no keys in {self.path}; it has not been set up")
            indices = sorted(r.idx for r in rows)
            staged = next((r for r in rows if r.idx == STAGED_INDEX), None)
            if staged is not None:
                new_primary = max(indices) + 1
                s.add(m.StoredKey(repo=self.name, idx=new_primary, value=staged.value))
                s.delete(staged)
                s.flush()
                indices = [i for i in indices if i != STAGED_INDEX] + [new_primary]
            else:
                new_primary = max(indices)
            s.add(self._row(STAGED_INDEX))
            numbered = sorted(indices, reverse=True)
            doomed = numbered[self.max_active_keys - 1:]
            if doomed:
                s.execute(delete(m.StoredKey).where(m.StoredKey.repo == self.name, m.StoredKey.idx.in_(doomed)))
        self.load()
        LOG.info("rotated keys %s; primary key is now %d", self.path, new_primary)
        return new_primary

    def _row(self, idx: int) -> m.StoredKey:
        return m.StoredKey(repo=self.name, idx=idx, value=self._master.encrypt(Fernet.generate_key()).decode())


class DatabaseSecrets:
    """The cloud's generated passwords (``secrets.json``), shared through the database so that
    every host's bootstrap and clouds.yaml agree on them."""

    REPO = "secrets"

    def __init__(self, db: Database, master_key: str) -> None:
        self.db = db
        self._master = master_fernet(master_key)

    def merge(self, local: dict[str, Any], admin_password: str = "") -> dict[str, Any]:
        """The stored secrets if there are any, else ``local``, which is stored: the first host's
        choice wins, but for service users the store lacks and a configured ``admin_password``;
        callers hold the bootstrap lock."""
        with self.db.writer() as s:
            row = s.get(m.StoredKey, (self.REPO, 0))
            if row is not None:
                try:
                    stored: dict[str, Any] = json.loads(self._master.decrypt(row.value.encode()))
                except InvalidToken:
                    raise ConfigError("the shared secrets are not encrypted with this host's [identity] "
                                      "master_key: every host needs the same one") from None
                added = {k: v for k, v in local.get("service_passwords", {}).items()
                         if k not in stored.setdefault("service_passwords", {})}
                changed = bool(added) or (admin_password and stored.get("admin_password") != admin_password)
                if not changed:
                    return stored
                stored["service_passwords"].update(added)
                if admin_password:
                    stored["admin_password"] = admin_password
                row.value = self._master.encrypt(json.dumps(stored).encode()).decode()
                return stored
            s.add(m.StoredKey(repo=self.REPO, idx=0, value=self._master.encrypt(json.dumps(local).encode()).decode()))
            return local


def key_repository(conf: Any, db: Database, data_dir: Any, name: str) -> KeyStore:
    """The key set ``name`` as configured: a directory in DATA_DIR (``key_store = "files"``, one
    host) or rows of the shared database (``"database"``, several hosts)."""
    from litestack.identity.keys import KeyRepository

    ident = conf.section("identity")
    if ident["key_store"] == "database":
        return DatabaseKeyRepository(db, name, ident["max_active_keys"], ident["master_key"])
    return KeyRepository(data_dir / name, ident["max_active_keys"])
