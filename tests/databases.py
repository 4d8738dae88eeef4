"""Throw-away databases on the real PostgreSQL and MariaDB servers, for tests that run a cloud on them.

A functional test module runs on all three databases by parametrizing its clouds with
``DATABASES`` and making them with ``clouds_on`` (SQLite runs as a functional test, the real
servers as integration tests); ``identity_db`` reaches a cloud's identity tables whatever the
database, for the tests that must age a row (the clock of another process cannot be moved).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from tests.conftest import RunningCloud, free_port

#: Parameters of a cloud fixture that runs a module on SQLite (functional) and on new PostgreSQL and
#: MariaDB databases (integration).
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration),
             pytest.param("mariadb", marks=pytest.mark.integration)]

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
#: The bus of the integration runs: the real RabbitMQ (SERVICE-CHECKLIST: PostgreSQL and MariaDB
#: "with the AMQP bus").
AMQP = "amqp://guest:guest@127.0.0.1:5672/"


def _pg(name: str) -> tuple[str, Callable[[], None]]:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", drop


def _maria(name: str) -> tuple[str, Callable[[], None]]:
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    conn.close()

    def drop() -> None:
        c = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
        with c.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        c.close()
    return f"mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4", drop


@contextmanager
def database(kind: str, name: str | None = None) -> Iterator[str]:
    """A new empty database of ``kind`` ('postgresql' or 'mariadb'), dropped afterwards; yields its URL.

    When the server is not there the test is skipped locally and fails in CI (``CI`` set).
    """
    name = name or f"ls_it_{uuid.uuid4().hex[:10]}"
    try:
        url, drop = (_pg if kind == "postgresql" else _maria)(name)
    except Exception as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"{kind} unavailable: {exc}")
    try:
        yield url
    finally:
        drop()


@contextmanager
def integration_env(kind: str) -> Iterator[dict[str, str]]:
    """The environment of a cloud on ``kind`` ('sqlite': nothing to add): a new database on the real
    server and the AMQP bus on the real RabbitMQ, as a multi-process deployment runs."""
    if kind == "sqlite":
        yield {}
        return
    import socket

    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"RabbitMQ unavailable: {exc}")
    from litestack.common.service import registry

    # One database per service, as in production (a shared one works too: each service keeps its
    # own Alembic revision table; tests/unit/common/test_db.py shows it).
    with databases_per_service(kind, registry().names()) as url:
        # Its own namespace on the broker: clouds alive at once (a module's and a package's) never
        # take each other's RPC messages, as their databases are never shared either.
        bus = f"{AMQP}?namespace=ls_it_{uuid.uuid4().hex[:10]}"
        yield {"LITESTACK_DEFAULT_DATABASE_URL": url, "LITESTACK_DEFAULT_TRANSPORT_URL": bus}


@contextmanager
def databases_per_service(kind: str, services: list[str]) -> Iterator[str]:
    """A new database of ``kind`` for each service (each runs its own migrations); yields the
    ``database_url`` template, with ``{service}``."""
    prefix = f"ls_it_{uuid.uuid4().hex[:10]}_"
    with contextlib.ExitStack() as stack:
        url = ""
        for service in services:
            url = stack.enter_context(database(kind, prefix + service))
        yield url.replace(prefix + services[-1], prefix + "{service}")


@contextmanager
def clouds_on(kind: str, base: Path) -> Iterator[Callable[..., RunningCloud]]:
    """A ``cloud_factory`` whose clouds each get a new database of ``kind`` ('sqlite', 'postgresql'
    or 'mariadb'); the clouds stop before their databases are dropped."""
    started: list[RunningCloud] = []
    with contextlib.ExitStack() as stack:
        def make(config: str | None = None, env: dict[str, str] | None = None) -> RunningCloud:
            n = len(started)
            data_dir = base / f"cloud{n}"
            data_dir.mkdir()
            cfg = None
            if config is not None:
                cfg = base / f"cloud{n}.toml"
                cfg.write_text(config)
            full_env = {**os.environ, **(env or {})}
            full_env.pop("OS_CLOUD", None)
            full_env.update(stack.enter_context(integration_env(kind)))
            c = RunningCloud(data_dir, free_port(), full_env, config_file=cfg)
            started.append(c)
            c.start()
            return c

        try:
            yield make
        finally:
            for c in started:
                c.stop()


@contextmanager
def cloud_on(kind: str, base: Path, config: str, timeout: float = 30) -> Iterator[RunningCloud]:
    """One running cloud with ``config`` (TOML text) under ``base``, on ``kind`` ('sqlite', or
    'postgresql'/'mariadb' with RabbitMQ, one database per service): the shared cloud of a test
    module or package, stopped before its databases are dropped."""
    data_dir = base / "cloud"
    data_dir.mkdir()
    cfg = base / "cloud.toml"
    cfg.write_text(config)
    env = {**os.environ}
    env.pop("OS_CLOUD", None)
    with integration_env(kind) as extra:
        env.update(extra)
        c = RunningCloud(data_dir, free_port(), env, config_file=cfg)
        c.start(timeout)
        try:
            yield c
        finally:
            c.stop()


def on_real_server(cloud: RunningCloud) -> bool:
    """Whether ``cloud`` runs on PostgreSQL or MariaDB (slower to fuzz than SQLite)."""
    return bool(cloud.env.get("LITESTACK_DEFAULT_DATABASE_URL"))


@contextmanager
def identity_db(cloud: RunningCloud) -> Iterator[Engine]:
    """An engine on ``cloud``'s identity database: its SQLite file, or the server database."""
    url = cloud.env.get("LITESTACK_DEFAULT_DATABASE_URL") or f"sqlite:///{cloud.data_dir / 'identity.db'}"
    engine = create_engine(url.replace("{service}", "identity"))
    try:
        yield engine
    finally:
        engine.dispose()
