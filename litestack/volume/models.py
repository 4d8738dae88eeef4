"""The block storage service's tables: volume types, volumes, snapshots, attachments, quotas and the
volume agents' capacity reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from litestack.common.db import Timestamp


class Base(DeclarativeBase):
    pass


class VolumeType(Base):
    __tablename__ = "volume_types"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(String(255))
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    extra_specs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    qos_specs_id: Mapped[str | None] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp)

    projects: Mapped[list[VolumeTypeAccess]] = relationship(cascade="all, delete-orphan", passive_deletes=True,
                                                            lazy="selectin")


class QosSpec(Base):
    """A named set of QoS keys for a consumer (front-end, back-end or both), tied to volume types
    through ``VolumeType.qos_specs_id``."""

    __tablename__ = "qos_specs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    consumer: Mapped[str] = mapped_column(String(16))
    specs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp)


class VolumeTypeAccess(Base):
    __tablename__ = "volume_type_projects"

    volume_type_id: Mapped[str] = mapped_column(ForeignKey("volume_types.id", ondelete="CASCADE"),
                                                primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class Volume(Base):
    __tablename__ = "volumes"
    __table_args__ = (Index("ix_volumes_project_created", "project_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(255), index=True)
    description: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32), index=True)
    attach_status: Mapped[str] = mapped_column(String(32), default="detached")
    migration_status: Mapped[str | None] = mapped_column(String(32))
    availability_zone: Mapped[str] = mapped_column(String(255))
    volume_type_id: Mapped[str] = mapped_column(String(36))
    host: Mapped[str | None] = mapped_column(String(255), index=True)
    bootable: Mapped[bool] = mapped_column(Boolean, default=False)
    readonly: Mapped[bool] = mapped_column(Boolean, default=False)
    multiattach: Mapped[bool] = mapped_column(Boolean, default=False)
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    snapshot_id: Mapped[str | None] = mapped_column(String(36))
    source_volid: Mapped[str | None] = mapped_column(String(36))
    image_id: Mapped[str | None] = mapped_column(String(36))
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    image_metadata: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    #: Cinder's admin metadata (``readonly``, ``attached_mode``), shown inside ``metadata``.
    admin_metadata: Mapped[dict[str, str] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp)
    #: When the current operation (creating, deleting, extending, ...) started: the reaper's clock.
    task_started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    #: The generic volume group the volume belongs to (3.13).
    group_id: Mapped[str | None] = mapped_column(String(36), index=True)


class Snapshot(Base):
    __tablename__ = "snapshots"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    volume_id: Mapped[str] = mapped_column(String(36), index=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32), index=True)
    progress: Mapped[str] = mapped_column(String(8), default="0%")
    host: Mapped[str | None] = mapped_column(String(255))
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp)
    task_started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    #: The group snapshot this snapshot is a member of (3.14).
    group_snapshot_id: Mapped[str | None] = mapped_column(String(36), index=True)


class Attachment(Base):
    __tablename__ = "volume_attachments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    volume_id: Mapped[str] = mapped_column(ForeignKey("volumes.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(String(64))
    instance_uuid: Mapped[str | None] = mapped_column(String(36))
    attached_host: Mapped[str | None] = mapped_column(String(255))
    mountpoint: Mapped[str | None] = mapped_column(String(255))
    attach_mode: Mapped[str] = mapped_column(String(8), default="rw")
    attach_status: Mapped[str] = mapped_column(String(32))
    connector: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    connection_info: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attached_at: Mapped[datetime | None] = mapped_column(Timestamp)
    detached_at: Mapped[datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class Quota(Base):
    """A project's own limit of one resource (``volumes``, ``gigabytes_<type>``, ...); absent: the default."""

    __tablename__ = "quotas"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(300), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(BigInteger)


class QuotaClass(Base):
    """The ``default`` quota class: operators' changes to the configured defaults."""

    __tablename__ = "quota_classes"

    class_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource: Mapped[str] = mapped_column(String(300), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(BigInteger)


class BackendService(Base):
    """One backend of one volume agent, as it last reported itself (``host@backend``)."""

    __tablename__ = "services"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    binary: Mapped[str] = mapped_column(String(64), default="cinder-volume")
    backend_name: Mapped[str] = mapped_column(String(255))
    availability_zone: Mapped[str] = mapped_column(String(255))
    total_capacity_gb: Mapped[int] = mapped_column(BigInteger)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    #: The ``[volume] cluster`` the agent reports itself in (None: not clustered).
    cluster_name: Mapped[str | None] = mapped_column(String(255), index=True)
    #: Frozen (``os-services/freeze``): Cinder's replication freeze; management operations
    #: (create, delete, extend, ...) on its volumes are refused until it is thawed.
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    #: What the driver said in its last report: ``up`` (its stats answered) or ``down``.
    backend_state: Mapped[str | None] = mapped_column(String(16))
    #: When the reporting agent process started: operations begun before it were lost with the
    #: previous one (what ``/workers/cleanup`` cleans).
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)


