"""The image service's business logic: records (``images``), sharing (``members``), listing
(``listing``) and data (``data``). Synchronous code on the service's database, run off the event
loop by the API through ``run_blocking``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Caller:
    """Who asks, as the image service needs it: Glance's ``context.owner`` and ``is_admin``."""

    project_id: str | None
    user_id: str | None = None
    is_admin: bool = False


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
