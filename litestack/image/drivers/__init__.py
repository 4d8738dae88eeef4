"""Image store drivers: the contract and registry in ``base``, one module per driver.

Importing this package registers the built-in drivers (``file``, ``memory``, ``swift``).
"""

from litestack.image.drivers import file, memory, swift
from litestack.image.drivers.base import (
    CHUNK_SIZE,
    NotFoundInStore,
    ScrubResult,
    Store,
    StoreError,
    StoreFull,
    StoreWriter,
    drivers,
    make_store,
    register,
    scrub,
)

__all__ = [
    "CHUNK_SIZE",
    "NotFoundInStore",
    "ScrubResult",
    "Store",
    "StoreError",
    "StoreFull",
    "StoreWriter",
    "drivers",
    "file",
    "make_store",
    "memory",
    "register",
    "scrub",
    "swift",
]
