"""Uploads and downloads between the event loop and a store (``litestack/image/drivers/transfer.py``)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from litestack.image.drivers import NotFoundInStore, Store, StoreError, StoreFull, make_store
from litestack.image.drivers.transfer import SizeExceeded, open_reader, receive
from litestack.image.formats import Digest

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

DATA = os.urandom(3 * 1024 * 1024 + 12345)


async def pieces(data: bytes, size: int = 65_536, fail_after: int | None = None) -> AsyncIterator[bytes]:
    """The body as a server hands it over: many small pieces, now and then an empty one."""
    for i, pos in enumerate(range(0, len(data), size)):
        if fail_after is not None and i == fail_after:
            raise ConnectionResetError("client went away")
        yield data[pos:pos + size]
        if i % 7 == 0:
            yield b""
            await asyncio.sleep(0)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return make_store("file", "file1", directory=tmp_path / "file1")


async def test_an_upload_is_stored_and_digested_exactly(store: Store) -> None:
    writer, digest = store.writer("img"), Digest("raw")
    assert await receive(pieces(DATA, 10_007), writer, digest, max_size=len(DATA)) == len(DATA)
    location = writer.commit()
    assert b"".join(store.reader(location)) == DATA
    assert digest.size == writer.size == len(DATA)
    assert digest.md5 == hashlib.md5(DATA, usedforsecurity=False).hexdigest()
    assert digest.sha512 == hashlib.sha512(DATA).hexdigest()
    assert digest.virtual_size() == len(DATA)
    assert digest.image_fields() == {"size": len(DATA), "checksum": digest.md5, "os_hash_algo": "sha512",
                                     "os_hash_value": digest.sha512, "virtual_size": len(DATA)}


async def test_an_upload_over_the_limit_stops_there_and_aborts_clean(store: Store, tmp_path: Path) -> None:
    writer, digest = store.writer("img"), Digest("raw")
    with pytest.raises(SizeExceeded) as info:
        await receive(pieces(DATA), writer, digest, max_size=1_000_000)
    assert info.value.limit == 1_000_000 and 1_000_000 < info.value.received <= 1_000_000 + 65_536
    assert writer.size <= 1_000_000
    writer.abort()
    assert os.listdir(tmp_path / "file1") == []


async def test_a_client_that_goes_away_leaves_the_writer_idle_for_abort(store: Store, tmp_path: Path) -> None:
    writer, digest = store.writer("img"), Digest("raw")
    with pytest.raises(ConnectionResetError):
        await receive(pieces(DATA, fail_after=40), writer, digest)
    # Every chunk handed to the thread has been written: abort cannot race a write.
    assert writer.size == digest.size
    writer.abort()
    assert os.listdir(tmp_path / "file1") == []


async def test_a_cancelled_upload_waits_for_its_write(store: Store) -> None:
    writer, digest = store.writer("img"), Digest("raw")
    started = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"z" * 65_536
            started.set()

    task = asyncio.create_task(receive(endless(), writer, digest))
    await started.wait()
    while writer.size < 2 * 1024 * 1024:
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert writer.size == digest.size and writer.size % 65_536 == 0
    writer.abort()


async def test_a_full_store_fails_the_upload(tmp_path: Path) -> None:
    small = make_store("memory", "tiny", max_bytes=2 * 1024 * 1024)
    writer = small.writer("img")
    with pytest.raises(StoreFull):
        await receive(pieces(DATA), writer, Digest("raw"))
    writer.abort()
    assert list(small.locations()) == []


async def test_downloads_stream_back_whole_and_by_range(store: Store) -> None:
    writer = store.writer("img")
    writer.write(DATA)
    location = writer.commit()
    got = [c async for c in await open_reader(store, location)]
    assert b"".join(got) == DATA and max(len(c) for c in got) <= 1024 * 1024
    part = b"".join([c async for c in await open_reader(store, location, 1_000_000, 2_500_000)])
    assert part == DATA[1_000_000:3_500_000]


async def test_a_missing_or_foreign_location_fails_before_any_byte(store: Store) -> None:
    writer = store.writer("img")
    writer.write(b"x")
    location = writer.commit()
    store.delete(location)
    with pytest.raises(NotFoundInStore):
        await open_reader(store, location)
    with pytest.raises(StoreError):
        await open_reader(store, "file:///etc/passwd")


async def test_a_download_stopped_early_releases_the_file(store: Store) -> None:
    writer = store.writer("img")
    writer.write(DATA)
    location = writer.commit()
    before = len(os.listdir("/proc/self/fd"))
    chunks = await open_reader(store, location)
    first = await anext(chunks)
    assert first == DATA[:len(first)]
    await chunks.aclose()  # type: ignore[attr-defined]
    assert len(os.listdir("/proc/self/fd")) == before


async def test_an_empty_body_makes_an_empty_image(store: Store) -> None:
    async def nothing() -> AsyncIterator[bytes]:
        for _ in ():
            yield b""

    writer, digest = store.writer("img"), Digest("raw")
    assert await receive(nothing(), writer, digest, max_size=0) == 0
    location = writer.commit()
    assert store.size(location) == 0
    assert digest.md5 == hashlib.md5(b"", usedforsecurity=False).hexdigest()
    assert digest.virtual_size() == 0
