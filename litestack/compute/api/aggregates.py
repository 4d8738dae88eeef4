"""Host aggregates (``/os-aggregates``, admin only): create, list, show, update (name, zone),
delete, add and remove hosts, set metadata. Membership is mirrored into placement (the host's
resource provider joins the aggregate's uuid), as Nova does; the zone and the metadata are what
the scheduler's zone and aggregate filters read."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op
from litestack.common.api.policy import body
from litestack.compute.api.base import ComputeAPI, iso_us, microversion, v
from litestack.compute.manager.aggregates import AZ_KEY, zone_of

_NAME = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^(?!\s)[\s\S]*(?<!\s)$"}
_ZONE = {"type": ["string", "null"], "minLength": 1, "maxLength": 255, "pattern": "^[^:]*$"}
_CREATE = {"type": "object", "required": ["aggregate"], "additionalProperties": False, "properties": {
    "aggregate": {"type": "object", "required": ["name"], "additionalProperties": False,
                  "properties": {"name": _NAME, "availability_zone": _ZONE}}}}
_UPDATE = {"type": "object", "required": ["aggregate"], "additionalProperties": False, "properties": {
    "aggregate": {"type": "object", "minProperties": 1, "additionalProperties": False,
                  "properties": {"name": _NAME, "availability_zone": _ZONE}}}}
_HOST = {"type": "object", "required": ["host"], "additionalProperties": False,
         "properties": {"host": {"type": "string", "minLength": 1, "maxLength": 255}}}
_ACTION = {"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False, "properties": {
    "add_host": _HOST, "remove_host": _HOST,
    "set_metadata": {"type": "object", "required": ["metadata"], "additionalProperties": False, "properties": {
        "metadata": {"type": "object", "propertyNames": {"minLength": 1, "maxLength": 255,
                                                         "pattern": r"^[a-zA-Z0-9-_:. /]+$"},
                     "additionalProperties": {"type": ["string", "null", "integer", "number", "boolean"],
                                              "maxLength": 255}}}}}}
RULE = "os_compute_api:os-aggregates"


def ops(api: ComputeAPI) -> list[Op]:
    def view(request: Request, agg: Any, full: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"id": agg.id, "name": agg.name, "availability_zone": zone_of(agg),
                               "created_at": iso_us(agg.created_at), "updated_at": iso_us(agg.updated_at),
                               "deleted_at": None, "deleted": False}
        if full:
            out["hosts"] = [h.host for h in agg.hosts]
            out["metadata"] = {m.key: m.value for m in agg.metadata_items}
        if microversion(request) >= v(41):
            out["uuid"] = agg.uuid
        return out

    async def mirror(agg: Any, host: str, member: bool) -> None:
        svc = await api.run(api.p.hosts.by_host, host)
        if svc is not None:
            await api.p.claims.set_aggregate(svc.node_uuid, agg.uuid, member)

    async def index(request: Request) -> Response:
        return JSON({"aggregates": [view(request, a) for a in await api.run(api.p.aggregates.find)]})

    async def create(request: Request) -> Response:
        data = body(request)["aggregate"]
        agg = await api.run(api.p.aggregates.create, data["name"], data.get("availability_zone"))
        return JSON({"aggregate": view(request, agg, full=False)})

    async def show(request: Request) -> Response:
        return JSON({"aggregate": view(request, await api.run(api.p.aggregates.get, api.param(request, "agg_id")))})

    async def update(request: Request) -> Response:
        data = body(request)["aggregate"]
        agg = await api.run(api.p.aggregates.update, api.param(request, "agg_id"), data.get("name"),
                            data.get("availability_zone"), "availability_zone" in data)
        return JSON({"aggregate": view(request, agg)})

    async def delete(request: Request) -> Response:
        await api.run(api.p.aggregates.delete, api.param(request, "agg_id"))
        return Response(status_code=200)

    async def action(request: Request) -> Response:
        data, agg_id = body(request), api.param(request, "agg_id")
        if "add_host" in data:
            agg = await api.run(api.p.aggregates.add_host, agg_id, data["add_host"]["host"])
            await mirror(agg, data["add_host"]["host"], True)
        elif "remove_host" in data:
            agg = await api.run(api.p.aggregates.remove_host, agg_id, data["remove_host"]["host"])
            await mirror(agg, data["remove_host"]["host"], False)
        else:
            items = {k: (None if val is None else str(val)) for k, val in data["set_metadata"]["metadata"].items()}
            if AZ_KEY in items and items[AZ_KEY] is not None and ":" in str(items[AZ_KEY]):
                raise errors.BadRequest("Invalid availability zone name: ':' is not allowed.")
            agg = await api.run(api.p.aggregates.set_metadata, agg_id, items)
        return JSON({"aggregate": view(request, agg)})

    return [
        Op("GET", "/v2.1/os-aggregates", index, rule=f"{RULE}:index", tag="aggregates"),
        Op("POST", "/v2.1/os-aggregates", create, body=_CREATE, rule=f"{RULE}:create", tag="aggregates",
           errors=(400, 401, 403, 409)),
        Op("GET", "/v2.1/os-aggregates/{agg_id}", show, rule=f"{RULE}:show", tag="aggregates"),
        Op("PUT", "/v2.1/os-aggregates/{agg_id}", update, body=_UPDATE, rule=f"{RULE}:update", tag="aggregates",
           errors=(400, 401, 403, 404, 409)),
        Op("DELETE", "/v2.1/os-aggregates/{agg_id}", delete, rule=f"{RULE}:delete", tag="aggregates"),
        Op("POST", "/v2.1/os-aggregates/{agg_id}/action", action, body=_ACTION, rule=f"{RULE}:add_host",
           alt_rules=(f"{RULE}:remove_host", f"{RULE}:set_metadata"), target=action_target(api),
           tag="aggregates", errors=(400, 401, 403, 404, 409)),
    ]


def action_target(api: ComputeAPI) -> Any:
    """The action's own rule (add_host, remove_host or set_metadata) decides."""
    from dataclasses import replace

    async def target(request: Request) -> Any:
        tgt = await api.own_project(request)
        name = next(iter(body(request)))
        return replace(tgt, rule=None if name == "add_host" else f"{RULE}:{name}")
    return target
