"""Segments as a resource (``/segments``): a segment gets a name and Neutron's standard attributes
(description, revision, timestamps, taken from its network for existing rows), and a subnet may
belong to one segment (``segment_id``).

Revision ID: 0005
"""
import sqlalchemy as sa
from alembic import op

from litestack.common.db import Timestamp

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('network_segment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('revision_number', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('created_at', Timestamp, nullable=True))
        batch_op.add_column(sa.Column('updated_at', Timestamp, nullable=True))
        batch_op.add_column(sa.Column('description', sa.String(length=255), nullable=False, server_default=''))
    # The segments that exist were made with their network: they take its creation time.
    op.execute("UPDATE network_segment SET created_at = (SELECT network.created_at FROM network "
               "WHERE network.id = network_segment.network_id)")
    op.execute("UPDATE network_segment SET updated_at = created_at")
    with op.batch_alter_table('network_segment', schema=None) as batch_op:
        batch_op.alter_column('revision_number', server_default=None)
        batch_op.alter_column('description', server_default=None)
        batch_op.alter_column('created_at', existing_type=Timestamp, nullable=False)
        batch_op.alter_column('updated_at', existing_type=Timestamp, nullable=False)
    with op.batch_alter_table('subnet', schema=None) as batch_op:
        batch_op.add_column(sa.Column('segment_id', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_subnet_segment_id'), ['segment_id'], unique=False)
        batch_op.create_foreign_key('fk_subnet_segment_id', 'network_segment', ['segment_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('subnet', schema=None) as batch_op:
        batch_op.drop_constraint('fk_subnet_segment_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_subnet_segment_id'))
        batch_op.drop_column('segment_id')
    with op.batch_alter_table('network_segment', schema=None) as batch_op:
        batch_op.drop_column('description')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('created_at')
        batch_op.drop_column('revision_number')
        batch_op.drop_column('name')
