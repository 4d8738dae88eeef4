"""The image service's migrations give exactly its models, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from litestack.common.db import Database, upgrade
from litestack.image.models import Base
from tests.databases import database

pytestmark = pytest.mark.functional


def schema_diff(url: str) -> list[Any]:
    db = Database(url)
    try:
        upgrade(db, "litestack.image.migrations", Base)
        upgrade(db, "litestack.image.migrations", Base)  # idempotent
        with db.engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))
    finally:
        db.dispose()


def test_migrations_match_models_on_sqlite(tmp_path: Path) -> None:
    assert schema_diff(f"sqlite:///{tmp_path / 'image.db'}") == []


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_migrations_match_models_on_servers(kind: str) -> None:
    with database(kind) as url:
        assert schema_diff(url) == []
