"""Alembic environment shared by every service's migrations package.

Each service's ``migrations/env.py`` imports ``run()`` from here. The connection
and target metadata are passed in by ``litestack.common.db.upgrade``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine


def run() -> None:
    cfg = context.config
    metadata = cfg.attributes.get("target_metadata")
    conn = cfg.attributes.get("connection")
    # Each service's own revision table, so that services can share one database.
    version_table = cfg.attributes.get("version_table", "alembic_version")
    if conn is not None:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True,
                          version_table=version_table)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(cfg.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                          version_table=version_table)
        with context.begin_transaction():
            context.run_migrations()
