"""user messages, clusters, service cluster/frozen, backup metadata and snapshot

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 21:40:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

TS = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(mysql.DATETIME(fsp=6), 'mysql')


def upgrade() -> None:
    op.create_table('messages',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.String(length=255), nullable=True),
    sa.Column('resource_type', sa.String(length=36), nullable=True),
    sa.Column('resource_uuid', sa.String(length=36), nullable=True),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('detail_id', sa.String(length=10), nullable=True),
    sa.Column('action_id', sa.String(length=10), nullable=True),
    sa.Column('message_level', sa.String(length=255), nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('expires_at', TS, nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_messages_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_expires_at'), ['expires_at'], unique=False)
    op.create_table('clusters',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('binary', sa.String(length=64), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('disabled_reason', sa.String(length=255), nullable=True),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('updated_at', TS, nullable=True),
    sa.PrimaryKeyConstraint('name', 'binary')
    )
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cluster_name', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('frozen', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('backend_state', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('started_at', TS, nullable=True))
        batch_op.create_index(batch_op.f('ix_services_cluster_name'), ['cluster_name'], unique=False)
    with op.batch_alter_table('backups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('metadata', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('snapshot_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('service_metadata', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('backups', schema=None) as batch_op:
        batch_op.drop_column('service_metadata')
        batch_op.drop_column('snapshot_id')
        batch_op.drop_column('metadata')
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_services_cluster_name'))
        batch_op.drop_column('started_at')
        batch_op.drop_column('backend_state')
        batch_op.drop_column('frozen')
        batch_op.drop_column('cluster_name')
    op.drop_table('clusters')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_expires_at'))
        batch_op.drop_index(batch_op.f('ix_messages_project_id'))
    op.drop_table('messages')
