"""The compute service's HTTP API (Nova v2.1)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp

from litestack.common.api.app import Op, build_app
from litestack.common.policy import Enforcer
from litestack.compute.api import (
    actions,
    admin,
    aggregates,
    catalog,
    extensions,
    hosts,
    moves,
    secgroups,
    server_ops,
    servers,
    usage,
    volume_proxy,
    volumes,
)
from litestack.compute.api.base import ComputeAPI, MicroversionMiddleware, Parts, project_in_url

#: The modules that add server actions to ``POST /servers/{id}/action`` (each: ``actions(api)``).
ACTION_MODULES: list[actions.ActionModule] = [server_ops.actions, moves.actions]


def all_ops(api: ComputeAPI) -> list[Op]:
    """Every operation of the compute API, in routing order."""
    return [*catalog.ops(api), *servers.ops(api), *actions.ops(api, ACTION_MODULES), *admin.ops(api),
            *secgroups.ops(api), *aggregates.ops(api), *usage.ops(api), *server_ops.ops(api),
            *hosts.ops(api), *extensions.ops(api), *moves.ops(api), *volumes.ops(api), *volume_proxy.ops(api)]


def op_table() -> list[Op]:
    """The compute Op table, built without a database or a bus (policy documentation, tests)."""
    return all_ops(ComputeAPI(Enforcer(), Parts()))


def build(api: ComputeAPI, auth: Callable[[ASGIApp], ASGIApp]) -> ASGIApp:
    return build_app("compute", all_ops(api), title="litestack compute (Nova v2.1)", enforcer=api.enforcer,
                     middleware=[auth, project_in_url, MicroversionMiddleware])
