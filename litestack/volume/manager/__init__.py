"""The block storage service's logic in parts: volume types, quotas, volumes with snapshots and
attachments (database state and the status machine), the scheduler, and the flow that drives the
volume agents over RPC."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Caller:
    """Who asks: their project and user, and whether they are the cloud's admin (all_tenants)."""

    project_id: str | None
    user_id: str | None = None
    is_admin: bool = False


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_id() -> str:
    return str(uuid.uuid4())