class Transfer(Base):
    """A volume offered to another project: whoever shows the auth key takes it."""

    __tablename__ = "transfers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    volume_id: Mapped[str] = mapped_column(ForeignKey("volumes.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str | None] = mapped_column(String(255))
    salt: Mapped[str] = mapped_column(String(64))
    crypt_hash: Mapped[str] = mapped_column(String(128))
    no_snapshots: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class Backup(Base):
    """A copy of a volume's data in the backup store of the host that made it (full, or only the
    chunks that changed since ``parent_id``)."""

    __tablename__ = "backups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(String(64))
    volume_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32), index=True)
    host: Mapped[str | None] = mapped_column(String(255))
    parent_id: Mapped[str | None] = mapped_column(String(36))
    is_incremental: Mapped[bool] = mapped_column(Boolean, default=False)
    object_count: Mapped[int] = mapped_column(Integer, default=0)
    fail_reason: Mapped[str | None] = mapped_column(Text)
    #: The object-storage container holding the backup (None: the agent host's directory store).
    container: Mapped[str | None] = mapped_column(String(255))
    #: The volume's metadata when it was backed up (a restore gives it back, as Cinder's does).
    volume_metadata: Mapped[dict[str, str] | None] = mapped_column(JSON)
    #: The backup's own metadata (3.43).
    metadata_: Mapped[dict[str, str] | None] = mapped_column("metadata", JSON)
    #: The snapshot backed up (None: the volume itself).
    snapshot_id: Mapped[str | None] = mapped_column(String(36))
    #: An imported record's data: ``{"key": <the original backup's id>, "account": <its project>}``
    #: (None: the backup's own id and project).
    service_metadata: Mapped[dict[str, str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp)
    task_started_at: Mapped[datetime | None] = mapped_column(Timestamp)


class GroupType(Base):
    """A group type (3.11): what generic volume groups of it offer, in ``group_specs``."""

    __tablename__ = "group_types"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(String(255))
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    group_specs: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp)


class Group(Base):
    """A generic volume group (3.13): volumes of the listed types on one backend (``host``)."""

    __tablename__ = "groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32), index=True)
    availability_zone: Mapped[str] = mapped_column(String(255))
    group_type_id: Mapped[str] = mapped_column(String(36), index=True)
    volume_type_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    host: Mapped[str | None] = mapped_column(String(255))
    group_snapshot_id: Mapped[str | None] = mapped_column(String(36))
    source_group_id: Mapped[str | None] = mapped_column(String(36))
    replication_status: Mapped[str] = mapped_column(String(32), default="disabled")
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp)
    task_started_at: Mapped[datetime | None] = mapped_column(Timestamp)


class GroupSnapshot(Base):
    """A group snapshot (3.14): one snapshot of every volume of a group, taken together."""

    __tablename__ = "group_snapshots"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(36), index=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32), index=True)
    group_type_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp)
    task_started_at: Mapped[datetime | None] = mapped_column(Timestamp)


class Message(Base):
    """A user message (3.3): what an asynchronous operation that failed tells the project, with
    Cinder's event id (``VOLUME_<resource>_<action>_<detail>``), kept until ``expires_at``."""

    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    request_id: Mapped[str | None] = mapped_column(String(255))
    resource_type: Mapped[str | None] = mapped_column(String(36))
    resource_uuid: Mapped[str | None] = mapped_column(String(36))
    event_id: Mapped[str] = mapped_column(String(255))
    detail_id: Mapped[str | None] = mapped_column(String(10))
    action_id: Mapped[str | None] = mapped_column(String(10))
    message_level: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    expires_at: Mapped[datetime] = mapped_column(Timestamp, index=True)


class Cluster(Base):
    """A cluster of volume backends (``[volume] cluster``): its members come from the services'
    reports; this row keeps what operators set on the cluster itself (disabled, with a reason)."""

    __tablename__ = "clusters"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    binary: Mapped[str] = mapped_column(String(64), primary_key=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp)
