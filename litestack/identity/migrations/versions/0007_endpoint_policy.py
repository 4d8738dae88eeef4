"""policy associations (OS-ENDPOINT-POLICY)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 02:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('policy_association',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('policy_id', sa.String(length=64), nullable=False),
    sa.Column('endpoint_id', sa.String(length=64), nullable=True),
    sa.Column('service_id', sa.String(length=64), nullable=True),
    sa.Column('region_id', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['endpoint_id'], ['endpoint.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['policy_id'], ['policy.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_policy_association_policy_id'), 'policy_association', ['policy_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_policy_association_policy_id'), table_name='policy_association')
    op.drop_table('policy_association')
