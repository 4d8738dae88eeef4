"""The network service's tables.

Race-freedom lives in unique constraints, checked by the database in the transaction that
allocates: ``segment_allocation`` (one row per taken VLAN, VNI, GRE id or flat physnet),
``ip_allocation`` (one address once per network), ``port`` (one MAC once per network) and
``default_security_group`` (one default group per project).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from litestack.common.db import Timestamp

ID = String(36)


class Base(DeclarativeBase):
    pass


class Standard:
    """Neutron's standard attributes: revision, timestamps, description."""

    revision_number: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)
    description: Mapped[str] = mapped_column(String(255), default="")


class Network(Standard, Base):
    __tablename__ = "network"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    external: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    mtu: Mapped[int] = mapped_column(Integer)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    dns_domain: Mapped[str] = mapped_column(String(255), default="")
    availability_zone_hints: Mapped[list[str]] = mapped_column(JSON, default=list)
    qos_policy_id: Mapped[str | None] = mapped_column(ForeignKey("qos_policy.id"), nullable=True, index=True)


class Segment(Standard, Base):
    """A segment of a network (``/segments``; ``segments`` of a multi-provider network), ordered by
    ``segment_index``; its segmentation id is held by a ``segment_allocation`` row."""

    __tablename__ = "network_segment"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("network.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    network_type: Mapped[str] = mapped_column(String(32))
    physical_network: Mapped[str | None] = mapped_column(String(64), nullable=True)
    segmentation_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # GRE ids reach 2**32-1
    segment_index: Mapped[int] = mapped_column(Integer, default=0)


class SegmentAllocation(Base):
    """A taken segmentation id (``physical_network`` is '' for tunnels; ``segmentation_id`` 0 for
    a flat physnet): the unique key makes two networks on one id impossible."""

    __tablename__ = "segment_allocation"
    __table_args__ = (UniqueConstraint("network_type", "physical_network", "segmentation_id",
                                       name="uniq_segment_allocation"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    network_type: Mapped[str] = mapped_column(String(32))
    physical_network: Mapped[str] = mapped_column(String(64))
    segmentation_id: Mapped[int] = mapped_column(BigInteger)
    network_id: Mapped[str] = mapped_column(ForeignKey("network.id", ondelete="CASCADE"), index=True)


class Subnet(Standard, Base):
    __tablename__ = "subnet"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("network.id"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    ip_version: Mapped[int] = mapped_column(Integer)
    cidr: Mapped[str] = mapped_column(String(64))
    gateway_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    enable_dhcp: Mapped[bool] = mapped_column(Boolean, default=True)
    ipv6_ra_mode: Mapped[str | None] = mapped_column(String(16), nullable=True)
    ipv6_address_mode: Mapped[str | None] = mapped_column(String(16), nullable=True)
    allocation_pools: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    dns_nameservers: Mapped[list[str]] = mapped_column(JSON, default=list)
    host_routes: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    dns_publish_fixed_ip: Mapped[bool] = mapped_column(Boolean, default=False)
    subnetpool_id: Mapped[str | None] = mapped_column(ForeignKey("subnetpool.id"), nullable=True, index=True)
    segment_id: Mapped[str | None] = mapped_column(ForeignKey("network_segment.id"), nullable=True, index=True)


class SubnetPool(Standard, Base):
    """A pool of prefixes subnets are allocated from (``subnetpool_id`` of a subnet)."""

    __tablename__ = "subnetpool"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    ip_version: Mapped[int] = mapped_column(Integer)
    prefixes: Mapped[list[str]] = mapped_column(JSON, default=list)
    default_prefixlen: Mapped[int] = mapped_column(Integer)
    min_prefixlen: Mapped[int] = mapped_column(Integer)
    max_prefixlen: Mapped[int] = mapped_column(Integer)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    default_quota: Mapped[int | None] = mapped_column(Integer, nullable=True)
    address_scope_id: Mapped[str | None] = mapped_column(ForeignKey("address_scope.id"), nullable=True, index=True)


class Port(Standard, Base):
    __tablename__ = "port"
    __table_args__ = (UniqueConstraint("network_id", "mac_address", name="uniq_port_network_mac"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("network.id"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    mac_address: Mapped[str] = mapped_column(String(32))
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    device_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    device_owner: Mapped[str] = mapped_column(String(255), default="", index=True)
    binding_host_id: Mapped[str] = mapped_column(String(255), default="")
    binding_vnic_type: Mapped[str] = mapped_column(String(64), default="normal")
    binding_vif_type: Mapped[str] = mapped_column(String(64), default="unbound")
    binding_vif_details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    binding_profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    allowed_address_pairs: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    extra_dhcp_opts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    dns_name: Mapped[str] = mapped_column(String(255), default="")
    qos_policy_id: Mapped[str | None] = mapped_column(ForeignKey("qos_policy.id"), nullable=True, index=True)


class IPAllocation(Base):
    """A port's fixed IP: unique per network, so two ports can never hold one address."""

    __tablename__ = "ip_allocation"
    __table_args__ = (UniqueConstraint("network_id", "ip_address", name="uniq_ip_allocation_network_ip"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    port_id: Mapped[str] = mapped_column(ForeignKey("port.id", ondelete="CASCADE"), index=True)
    subnet_id: Mapped[str] = mapped_column(ForeignKey("subnet.id"), index=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("network.id"), index=True)
    ip_address: Mapped[str] = mapped_column(String(64))


class SecurityGroup(Standard, Base):
    __tablename__ = "security_group"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    stateful: Mapped[bool] = mapped_column(Boolean, default=True)


class DefaultSecurityGroup(Base):
    """The default group of each project: the primary key makes a second one impossible."""

    __tablename__ = "default_security_group"

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(ForeignKey("security_group.id", ondelete="CASCADE"),
                                                   unique=True)


class SecurityGroupRule(Standard, Base):
    __tablename__ = "security_group_rule"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    security_group_id: Mapped[str] = mapped_column(ForeignKey("security_group.id", ondelete="CASCADE"),
                                                   index=True)
    direction: Mapped[str] = mapped_column(String(8))
    ethertype: Mapped[str] = mapped_column(String(8))
    protocol: Mapped[str | None] = mapped_column(String(40), nullable=True)
    port_range_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port_range_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(64), nullable=True)
    remote_group_id: Mapped[str | None] = mapped_column(ForeignKey("security_group.id", ondelete="CASCADE"),
                                                        nullable=True)
    remote_address_group_id: Mapped[str | None] = mapped_column(ForeignKey("address_group.id"), nullable=True,
                                                                index=True)


class PortSecurityGroup(Base):
    __tablename__ = "port_security_group"

    port_id: Mapped[str] = mapped_column(ForeignKey("port.id", ondelete="CASCADE"), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(ForeignKey("security_group.id"), primary_key=True,
                                                   index=True)


class Tag(Base):
    """A tag of a network, subnet, port or security group."""

    __tablename__ = "tag"

    resource_id: Mapped[str] = mapped_column(ID, primary_key=True)
    tag: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(32), index=True)


class Router(Standard, Base):
    """A router; its gateway is a port on an external network (``gw_port_id``)."""

    __tablename__ = "router"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    gw_port_id: Mapped[str | None] = mapped_column(ForeignKey("port.id"), nullable=True)
    gw_network_id: Mapped[str | None] = mapped_column(ForeignKey("network.id"), nullable=True, index=True)
    enable_snat: Mapped[bool] = mapped_column(Boolean, default=True)
    routes: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)


class RouterPort(Base):
    """A port of a router (its gateway or an interface); a port belongs to one router at most."""

    __tablename__ = "router_port"

    port_id: Mapped[str] = mapped_column(ForeignKey("port.id", ondelete="CASCADE"), primary_key=True)
    router_id: Mapped[str] = mapped_column(ForeignKey("router.id", ondelete="CASCADE"), index=True)
    port_type: Mapped[str] = mapped_column(String(64))


class FloatingIP(Standard, Base):
    """A floating IP: an address of an external network (its own port), mapped to one fixed IP at
    most; the unique key keeps one floating IP per fixed IP and external network."""

    __tablename__ = "floatingip"
    __table_args__ = (UniqueConstraint("floating_network_id", "fixed_port_id", "fixed_ip_address",
                                       name="uniq_floatingip_fixed"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    floating_network_id: Mapped[str] = mapped_column(ForeignKey("network.id"), index=True)
    floating_port_id: Mapped[str] = mapped_column(ForeignKey("port.id"), unique=True)
    floating_ip_address: Mapped[str] = mapped_column(String(64))
    fixed_port_id: Mapped[str | None] = mapped_column(ForeignKey("port.id"), nullable=True, index=True)
    fixed_ip_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    router_id: Mapped[str | None] = mapped_column(ForeignKey("router.id"), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")


class PortForwarding(Base):
    """A floating IP's port forwarding; one per floating IP, external port and protocol."""

    __tablename__ = "port_forwarding"
    __table_args__ = (UniqueConstraint("floatingip_id", "external_port", "protocol", name="uniq_pf_external"),
                      UniqueConstraint("internal_port_id", "internal_ip_address", "internal_port", "protocol",
                                       name="uniq_pf_internal"))

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    floatingip_id: Mapped[str] = mapped_column(ForeignKey("floatingip.id", ondelete="CASCADE"), index=True)
    internal_port_id: Mapped[str] = mapped_column(ForeignKey("port.id", ondelete="CASCADE"), index=True)
    internal_ip_address: Mapped[str] = mapped_column(String(64))
    internal_port: Mapped[int] = mapped_column(Integer)
    external_port: Mapped[int] = mapped_column(Integer)
    protocol: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(255), default="")


class Quota(Base):
    """A project's own limit of one resource (the defaults are options)."""

    __tablename__ = "quota"

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    limit: Mapped[int] = mapped_column(Integer)


class QuotaLock(Base):
    """One row per project, locked (``FOR UPDATE``) by every create that counts against a quota, so
    two concurrent creates cannot both take the last unit."""

    __tablename__ = "quota_lock"

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)


class Agent(Base):
    """A per-host agent as it last reported itself (``report_state`` over RPC)."""

    __tablename__ = "agent"
    __table_args__ = (UniqueConstraint("agent_type", "host", name="uniq_agent_type_host"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    agent_type: Mapped[str] = mapped_column(String(255))
    binary: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(255))
    host: Mapped[str] = mapped_column(String(255), index=True)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    availability_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    configurations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    started_at: Mapped[datetime] = mapped_column(Timestamp)
    heartbeat_timestamp: Mapped[datetime] = mapped_column(Timestamp)


class RBACPolicy(Base):
    """An RBAC policy: a network shared with (``access_as_shared``) or made external for
    (``access_as_external``) one project, or every project (``*``); a QoS policy or a security
    group shared with one (``access_as_shared``). The object is removed with its policies."""

    __tablename__ = "rbac_policy"
    __table_args__ = (UniqueConstraint("object_type", "object_id", "action", "target_project",
                                       name="uniq_rbac_policy"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(36), index=True)
    action: Mapped[str] = mapped_column(String(32))
    target_project: Mapped[str] = mapped_column(String(255), index=True)


class AutoAllocatedTopology(Base):
    """The network and router ``GET /auto-allocated-topology/{project}`` made for a project (one per
    project: the primary key decides two concurrent first requests)."""

    __tablename__ = "auto_allocated_topology"

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("network.id", ondelete="CASCADE"))
    router_id: Mapped[str | None] = mapped_column(ForeignKey("router.id", ondelete="SET NULL"), nullable=True)


class QosPolicy(Standard, Base):
    """A QoS policy: its rules (bandwidth limits, DSCP marking) apply to the ports and networks bound
    to it (stored here, enforced by the data plane's agents)."""

    __tablename__ = "qos_policy"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class QosRule(Base):
    """A rule of a QoS policy; ``rule_key`` (type and direction) is unique per policy."""

    __tablename__ = "qos_rule"
    __table_args__ = (UniqueConstraint("policy_id", "rule_key", name="uniq_qos_rule"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    policy_id: Mapped[str] = mapped_column(ForeignKey("qos_policy.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    rule_key: Mapped[str] = mapped_column(String(64))
    max_kbps: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    max_burst_kbps: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    direction: Mapped[str | None] = mapped_column(String(16), nullable=True)
    dscp_mark: Mapped[int | None] = mapped_column(Integer, nullable=True)


class AddressScope(Standard, Base):
    """An address scope: subnet pools in it (``address_scope_id``) never overlap, and routers route
    between subnets of one scope without NAT."""

    __tablename__ = "address_scope"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    ip_version: Mapped[int] = mapped_column(Integer)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)


class AddressGroup(Standard, Base):
    """A named set of addresses security group rules can name as their remote."""

    __tablename__ = "address_group"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")


class AddressGroupAddress(Base):
    __tablename__ = "address_group_address"

    group_id: Mapped[str] = mapped_column(ForeignKey("address_group.id", ondelete="CASCADE"), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
