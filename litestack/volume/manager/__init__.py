"""The block storage service's logic in parts: volume types, quotas, volumes with snapshots and
attachments (database state and the status machine), the scheduler, and the flow that drives the
volume agents over RPC."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from litestack.common import errors

T = TypeVar("T")


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


def _deadlock(exc: BaseException) -> bool:
    """A transaction the server chose as a deadlock victim (MariaDB 1213, PostgreSQL 40P01)."""
    cause = exc.__cause__
    orig = getattr(cause, "orig", None)
    code = getattr(orig, "args", [None])[0] if orig is not None else None
    return code == 1213 or getattr(orig, "sqlstate", None) == "40P01" or "Deadlock" in str(orig)


def retry_deadlocks(fn: Callable[[], T], attempts: int = 6) -> T:
    """Run a write transaction again when the database broke a deadlock by aborting it: the quota
    check locks a project's rows, and concurrent creates of one project may deadlock on MariaDB's
    gap locks. Nothing was committed by the victim, so running it again is safe."""
    for attempt in range(attempts):
        try:
            return fn()
        except errors.ServiceUnavailable as exc:
            if attempt == attempts - 1 or not _deadlock(exc):
                raise
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
    raise AssertionError("unreachable")
