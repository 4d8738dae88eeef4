"""The note table.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from litestack.common.db import Timestamp

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "note",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("text", sa.String(255), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_index("ix_note_project_id", "note", ["project_id"])


def downgrade() -> None:
    op.drop_table("note")
