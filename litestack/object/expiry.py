"""``X-Delete-At`` and ``X-Delete-After`` on object PUT and POST, checked as Swift checks them: both
integers, the time not in the past; ``X-Delete-After`` becomes ``X-Delete-At`` (now + seconds)
before the write reaches the object servers (which queue it for the expirer, ``daemons/expirer.py``)."""

from __future__ import annotations

import time
from collections.abc import Mapping

from litestack.object import errors


def delete_at(headers: Mapping[str, str]) -> dict[str, str]:
    """``{"X-Delete-At": epoch}`` for a write that asks for expiry, ``{}`` otherwise; 400 when bad."""
    now = time.time()
    after = headers.get("x-delete-after")
    at = headers.get("x-delete-at")
    if after is not None:
        try:
            seconds = int(after)
        except ValueError:
            raise errors.SwiftBadRequest("Non-integer X-Delete-After") from None
        if seconds < 0:
            raise errors.SwiftBadRequest("X-Delete-After in past")
        return {"X-Delete-At": str(int(now + seconds))}
    if at is not None:
        try:
            when = int(at)
        except ValueError:
            raise errors.SwiftBadRequest("Non-integer X-Delete-At") from None
        if when < now:
            raise errors.SwiftBadRequest("X-Delete-At in past")
        return {"X-Delete-At": str(when)}
    return {}
