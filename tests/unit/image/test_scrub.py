"""The scrubber (``litestack.image.drivers.base.scrub``): orphans and crash leftovers go, the rest stays."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from litestack.image.drivers import Store, StoreError, make_store, scrub
from litestack.image.drivers.file import FileStore

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

HOUR = 3600.0


def put(store: Store, image_id: str, data: bytes = b"data") -> str:
    w = store.writer(image_id)
    w.write(data)
    return w.commit()


def age(store: Store, location: str, seconds: float) -> None:
    """Make committed data look ``seconds`` old (file stores keep the time in the file)."""
    assert isinstance(store, FileStore)
    path = location[len("file://"):]
    t = os.stat(path).st_mtime - seconds
    os.utime(path, (t, t))


@pytest.fixture
def stores(tmp_path: Path) -> list[Store]:
    return [make_store("file", n, directory=tmp_path / n) for n in ("file1", "file2")]


def test_unreferenced_old_data_is_deleted_and_reported(stores: list[Store]) -> None:
    one, two = stores
    known = put(one, "known")
    orphan1 = put(one, "orphan")
    orphan2 = put(two, "orphan")
    copy = put(two, "known")  # a copy-image target is known too
    for store, loc in ((one, known), (one, orphan1), (two, orphan2), (two, copy)):
        age(store, loc, 2 * HOUR)
    result = scrub(stores, [known, copy], older_than=HOUR)
    assert sorted(result.orphans) == [("file1", orphan1), ("file2", orphan2)]
    assert result.temporary == 0 and result.errors == []
    assert list(one.locations()) == [known] and list(two.locations()) == [copy]
    assert scrub(stores, [known, copy], older_than=HOUR).orphans == []


def test_recent_unreferenced_data_is_spared(stores: list[Store]) -> None:
    # An upload commits a moment before its image row records the location.
    one = stores[0]
    just_committed = put(one, "racing")
    result = scrub(stores, [], older_than=HOUR)
    assert result.orphans == []
    assert one.exists(just_committed)
    later = scrub(stores, [], older_than=HOUR, now=os.stat(just_committed[7:]).st_mtime + 2 * HOUR)
    assert later.orphans == [("file1", just_committed)]


def test_leftovers_of_crashed_uploads_are_counted(stores: list[Store]) -> None:
    one, two = stores
    for store, image_id in ((one, "a"), (one, "b"), (two, "c")):
        w = store.writer(image_id)
        w.write(b"partial")
        del w
    gc.collect()
    alive = one.writer("d")
    alive.write(b"in progress")
    assert scrub(stores, [], older_than=HOUR).temporary == 0
    result = scrub(stores, [], older_than=0)
    assert result.temporary == 3 and result.orphans == []
    assert one.exists(alive.commit())


def test_an_error_on_one_location_does_not_stop_the_rest(stores: list[Store]) -> None:
    one, two = stores
    bad = put(one, "bad")
    good = put(two, "good")
    age(one, bad, 2 * HOUR)
    age(two, good, 2 * HOUR)

    class Failing(FileStore):
        def delete(self, location: str) -> None:
            raise StoreError("Store file1 could not delete image data: Permission denied.")

    assert isinstance(one, FileStore)
    failing = Failing("file1", one.directory)
    result = scrub([failing, two], [], older_than=HOUR)
    assert result.errors == [("file1", bad, "Store file1 could not delete image data: Permission denied.")]
    assert result.orphans == [("file2", good)]
    assert one.exists(bad)


def test_memory_stores_are_scrubbed_too() -> None:
    clock = [1000.0]
    store = make_store("memory", "mem", clock=lambda: clock[0])
    orphan = put(store, "orphan")
    kept = put(store, "kept")
    clock[0] += 2 * HOUR
    result = scrub([store], {kept}, older_than=HOUR, now=clock[0])
    assert result.orphans == [("mem", orphan)]
    assert list(store.locations()) == [kept]


def test_a_negative_grace_period_is_refused(stores: list[Store]) -> None:
    with pytest.raises(ValueError):
        scrub(stores, [], older_than=-1)
