"""migrations (moves of instances) and instance system metadata

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 21:45:00.000000
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def _ts() -> sa.types.TypeEngine:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(mysql.DATETIME(fsp=6), 'mysql')


def upgrade() -> None:
    op.create_table('migrations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('instance_id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('migration_type', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('source_compute', sa.String(length=255), nullable=True),
    sa.Column('source_node', sa.String(length=255), nullable=True),
    sa.Column('dest_compute', sa.String(length=255), nullable=True),
    sa.Column('dest_node', sa.String(length=255), nullable=True),
    sa.Column('dest_host', sa.String(length=255), nullable=True),
    sa.Column('old_flavor', sa.JSON(), nullable=False),
    sa.Column('new_flavor', sa.JSON(), nullable=False),
    sa.Column('progress', sa.JSON(), nullable=False),
    sa.Column('hidden', sa.Boolean(), nullable=False),
    sa.Column('created_at', _ts(), nullable=False),
    sa.Column('updated_at', _ts(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uuid')
    )
    op.create_index('ix_migrations_instance_status', 'migrations', ['instance_id', 'status'], unique=False)
    op.create_index(op.f('ix_migrations_instance_id'), 'migrations', ['instance_id'], unique=False)
    op.create_index(op.f('ix_migrations_status'), 'migrations', ['status'], unique=False)
    op.create_index(op.f('ix_migrations_source_compute'), 'migrations', ['source_compute'], unique=False)
    op.create_index(op.f('ix_migrations_dest_compute'), 'migrations', ['dest_compute'], unique=False)
    op.create_index(op.f('ix_migrations_updated_at'), 'migrations', ['updated_at'], unique=False)
    op.create_table('instance_system_metadata',
    sa.Column('instance_id', sa.String(length=36), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('instance_id', 'key')
    )


def downgrade() -> None:
    op.drop_table('instance_system_metadata')
    for name in ('updated_at', 'dest_compute', 'source_compute', 'status', 'instance_id'):
        op.drop_index(op.f(f'ix_migrations_{name}'), table_name='migrations')
    op.drop_index('ix_migrations_instance_status', table_name='migrations')
    op.drop_table('migrations')
