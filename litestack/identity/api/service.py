"""What is identity's own in its API handlers: the manager behind them and the ``/v3`` prefix.

The generic parts (URLs and links, policy, lookups, thread hand-off, schema fragments) are in
``litestack.common.api.resource`` and ``litestack.common.api.schema``.
"""

from __future__ import annotations

from starlette.requests import Request

from litestack.common.api.app import ctx
from litestack.common.api.policy import Target, target
from litestack.common.api.resource import ServiceAPI
from litestack.common.policy import Enforcer
from litestack.identity.manager import Manager


class IdentityAPI(ServiceAPI):
    """Shared state of the identity API handlers."""

    prefix = "/v3"

    def __init__(self, mgr: Manager, enforcer: Enforcer) -> None:
        super().__init__(enforcer)
        self.mgr = mgr

    @staticmethod
    def scoped_domain(request: Request) -> str | None:
        """The domain a list is about: the query's ``domain_id``, else a domain-scoped caller's own."""
        c = ctx(request)
        return request.query_params.get("domain_id") or (c.domain_id if c.domain_id and not c.project_id else None)

    async def domain_list_target(self, request: Request) -> Target:
        """The target of a list rule that domain readers pass for their own domain."""
        return target(domain_id=self.scoped_domain(request))

    @property
    def list_limit(self) -> int | None:
        """``[identity] list_limit``: the most items a list shows (None: all)."""
        limit: int = self.mgr.opt("list_limit")
        return limit or None
