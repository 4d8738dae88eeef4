"""The volume services as operators handle them: enable and disable (with a reason), freeze and
thaw (Cinder's replication freeze: the scheduler places nothing on a frozen backend and its volumes
refuse management operations), clusters (3.7) built from the agents' reports, and the cleanup of
what a dead agent left in transitional states (``/workers/cleanup``, 3.24)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from litestack.common import errors
from litestack.common.db import Database
from litestack.volume.manager import now
from litestack.volume.manager.volumes import SNAPSHOT_TIMEOUTS, VOLUME_TIMEOUTS
from litestack.volume.models import BackendService, Cluster, Snapshot, Volume

VOLUME_BINARY = "cinder-volume"
SCHEDULER_BINARY = "cinder-scheduler"
BINARIES = (VOLUME_BINARY, SCHEDULER_BINARY, "cinder-api", "cinder-backup")


class ServiceNotFound(errors.NotFound):
    """No volume service of that host and binary."""


class HostFrozen(errors.BadRequest):
    """The volume's backend is frozen: management operations wait until it is thawed."""


@dataclass
class ClusterInfo:
    """A cluster as the API shows it: its row (or defaults) and its members' states."""

    name: str
    binary: str
    disabled: bool
    disabled_reason: str | None
    num_hosts: int
    num_down_hosts: int
    last_heartbeat: datetime | None
    created_at: datetime
    updated_at: datetime | None
    frozen: bool

    @property
    def state(self) -> str:
        return "up" if self.num_hosts > self.num_down_hosts else "down"


def is_up(row: BackendService, down_time: int) -> bool:
    return row.updated_at >= now() - timedelta(seconds=down_time)


class Services:
    def __init__(self, db: Database, down_time: int) -> None:
        self.db, self.down_time = db, down_time

    # --- enable / disable / freeze -----------------------------------------------------------

    def set_disabled(self, host: str, binary: str, disabled: bool, reason: str | None) -> BackendService:
        if binary not in BINARIES:
            raise ServiceNotFound(f"Service {binary[:64]} on host {host[:64]} could not be found.")
        if binary != VOLUME_BINARY:
            raise errors.BadRequest(f"Invalid input received: only {VOLUME_BINARY} services can be enabled or "
                                    f"disabled in this cloud ({binary} runs inside the API process).")
        with self.db.writer() as s:
            row = s.get(BackendService, host) if len(host) <= 255 else None
            if row is None:
                raise ServiceNotFound(f"Service {binary} on host {host[:64]} could not be found.")
            row.disabled = disabled
            row.disabled_reason = reason if disabled else None
        return row

    def _host_rows(self, session: Any, host: str) -> list[BackendService]:
        """The backends a ``host`` names: ``host@backend`` exactly, or every backend of ``host``."""
        rows = [r for r in session.scalars(select(BackendService))
                if r.host == host or r.host.startswith(f"{host}@")]
        return rows

    def set_frozen(self, host: str, frozen: bool) -> list[BackendService]:
        with self.db.writer() as s:
            rows = self._host_rows(s, host)
            if not rows:
                raise errors.BadRequest(f"Invalid input received: no volume service on host {host[:64]}.")
            if frozen and all(r.frozen for r in rows):
                raise errors.BadRequest("Invalid input received: Host is already Frozen.")
            if not frozen and not any(r.frozen for r in rows):
                raise errors.BadRequest("Invalid input received: Host is NOT Frozen.")
            for r in rows:
                r.frozen = frozen
        return rows

    def check_not_frozen(self, vol: Volume | Snapshot) -> None:
        """``HostFrozen`` (400) when the volume's backend is frozen, as Cinder refuses then."""
        if not vol.host:
            return
        with self.db.reader() as s:
            row = s.get(BackendService, vol.host.partition("#")[0])
        if row is not None and row.frozen:
            raise HostFrozen(f"Invalid input received: Volume {vol.id} is in a frozen backend; operations wait "
                             "until the backend is thawed.")

    # --- clusters ----------------------------------------------------------------------------

    def clusters(self) -> list[ClusterInfo]:
        with self.db.reader() as s:
            members = list(s.scalars(select(BackendService).where(BackendService.cluster_name.is_not(None))))
            stored = {(c.name, c.binary): c for c in s.scalars(select(Cluster))}
        grouped: dict[str, list[BackendService]] = {}
        for r in members:
            grouped.setdefault(r.cluster_name or "", []).append(r)
        out = []
        for name, rows in sorted(grouped.items()):
            c = stored.get((name, VOLUME_BINARY))
            out.append(ClusterInfo(
                name=name, binary=VOLUME_BINARY, disabled=bool(c and c.disabled),
                disabled_reason=c.disabled_reason if c else None, num_hosts=len(rows),
                num_down_hosts=sum(1 for r in rows if not is_up(r, self.down_time)),
                last_heartbeat=max(r.updated_at for r in rows), created_at=min(r.created_at for r in rows),
                updated_at=c.updated_at if c else None, frozen=any(r.frozen for r in rows)))
        return out

    def cluster(self, name: str, binary: str = VOLUME_BINARY) -> ClusterInfo:
        found = next((c for c in self.clusters() if c.name == name and c.binary == binary), None)
        if found is None:
            raise errors.NotFound(f"Cluster {name[:64]} could not be found.")
        return found

    def set_cluster_disabled(self, name: str, binary: str, disabled: bool, reason: str | None) -> ClusterInfo:
        self.cluster(name, binary)  # 404 when no service reports it
        with self.db.writer() as s:
            c = s.get(Cluster, (name, binary))
            if c is None:
                c = Cluster(name=name, binary=binary, created_at=now())
                s.add(c)
            c.disabled, c.disabled_reason, c.updated_at = disabled, reason if disabled else None, now()
        return self.cluster(name, binary)

    # --- workers cleanup ---------------------------------------------------------------------

    def cleanup(self, filters: dict[str, Any]) -> tuple[list[BackendService], list[BackendService], list[str]]:
        """Services that match ``filters`` (host, cluster_name, binary, is_up, disabled): the up
        ones clean (what stayed transitional since before their agent last started goes to its
        error status, as the reaper would send it later), the down ones are unavailable.
        Returns (cleaning, unavailable, ids of the resources cleaned)."""
        binary = filters.get("binary")
        if binary not in (None, VOLUME_BINARY):
            return [], [], []
        with self.db.writer() as s:
            rows = list(s.scalars(select(BackendService).order_by(BackendService.host)))
            picked = [r for r in rows if _matches(r, filters, self.down_time)]
            cleaning = [r for r in picked if is_up(r, self.down_time)]
            unavailable = [r for r in picked if not is_up(r, self.down_time)]
            cleaned: list[str] = []
            for r in cleaning:
                if r.started_at is None:
                    continue
                cleaned += _clean(s, r, filters)
        return cleaning, unavailable, cleaned


