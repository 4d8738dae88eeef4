"""qos specs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 19:40:00
"""
from alembic import op
import sqlalchemy as sa

from litestack.common.db import Timestamp


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('qos_specs',
                    sa.Column('id', sa.String(length=36), nullable=False),
                    sa.Column('name', sa.String(length=255), nullable=False),
                    sa.Column('consumer', sa.String(length=16), nullable=False),
                    sa.Column('specs', sa.JSON(), nullable=False),
                    sa.Column('created_at', Timestamp, nullable=False),
                    sa.Column('updated_at', Timestamp, nullable=True),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('name'))
    with op.batch_alter_table('volume_types', schema=None) as batch_op:
        batch_op.add_column(sa.Column('qos_specs_id', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_volume_types_qos_specs_id'), ['qos_specs_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('volume_types', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volume_types_qos_specs_id'))
        batch_op.drop_column('qos_specs_id')
    op.drop_table('qos_specs')
