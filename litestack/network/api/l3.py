"""Routers (with their interface and extra-route actions), floating IPs (with their port
forwardings) and quotas: the resources beyond L2."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common.api.app import JSON, Op, ctx, no_content
from litestack.common.api.policy import Target, body, loaded, policy_target, stash
from litestack.network.api.base import (
    ANY_OBJECT,
    NetworkAPI,
    NeutronResource,
    boolean,
    listing,
    nullable_string,
    passthrough,
    string,
)
from litestack.network.manager import Manager


def resources(mgr: Manager, common: dict[str, Any]) -> list[NeutronResource]:
    r, f = mgr.routers, mgr.floatingips
    return [
        NeutronResource(
            "routers", "router", "routers", r.find, r.get, r.create, r.update, r.delete,
            attrs={**common, "admin_state_up": boolean, "external_gateway_info": passthrough,
                   "routes": listing(), "distributed": boolean, "ha": boolean},
            create_only=("project_id", "tenant_id"),
            attr_rules=("external_gateway_info:enable_snat", "external_gateway_info:external_fixed_ips",
                        "distributed", "ha"),
            sort_keys=("id", "name", "status", "admin_state_up", "project_id", "tenant_id", "created_at",
                       "updated_at", "revision_number"),
            tag="routers"),
        NeutronResource(
            "floatingips", "floatingip", "floatingips", f.find, f.get, f.create, f.update, f.delete,
            attrs={"description": string(), "project_id": string(), "tenant_id": string(), "tags": common["tags"],
                   "floating_network_id": string(36), "floating_ip_address": nullable_string(64),
                   "subnet_id": nullable_string(36), "port_id": nullable_string(36),
                   "fixed_ip_address": nullable_string(64)},
            create_only=("project_id", "tenant_id", "floating_network_id", "floating_ip_address", "subnet_id"),
            attr_rules=("floating_ip_address",),
            sort_keys=("id", "floating_ip_address", "floating_network_id", "fixed_ip_address", "router_id",
                       "port_id", "status", "project_id", "tenant_id", "created_at", "updated_at", "revision_number"),
            tag="floatingips"),
    ]


def _object(*required: str) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": {k: ANY_OBJECT for k in required}}


def router_actions(api: NetworkAPI, mgr: Manager) -> list[Op]:
    routers = mgr.routers
    p = f"{api.prefix}/routers/{{id}}"

    async def target(request: Request) -> Target:
        item = await api.run(routers.get, api.caller(request), request.path_params["id"])
        stash(request, item)
        return Target(policy_target(item, **item))

    def action(name: str, fn: Any, wrap: bool) -> Op:
        async def handler(request: Request) -> Response:
            sent = body(request)
            data = sent.get("router") if wrap else sent
            result = await api.run(fn, api.caller(request), loaded(request)["id"], data)
            return JSON({"router": api.present(request, res, [result])[0]} if wrap else result)
        return Op("PUT", f"{p}/{name}", handler, name.replace("_", " ").capitalize(), tag="routers",
                  rule=name, target=target, body=_object("router") if wrap else {"type": "object"},
                  errors=(400, 401, 403, 404, 409))

    res = resources(mgr, {"tags": None})[0]
    return [
        action("add_router_interface", routers.add_interface, False),
        action("remove_router_interface", routers.remove_interface, False),
        action("add_extraroutes", lambda c, i, d: routers.change_routes(c, i, d, True), True),
        action("remove_extraroutes", lambda c, i, d: routers.change_routes(c, i, d, False), True),
    ]


def port_forwarding_ops(api: NetworkAPI, mgr: Manager) -> list[Op]:
    fips = mgr.floatingips
    coll = f"{api.prefix}/floatingips/{{floatingip_id}}/port_forwardings"
    member = coll + "/{id}"

    async def target(request: Request) -> Target:
        item = await api.run(fips.get, api.caller(request), request.path_params["floatingip_id"])
        stash(request, item)
        return Target(policy_target(item, **item))

    def fields(request: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        wanted = [f for v in request.query_params.getlist("fields") for f in v.split(",") if f]
        return [{k: v for k, v in i.items() if k in wanted} for i in items] if wanted else items

    async def list_pf(request: Request) -> Response:
        filters = {k: request.query_params.getlist(k) for k in request.query_params if k != "fields"}
        items = await api.run(fips.list_pf, api.caller(request), loaded(request)["id"], filters)
        return JSON({"port_forwardings": fields(request, items)})

    async def show(request: Request) -> Response:
        item = await api.run(fips.get_pf, api.caller(request), loaded(request)["id"], request.path_params["id"])
        return JSON({"port_forwarding": fields(request, [item])[0]})

    async def create(request: Request) -> Response:
        data = body(request)["port_forwarding"]
        item = await api.run(fips.create_pf, api.caller(request), loaded(request)["id"], data)
        return JSON({"port_forwarding": item}, status_code=201)

    async def update(request: Request) -> Response:
        data = body(request)["port_forwarding"]
        item = await api.run(fips.update_pf, api.caller(request), loaded(request)["id"], request.path_params["id"],
                             data)
        return JSON({"port_forwarding": item})

    async def delete(request: Request) -> Response:
        await api.run(fips.delete_pf, api.caller(request), loaded(request)["id"], request.path_params["id"])
        return no_content()

    errs = (400, 401, 403, 404, 409)
    return [
        Op("GET", coll, list_pf, "List the port forwardings of a floating IP", tag="port_forwardings",
           rule="get_floatingip_port_forwarding", target=target, query=("fields",)),
        Op("POST", coll, create, "Create a port forwarding", body=_object("port_forwarding"), status=201,
           tag="port_forwardings", rule="create_floatingip_port_forwarding", target=target, errors=errs),
        Op("GET", member, show, "Show a port forwarding", tag="port_forwardings",
           rule="get_floatingip_port_forwarding", target=target, query=("fields",)),
        Op("PUT", member, update, "Update a port forwarding", body=_object("port_forwarding"),
           tag="port_forwardings", rule="update_floatingip_port_forwarding", target=target, errors=errs),
        Op("DELETE", member, delete, "Delete a port forwarding", status=204, tag="port_forwardings",
           rule="delete_floatingip_port_forwarding", target=target, errors=errs),
    ]


def quota_ops(api: NetworkAPI, mgr: Manager) -> list[Op]:
    quotas = mgr.quotas
    coll = f"{api.prefix}/quotas"
    member = coll + "/{project_id}"

    async def own(request: Request) -> Target:
        return Target(policy_target(project_id=ctx(request).project_id))

    async def target(request: Request) -> Target:
        return Target(policy_target(project_id=request.path_params["project_id"]))

    def project(request: Request) -> str:
        return str(request.path_params["project_id"])[:255]

    async def list_quotas(request: Request) -> Response:
        caller = api.caller(request)
        items = await api.run(quotas.find, caller)
        if not caller.is_admin:
            items = [i for i in items if i["project_id"] == caller.project_id]
        return JSON({"quotas": items})

    async def show(request: Request) -> Response:
        return JSON({"quota": await api.run(quotas.show, api.caller(request), project(request))})

    async def default(request: Request) -> Response:
        return JSON({"quota": await api.run(quotas.default, api.caller(request), project(request))})

    async def details(request: Request) -> Response:
        return JSON({"quota": await api.run(quotas.details, api.caller(request), project(request))})

    async def update(request: Request) -> Response:
        data = body(request)["quota"]
        view = await api.run(quotas.update, api.caller(request), project(request), data)
        return JSON({"quota": {k: v for k, v in view.items() if k not in ("project_id", "tenant_id")}})

    async def reset(request: Request) -> Response:
        await api.run(quotas.reset, api.caller(request), project(request))
        return no_content()

    return [
        Op("GET", coll, list_quotas, "List the projects' own quotas", tag="quotas", rule="get_quota", target=own),
        Op("GET", member, show, "Show a project's quotas", tag="quotas", rule="get_quota", target=target),
        Op("GET", member + "/default", default, "Show the default quotas", tag="quotas", rule="get_quota",
           target=target),
        Op("GET", member + "/details", details, "Show a project's quotas with their usage", tag="quotas",
           rule="get_quota", target=target),
        Op("PUT", member, update, "Update a project's quotas", body=_object("quota"), tag="quotas",
           rule="update_quota", target=target, errors=(400, 401, 403, 404, 409)),
        Op("DELETE", member, reset, "Reset a project's quotas to the defaults", status=204, tag="quotas",
           rule="delete_quota", target=target),
    ]
