"""Throw-away databases on the real PostgreSQL and MariaDB servers, for tests that run a cloud on them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


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
def database(kind: str) -> Iterator[str]:
    """A new empty database of ``kind`` ('postgresql' or 'mariadb'), dropped afterwards; yields its URL.

    When the server is not there the test is skipped locally and fails in CI (``CI`` set).
    """
    name = f"ls_it_{uuid.uuid4().hex[:10]}"
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
