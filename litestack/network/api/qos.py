"""QoS: policies (``/qos/policies``, a declared resource), their bandwidth-limit and DSCP-marking
rules (``/qos/policies/{id}/<type>_rules``) and the rule types (``/qos/rule-types``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common.api.app import JSON, Op, no_content
from litestack.common.api.policy import Target, body, loaded, policy_target, stash
from litestack.network import exceptions as exc
from litestack.network.api.base import ANY_OBJECT, NetworkAPI, NeutronResource, boolean
from litestack.network.manager import Manager
from litestack.network.manager.qos import RULE_TYPES


def resource(mgr: Manager, common: dict[str, Any]) -> NeutronResource:
    q = mgr.qos
    return NeutronResource(
        "policies", "policy", "qos/policies", q.find, q.get, q.create, q.update, q.delete,
        attrs={**common, "shared": boolean, "is_default": boolean},
        create_only=("project_id", "tenant_id"),
        sort_keys=("id", "name", "shared", "is_default", "project_id", "tenant_id", "created_at", "updated_at",
                   "revision_number"),
        tag="qos")


def _handlers(api: NetworkAPI, mgr: Manager, rule_type: str, key: str) -> tuple[Any, ...]:
    """The list, show, create, update and delete handlers of one rule type."""
    q = mgr.qos

    async def list_rules(request: Request) -> Response:
        items = await api.run(q.list_rules, api.caller(request), loaded(request)["id"], rule_type)
        return JSON({f"{key}s": items})

    async def show(request: Request) -> Response:
        item = await api.run(q.get_rule, api.caller(request), loaded(request)["id"], rule_type,
                             request.path_params["rule_id"])
        return JSON({key: item})

    async def create(request: Request) -> Response:
        item = await api.run(q.create_rule, api.caller(request), loaded(request)["id"], rule_type,
                             body(request)[key])
        return JSON({key: item}, status_code=201)

    async def update(request: Request) -> Response:
        item = await api.run(q.update_rule, api.caller(request), loaded(request)["id"], rule_type,
                             request.path_params["rule_id"], body(request)[key])
        return JSON({key: item})

    async def delete(request: Request) -> Response:
        await api.run(q.delete_rule, api.caller(request), loaded(request)["id"], rule_type,
                      request.path_params["rule_id"])
        return no_content()
    return list_rules, show, create, update, delete


def rule_ops(api: NetworkAPI, mgr: Manager) -> list[Op]:
    q = mgr.qos
    ops: list[Op] = []

    async def target(request: Request) -> Target:
        item = await api.run(q.get, api.caller(request), request.path_params["policy_id"])
        stash(request, item)
        return Target(policy_target(item, **item))

    for rule_type in RULE_TYPES:
        coll = f"{api.prefix}/qos/policies/{{policy_id}}/{rule_type}_rules"
        member = coll + "/{rule_id}"
        key = f"{rule_type}_rule"

        list_rules, show, create, update, delete = _handlers(api, mgr, rule_type, key)
        schema = {"type": "object", "required": [key], "properties": {key: ANY_OBJECT}}
        errs = (400, 401, 403, 404, 409)
        ops += [
            Op("GET", coll, list_rules, f"List the {key}s of a QoS policy", tag="qos", rule=f"get_policy_{key}",
               target=target),
            Op("POST", coll, create, f"Create a {key}", body=schema, status=201, tag="qos",
               rule=f"create_policy_{key}", target=target, errors=errs),
            Op("GET", member, show, f"Show a {key}", tag="qos", rule=f"get_policy_{key}", target=target),
            Op("PUT", member, update, f"Update a {key}", body=schema, tag="qos", rule=f"update_policy_{key}",
               target=target, errors=errs),
            Op("DELETE", member, delete, f"Delete a {key}", status=204, tag="qos", rule=f"delete_policy_{key}",
               target=target, errors=errs),
        ]

    async def rule_types(request: Request) -> Response:
        return JSON({"rule_types": [{"type": t} for t in RULE_TYPES]})

    async def show_rule_type(request: Request) -> Response:
        name = request.path_params["rule_type"]
        if name not in RULE_TYPES:
            raise exc.QosRuleTypeNotFound(name)
        return JSON({"rule_type": {"type": name, "drivers": [{"name": "fake", "supported_parameters": []}]}})

    ops += [
        Op("GET", f"{api.prefix}/qos/rule-types", rule_types, "List the QoS rule types", tag="qos",
           rule="get_rule_type"),
        Op("GET", f"{api.prefix}/qos/rule-types/{{rule_type}}", show_rule_type, "Show a QoS rule type", tag="qos",
           rule="get_rule_type"),
    ]
    return ops
