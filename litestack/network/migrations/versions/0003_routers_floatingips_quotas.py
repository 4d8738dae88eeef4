"""Routers and their ports, floating IPs and their port forwardings, quotas, agents, network RBAC
policies, auto-allocated topologies, QoS policies, address scopes, address groups.

Revision ID: 0003
"""
import sqlalchemy as sa
from alembic import op

from litestack.common.db import Timestamp

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('quota',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('resource', sa.String(length=64), nullable=False),
    sa.Column('limit', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('project_id', 'resource')
    )
    op.create_table('quota_lock',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('project_id')
    )
    op.create_table('router',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('gw_port_id', sa.String(length=36), nullable=True),
    sa.Column('gw_network_id', sa.String(length=36), nullable=True),
    sa.Column('enable_snat', sa.Boolean(), nullable=False),
    sa.Column('routes', sa.JSON(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('created_at', Timestamp, nullable=False),
    sa.Column('updated_at', Timestamp, nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['gw_network_id'], ['network.id'], ),
    sa.ForeignKeyConstraint(['gw_port_id'], ['port.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('router', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_router_gw_network_id'), ['gw_network_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_router_project_id'), ['project_id'], unique=False)

    op.create_table('floatingip',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('floating_network_id', sa.String(length=36), nullable=False),
    sa.Column('floating_port_id', sa.String(length=36), nullable=False),
    sa.Column('floating_ip_address', sa.String(length=64), nullable=False),
    sa.Column('fixed_port_id', sa.String(length=36), nullable=True),
    sa.Column('fixed_ip_address', sa.String(length=64), nullable=True),
    sa.Column('router_id', sa.String(length=36), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('created_at', Timestamp, nullable=False),
    sa.Column('updated_at', Timestamp, nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['fixed_port_id'], ['port.id'], ),
    sa.ForeignKeyConstraint(['floating_network_id'], ['network.id'], ),
    sa.ForeignKeyConstraint(['floating_port_id'], ['port.id'], ),
    sa.ForeignKeyConstraint(['router_id'], ['router.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('floating_network_id', 'fixed_port_id', 'fixed_ip_address', name='uniq_floatingip_fixed'),
    sa.UniqueConstraint('floating_port_id')
    )
    with op.batch_alter_table('floatingip', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_floatingip_fixed_port_id'), ['fixed_port_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_floatingip_floating_network_id'), ['floating_network_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_floatingip_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_floatingip_router_id'), ['router_id'], unique=False)

    op.create_table('router_port',
    sa.Column('port_id', sa.String(length=36), nullable=False),
    sa.Column('router_id', sa.String(length=36), nullable=False),
    sa.Column('port_type', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['port_id'], ['port.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['router_id'], ['router.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('port_id')
    )
    with op.batch_alter_table('router_port', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_router_port_router_id'), ['router_id'], unique=False)

    op.create_table('port_forwarding',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('floatingip_id', sa.String(length=36), nullable=False),
    sa.Column('internal_port_id', sa.String(length=36), nullable=False),
    sa.Column('internal_ip_address', sa.String(length=64), nullable=False),
    sa.Column('internal_port', sa.Integer(), nullable=False),
    sa.Column('external_port', sa.Integer(), nullable=False),
    sa.Column('protocol', sa.String(length=16), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['floatingip_id'], ['floatingip.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['internal_port_id'], ['port.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('floatingip_id', 'external_port', 'protocol', name='uniq_pf_external'),
    sa.UniqueConstraint('internal_port_id', 'internal_ip_address', 'internal_port', 'protocol', name='uniq_pf_internal')
    )
    with op.batch_alter_table('port_forwarding', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_port_forwarding_floatingip_id'), ['floatingip_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_port_forwarding_internal_port_id'), ['internal_port_id'], unique=False)


    op.create_table('agent',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('agent_type', sa.String(length=255), nullable=False),
    sa.Column('binary', sa.String(length=255), nullable=False),
    sa.Column('topic', sa.String(length=255), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('availability_zone', sa.String(length=255), nullable=True),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('configurations', sa.JSON(), nullable=False),
    sa.Column('created_at', Timestamp, nullable=False),
    sa.Column('started_at', Timestamp, nullable=False),
    sa.Column('heartbeat_timestamp', Timestamp, nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('agent_type', 'host', name='uniq_agent_type_host')
    )
    with op.batch_alter_table('agent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agent_host'), ['host'], unique=False)

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

    op.create_table('auto_allocated_topology',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.Column('router_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['network_id'], ['network.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['router_id'], ['router.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('project_id')
    )

    op.create_table('qos_policy',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('shared', sa.Boolean(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('created_at', Timestamp, nullable=False),
    sa.Column('updated_at', Timestamp, nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('qos_policy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qos_policy_project_id'), ['project_id'], unique=False)

    op.create_table('qos_rule',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('policy_id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('rule_key', sa.String(length=64), nullable=False),
    sa.Column('max_kbps', sa.BigInteger(), nullable=True),
    sa.Column('max_burst_kbps', sa.BigInteger(), nullable=True),
    sa.Column('direction', sa.String(length=16), nullable=True),
    sa.Column('dscp_mark', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['policy_id'], ['qos_policy.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('policy_id', 'rule_key', name='uniq_qos_rule')
    )
    with op.batch_alter_table('qos_rule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qos_rule_policy_id'), ['policy_id'], unique=False)

    with op.batch_alter_table('network', schema=None) as batch_op:
        batch_op.add_column(sa.Column('qos_policy_id', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_network_qos_policy_id'), ['qos_policy_id'], unique=False)
        batch_op.create_foreign_key('fk_network_qos_policy_id', 'qos_policy', ['qos_policy_id'], ['id'])

    with op.batch_alter_table('port', schema=None) as batch_op:
        batch_op.add_column(sa.Column('qos_policy_id', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_port_qos_policy_id'), ['qos_policy_id'], unique=False)
        batch_op.create_foreign_key('fk_port_qos_policy_id', 'qos_policy', ['qos_policy_id'], ['id'])
    op.create_table('address_scope',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('ip_version', sa.Integer(), nullable=False),
    sa.Column('shared', sa.Boolean(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('created_at', Timestamp, nullable=False),
    sa.Column('updated_at', Timestamp, nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('address_scope', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_address_scope_project_id'), ['project_id'], unique=False)

    with op.batch_alter_table('subnetpool', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address_scope_id', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_subnetpool_address_scope_id'), ['address_scope_id'], unique=False)
        batch_op.create_foreign_key('fk_subnetpool_address_scope_id', 'address_scope', ['address_scope_id'], ['id'])
    op.create_table('address_group',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('created_at', Timestamp, nullable=False),
    sa.Column('updated_at', Timestamp, nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('address_group', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_address_group_project_id'), ['project_id'], unique=False)

    op.create_table('address_group_address',
    sa.Column('group_id', sa.String(length=36), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['address_group.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'address')
    )
    with op.batch_alter_table('security_group_rule', schema=None) as batch_op:
        batch_op.add_column(sa.Column('remote_address_group_id', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_security_group_rule_remote_address_group_id'), ['remote_address_group_id'], unique=False)
        batch_op.create_foreign_key('fk_security_group_rule_remote_address_group_id', 'address_group', ['remote_address_group_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table("security_group_rule") as batch:
        batch.drop_constraint("fk_security_group_rule_remote_address_group_id", type_="foreignkey")
        batch.drop_index("ix_security_group_rule_remote_address_group_id")
        batch.drop_column("remote_address_group_id")
    op.drop_table("address_group_address")
    op.drop_table("address_group")
    with op.batch_alter_table("subnetpool") as batch:
        batch.drop_constraint("fk_subnetpool_address_scope_id", type_="foreignkey")
        batch.drop_index("ix_subnetpool_address_scope_id")
        batch.drop_column("address_scope_id")
    op.drop_table("address_scope")
    for table in ("port", "network"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_qos_policy_id", type_="foreignkey")
            batch.drop_index(f"ix_{table}_qos_policy_id")
            batch.drop_column("qos_policy_id")
    op.drop_table("qos_rule")
    op.drop_table("qos_policy")
    for table in ("auto_allocated_topology", "network_rbac", "agent", "port_forwarding", "router_port", "floatingip", "router", "quota_lock", "quota"):
        op.drop_table(table)
