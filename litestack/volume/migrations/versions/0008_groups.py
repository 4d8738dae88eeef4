"""generic volume groups, group types and group snapshots

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 21:40:00
"""
from alembic import op
import sqlalchemy as sa

from litestack.common.db import Timestamp


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('group_types',
                    sa.Column('id', sa.String(length=36), nullable=False),
                    sa.Column('name', sa.String(length=255), nullable=False),
                    sa.Column('description', sa.String(length=255), nullable=True),
                    sa.Column('is_public', sa.Boolean(), nullable=False),
                    sa.Column('group_specs', sa.JSON(), nullable=False),
                    sa.Column('created_at', Timestamp, nullable=False),
                    sa.Column('updated_at', Timestamp, nullable=True),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('name'))
    op.create_table('groups',
                    sa.Column('id', sa.String(length=36), nullable=False),
                    sa.Column('project_id', sa.String(length=64), nullable=False),
                    sa.Column('user_id', sa.String(length=64), nullable=True),
                    sa.Column('name', sa.String(length=255), nullable=True),
                    sa.Column('description', sa.String(length=255), nullable=True),
                    sa.Column('status', sa.String(length=32), nullable=False),
                    sa.Column('availability_zone', sa.String(length=255), nullable=False),
                    sa.Column('group_type_id', sa.String(length=36), nullable=False),
                    sa.Column('volume_type_ids', sa.JSON(), nullable=False),
                    sa.Column('host', sa.String(length=255), nullable=True),
                    sa.Column('group_snapshot_id', sa.String(length=36), nullable=True),
                    sa.Column('source_group_id', sa.String(length=36), nullable=True),
                    sa.Column('replication_status', sa.String(length=32), nullable=False),
                    sa.Column('created_at', Timestamp, nullable=False),
                    sa.Column('updated_at', Timestamp, nullable=True),
                    sa.Column('task_started_at', Timestamp, nullable=True),
                    sa.PrimaryKeyConstraint('id'))
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_groups_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_groups_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_groups_group_type_id'), ['group_type_id'], unique=False)
    op.create_table('group_snapshots',
                    sa.Column('id', sa.String(length=36), nullable=False),
                    sa.Column('group_id', sa.String(length=36), nullable=False),
                    sa.Column('project_id', sa.String(length=64), nullable=False),
                    sa.Column('user_id', sa.String(length=64), nullable=True),
                    sa.Column('name', sa.String(length=255), nullable=True),
                    sa.Column('description', sa.String(length=255), nullable=True),
                    sa.Column('status', sa.String(length=32), nullable=False),
                    sa.Column('group_type_id', sa.String(length=36), nullable=False),
                    sa.Column('created_at', Timestamp, nullable=False),
                    sa.Column('updated_at', Timestamp, nullable=True),
                    sa.Column('task_started_at', Timestamp, nullable=True),
                    sa.PrimaryKeyConstraint('id'))
    with op.batch_alter_table('group_snapshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_snapshots_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_group_snapshots_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_group_snapshots_status'), ['status'], unique=False)
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_id', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_volumes_group_id'), ['group_id'], unique=False)
    with op.batch_alter_table('snapshots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_snapshot_id', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_snapshots_group_snapshot_id'), ['group_snapshot_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('snapshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_snapshots_group_snapshot_id'))
        batch_op.drop_column('group_snapshot_id')
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volumes_group_id'))
        batch_op.drop_column('group_id')
    op.drop_table('group_snapshots')
    op.drop_table('groups')
    op.drop_table('group_types')
