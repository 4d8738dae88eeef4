"""OAuth1 request and access tokens; revocation by access token

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 03:00:00
"""
from alembic import op
import sqlalchemy as sa

from litestack.common.db import Timestamp


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('oauth_request_token',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('consumer_id', sa.String(length=64), nullable=False),
    sa.Column('requested_project_id', sa.String(length=64), nullable=False),
    sa.Column('encrypted_secret', sa.Text(), nullable=False),
    sa.Column('authorizing_user_id', sa.String(length=64), nullable=True),
    sa.Column('role_ids', sa.JSON(), nullable=False),
    sa.Column('verifier', sa.String(length=64), nullable=True),
    sa.Column('expires_at', Timestamp, nullable=True),
    sa.ForeignKeyConstraint(['authorizing_user_id'], ['user.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['consumer_id'], ['oauth_consumer.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_project_id'], ['project.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_oauth_request_token_consumer_id'), 'oauth_request_token', ['consumer_id'],
                    unique=False)
    op.create_table('oauth_access_token',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('consumer_id', sa.String(length=64), nullable=False),
    sa.Column('authorizing_user_id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('encrypted_secret', sa.Text(), nullable=False),
    sa.Column('role_ids', sa.JSON(), nullable=False),
    sa.Column('expires_at', Timestamp, nullable=True),
    sa.ForeignKeyConstraint(['authorizing_user_id'], ['user.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['consumer_id'], ['oauth_consumer.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_oauth_access_token_consumer_id'), 'oauth_access_token', ['consumer_id'],
                    unique=False)
    op.create_index(op.f('ix_oauth_access_token_authorizing_user_id'), 'oauth_access_token',
                    ['authorizing_user_id'], unique=False)
    with op.batch_alter_table('revocation_event') as batch:
        batch.add_column(sa.Column('access_token_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('revocation_event') as batch:
        batch.drop_column('access_token_id')
    op.drop_index(op.f('ix_oauth_access_token_authorizing_user_id'), table_name='oauth_access_token')
    op.drop_index(op.f('ix_oauth_access_token_consumer_id'), table_name='oauth_access_token')
    op.drop_table('oauth_access_token')
    op.drop_index(op.f('ix_oauth_request_token_consumer_id'), table_name='oauth_request_token')
    op.drop_table('oauth_request_token')
