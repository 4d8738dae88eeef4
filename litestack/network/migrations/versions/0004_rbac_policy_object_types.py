"""RBAC policies of every object type (networks, QoS policies, security groups) in one table:
``network_rbac`` becomes ``rbac_policy`` with an ``object_type`` column.

Revision ID: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rbac_policy',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('object_type', sa.String(length=32), nullable=False),
    sa.Column('object_id', sa.String(length=36), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target_project', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('object_type', 'object_id', 'action', 'target_project', name='uniq_rbac_policy')
    )
    with op.batch_alter_table('rbac_policy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rbac_policy_object_id'), ['object_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rbac_policy_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rbac_policy_target_project'), ['target_project'], unique=False)
    op.execute("INSERT INTO rbac_policy (id, project_id, object_type, object_id, action, target_project) "
               "SELECT id, project_id, 'network', object_id, action, target_project FROM network_rbac")
    op.drop_table('network_rbac')


def downgrade() -> None:
    op.create_table('network_rbac',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('object_id', sa.String(length=36), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target_project', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['object_id'], ['network.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('object_id', 'action', 'target_project', name='uniq_network_rbac')
    )
    with op.batch_alter_table('network_rbac', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_rbac_object_id'), ['object_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_network_rbac_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_network_rbac_target_project'), ['target_project'], unique=False)
    op.execute("INSERT INTO network_rbac (id, project_id, object_id, action, target_project) "
               "SELECT id, project_id, object_id, action, target_project FROM rbac_policy "
               "WHERE object_type = 'network'")
    op.drop_table('rbac_policy')
