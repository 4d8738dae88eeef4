"""The network service's first schema: networks, segments and their allocations, subnets, ports and
their IP allocations, security groups and rules, tags.

Revision ID: 0001
"""
from alembic import op
import sqlalchemy as sa

from litestack.common.db import Timestamp

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('network',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('shared', sa.Boolean(), nullable=False),
    sa.Column('external', sa.Boolean(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('mtu', sa.Integer(), nullable=False),
    sa.Column('port_security_enabled', sa.Boolean(), nullable=False),
    sa.Column('dns_domain', sa.String(length=255), nullable=False),
    sa.Column('availability_zone_hints', sa.JSON(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('created_at', Timestamp, nullable=False),
    sa.Column('updated_at', Timestamp, nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('network', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_project_id'), ['project_id'], unique=False)

    op.create_table('security_group',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('stateful', sa.Boolean(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('created_at', Timestamp, nullable=False),
    sa.Column('updated_at', Timestamp, nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('security_group', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_security_group_project_id'), ['project_id'], unique=False)

    op.create_table('tag',
    sa.Column('resource_id', sa.String(length=36), nullable=False),
    sa.Column('tag', sa.String(length=255), nullable=False),
    sa.Column('resource_type', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('resource_id', 'tag')
    )
    with op.batch_alter_table('tag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tag_resource_type'), ['resource_type'], unique=False)

    op.create_table('default_security_group',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('security_group_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['security_group_id'], ['security_group.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id'),
    sa.UniqueConstraint('security_group_id')
    )
    op.create_table('network_segment',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.Column('network_type', sa.String(length=32), nullable=False),
    sa.Column('physical_network', sa.String(length=64), nullable=True),
    sa.Column('segmentation_id', sa.BigInteger(), nullable=True),
    sa.Column('segment_index', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['network.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('network_segment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_segment_network_id'), ['network_id'], unique=False)

    op.create_table('port',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('mac_address', sa.String(length=32), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('device_id', sa.String(length=255), nullable=False),
    sa.Column('device_owner', sa.String(length=255), nullable=False),
    sa.Column('binding_host_id', sa.String(length=255), nullable=False),
    sa.Column('binding_vnic_type', sa.String(length=64), nullable=False),
    sa.Column('binding_vif_type', sa.String(length=64), nullable=False),
    sa.Column('binding_vif_details', sa.JSON(), nullable=False),
    sa.Column('binding_profile', sa.JSON(), nullable=False),
    sa.Column('port_security_enabled', sa.Boolean(), nullable=False),
    sa.Column('allowed_address_pairs', sa.JSON(), nullable=False),
    sa.Column('extra_dhcp_opts', sa.JSON(), nullable=False),
    sa.Column('dns_name', sa.String(length=255), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('created_at', Timestamp, nullable=False),
    sa.Column('updated_at', Timestamp, nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['network.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('network_id', 'mac_address', name='uniq_port_network_mac')
    )
    with op.batch_alter_table('port', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_port_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_port_device_owner'), ['device_owner'], unique=False)
        batch_op.create_index(batch_op.f('ix_port_network_id'), ['network_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_port_project_id'), ['project_id'], unique=False)

    op.create_table('security_group_rule',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('security_group_id', sa.String(length=36), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('ethertype', sa.String(length=8), nullable=False),
    sa.Column('protocol', sa.String(length=40), nullable=True),
    sa.Column('port_range_min', sa.Integer(), nullable=True),
    sa.Column('port_range_max', sa.Integer(), nullable=True),
    sa.Column('remote_ip_prefix', sa.String(length=64), nullable=True),
    sa.Column('remote_group_id', sa.String(length=36), nullable=True),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('created_at', Timestamp, nullable=False),
    sa.Column('updated_at', Timestamp, nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['remote_group_id'], ['security_group.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['security_group_id'], ['security_group.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('security_group_rule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_security_group_rule_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_security_group_rule_security_group_id'), ['security_group_id'], unique=False)

    op.create_table('segment_allocation',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('network_type', sa.String(length=32), nullable=False),
    sa.Column('physical_network', sa.String(length=64), nullable=False),
    sa.Column('segmentation_id', sa.BigInteger(), nullable=False),
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['network.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('network_type', 'physical_network', 'segmentation_id', name='uniq_segment_allocation')
    )
    with op.batch_alter_table('segment_allocation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_segment_allocation_network_id'), ['network_id'], unique=False)

    op.create_table('subnet',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('ip_version', sa.Integer(), nullable=False),
    sa.Column('cidr', sa.String(length=64), nullable=False),
    sa.Column('gateway_ip', sa.String(length=64), nullable=True),
    sa.Column('enable_dhcp', sa.Boolean(), nullable=False),
    sa.Column('ipv6_ra_mode', sa.String(length=16), nullable=True),
    sa.Column('ipv6_address_mode', sa.String(length=16), nullable=True),
    sa.Column('allocation_pools', sa.JSON(), nullable=False),
    sa.Column('dns_nameservers', sa.JSON(), nullable=False),
    sa.Column('host_routes', sa.JSON(), nullable=False),
    sa.Column('dns_publish_fixed_ip', sa.Boolean(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('created_at', Timestamp, nullable=False),
    sa.Column('updated_at', Timestamp, nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['network.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('subnet', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subnet_network_id'), ['network_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_subnet_project_id'), ['project_id'], unique=False)

    op.create_table('ip_allocation',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('port_id', sa.String(length=36), nullable=False),
    sa.Column('subnet_id', sa.String(length=36), nullable=False),
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.Column('ip_address', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['network.id'], ),
    sa.ForeignKeyConstraint(['port_id'], ['port.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subnet_id'], ['subnet.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('network_id', 'ip_address', name='uniq_ip_allocation_network_ip')
    )
    with op.batch_alter_table('ip_allocation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ip_allocation_network_id'), ['network_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ip_allocation_port_id'), ['port_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ip_allocation_subnet_id'), ['subnet_id'], unique=False)

    op.create_table('port_security_group',
    sa.Column('port_id', sa.String(length=36), nullable=False),
    sa.Column('security_group_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['port_id'], ['port.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['security_group_id'], ['security_group.id'], ),
    sa.PrimaryKeyConstraint('port_id', 'security_group_id')
    )
    with op.batch_alter_table('port_security_group', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_port_security_group_security_group_id'), ['security_group_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('port_security_group', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_port_security_group_security_group_id'))

    op.drop_table('port_security_group')
    with op.batch_alter_table('ip_allocation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ip_allocation_subnet_id'))
        batch_op.drop_index(batch_op.f('ix_ip_allocation_port_id'))
        batch_op.drop_index(batch_op.f('ix_ip_allocation_network_id'))

    op.drop_table('ip_allocation')
    with op.batch_alter_table('subnet', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subnet_project_id'))
        batch_op.drop_index(batch_op.f('ix_subnet_network_id'))

    op.drop_table('subnet')
    with op.batch_alter_table('segment_allocation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_segment_allocation_network_id'))

    op.drop_table('segment_allocation')
    with op.batch_alter_table('security_group_rule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_security_group_rule_security_group_id'))
        batch_op.drop_index(batch_op.f('ix_security_group_rule_project_id'))

    op.drop_table('security_group_rule')
    with op.batch_alter_table('port', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_port_project_id'))
        batch_op.drop_index(batch_op.f('ix_port_network_id'))
        batch_op.drop_index(batch_op.f('ix_port_device_owner'))
        batch_op.drop_index(batch_op.f('ix_port_device_id'))

    op.drop_table('port')
    with op.batch_alter_table('network_segment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_segment_network_id'))

    op.drop_table('network_segment')
    op.drop_table('default_security_group')
    with op.batch_alter_table('tag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tag_resource_type'))

    op.drop_table('tag')
    with op.batch_alter_table('security_group', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_security_group_project_id'))

    op.drop_table('security_group')
    with op.batch_alter_table('network', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_project_id'))

    op.drop_table('network')
