"""The ``memory`` store: image data in this process's memory, for tests and throw-away clouds.

It honours the whole store contract (the contract suite runs against it) except durability:
everything is gone when the process ends. Locations are ``memory://<store name>/<image_id>``.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from litestack.image.drivers.base import (
    CHUNK_SIZE,
    NotFoundInStore,
    Store,
    StoreError,
    StoreFull,
    StoreWriter,
    register,
)
from litestack.image.drivers.file import check_image_id


@dataclass
class _Blob:
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    touched: float = 0.0


class MemoryWriter(StoreWriter):
    """An upload into a ``MemoryStore``: a private blob, swapped in on commit."""

    def __init__(self, store: MemoryStore, image_id: str, key: int) -> None:
        self._store = store
        self._image_id = image_id
        self._key = key
        self._state = "open"  # open → committed | aborted; open → failed → aborted
        self._busy = threading.Lock()

    @property
    def size(self) -> int:
        blob = self._store._pending.get(self._key)
        return blob.size if blob is not None else 0

    def _blob(self) -> _Blob:
        blob = self._store._pending.get(self._key) if self._state == "open" else None
        if blob is None:
            raise StoreError(f"The upload to store {self._store.name} is already {self._state}.")
        return blob

    def write(self, chunk: bytes) -> None:
        with self._busy:
            blob = self._blob()
            if self._store.max_bytes is not None and self._store._used() + len(chunk) > self._store.max_bytes:
                self._state = "failed"
                raise StoreFull(f"Store {self._store.name} is full.", store=self._store.name)
            blob.chunks.append(bytes(chunk))
            blob.size += len(chunk)
            blob.touched = self._store._clock()

    def commit(self) -> str:
        with self._busy:
            return self._commit()

    def _commit(self) -> str:
        blob = self._blob()
        with self._store._lock:
            del self._store._pending[self._key]
            blob.touched = self._store._clock()
            self._store._data[self._image_id] = blob
        self._state = "committed"
        return self._store.location_of(self._image_id)

    def abort(self) -> None:
        with self._busy:
            if self._state not in ("open", "failed"):
                return
            self._state = "aborted"
            with self._store._lock:
                self._store._pending.pop(self._key, None)


@register("memory")
class MemoryStore(Store):
    """Image data kept in memory; ``max_bytes`` makes it report ``StoreFull`` past that total."""

    def __init__(self, name: str, description: str = "", chunk_size: int = CHUNK_SIZE,
                 max_bytes: int | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(name, description or f"In-memory store {name}")
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        self.chunk_size = chunk_size
        self.max_bytes = max_bytes
        self._clock = clock
        self._prefix = f"memory://{name}/"
        self._lock = threading.Lock()
        self._data: dict[str, _Blob] = {}
        self._pending: dict[int, _Blob] = {}
        # The writers still referenced: their blobs are never scrubbed. A writer dropped without
        # commit or abort (its request died) leaves its blob behind, as a crash leaves a file.
        self._live: weakref.WeakValueDictionary[int, MemoryWriter] = weakref.WeakValueDictionary()
        self._next = 0

    def _used(self) -> int:
        with self._lock:
            return sum(b.size for b in self._data.values()) + sum(b.size for b in self._pending.values())

    def location_of(self, image_id: str) -> str:
        return self._prefix + image_id

    def owns(self, location: str) -> bool:
        if not location.startswith(self._prefix):
            return False
        try:
            check_image_id(location[len(self._prefix):])
        except StoreError:
            return False
        return True

    def _key(self, location: str) -> str:
        if not self.owns(location):
            raise StoreError(f"The location is not in store {self.name}.", location=location)
        return location[len(self._prefix):]

    def _get(self, location: str) -> _Blob:
        key = self._key(location)
        with self._lock:
            blob = self._data.get(key)
        if blob is None:
            raise NotFoundInStore(f"No image data at this location in store {self.name}.", location=location)
        return blob

    def writer(self, image_id: str) -> MemoryWriter:
        check_image_id(image_id)
        with self._lock:
            self._next += 1
            key = self._next
            self._pending[key] = _Blob(touched=self._clock())
            writer = self._live[key] = MemoryWriter(self, image_id, key)
        return writer

    def reader(self, location: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        if offset < 0 or (length is not None and length < 0):
            raise ValueError("offset and length must not be negative")
        blob = self._get(location)
        data = b"".join(blob.chunks)
        end = len(data) if length is None else min(len(data), offset + length)
        return (data[i:min(i + self.chunk_size, end)] for i in range(offset, end, self.chunk_size))

    def delete(self, location: str) -> None:
        key = self._key(location)
        with self._lock:
            self._data.pop(key, None)

    def exists(self, location: str) -> bool:
        key = self._key(location)
        with self._lock:
            return key in self._data

    def size(self, location: str) -> int:
        return self._get(location).size

    def modified(self, location: str) -> float:
        return self._get(location).touched

    def locations(self) -> Iterator[str]:
        with self._lock:
            keys = list(self._data)
        return (self.location_of(k) for k in keys)

    def scrub_temporary(self, older_than: float) -> int:
        cutoff = self._clock() - older_than
        with self._lock:
            stale = [k for k, b in self._pending.items() if k not in self._live and b.touched <= cutoff]
            for k in stale:
                del self._pending[k]
        return len(stale)

    def capacity(self) -> tuple[int, int] | None:
        if self.max_bytes is None:
            return None
        return self.max_bytes, max(0, self.max_bytes - self._used())
