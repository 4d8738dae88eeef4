"""SQLite under concurrent writers: no "database is locked", nothing lost."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Integer, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from litestack.common.db import Database, service_url

pytestmark = pytest.mark.unit


class Base(DeclarativeBase):
    pass


class Row(Base):
    __tablename__ = "row"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32))


def test_service_url_template(tmp_path: Path) -> None:
    assert service_url("", "identity", tmp_path) == f"sqlite:///{tmp_path}/identity.db"
    assert service_url("postgresql://h/{service}", "image", tmp_path) == "postgresql://h/image"


def test_64_concurrent_writers_all_commit(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/t.db")
    Base.metadata.create_all(db.engine)

    def write(i: int) -> None:
        with db.writer() as s:
            s.add(Row(name=f"r{i}"))
            s.flush()
            assert s.scalar(select(Row.name).where(Row.name == f"r{i}")) == f"r{i}"

    with ThreadPoolExecutor(32) as ex:
        list(ex.map(write, range(64)))
    with db.reader() as s:
        assert len(list(s.scalars(select(Row)))) == 64
    db.dispose()


def test_failed_write_rolls_back(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/t.db")
    Base.metadata.create_all(db.engine)
    with pytest.raises(RuntimeError), db.writer() as s:
        s.add(Row(name="half"))
        s.flush()
        raise RuntimeError("crash mid-operation")
    with db.reader() as s:
        assert list(s.scalars(select(Row))) == []
    db.dispose()


def _writer_process(url: str, tag: int) -> None:
    db = Database(url)

    def write(i: int) -> None:
        with db.writer() as s:
            n = len(list(s.scalars(select(Row))))  # read first, then write: the lock-upgrade case
            s.add(Row(name=f"{tag}-{i}-{n}"))

    with ThreadPoolExecutor(8) as ex:
        list(ex.map(write, range(50)))
    db.dispose()


def test_writers_in_several_processes_all_commit(tmp_path: Path) -> None:
    """Worker processes share one SQLite file: BEGIN IMMEDIATE + busy timeout, never "locked"."""
    import multiprocessing

    url = f"sqlite:///{tmp_path}/mp.db"
    db = Database(url)
    Base.metadata.create_all(db.engine)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer_process, args=(url, p)) for p in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    with db.reader() as s:
        assert len(list(s.scalars(select(Row)))) == 150
    db.dispose()
