"""trusts (OS-TRUST) and trust revocation events

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 02:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('trust',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('trustor_user_id', sa.String(length=64), nullable=False),
    sa.Column('trustee_user_id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=True),
    sa.Column('impersonation', sa.Boolean(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('remaining_uses', sa.Integer(), nullable=True),
    sa.Column('redelegated_trust_id', sa.String(length=64), nullable=True),
    sa.Column('redelegation_count', sa.Integer(), nullable=False),
    sa.Column('role_ids', sa.JSON(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_trust_trustor_user_id'), 'trust', ['trustor_user_id'], unique=False)
    op.create_index(op.f('ix_trust_trustee_user_id'), 'trust', ['trustee_user_id'], unique=False)
    op.create_index(op.f('ix_trust_project_id'), 'trust', ['project_id'], unique=False)
    op.create_index(op.f('ix_trust_redelegated_trust_id'), 'trust', ['redelegated_trust_id'], unique=False)
    with op.batch_alter_table('revocation_event') as batch:
        batch.add_column(sa.Column('trust_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('revocation_event') as batch:
        batch.drop_column('trust_id')
    op.drop_index(op.f('ix_trust_redelegated_trust_id'), table_name='trust')
    op.drop_index(op.f('ix_trust_project_id'), table_name='trust')
    op.drop_index(op.f('ix_trust_trustee_user_id'), table_name='trust')
    op.drop_index(op.f('ix_trust_trustor_user_id'), table_name='trust')
    op.drop_table('trust')
