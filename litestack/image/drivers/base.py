"""The image store contract: where image data lives, and the registry of store drivers.

A store keeps opaque blobs under *locations* (URLs it hands out and later accepts back). All
methods block (file I/O, network): callers on the event loop run them in a worker thread
(``litestack.common.db.run_blocking``, or the helpers in ``litestack.image.drivers.transfer``).
Stores are safe to use from several threads at once; one ``StoreWriter`` is fed by one thread at
a time.

Drivers register under a *kind* (``@register("file")``) and are built by name from configuration
with ``make_store(kind, name, **options)``; a second driver of the same kind is refused. Every
driver passes the one contract suite, ``tests/unit/image/test_store_contract.py``.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from litestack.common.errors import LitestackError

#: The chunk size readers yield and writers are best fed with: big enough that per-chunk costs
#: (a thread hop, a system call) vanish next to hashing and copying, small enough to bound memory.
CHUNK_SIZE = 1024 * 1024


class StoreError(LitestackError):
    """Raised when a store cannot do what was asked: an I/O failure, a location it does not own
    (``data["location"]`` when there is one), a writer used after commit or abort. The message
    never contains a filesystem path or a credential, so it is safe to show to API users."""

    status = 500
    title = "Internal Server Error"


class NotFoundInStore(StoreError):
    """Raised when a location the store owns has no data (deleted, or never committed)."""

    status = 404
    title = "Not Found"


class StoreFull(StoreError):
    """Raised when the store runs out of space (or quota) while writing; Glance answers 413."""

    status = 413
    title = "Request Entity Too Large"


class StoreWriter(abc.ABC):
    """One upload in progress: data goes to a temporary place nobody else sees until ``commit``.

    Fed from one thread at a time (the caller's worker thread); ``abort`` may come from any
    thread, also while a ``write`` is in progress, and then waits for it. After a failed ``write``
    or ``commit`` only ``abort`` is left (the data may hold part of a chunk). A writer that is neither
    committed nor aborted (the process died) leaves temporary data that ``Store.scrub_temporary``
    removes; it never shows up in ``Store.locations``.
    """

    @abc.abstractmethod
    def write(self, chunk: bytes) -> None:
        """Append ``chunk``. Raises ``StoreFull`` when out of space, ``StoreError`` on other I/O
        failures or after ``commit``/``abort``. Cheapest with chunks of about ``CHUNK_SIZE``."""

    @abc.abstractmethod
    def commit(self) -> str:
        """Make the data durable (fsync) and publish it atomically under its final location, which
        is returned. Replaces earlier data of the same image id in this store. Raises
        ``StoreFull``/``StoreError`` on failure, after which the temporary data is still there
        for ``abort``; raises ``StoreError`` when called twice or after ``abort``."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Drop the temporary data. Idempotent, never raises for a missing file, and a no-op
        after a successful ``commit`` (published data is removed with ``Store.delete``)."""

    @property
    @abc.abstractmethod
    def size(self) -> int:
        """Bytes written so far."""


class Store(abc.ABC):
    """A place image data is kept, as listed in ``GET /v2/info/stores``.

    ``name`` is the store id (``file1``); ``description`` is shown beside it. Locations are URLs
    (``file:///…/<image_id>``); a store refuses, with ``StoreError``, any location that is not one
    of its own (another store's, another scheme, or a path outside its directory).
    """

    kind: str = ""  # set by @register

    def __init__(self, name: str, description: str = "") -> None:
        if not name:
            raise ValueError("a store needs a name")
        self.name = name
        self.description = description

    @abc.abstractmethod
    def writer(self, image_id: str) -> StoreWriter:
        """Start writing the data of ``image_id``. Raises ``StoreError`` for an id that cannot be
        a file name (empty, with ``/``, NUL, or a leading dot) and on I/O failure."""

    @abc.abstractmethod
    def reader(self, location: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Chunks of at most ``CHUNK_SIZE`` bytes, starting at byte ``offset``, ``length`` bytes
        in all (to the end when None; fewer when the data ends first; none when ``offset`` is at
        or past the end). The data is opened *before* this returns, so ``NotFoundInStore`` is
        raised here, not on the first ``next()``; closing the iterator releases it. ``ValueError``
        for a negative offset or length."""

    @abc.abstractmethod
    def delete(self, location: str) -> None:
        """Remove the data at ``location``; missing data is fine (idempotent)."""

    @abc.abstractmethod
    def exists(self, location: str) -> bool:
        """Whether committed data is at ``location``."""

    @abc.abstractmethod
    def size(self, location: str) -> int:
        """Size in bytes of the data at ``location``; ``NotFoundInStore`` if there is none."""

    @abc.abstractmethod
    def modified(self, location: str) -> float:
        """When the data at ``location`` was committed (seconds since the epoch, the clock of
        ``scrub_temporary``); ``NotFoundInStore`` if there is none. The scrubber spares data
        younger than its grace period: an upload commits before its image row says so."""

    @abc.abstractmethod
    def locations(self) -> Iterator[str]:
        """Every committed location of this store (never a temporary one), in no set order."""

    @abc.abstractmethod
    def owns(self, location: str) -> bool:
        """Whether ``location`` is one this store hands out (whether or not data is there)."""

    @abc.abstractmethod
    def scrub_temporary(self, older_than: float) -> int:
        """Remove the temporary data of writers that were never committed nor aborted and were
        last written at least ``older_than`` seconds ago (a crashed process); writers open in
        this process are spared whatever their age. Returns how many were removed."""

    @abc.abstractmethod
    def capacity(self) -> tuple[int, int] | None:
        """``(total, free)`` bytes, or None when the backend cannot tell."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


# --- the driver registry -------------------------------------------------------------------

S = TypeVar("S", bound=type[Store])

_DRIVERS: dict[str, type[Store]] = {}


def register(kind: str) -> Callable[[S], S]:
    """Class decorator: make a ``Store`` subclass available as ``kind`` in ``make_store``.
    ``ValueError`` if another class already has that kind."""

    def decorate(cls: S) -> S:
        if not kind:
            raise ValueError("a store driver needs a kind")
        other = _DRIVERS.get(kind)
        if other is not None and other is not cls:
            raise ValueError(f"store driver {kind!r} is already registered ({other.__module__}.{other.__qualname__})")
        cls.kind = kind
        _DRIVERS[kind] = cls
        return cls

    return decorate


def unregister(kind: str) -> None:
    """Forget a driver (for tests that register a throw-away one); missing is fine."""
    _DRIVERS.pop(kind, None)


def drivers() -> dict[str, type[Store]]:
    """Every registered driver by kind (the built-in ones are imported first)."""
    import litestack.image.drivers  # noqa: F401  (registers the built-in drivers)

    return dict(_DRIVERS)


def make_store(kind: str, name: str, **options: object) -> Store:
    """Build the store ``name`` with the driver ``kind`` and its options (``directory=…`` for
    ``file``). ``ValueError`` for an unknown kind or options the driver does not take."""
    known = drivers()
    cls = known.get(kind)
    if cls is None:
        raise ValueError(f"unknown store driver {kind!r}; known: {', '.join(sorted(known))}")
    try:
        return cls(name, **options)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ValueError(f"store {name!r} ({kind}): {exc}") from exc


# --- the scrubber --------------------------------------------------------------------------


@dataclass
class ScrubResult:
    """What ``scrub`` removed: ``orphans`` as ``(store name, location)`` pairs, and how many
    temporary leftovers of crashed writers."""

    orphans: list[tuple[str, str]] = field(default_factory=list)
    temporary: int = 0
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (store, location, message)


def scrub(stores: Iterable[Store], known_locations: Iterable[str], older_than: float,
          *, now: float | None = None) -> ScrubResult:
    """Delete committed data no image points to, and temporary data of crashed writers.

    ``known_locations`` is every location the image database refers to, in any status (a
    ``saving`` image's location is known as soon as the manager records it). Data is an orphan when
    it is not known *and* was committed at least ``older_than`` seconds before ``now`` (default:
    the current time): an upload commits its data moments before its image row records the
    location, and the grace period keeps the scrubber out of that window. A store error on one
    location (or a store that cannot list its data: location ``""``) is recorded in ``errors`` and
    the rest go on.
    """
    if older_than < 0:
        raise ValueError("older_than must not be negative")
    known = set(known_locations)
    cutoff = (time.time() if now is None else now) - older_than
    result = ScrubResult()
    for store in stores:
        try:
            listed = list(store.locations())
        except StoreError as exc:  # e.g. a remote store not reachable yet: its turn comes next time
            result.errors.append((store.name, "", exc.message))
            listed = []
        for location in listed:
            if location in known:
                continue
            try:
                if store.modified(location) > cutoff:
                    continue
                store.delete(location)
            except NotFoundInStore:
                continue  # deleted meanwhile, by its image's own delete
            except StoreError as exc:
                result.errors.append((store.name, location, exc.message))
                continue
            result.orphans.append((store.name, location))
        result.temporary += store.scrub_temporary(older_than)
    return result
