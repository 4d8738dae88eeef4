"""Host aggregates (os-aggregates): named groups of compute hosts with metadata.

An aggregate whose metadata has ``availability_zone`` is an availability zone: its hosts take
that zone (written on their service records, where the scheduler's zone filter, the zone lists
and new servers read it), and a host cannot be in two aggregates of different zones. The
scheduler's aggregate filters read the metadata of a host's aggregates (``metadata_by_host``)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from litestack.common import errors
from litestack.common.db import Database
from litestack.compute.manager.flavors import now
from litestack.compute.models import Aggregate, AggregateHost, AggregateMetadata, ComputeService

AZ_KEY = "availability_zone"


class AggregateNotFound(errors.NotFound):
    """No aggregate has the id asked for."""


def aggregate_zone(session: Session, host: str) -> str | None:
    """The zone the host's aggregates give it (None: the configured default zone applies)."""
    return session.scalar(select(AggregateMetadata.value).join(
        AggregateHost, AggregateHost.aggregate_id == AggregateMetadata.aggregate_id).where(
        AggregateHost.host == host, AggregateMetadata.key == AZ_KEY).limit(1))


def zone_of(agg: Aggregate) -> str | None:
    return next((m.value for m in agg.metadata_items if m.key == AZ_KEY), None)


class Aggregates:
    def __init__(self, db: Database, default_zone: str) -> None:
        self.db = db
        self.default_zone = default_zone

    def _get(self, s: Session, aggregate_id: Any) -> Aggregate:
        agg = None
        if str(aggregate_id).isdigit() and len(str(aggregate_id)) < 10:
            agg = s.get(Aggregate, int(aggregate_id))
        if agg is None:
            raise AggregateNotFound(f"Aggregate {aggregate_id} could not be found.")
        return agg

    def get(self, aggregate_id: Any) -> Aggregate:
        with self.db.reader() as s:
            return self._get(s, aggregate_id)

    def find(self) -> list[Aggregate]:
        with self.db.reader() as s:
            return list(s.scalars(select(Aggregate).order_by(Aggregate.id)))

    def create(self, name: str, zone: str | None) -> Aggregate:
        try:
            with self.db.writer() as s:
                if s.scalar(select(Aggregate).where(Aggregate.name == name)) is not None:
                    raise errors.Conflict(f"Aggregate {name} already exists.")
                agg = Aggregate(uuid=str(uuid.uuid4()), name=name, created_at=now(), updated_at=None)
                if zone:
                    agg.metadata_items.append(AggregateMetadata(key=AZ_KEY, value=zone))
                s.add(agg)
                s.flush()
                s.refresh(agg)
                return agg
        except IntegrityError:
            raise errors.Conflict(f"Aggregate {name} already exists.") from None

    def update(self, aggregate_id: Any, name: str | None, zone: str | None, set_zone: bool) -> Aggregate:
        with self.db.writer() as s:
            agg = self._get(s, aggregate_id)
            if name is not None and name != agg.name:
                if s.scalar(select(Aggregate).where(Aggregate.name == name)) is not None:
                    raise errors.Conflict(f"Aggregate {name} already exists.")
                agg.name = name
            if set_zone:
                self._set_meta(s, agg, {AZ_KEY: zone})
            agg.updated_at = now()
            s.flush()
            s.refresh(agg)
            return agg

    def delete(self, aggregate_id: Any) -> None:
        with self.db.writer() as s:
            agg = self._get(s, aggregate_id)
            if agg.hosts:
                raise errors.BadRequest(f"Cannot remove aggregate {aggregate_id}: it still has hosts "
                                        f"({', '.join(h.host for h in agg.hosts)}).")
            s.delete(agg)

    def add_host(self, aggregate_id: Any, host: str) -> Aggregate:
        with self.db.writer() as s:
            agg = self._get(s, aggregate_id)
            svc = s.scalar(select(ComputeService).where(ComputeService.host == host))
            if svc is None:
                raise errors.NotFound(f"Compute host {host} could not be found.")
            if any(h.host == host for h in agg.hosts):
                raise errors.Conflict(f"Aggregate {aggregate_id} already has host {host}.")
            zone, current = zone_of(agg), aggregate_zone(s, host)
            if zone and current and current != zone:
                raise errors.Conflict(f"Cannot add host to aggregate {aggregate_id}. Reason: One or more hosts "
                                      f"already in availability zone(s) ['{current}'].")
            agg.hosts.append(AggregateHost(host=host))
            s.flush()
            self._refresh_zone(s, host)
            agg.updated_at = now()
            s.flush()
            s.refresh(agg)
            return agg

    def remove_host(self, aggregate_id: Any, host: str) -> Aggregate:
        with self.db.writer() as s:
            agg = self._get(s, aggregate_id)
            found = next((h for h in agg.hosts if h.host == host), None)
            if found is None:
                raise errors.NotFound(f"Cannot remove host {host} in aggregate {aggregate_id}: not found.")
            agg.hosts.remove(found)
            s.flush()
            self._refresh_zone(s, host)
            agg.updated_at = now()
            s.flush()
            s.refresh(agg)
            return agg

    def set_metadata(self, aggregate_id: Any, items: dict[str, str | None]) -> Aggregate:
        with self.db.writer() as s:
            agg = self._get(s, aggregate_id)
            self._set_meta(s, agg, items)
            agg.updated_at = now()
            s.flush()
            s.refresh(agg)
            return agg

    def _set_meta(self, s: Session, agg: Aggregate, items: dict[str, str | None]) -> None:
        """Set (None: remove) metadata items; a new zone must not split a host between two zones."""
        if items.get(AZ_KEY):
            zone = items[AZ_KEY]
            for h in agg.hosts:
                others = s.scalars(select(AggregateMetadata.value).join(
                    AggregateHost, AggregateHost.aggregate_id == AggregateMetadata.aggregate_id).where(
                    AggregateHost.host == h.host, AggregateMetadata.key == AZ_KEY,
                    AggregateHost.aggregate_id != agg.id))
                if any(v != zone for v in others):
                    raise errors.BadRequest(f"Cannot update aggregate {agg.id}. Reason: One or more hosts "
                                            "contain availability zones.")
        current = {m.key: m for m in agg.metadata_items}
        for key, value in items.items():
            if value is None:
                if key in current:
                    agg.metadata_items.remove(current.pop(key))
            elif key in current:
                current[key].value = str(value)
            else:
                current[key] = AggregateMetadata(key=key, value=str(value))
                agg.metadata_items.append(current[key])
        s.flush()
        if AZ_KEY in items:
            for h in agg.hosts:
                self._refresh_zone(s, h.host)

    def _refresh_zone(self, s: Session, host: str) -> None:
        svc = s.scalar(select(ComputeService).where(ComputeService.host == host))
        if svc is not None:
            svc.availability_zone = aggregate_zone(s, host) or self.default_zone

    def metadata_by_host(self) -> dict[str, dict[str, set[str]]]:
        """host → metadata key → the values its aggregates give (what the aggregate filters read)."""
        out: dict[str, dict[str, set[str]]] = {}
        with self.db.reader() as s:
            for host, key, value in s.execute(select(AggregateHost.host, AggregateMetadata.key,
                                                     AggregateMetadata.value).join(
                    AggregateMetadata, AggregateMetadata.aggregate_id == AggregateHost.aggregate_id)):
                out.setdefault(host, {}).setdefault(key, set()).add(value)
        return out
