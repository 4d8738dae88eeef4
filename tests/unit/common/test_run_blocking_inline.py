"""run_blocking(..., inline_first=True): memoized work stays on the event loop, a query never does."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Integer, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from litestack.common.db import Database, NeedsIO, io_forbidden, run_blocking

pytestmark = pytest.mark.unit


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "item"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32))


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path}/t.db")
    Base.metadata.create_all(database.engine)
    with database.writer() as s:
        s.add(Item(id=1, name="one"))
    return database


async def test_a_read_tried_inline_runs_in_a_worker_thread(db: Database) -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []

    def get(item_id: int) -> str:
        threads.append(threading.get_ident())
        with db.reader() as s:
            return str(s.scalar(select(Item.name).where(Item.id == item_id)))

    assert await run_blocking(get, 1, inline_first=True) == "one"
    # tried on the loop first, stopped before its query, then run again off the loop
    assert threads[0] == loop_thread
    assert threads[-1] != loop_thread and len(threads) == 2


async def test_a_write_tried_inline_runs_in_a_worker_thread(db: Database) -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []

    def rename(item_id: int, name: str) -> None:
        with db.writer() as s:
            threads.append(threading.get_ident())
            item = s.get(Item, item_id)
            assert item is not None
            item.name = name

    await run_blocking(rename, 1, "uno", inline_first=True)
    assert threads and all(t != loop_thread for t in threads)
    with db.reader() as s:
        assert s.scalar(select(Item.name).where(Item.id == 1)) == "uno"


async def test_work_that_needs_no_io_stays_on_the_loop() -> None:
    loop_thread = threading.get_ident()
    cache = {"k": "v"}

    def cached(key: str) -> tuple[str, int]:
        if key not in cache:
            if io_forbidden():
                raise NeedsIO(key)
            cache[key] = key.upper()
        return cache[key], threading.get_ident()

    assert await run_blocking(cached, "k", inline_first=True) == ("v", loop_thread)
    value, thread = await run_blocking(cached, "x", inline_first=True)
    assert value == "X" and thread != loop_thread
