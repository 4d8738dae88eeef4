"""Every service's migrations build exactly the schema its models describe: on SQLite here, and
on PostgreSQL and MariaDB when those servers run (integration; a failure in CI when they do not).
One test for every registered service, so a new service is checked without writing its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from litestack.common.db import Database, upgrade
from litestack.common.service import ServiceSpec, registry, resolve
from tests.databases import database

SERVICES = [spec for spec in registry() if spec.migrations is not None]


def schema_diff(url: str, spec: ServiceSpec) -> list[Any]:
    """What differs between the migrated database at ``url`` and the models (empty when they agree)."""
    assert spec.migrations is not None and spec.models is not None
    base = resolve(spec.models)
    db = Database(url)
    try:
        upgrade(db, spec.migrations, base, spec.name)
        upgrade(db, spec.migrations, base, spec.name)  # idempotent
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"version_table": f"alembic_version_{spec.name}"})
            return list(compare_metadata(ctx, base.metadata))
    finally:
        db.dispose()


@pytest.mark.unit
@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_migrations_match_models_on_sqlite(spec: ServiceSpec, tmp_path: Path) -> None:
    assert schema_diff(f"sqlite:///{tmp_path / (spec.name + '.db')}", spec) == []


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_migrations_match_models_on_the_real_servers(spec: ServiceSpec, kind: str) -> None:
    with database(kind) as url:
        assert schema_diff(url, spec) == []
