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


def test_services_share_one_database_each_with_its_revision_table(tmp_path: Path) -> None:
    """A ``database_url`` without ``{service}`` puts every service in one database: each keeps its
    Alembic revision in its own table, so one's migrations never see another's."""
    from sqlalchemy import inspect

    from litestack.common import db as dbmod
    from litestack.identity.models import Base as IdentityBase
    from tests.functional.toyservice.models import Base as ToyBase

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    shared = dbmod.Database(url)
    dbmod.upgrade(shared, "litestack.identity.migrations", IdentityBase, "identity")
    dbmod.upgrade(shared, "tests.functional.toyservice.migrations", ToyBase, "toy")
    dbmod.upgrade(shared, "litestack.identity.migrations", IdentityBase, "identity")  # idempotent
    with shared.engine.connect() as c:
        tables = set(inspect(c).get_table_names())
        assert {"alembic_version_identity", "alembic_version_toy", "note", "user"} <= tables
        assert "alembic_version" not in tables
        assert c.exec_driver_sql("SELECT version_num FROM alembic_version_toy").fetchall() == [("0001",)]
    shared.dispose()


def test_a_database_made_with_the_shared_revision_table_is_adopted(tmp_path: Path) -> None:
    from sqlalchemy import inspect

    from litestack.common import db as dbmod
    from litestack.identity.models import Base as IdentityBase

    old = dbmod.Database(f"sqlite:///{tmp_path / 'identity.db'}")
    dbmod.upgrade(old, "litestack.identity.migrations", IdentityBase)  # as before: alembic_version
    with old.engine.connect() as c:
        head = c.exec_driver_sql("SELECT version_num FROM alembic_version").fetchall()
    dbmod.upgrade(old, "litestack.identity.migrations", IdentityBase, "identity")
    with old.engine.connect() as c:
        assert "alembic_version" not in inspect(c).get_table_names()
        assert c.exec_driver_sql("SELECT version_num FROM alembic_version_identity").fetchall() == head
    old.dispose()
