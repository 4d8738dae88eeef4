"""The image store contract (``litestack/image/drivers/base.py``), run against every registered driver.

A new driver adds one entry to ``KITS``: how to build a store of that kind for a test, and how to
"restart" it (a new instance over the same data, as after a process restart). A registered driver
without a kit fails ``test_every_registered_driver_runs_this_suite``.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from litestack.image.drivers import (
    NotFoundInStore,
    Store,
    StoreError,
    StoreFull,
    drivers,
    make_store,
    register,
)
from litestack.image.drivers.base import unregister
from litestack.image.drivers.file import FileStore

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

CHUNK = 1000  # small, so that reads cross many chunk boundaries
IMAGE = "7b0ae3f0-4c2e-4a4e-9d1b-52a3f0c1d2e3"
OTHER = "0e6f0d4c-1111-4a4e-9d1b-52a3f0c1d2e3"


@dataclass
class Kit:
    """How the suite builds stores of one kind: ``make(name)`` a new store, ``restart(store)`` a
    new instance over the same data (the process restarted)."""

    make: Callable[[str], Store]
    restart: Callable[[Store], Store]


def _file_kit(tmp: Path, direct_io: bool = False) -> Kit:
    def make(name: str) -> Store:
        return make_store("file", name, directory=tmp / "stores" / name, chunk_size=CHUNK, direct_io=direct_io)

    def restart(store: Store) -> Store:
        assert isinstance(store, FileStore)
        return make_store("file", store.name, directory=store.directory, chunk_size=CHUNK, direct_io=direct_io)

    return Kit(make, restart)


def _memory_kit(tmp: Path) -> Kit:
    # Memory does not outlive its process: a "restart" keeps the instance, and what a crash
    # leaves behind is a writer dropped without commit or abort.
    return Kit(lambda name: make_store("memory", name, chunk_size=CHUNK), lambda store: store)


def _swift_kit(tmp: Path) -> Kit:
    pytest.skip("the swift store needs a running object store: tests/functional/object/test_image_store.py "
                "runs this suite against it")


#: "kind" or "kind:variant" (the same driver with other options) → its kit.
KITS: dict[str, Callable[[Path], Kit]] = {
    "file": _file_kit,
    "file:direct_io": lambda tmp: _file_kit(tmp, direct_io=True),
    "memory": _memory_kit,
    "swift": _swift_kit,
}


@pytest.fixture(params=sorted(KITS))
def kit(request: pytest.FixtureRequest, tmp_path: Path) -> Kit:
    return KITS[request.param](tmp_path)


@pytest.fixture
def store(kit: Kit) -> Store:
    return kit.make("file1")


def payload(n: int, seed: int = 0) -> bytes:
    """``n`` bytes that differ at every position (a misplaced range shows)."""
    return bytes((i * 7 + seed + i // 251) % 256 for i in range(n))


def put(store: Store, image_id: str, data: bytes, chunk: int = 4096) -> str:
    w = store.writer(image_id)
    for i in range(0, len(data), chunk):
        w.write(data[i:i + chunk])
    assert w.size == len(data)
    return w.commit()


def read(store: Store, location: str, offset: int = 0, length: int | None = None) -> bytes:
    return b"".join(store.reader(location, offset, length))


def test_every_registered_driver_runs_this_suite() -> None:
    assert set(drivers()) <= {key.split(":")[0] for key in KITS}


def test_written_data_reads_back_whole_after_commit(store: Store) -> None:
    data = payload(10_000)
    location = put(store, IMAGE, data)
    assert store.owns(location)
    assert store.exists(location)
    assert store.size(location) == len(data)
    assert abs(store.modified(location) - time.time()) < 60
    assert read(store, location) == data
    assert list(store.locations()) == [location]


def test_reads_come_in_chunks_of_at_most_the_chunk_size(store: Store) -> None:
    location = put(store, IMAGE, payload(5500), chunk=5500)
    sizes = [len(c) for c in store.reader(location)]
    assert sum(sizes) == 5500 and max(sizes) <= CHUNK and all(sizes)


@pytest.mark.parametrize(("offset", "length"), [
    (0, 1), (0, CHUNK), (1, CHUNK), (999, 2), (1000, 1000), (1234, 4321), (9999, 1), (9999, 100),
    (5000, None), (0, 0), (10_000, None), (10_000, 5), (20_000, 5), (3, 0),
])
def test_a_range_reads_exactly_those_bytes(store: Store, offset: int, length: int | None) -> None:
    data = payload(10_000)
    location = put(store, IMAGE, data)
    expected = data[offset:] if length is None else data[offset:offset + length]
    assert read(store, location, offset, length) == expected


def test_negative_offsets_and_lengths_are_refused(store: Store) -> None:
    location = put(store, IMAGE, b"abc")
    with pytest.raises(ValueError):
        store.reader(location, -1)
    with pytest.raises(ValueError):
        store.reader(location, 0, -1)


def test_nothing_is_visible_before_commit(store: Store) -> None:
    w = store.writer(IMAGE)
    w.write(b"x" * 100)
    assert list(store.locations()) == []
    w.commit()
    assert len(list(store.locations())) == 1


def test_an_empty_image_can_be_stored(store: Store) -> None:
    location = store.writer(IMAGE).commit()
    assert store.size(location) == 0
    assert read(store, location) == b""


def test_abort_leaves_nothing_and_is_idempotent(kit: Kit, store: Store) -> None:
    w = store.writer(IMAGE)
    w.write(payload(3000))
    w.abort()
    w.abort()
    assert list(store.locations()) == []
    assert kit.restart(store).scrub_temporary(0) == 0  # nothing was left to scrub
    if isinstance(store, FileStore):
        assert os.listdir(store.directory) == []
    with pytest.raises(StoreError):
        w.write(b"more")
    with pytest.raises(StoreError):
        w.commit()


def test_abort_after_commit_keeps_the_data_and_commit_twice_is_refused(store: Store) -> None:
    w = store.writer(IMAGE)
    w.write(b"data")
    location = w.commit()
    w.abort()
    assert read(store, location) == b"data"
    with pytest.raises(StoreError):
        w.commit()
    with pytest.raises(StoreError):
        w.write(b"late")


def test_a_crashed_writer_is_never_listed_and_is_scrubbed(kit: Kit, store: Store) -> None:
    kept = put(store, OTHER, b"committed")
    w = store.writer(IMAGE)
    w.write(payload(2000))
    del w  # the request died without commit or abort
    gc.collect()
    after = kit.restart(store)
    assert list(after.locations()) == [kept]
    assert after.scrub_temporary(3600) == 0  # too fresh: it might be another process's upload
    assert after.scrub_temporary(0) == 1
    assert after.scrub_temporary(0) == 0
    assert read(after, kept) == b"committed"
    if isinstance(store, FileStore):
        assert os.listdir(store.directory) == [OTHER]


def test_writers_in_progress_are_never_scrubbed(store: Store) -> None:
    w = store.writer(IMAGE)
    w.write(b"part one")
    assert store.scrub_temporary(0) == 0
    w.write(b", part two")
    location = w.commit()
    assert read(store, location) == b"part one, part two"


def test_delete_is_idempotent(store: Store) -> None:
    location = put(store, IMAGE, b"bye")
    store.delete(location)
    store.delete(location)
    assert not store.exists(location)
    assert list(store.locations()) == []
    with pytest.raises(NotFoundInStore):
        store.reader(location)  # raised by the call itself, before any chunk is asked for
    with pytest.raises(NotFoundInStore):
        store.size(location)
    with pytest.raises(NotFoundInStore):
        store.modified(location)


def test_an_upload_of_the_same_image_replaces_its_data(store: Store) -> None:
    first = put(store, IMAGE, b"old data")
    second = put(store, IMAGE, b"new")
    assert first == second
    assert read(store, second) == b"new"
    assert list(store.locations()) == [second]


def _foreign_locations(store: Store, location: str, other: Store) -> list[str]:
    stem = location[:-len(IMAGE)]
    return [
        "",
        IMAGE,
        stem,
        stem + "../" + IMAGE,
        stem + "../../../etc/passwd",
        stem + IMAGE + "/../" + IMAGE,
        stem + "./" + IMAGE,
        stem + "sub/" + IMAGE,
        stem + ".tmp-" + IMAGE + "-0123456789abcdef",
        stem + IMAGE + "\0",
        "file:///etc/passwd",
        "http://example.com/" + IMAGE,
        other.writer(IMAGE).commit(),
    ]


def test_locations_outside_the_store_are_refused(kit: Kit, store: Store) -> None:
    location = put(store, IMAGE, b"mine")
    other = kit.make("file2")
    for bad in _foreign_locations(store, location, other):
        assert not store.owns(bad), bad
        with pytest.raises(StoreError) as info:
            store.reader(bad)
        assert not isinstance(info.value, NotFoundInStore), bad
        for op in (store.delete, store.exists, store.size, store.modified):
            with pytest.raises(StoreError):
                op(bad)
    assert read(store, location) == b"mine"


@pytest.mark.parametrize("image_id", ["", ".", "..", "../x", "a/b", ".tmp-x", "a\0b", "x" * 300])
def test_image_ids_that_cannot_be_names_are_refused(store: Store, image_id: str) -> None:
    with pytest.raises(StoreError):
        store.writer(image_id)


def test_two_stores_are_independent(kit: Kit) -> None:
    one, two = kit.make("file1"), kit.make("file2")
    loc1 = put(one, IMAGE, b"in one")
    loc2 = put(two, IMAGE, b"in two")
    assert loc1 != loc2
    assert list(one.locations()) == [loc1] and list(two.locations()) == [loc2]
    assert not one.owns(loc2) and not two.owns(loc1)
    w = two.writer(OTHER)
    w.write(b"pending")
    del w
    gc.collect()
    assert one.scrub_temporary(0) == 0
    one.delete(loc1)
    assert read(two, loc2) == b"in two"
    assert two.scrub_temporary(0) == 1


def test_concurrent_writers_each_get_their_own_data(store: Store) -> None:
    ids = [f"{i:08d}-0000-4000-8000-000000000000" for i in range(8)]
    results: dict[str, str] = {}

    def upload(i: int) -> None:
        results[ids[i]] = put(store, ids[i], payload(20_000, seed=i), chunk=777)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(len(ids))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(store.locations()) == sorted(results.values())
    for i, image_id in enumerate(ids):
        assert read(store, results[image_id]) == payload(20_000, seed=i)


def test_capacity_is_unknown_or_consistent(store: Store) -> None:
    cap = store.capacity()
    if cap is not None:
        total, free = cap
        assert 0 <= free <= total


def test_a_reader_stopped_early_can_be_closed(store: Store) -> None:
    location = put(store, IMAGE, payload(5000))
    chunks = store.reader(location)
    first = next(chunks)
    assert first == payload(5000)[:CHUNK]
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
    store.delete(location)
    assert not store.exists(location)


# --- the registry ----------------------------------------------------------------------------


def test_a_second_driver_of_the_same_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):

        @register("file")
        class Impostor(FileStore):
            pass


def test_a_new_kind_is_built_by_name() -> None:
    @register("test-extra")
    class Extra(FileStore):
        pass

    try:
        assert drivers()["test-extra"] is Extra
        with pytest.raises(ValueError):

            @register("test-extra")
            class Again(FileStore):
                pass
    finally:
        unregister("test-extra")
    assert "test-extra" not in drivers()


def test_unknown_kinds_and_options_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown store driver"):
        make_store("nope", "s1")
    with pytest.raises(ValueError):
        make_store("file", "s1", directory=tmp_path, colour="blue")
    with pytest.raises(ValueError):
        make_store("file", "s1", directory="relative/dir")
    with pytest.raises(ValueError):
        make_store("file", "", directory=tmp_path)


def test_a_full_memory_store_says_so() -> None:
    small = make_store("memory", "tiny", max_bytes=100)
    w = small.writer(IMAGE)
    w.write(b"x" * 60)
    with pytest.raises(StoreFull):
        w.write(b"x" * 60)
    with pytest.raises(StoreError):
        w.commit()  # after a failed write only abort is left
    w.abort()
    assert small.capacity() == (100, 100)
