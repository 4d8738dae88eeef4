"""microsecond timestamps on MySQL/MariaDB

DATETIME there keeps whole seconds unless declared DATETIME(6); revocation events need the
sub-second part (a token issued in the same second after a revocation stays valid, one issued
before it does not). SQLite and PostgreSQL already keep microseconds: nothing to do there.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 02:40:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

COLUMNS = {
    "user": (("created_at", False), ("last_active_at", True), ("failed_auth_at", True)),
    "password": (("created_at", False), ("expires_at", True)),
    "application_credential": (("expires_at", True),),
    "revocation_event": (("issued_before", False), ("revoked_at", False)),
    "trust": (("expires_at", True),),
}


def _alter(to: sa.types.TypeEngine, from_: sa.types.TypeEngine) -> None:
    if op.get_bind().dialect.name not in ("mysql", "mariadb"):
        return
    for table, columns in COLUMNS.items():
        for column, nullable in columns:
            op.alter_column(table, column, type_=to, existing_type=from_, existing_nullable=nullable)


def upgrade() -> None:
    _alter(mysql.DATETIME(fsp=6), mysql.DATETIME())


def downgrade() -> None:
    _alter(mysql.DATETIME(), mysql.DATETIME(fsp=6))
