"""In-process events between the parts of one service, for cascades.

The part that deletes a resource publishes an event ("project.deleted") inside its own write
transaction; every part that keeps rows referring to that resource has subscribed a handler that
removes them, in the same transaction. So no part reaches into another part's tables, the
dependencies are written down once (where the service wires its parts), and a cascade is all or
nothing. This is Keystone's notification callbacks, made synchronous and transactional.

Events between services, or to other processes, go over the bus (``common.rpc``), not here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Handler = Callable[..., None]


class Events:
    """Named events, each with the handlers subscribed to it, called in subscription order."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}

    def subscribe(self, event: str, handler: Handler) -> None:
        """``handler(session, **payload)`` runs for every ``publish(event, session, **payload)``."""
        self._handlers.setdefault(event, []).append(handler)

    def publish(self, event: str, session: Any, **payload: Any) -> None:
        """Call the handlers of ``event`` in the publisher's transaction; an exception aborts it."""
        for handler in self._handlers.get(event, ()):
            handler(session, **payload)

    def handlers(self, event: str) -> list[Handler]:
        return list(self._handlers.get(event, ()))
