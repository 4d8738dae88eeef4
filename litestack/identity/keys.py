"""Fernet key repository: a directory of key files named by integer index.

Index 0 is the *staged* key: every node already has it, so it can be promoted
to primary without a window in which other nodes reject the new tokens. The
highest index is the *primary* key, used to encrypt. Every other index is a
*secondary* key, kept only to decrypt tokens issued before a rotation.

Writers (``setup`` and ``rotate``) serialise on an ``flock`` of the directory
and replace files atomically, so readers in other processes never see a
half-written key. Readers use ``keys()``, which re-reads the files only when
the directory changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.fernet import Fernet

from litestack.common.errors import ConfigError

LOG = logging.getLogger(__name__)

STAGED_INDEX = 0

_TMP_PREFIX = ".tmp-"
# Directory mtimes come from a coarse clock (a few ms on Linux, up to 2 s on
# some filesystems). Two changes inside one tick leave the mtime unchanged, so
# a cache stamp this close to the time it was taken is re-checked against the
# directory listing rather than trusted.
_RACY_WINDOW_NS = 2_000_000_000
_READ_ATTEMPTS = 5

# (index, inode) of each key file, sorted by index. Writers never modify a key
# file in place and every rotation adds a never-used index, so this changes on
# every setup, rotation and prune.
_Listing = tuple[tuple[int, int], ...]
# (st_dev, st_ino, st_mtime_ns) of the directory.
_Stamp = tuple[int, int, int]


@dataclass(frozen=True)
class _Cache:
    stamp: _Stamp
    listing: _Listing
    keys: tuple[bytes, ...]
    trusted: bool


class KeyStore(Protocol):
    """A set of Fernet keys: this module's ``KeyRepository`` (a directory, one host) or
    ``keystore.DatabaseKeyRepository`` (the shared database, several hosts)."""

    @property
    def path(self) -> object: ...

    def exists(self) -> bool: ...

    def load(self) -> list[bytes]: ...

    def keys(self) -> list[bytes]: ...

    def setup(self) -> bool: ...

    def rotate(self) -> int: ...


def _key_index(name: str) -> int | None:
    """Return the index a file name stands for, or None for anything else (temp files, notes)."""
    if name.isascii() and name.isdigit() and (name == "0" or not name.startswith("0")):
        return int(name)
    return None


class KeyRepository:
    """Fernet keys stored one per file in ``path``.

    ``max_active_keys`` counts every key file, staged and primary included, so
    it must be at least 2. A token stays valid across ``max_active_keys - 2``
    rotations after the one that retired its key from primary.
    """

    def __init__(self, path: Path | str, max_active_keys: int = 3) -> None:
        if isinstance(max_active_keys, bool) or not isinstance(max_active_keys, int):
            raise ValueError(f"max_active_keys must be an integer, got {max_active_keys!r}")
        if max_active_keys < 2:
            raise ValueError(
                f"max_active_keys must be at least 2 (a staged and a primary key), got {max_active_keys}"
            )
        self.path = Path(path)
        self.max_active_keys = max_active_keys
        # Replaced as a whole, never mutated, so readers on other threads need no lock.
        self._cache: _Cache | None = None

    def __repr__(self) -> str:
        return f"KeyRepository({str(self.path)!r}, max_active_keys={self.max_active_keys})"

    # --- readers -----------------------------------------------------------

    def exists(self) -> bool:
        """Return True if the directory exists and holds at least one key file."""
        try:
            return bool(self._listing())
        except ConfigError:
            return False

    def load(self) -> list[bytes]:
        """Read every key from disk.

        Returns the keys primary first, then secondaries newest to oldest, then
        the staged key, which is the order ``MultiFernet`` wants: it encrypts
        with the first and tries each in turn to decrypt.

        Raises ConfigError if the directory is missing or unreadable, holds no
        key, or a key file is not a valid Fernet key.
        """
        keys, _ = self._read()
        return list(keys)

    def keys(self) -> list[bytes]:
        """Return the keys like ``load()``, re-reading the files only if the directory changed.

        Costs one ``stat`` of the directory when nothing changed, so it is cheap
        enough to call for every token. A rotation by another process is seen
        on the next call.
        """
        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise ConfigError(f"Fernet key repository {self.path} is not readable: {exc}") from exc
        stamp = (st.st_dev, st.st_ino, st.st_mtime_ns)
        cache = self._cache
        if cache is not None and cache.stamp == stamp and cache.trusted:
            return list(cache.keys)
        trusted = time.time_ns() - st.st_mtime_ns > _RACY_WINDOW_NS
        if cache is not None and cache.stamp == stamp and self._listing() == cache.listing:
            self._cache = _Cache(stamp, cache.listing, cache.keys, trusted)
            return list(cache.keys)
        keys, listing = self._read()
        self._cache = _Cache(stamp, listing, keys, trusted)
        return list(keys)

    def _listing(self) -> _Listing:
        try:
            with os.scandir(self.path) as entries:
                found = [
                    (index, entry.inode())
                    for entry in entries
                    if (index := _key_index(entry.name)) is not None
                ]
        except FileNotFoundError as exc:
            raise ConfigError(
                f"Fernet key repository {self.path} does not exist; it has not been set up",
                path=str(self.path),
            ) from exc
        except OSError as exc:
            raise ConfigError(
                f"Fernet key repository {self.path} is not readable: {exc}", path=str(self.path)
            ) from exc
        return tuple(sorted(found))

    def _read(self) -> tuple[tuple[bytes, ...], _Listing]:
        for _ in range(_READ_ATTEMPTS):
            listing = self._listing()
            try:
                keys = self._read_keys(listing)
            except FileNotFoundError:
                continue  # a concurrent rotation pruned a key between listing and reading it
            if self._listing() == listing:
                return keys, listing
        raise ConfigError(
            f"Fernet key repository {self.path} kept changing while being read", path=str(self.path)
        )

    def _read_keys(self, listing: _Listing) -> tuple[bytes, ...]:
        if not listing:
            raise ConfigError(
                f"Fernet key repository {self.path} holds no keys; it has not been set up",
                path=str(self.path),
            )
        by_index: dict[int, bytes] = {}
        for index, _ in listing:
            key_path = self.path / str(index)
            try:
                key = key_path.read_bytes().strip()
            except FileNotFoundError:
                raise
            except OSError as exc:
                message = f"Fernet key {key_path} is not readable: {exc}"
                raise ConfigError(message, path=str(key_path)) from exc
            try:
                Fernet(key)
            except ValueError as exc:  # binascii.Error is a ValueError
                raise ConfigError(f"Fernet key {key_path} is not a valid key", path=str(key_path)) from exc
            by_index[index] = key
        ordered = [by_index[i] for i in sorted(by_index, reverse=True) if i != STAGED_INDEX]
        if STAGED_INDEX in by_index:
            ordered.append(by_index[STAGED_INDEX])
        return tuple(ordered)

    # --- writers -----------------------------------------------------------

    def setup(self) -> bool:
        """Create the directory (mode 0700) and, if it holds no key, a primary and a staged key.

        Returns True if keys were created, False if the repository already had
        keys. Raises ConfigError if the directory cannot be created or written.
        """
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            # mkdir's mode is filtered by the umask, and a pre-existing directory may be looser.
            os.chmod(self.path, 0o700)
            with self._locked() as dir_fd:
                self._remove_temp_files()
                if self._listing():
                    return False
                # Primary first: a crash in between leaves a usable repository,
                # and the next rotate() adds the missing staged key.
                self._write_new_key(1, dir_fd)
                self._write_new_key(STAGED_INDEX, dir_fd)
        except OSError as exc:
            raise ConfigError(f"cannot set up Fernet key repository {self.path}: {exc}") from exc
        LOG.info("created Fernet key repository %s", self.path)
        return True

    def rotate(self) -> int:
        """Promote the staged key to primary, write a new staged key and prune the oldest secondaries.

        Returns the index of the new primary key. If a previous rotation was
        interrupted after promoting the staged key (no key 0 on disk), this
        only finishes it: it writes the staged key and prunes.

        Raises ConfigError if the repository is missing, empty or holds an
        invalid key (nothing is changed then), or cannot be written.
        """
        try:
            with self._locked() as dir_fd:
                self._remove_temp_files()
                listing = self._listing()
                # Refuse to promote a corrupt staged key or to rotate a broken repository.
                self._read_keys(listing)
                indices = [index for index, _ in listing]
                if STAGED_INDEX in indices:
                    new_primary = max(indices) + 1
                    os.rename(self.path / str(STAGED_INDEX), self.path / str(new_primary))
                    os.fsync(dir_fd)
                else:
                    new_primary = max(indices)
                    LOG.warning(
                        "Fernet key repository %s had no staged key; finishing an interrupted rotation",
                        self.path,
                    )
                self._write_new_key(STAGED_INDEX, dir_fd)
                self._prune(dir_fd)
        except OSError as exc:
            raise ConfigError(f"cannot rotate Fernet keys in {self.path}: {exc}") from exc
        LOG.info("rotated Fernet keys in %s; primary key is now %d", self.path, new_primary)
        return new_primary

    @contextlib.contextmanager
    def _locked(self) -> Iterator[int]:
        """Hold an exclusive lock on the directory; yields its fd (also used to fsync it)."""
        dir_fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(dir_fd, fcntl.LOCK_EX)
            yield dir_fd
        finally:
            os.close(dir_fd)  # also releases the lock

    def _write_new_key(self, index: int, dir_fd: int) -> None:
        """Write a fresh key to file ``index`` so that it appears whole or not at all."""
        key = Fernet.generate_key()
        tmp = self.path / f"{_TMP_PREFIX}{index}-{secrets.token_hex(4)}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                os.fchmod(fd, 0o600)  # the umask may have removed bits from the mode above
                view = memoryview(key)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path / str(index))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        os.fsync(dir_fd)

    def _prune(self, dir_fd: int) -> None:
        indices = [index for index, _ in self._listing()]
        keep = self.max_active_keys - (1 if STAGED_INDEX in indices else 0)
        numbered = sorted((i for i in indices if i != STAGED_INDEX), reverse=True)
        for index in numbered[keep:]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path / str(index))
            LOG.info("removed Fernet key %d from %s", index, self.path)
        os.fsync(dir_fd)

    def _remove_temp_files(self) -> None:
        """Remove temp files left by a writer that crashed; only called with the lock held."""
        with os.scandir(self.path) as entries:
            stale = [entry.name for entry in entries if entry.name.startswith(_TMP_PREFIX)]
        for name in stale:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path / name)