def _matches(row: BackendService, filters: dict[str, Any], down_time: int) -> bool:
    host = filters.get("host")
    if host is not None and not (row.host == host or row.host.startswith(f"{host}@")):
        return False
    if "cluster_name" in filters and row.cluster_name != filters["cluster_name"]:
        return False
    if "is_up" in filters and is_up(row, down_time) != filters["is_up"]:
        return False
    return not ("disabled" in filters and row.disabled != filters["disabled"])


def _clean(session: Any, row: BackendService, filters: dict[str, Any]) -> list[str]:
    """Volumes and snapshots of the backend ``row`` left transitional by an earlier agent."""
    kind, ident = filters.get("resource_type"), filters.get("resource_id")
    out: list[str] = []
    reason = f"The volume agent of {row.host} restarted during the operation (cleaned by /workers/cleanup)."
    if kind in (None, "Volume"):
        stmt = select(Volume).where(Volume.host.like(f"{row.host}#%"), Volume.status.in_(list(VOLUME_TIMEOUTS)),
                                    Volume.task_started_at < row.started_at)
        if ident:
            stmt = stmt.where(Volume.id == ident)
        for vol in session.scalars(stmt):
            vol.status, vol.error, vol.task_started_at, vol.updated_at = (VOLUME_TIMEOUTS[vol.status], reason,
                                                                          None, now())
            out.append(vol.id)
    if kind in (None, "Snapshot"):
        stmt2 = select(Snapshot).where(Snapshot.host.like(f"{row.host}#%"),
                                       Snapshot.status.in_(list(SNAPSHOT_TIMEOUTS)),
                                       Snapshot.task_started_at < row.started_at)
        if ident:
            stmt2 = stmt2.where(Snapshot.id == ident)
        for snap in session.scalars(stmt2):
            snap.status, snap.task_started_at, snap.updated_at = SNAPSHOT_TIMEOUTS[snap.status], None, now()
            out.append(snap.id)
    return out
