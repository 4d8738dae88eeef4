"""Moving image data between the event loop and a store at disk speed.

An upload costs md5 + sha512 + a copy into the page cache per byte, all blocking. ``receive``
hands each ~1 MiB chunk to a worker thread while the event loop receives the next one; there
sha512 goes to the shared ``hash_pool`` while md5 and then the store write run in the worker, so
the loop, sha512 and md5 + write overlap (≈2.9 CPU-seconds per GiB on the 2-core machine this was
measured on, md5 alone ≈1.3 s being the floor)::

    digest = Digest(image.disk_format)
    writer = store.writer(image.id)
    try:
        await receive(request.stream(), writer, digest, max_size=quota_left)
        ...check digest.size against Content-Length, digest.matches(), digest.safety_problem()...
        location = await run_blocking(writer.commit)
    except BaseException:
        await run_blocking(writer.abort)
        raise

``open_reader`` is the way back: the store's chunks, the next one read ahead in a thread while
the current one is sent.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from typing import TypeVar

from litestack.image.drivers.base import CHUNK_SIZE, Store, StoreWriter
from litestack.image.formats import Digest

T = TypeVar("T")

# Not run_blocking: a cancelled task must still be able to wait for the thread it started (a
# write in progress, a read inside a generator) before the writer is aborted or the file closed,
# and only a concurrent.futures.Future outlives the cancellation of its awaiter.
_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    # A forked worker (``litestack up --workers``) inherits the pool but not its threads: work
    # submitted there would wait forever. Each child starts its own on first use.
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def _submit(fn: Callable[..., T], *args: object) -> concurrent.futures.Future[T]:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(4, 2 * (os.cpu_count() or 2)),
                                                          thread_name_prefix="image-transfer")
    return _pool.submit(fn, *args)


async def _finish(job: concurrent.futures.Future[T] | None) -> None:
    """Wait until ``job``'s thread is done (also after a cancellation) and drop its outcome: the
    exception already propagating is the one that matters."""
    if job is None:
        return
    if not job.done():
        await asyncio.wait([asyncio.wrap_future(job)])
    if not job.cancelled():
        job.exception()


class SizeExceeded(Exception):
    """Raised by ``receive`` as soon as the data goes past ``max_size`` (a quota, the declared
    Content-Length): ``limit`` is that size, ``received`` how much had arrived by then. Nothing
    past the limit was written."""

    def __init__(self, limit: int, received: int) -> None:
        super().__init__(f"image data is larger than {limit} bytes")
        self.limit = limit
        self.received = received


def _consume(writer: StoreWriter, digest: Digest, data: bytes) -> None:
    # sha512 goes to the hash pool, md5 and then the write run here: on two cores that is md5 +
    # write on one and sha512 + the event loop's receiving on the other, about even. (Writing on
    # the pool as well measured no faster: four runnable threads on two cores.)
    digest.update(data)
    writer.write(data)


async def receive(chunks: AsyncIterable[bytes], writer: StoreWriter, digest: Digest, *,
                  max_size: int | None = None, chunk_size: int = CHUNK_SIZE) -> int:
    """Feed every chunk of ``chunks`` to ``writer`` and ``digest``; returns the bytes received.

    Pieces are joined to ``chunk_size`` before they go to the worker thread; at most one such
    chunk is in the thread while the next is being received. It neither commits nor aborts
    ``writer``: on any exception (the source failing or being cancelled, ``SizeExceeded``,
    ``StoreFull``…) it first waits for the chunk in the thread, so the caller's ``abort`` never
    races a write, then re-raises.
    """
    pending: concurrent.futures.Future[None] | None = None
    parts: list[bytes] = []
    buffered = total = 0

    async def flush() -> None:
        nonlocal pending, buffered
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        parts.clear()
        buffered = 0
        if pending is not None:
            await asyncio.wrap_future(pending)
        pending = _submit(_consume, writer, digest, data)

    try:
        async for piece in chunks:
            if not piece:
                continue
            total += len(piece)
            if max_size is not None and total > max_size:
                raise SizeExceeded(max_size, total)
            parts.append(bytes(piece))
            buffered += len(piece)
            if buffered >= chunk_size:
                await flush()
        if parts:
            await flush()
        if pending is not None:
            await asyncio.wrap_future(pending)
    finally:
        await _finish(pending)
    return total


async def open_reader(store: Store, location: str, offset: int = 0, length: int | None = None,
                      ) -> AsyncIterator[bytes]:
    """The data at ``location`` as an async iterator (``Store.reader``'s chunks and range).

    The data is opened before this returns, so ``NotFoundInStore`` and refused locations are
    raised here, before a response starts; closing the iterator (``aclose``, or a client that goes
    away) releases it.
    """
    chunks = await asyncio.wrap_future(_submit(store.reader, location, offset, length))
    return _read_ahead(chunks)


async def _read_ahead(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    upcoming: concurrent.futures.Future[bytes | None] = _submit(next, chunks, None)
    try:
        while (chunk := await asyncio.wrap_future(upcoming)) is not None:
            upcoming = _submit(next, chunks, None)
            yield chunk
    finally:
        await _finish(upcoming)  # a generator cannot be closed while it runs
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
