"""Moves of instances (Nova's ``migrations`` records) and the instances' system metadata.

A migration is made by the conductor when a resize, cold or live migration or evacuation starts
and is moved through Nova's statuses by the agents: ``pre-migrating`` → ``migrating`` →
``post-migrating`` → ``finished`` → ``confirmed`` / ``reverted`` for resizes and cold
migrations; ``accepted`` → ``preparing`` → ``running`` → ``completed`` (or ``cancelled``,
``failed``) for live migrations; ``accepted`` → ``done`` → ``completed`` for evacuations;
``error`` when it failed.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select

from litestack.common import errors
from litestack.common.db import Database
from litestack.compute.manager.flavors import now
from litestack.compute.models import InstanceSystemMetadata, Migration

#: The statuses of a move still in progress (an instance has at most one).
IN_PROGRESS = ("pre-migrating", "migrating", "post-migrating", "finished", "accepted", "preparing", "running",
               "queued", "confirming", "reverting", "done")


class MigrationNotFound(errors.NotFound):
    pass


class Migrations:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, inst: Any, migration_type: str, status: str, new_flavor: dict[str, Any],
               dest: str | None = None, dest_node: str | None = None) -> Migration:
        """A migration of ``inst`` from its host; refused (409) while another is in progress."""
        stamp = now()
        with self.db.writer() as s:
            busy = s.scalar(select(Migration).where(Migration.instance_id == inst.id,
                                                    Migration.status.in_(IN_PROGRESS)))
            if busy is not None:
                raise errors.Conflict(f"Instance {inst.id} is already being migrated (migration {busy.id}).")
            m = Migration(uuid=str(uuid.uuid4()), instance_id=inst.id, project_id=inst.project_id,
                          user_id=inst.user_id, migration_type=migration_type, status=status,
                          source_compute=inst.host, source_node=inst.node, dest_compute=dest, dest_node=dest_node,
                          dest_host=None, old_flavor=dict(inst.flavor), new_flavor=dict(new_flavor), progress={},
                          hidden=False, created_at=stamp, updated_at=stamp)
            s.add(m)
            s.flush()
            s.refresh(m)
            return m

    def get(self, migration_id: int | str) -> Migration:
        with self.db.reader() as s:
            if isinstance(migration_id, int) or str(migration_id).isdigit():
                m = s.get(Migration, int(migration_id))
            else:
                m = s.scalar(select(Migration).where(Migration.uuid == migration_id))
            if m is None:
                raise MigrationNotFound(f"Migration {migration_id} could not be found.")
            return m

    def save(self, migration_id: int, expected_status: Sequence[str] | None = None, **fields: Any) -> Migration:
        with self.db.writer() as s:
            m = s.get(Migration, migration_id)
            if m is None:
                raise MigrationNotFound(f"Migration {migration_id} could not be found.")
            if expected_status is not None and m.status not in expected_status:
                raise errors.Conflict(f"Migration {migration_id} is {m.status}, not one of {list(expected_status)}.")
            for k, v in fields.items():
                setattr(m, k, v)
            m.updated_at = now()
            return m

    def in_progress(self, instance_id: str, migration_type: str | None = None) -> Migration | None:
        with self.db.reader() as s:
            stmt = select(Migration).where(Migration.instance_id == instance_id, Migration.status.in_(IN_PROGRESS))
            if migration_type is not None:
                stmt = stmt.where(Migration.migration_type == migration_type)
            return s.scalar(stmt.order_by(Migration.id.desc()))

    def find(self, filters: dict[str, Any], limit: int | None = None, marker: int | None = None) -> list[Migration]:
        """Newest first (as Nova lists them), with its filters: host (source or dest), status,
        instance_uuid, migration_type, source_compute, changes-since/before, project and user."""
        stmt: Select[Any] = select(Migration)
        for key, column in (("status", Migration.status), ("instance_uuid", Migration.instance_id),
                            ("migration_type", Migration.migration_type),
                            ("source_compute", Migration.source_compute), ("project_id", Migration.project_id),
                            ("user_id", Migration.user_id), ("dest_compute", Migration.dest_compute)):
            if filters.get(key) is not None:
                stmt = stmt.where(column == filters[key])
        if filters.get("statuses") is not None:
            stmt = stmt.where(Migration.status.in_(filters["statuses"]))
        if filters.get("host") is not None:
            stmt = stmt.where((Migration.source_compute == filters["host"])
                              | (Migration.dest_compute == filters["host"]))
        if filters.get("changes-since") is not None:
            stmt = stmt.where(Migration.updated_at >= filters["changes-since"])
        if filters.get("changes-before") is not None:
            stmt = stmt.where(Migration.updated_at <= filters["changes-before"])
        if marker is not None:
            stmt = stmt.where(Migration.id < marker)
        stmt = stmt.order_by(Migration.created_at.desc(), Migration.id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.db.reader() as s:
            return list(s.scalars(stmt))

    def older_than(self, host: str, status: str, field: str, seconds: float) -> list[Migration]:
        """Migrations of ``status`` whose ``field`` host (``dest_compute``/``source_compute``) is
        ``host`` and that have not changed for ``seconds``."""
        edge = now() - datetime.timedelta(seconds=seconds)
        with self.db.reader() as s:
            return list(s.scalars(select(Migration).where(getattr(Migration, field) == host,
                                                          Migration.status == status,
                                                          Migration.updated_at <= edge)))

    # --- system metadata ---------------------------------------------------------------

    def sysmeta(self, instance_id: str) -> dict[str, str]:
        with self.db.reader() as s:
            return {r.key: r.value for r in s.scalars(select(InstanceSystemMetadata).where(
                InstanceSystemMetadata.instance_id == instance_id))}

    def set_sysmeta(self, instance_id: str, items: dict[str, str | None]) -> None:
        """Set (or, with None, remove) system metadata items of an instance."""
        with self.db.writer() as s:
            for key, value in items.items():
                row = s.get(InstanceSystemMetadata, (instance_id, key))
                if value is None:
                    if row is not None:
                        s.delete(row)
                elif row is None:
                    s.add(InstanceSystemMetadata(instance_id=instance_id, key=key, value=value))
                else:
                    row.value = value
