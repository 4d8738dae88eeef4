"""The placement service's HTTP API: the version document and every resource's Op table."""

from __future__ import annotations

from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from litestack.common.api.app import JSON, Op, build_app
from litestack.common.policy import Enforcer
from litestack.placement.api import allocations, candidates, catalog, inventories, providers
from litestack.placement.api.base import VERSIONS, PlacementAPI, version_middleware
from litestack.placement.manager import Manager


def root_ops(api: PlacementAPI) -> list[Op]:
    async def versions(request: Request) -> Response:
        return JSON({"versions": [{"id": "v1.0", "max_version": str(VERSIONS.maximum),
                                   "min_version": str(VERSIONS.minimum), "status": "CURRENT",
                                   "links": [{"rel": "self", "href": ""}]}]})

    return [Op("GET", "/", versions, "The API version document", public=True, tag="versions",
               response={"type": "object", "required": ["versions"]})]


def all_ops(api: PlacementAPI) -> list[Op]:
    return [*root_ops(api), *providers.ops(api), *inventories.ops(api), *allocations.ops(api),
            *candidates.ops(api), *catalog.ops(api)]


class _NoManager:
    """Stands in for the manager when the Op table is only read (policy documentation, tests)."""

    def __getattr__(self, name: str) -> Any:
        return _NoManager()

    def __call__(self, *_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("placement manager called on the read-only Op table")


def op_table() -> list[Op]:
    return all_ops(PlacementAPI(Enforcer(), cast(Manager, _NoManager())))


def build(mgr: Manager, enforcer: Enforcer, auth: Any) -> ASGIApp:
    api = PlacementAPI(enforcer, mgr)
    return build_app("placement", all_ops(api), title="litestack placement (Placement API 1.x)",
                     enforcer=enforcer, middleware=[*version_middleware(), auth])
