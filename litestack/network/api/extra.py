"""Read-only views over the network service's state: network IP availability and availability
zones."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common.api.app import JSON, Op, no_content
from litestack.common.api.policy import Target, body, policy_target
from litestack.network.api.base import NetworkAPI
from litestack.network.manager import Manager
from litestack.network.manager.base import Query


def _query(request: Request) -> Query:
    return Query(filters={k: request.query_params.getlist(k) for k in request.query_params if k != "fields"})


def _fields(request: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    wanted = [f for v in request.query_params.getlist("fields") for f in v.split(",") if f]
    return [{k: v for k, v in i.items() if k in wanted} for i in items] if wanted else items


def extra_ops(api: NetworkAPI, mgr: Manager) -> list[Op]:
    av = mgr.availability
    p = api.prefix

    async def list_ip(request: Request) -> Response:
        items = await api.run(av.ip_availabilities, api.caller(request), _query(request))
        return JSON({"network_ip_availabilities": _fields(request, items)})

    async def show_ip(request: Request) -> Response:
        item = await api.run(av.ip_availability, api.caller(request), request.path_params["network_id"])
        return JSON({"network_ip_availability": _fields(request, [item])[0]})

    async def zones(request: Request) -> Response:
        items = await api.run(av.zones, api.caller(request), _query(request))
        return JSON({"availability_zones": _fields(request, items)})

    aa = mgr.auto_allocator

    async def project_target(request: Request) -> Target:
        return Target(policy_target(project_id=request.path_params["project_id"]))

    async def topology(request: Request) -> Response:
        fields = [f for v in request.query_params.getlist("fields") for f in v.split(",") if f]
        dry_run = "dry-run" in fields
        view = await api.run(aa.get, api.caller(request), str(request.path_params["project_id"])[:255], dry_run)
        return JSON({"auto_allocated_topology": view})

    async def delete_topology(request: Request) -> Response:
        await api.run(aa.delete, api.caller(request), str(request.path_params["project_id"])[:255])
        return no_content()

    ag = mgr.address_groups

    async def group_target(request: Request) -> Target:
        item = await api.run(ag.get, api.caller(request), request.path_params["id"])
        return Target(policy_target(item, **item))

    def addresses(add: bool) -> Any:
        async def handler(request: Request) -> Response:
            view = await api.run(ag.change, api.caller(request), request.path_params["id"], body(request), add)
            return JSON({"address_group": view})
        return handler

    schema = {"type": "object", "required": ["addresses"], "properties": {"addresses": {"type": "array"}}}
    return [
        Op("PUT", f"{p}/address-groups/{{id}}/add_addresses", addresses(True), "Add addresses to an address group",
           tag="address-groups", rule="add_addresses", target=group_target, body=schema, errors=(400, 401, 403, 404)),
        Op("PUT", f"{p}/address-groups/{{id}}/remove_addresses", addresses(False),
           "Remove addresses from an address group", tag="address-groups", rule="remove_addresses",
           target=group_target, body=schema, errors=(400, 401, 403, 404)),
        Op("GET", f"{p}/auto-allocated-topology/{{project_id}}", topology,
           "Show (made on first use) the project's auto-allocated topology", tag="auto-allocated-topology",
           rule="get_auto_allocated_topology", target=project_target, query=("fields",), errors=(401, 403, 409)),
        Op("DELETE", f"{p}/auto-allocated-topology/{{project_id}}", delete_topology,
           "Delete the project's auto-allocated topology", status=204, tag="auto-allocated-topology",
           rule="delete_auto_allocated_topology", target=project_target, errors=(401, 403, 404, 409)),
        Op("GET", f"{p}/network-ip-availabilities", list_ip, "List the IP availability of networks",
           tag="network-ip-availabilities", rule="get_network_ip_availability", query=("fields",)),
        Op("GET", f"{p}/network-ip-availabilities/{{network_id}}", show_ip, "Show the IP availability of a network",
           tag="network-ip-availabilities", rule="get_network_ip_availability", query=("fields",)),
        Op("GET", f"{p}/availability_zones", zones, "List the availability zones", tag="availability_zones",
           rule="get_availability_zone", query=("fields",)),
    ]
