"""unified limits: registered limits and project/domain limits

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 02:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('registered_limit',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('service_id', sa.String(length=64), nullable=False),
    sa.Column('region_id', sa.String(length=255), nullable=True),
    sa.Column('resource_name', sa.String(length=255), nullable=False),
    sa.Column('default_limit', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_registered_limit_service_id'), 'registered_limit', ['service_id'], unique=False)
    op.create_table('limit',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('registered_limit_id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=True),
    sa.Column('domain_id', sa.String(length=64), nullable=True),
    sa.Column('resource_limit', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['registered_limit_id'], ['registered_limit.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_limit_registered_limit_id'), 'limit', ['registered_limit_id'], unique=False)
    op.create_index(op.f('ix_limit_project_id'), 'limit', ['project_id'], unique=False)
    op.create_index(op.f('ix_limit_domain_id'), 'limit', ['domain_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_limit_domain_id'), table_name='limit')
    op.drop_index(op.f('ix_limit_project_id'), table_name='limit')
    op.drop_index(op.f('ix_limit_registered_limit_id'), table_name='limit')
    op.drop_table('limit')
    op.drop_index(op.f('ix_registered_limit_service_id'), table_name='registered_limit')
    op.drop_table('registered_limit')
