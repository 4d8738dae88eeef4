"""Subnet pools, and the pool a subnet was allocated from.

Revision ID: 0002
"""
import sqlalchemy as sa
from alembic import op

from litestack.common.db import Timestamp

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subnetpool",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("prefixes", sa.JSON(), nullable=False),
        sa.Column("default_prefixlen", sa.Integer(), nullable=False),
        sa.Column("min_prefixlen", sa.Integer(), nullable=False),
        sa.Column("max_prefixlen", sa.Integer(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("default_quota", sa.Integer(), nullable=True),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_subnetpool_project_id"), "subnetpool", ["project_id"], unique=False)
    with op.batch_alter_table("subnet") as batch:
        batch.add_column(sa.Column("subnetpool_id", sa.String(length=36), nullable=True))
        batch.create_index(batch.f("ix_subnet_subnetpool_id"), ["subnetpool_id"], unique=False)
        batch.create_foreign_key("fk_subnet_subnetpool_id", "subnetpool", ["subnetpool_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("subnet") as batch:
        batch.drop_constraint("fk_subnet_subnetpool_id", type_="foreignkey")
        batch.drop_index(batch.f("ix_subnet_subnetpool_id"))
        batch.drop_column("subnetpool_id")
    op.drop_index(op.f("ix_subnetpool_project_id"), table_name="subnetpool")
    op.drop_table("subnetpool")
