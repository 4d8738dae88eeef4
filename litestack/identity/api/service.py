"""What is identity's own in its API handlers: the manager behind them and the ``/v3`` prefix.

The generic parts (URLs and links, policy, lookups, thread hand-off, schema fragments) are in
``litestack.common.api.resource`` and ``litestack.common.api.schema``.
"""

from __future__ import annotations

from litestack.common.api.resource import ServiceAPI
from litestack.common.policy import Enforcer
from litestack.identity.manager import Manager


class IdentityAPI(ServiceAPI):
    """Shared state of the identity API handlers."""

    prefix = "/v3"

    def __init__(self, mgr: Manager, enforcer: Enforcer) -> None:
        super().__init__(enforcer)
        self.mgr = mgr
