"""Keys and secrets shared by every identity host (key_store = database)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 12:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stored_key',
    sa.Column('repo', sa.String(length=32), nullable=False),
    sa.Column('idx', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('repo', 'idx')
    )


def downgrade() -> None:
    op.drop_table('stored_key')
