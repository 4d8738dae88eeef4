"""The identity migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from litestack.common.db import Database, upgrade
from litestack.identity.models import Base

pytestmark = pytest.mark.unit


def test_migrations_match_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'identity.db'}")
    try:
        upgrade(db, "litestack.identity.migrations", Base)
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        db.dispose()
    assert diff == []
