"""Compute services (one per host's agent) and their nodes: registration, heartbeats, up/down."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from sqlalchemy import func, select

from litestack.common import errors
from litestack.common.db import Database
from litestack.compute.manager.aggregates import aggregate_zone
from litestack.compute.manager.flavors import now
from litestack.compute.models import ComputeService


class Hosts:
    def __init__(self, db: Database, down_time: float) -> None:
        self.db = db
        self.down_time = down_time

    def register(self, host: str, az: str, res: Any) -> ComputeService:
        """Create or refresh the service and node of ``host`` (an agent's start); keeps its uuid,
        its disabled flag and reason across restarts. It is not marked up here: see ``heartbeat``."""
        for _ in range(5):  # two hosts registering at once may pick the same number: the loser retries
            try:
                return self._register(host, az, res)
            except errors.Conflict:
                continue
        return self._register(host, az, res)

    def _register(self, host: str, az: str, res: Any) -> ComputeService:
        stamp = now()
        with self.db.writer() as s:
            # A zone given by the host's aggregates wins over the agent's configured one.
            zone = aggregate_zone(s, host) or az
            svc = s.scalar(select(ComputeService).where(ComputeService.host == host))
            if svc is None:
                number = (s.scalar(select(func.max(ComputeService.number))) or 0) + 1
                svc = ComputeService(id=str(uuid.uuid4()), number=number, host=host, binary="nova-compute",
                                     disabled=False, forced_down=False, availability_zone=zone,
                                     node_uuid=str(uuid.uuid5(uuid.NAMESPACE_DNS, host)),
                                     created_at=stamp)
                s.add(svc)
            svc.availability_zone = zone
            svc.hypervisor_type = res.hypervisor_type
            svc.vcpus, svc.memory_mb, svc.local_gb, svc.host_ip = res.vcpus, res.memory_mb, res.local_gb, res.host_ip
            # Up only from its first heartbeat, which the agent sends once its inventory is in
            # placement and it listens: a host the API shows up can be scheduled to at once.
            svc.updated_at = stamp
            s.flush()
            s.refresh(svc)
            return svc

    def heartbeat(self, host: str) -> None:
        with self.db.writer() as s:
            svc = s.scalar(select(ComputeService).where(ComputeService.host == host))
            if svc is not None:
                svc.last_seen_up = now()

    def is_up(self, svc: ComputeService) -> bool:
        if svc.forced_down or svc.last_seen_up is None:
            return False
        seen = svc.last_seen_up if svc.last_seen_up.tzinfo else svc.last_seen_up.replace(tzinfo=datetime.UTC)
        return (now() - seen).total_seconds() <= self.down_time

    def find(self, host: str | None = None, binary: str | None = None) -> list[ComputeService]:
        stmt = select(ComputeService).order_by(ComputeService.created_at, ComputeService.host)
        if host is not None:
            stmt = stmt.where(ComputeService.host == host)
        if binary is not None:
            stmt = stmt.where(ComputeService.binary == binary)
        with self.db.reader() as s:
            return list(s.scalars(stmt))

    def get(self, service_id: str) -> ComputeService:
        with self.db.reader() as s:
            svc = s.get(ComputeService, service_id) or s.scalar(
                select(ComputeService).where(ComputeService.node_uuid == service_id))
            if svc is None and service_id.isdigit() and len(service_id) < 10:
                svc = s.scalar(select(ComputeService).where(ComputeService.number == int(service_id)))
            if svc is None:
                raise errors.NotFound(f"Service {service_id} could not be found.")
            return svc

    def by_host(self, host: str) -> ComputeService | None:
        with self.db.reader() as s:
            return s.scalar(select(ComputeService).where(ComputeService.host == host))

    def update(self, service_id: str, **fields: Any) -> ComputeService:
        service_id = self.get(service_id).id
        with self.db.writer() as s:
            svc = s.get(ComputeService, service_id)
            if svc is None:
                raise errors.NotFound(f"Service {service_id} could not be found.")
            for k, v in fields.items():
                setattr(svc, k, v)
            svc.updated_at = now()
            return svc

    def delete(self, service_id: str) -> ComputeService:
        service_id = self.get(service_id).id
        with self.db.writer() as s:
            svc = s.get(ComputeService, service_id)
            if svc is None:
                raise errors.NotFound(f"Service {service_id} could not be found.")
            s.delete(svc)
            return svc
