"""The network migrations build exactly the schema the models describe, on SQLite here and on
PostgreSQL and MariaDB when those servers run (integration)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from litestack.common.db import Database, upgrade
from litestack.network.models import Base
from tests.databases import database


def schema_diff(url: str) -> list[Any]:
    db = Database(url)
    try:
        upgrade(db, "litestack.network.migrations", Base)
        with db.engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))
    finally:
        db.dispose()


@pytest.mark.unit
def test_migrations_match_models_on_sqlite(tmp_path: Path) -> None:
    assert schema_diff(f"sqlite:///{tmp_path / 'network.db'}") == []


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_migrations_match_models_on_the_real_servers(kind: str) -> None:
    with database(kind) as url:  # skipped when the server is not there (a failure in CI)
        assert schema_diff(url) == []
