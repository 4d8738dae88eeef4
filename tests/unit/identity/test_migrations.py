"""The identity migrations build exactly the schema the models describe (on SQLite here; on
PostgreSQL and MariaDB in tests/integration)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from litestack.common.db import Database, upgrade
from litestack.identity.models import Base


def schema_diff(url: str) -> list[Any]:
    """What differs between the migrated database at ``url`` and the models (empty when they agree)."""
    db = Database(url)
    try:
        upgrade(db, "litestack.identity.migrations", Base)
        with db.engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))
    finally:
        db.dispose()


@pytest.mark.unit
def test_migrations_match_models_on_sqlite(tmp_path: Path) -> None:
    assert schema_diff(f"sqlite:///{tmp_path / 'identity.db'}") == []
