"""The placement service's tables: resource providers (trees), their inventories, the allocations
consumers hold against them, resource classes, traits and aggregates.

Resource classes are stored by name in inventories and allocations (they are unique and never
renamed), which keeps the capacity queries of allocation candidates to plain joins.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from litestack.common.db import Timestamp


class Base(DeclarativeBase):
    pass


class Provider(Base):
    """A resource provider; ``generation`` grows with every change of its inventory, allocations,
    traits or aggregates (the compare-and-swap that keeps concurrent writers honest)."""

    __tablename__ = "resource_providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    parent_provider_id: Mapped[int | None] = mapped_column(ForeignKey("resource_providers.id"), index=True)
    root_provider_id: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


class Inventory(Base):
    __tablename__ = "inventories"
    __table_args__ = (UniqueConstraint("resource_provider_id", "resource_class", name="uniq_inventories0rp_rc"),
                      Index("ix_inventories_rc", "resource_class"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_provider_id: Mapped[int] = mapped_column(ForeignKey("resource_providers.id", ondelete="CASCADE"))
    resource_class: Mapped[str] = mapped_column(String(255))
    total: Mapped[int] = mapped_column(Integer)
    reserved: Mapped[int] = mapped_column(Integer)
    min_unit: Mapped[int] = mapped_column(Integer)
    max_unit: Mapped[int] = mapped_column(Integer)
    step_size: Mapped[int] = mapped_column(Integer)
    allocation_ratio: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


class Allocation(Base):
    __tablename__ = "allocations"
    __table_args__ = (Index("ix_allocations_rp_rc", "resource_provider_id", "resource_class"),
                      Index("ix_allocations_consumer", "consumer_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_provider_id: Mapped[int] = mapped_column(ForeignKey("resource_providers.id"))
    consumer_id: Mapped[str] = mapped_column(String(36))
    resource_class: Mapped[str] = mapped_column(String(255))
    used: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class Consumer(Base):
    """Who holds allocations (an instance, a migration); gone with its last allocation."""

    __tablename__ = "consumers"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    consumer_type: Mapped[str | None] = mapped_column(String(255))
    generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


class ResourceClass(Base):
    """Standard classes (os-resource-classes, synced at start) and ``CUSTOM_*`` ones."""

    __tablename__ = "resource_classes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


class Trait(Base):
    """Standard traits (os-traits, synced at start) and ``CUSTOM_*`` ones."""

    __tablename__ = "traits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


class ProviderTrait(Base):
    __tablename__ = "resource_provider_traits"

    resource_provider_id: Mapped[int] = mapped_column(ForeignKey("resource_providers.id", ondelete="CASCADE"),
                                                      primary_key=True)
    trait_id: Mapped[int] = mapped_column(ForeignKey("traits.id"), primary_key=True, index=True)


class Aggregate(Base):
    __tablename__ = "placement_aggregates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)


class ProviderAggregate(Base):
    __tablename__ = "resource_provider_aggregates"

    resource_provider_id: Mapped[int] = mapped_column(ForeignKey("resource_providers.id", ondelete="CASCADE"),
                                                      primary_key=True)
    aggregate_id: Mapped[int] = mapped_column(ForeignKey("placement_aggregates.id"), primary_key=True,
                                              index=True)
