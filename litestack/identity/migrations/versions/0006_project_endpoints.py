"""direct project-endpoint associations (OS-EP-FILTER)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 02:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('project_endpoint',
    sa.Column('endpoint_id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['endpoint.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('endpoint_id', 'project_id')
    )
    op.create_index(op.f('ix_project_endpoint_project_id'), 'project_endpoint', ['project_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_project_endpoint_project_id'), table_name='project_endpoint')
    op.drop_table('project_endpoint')
