"""``/resource_providers/{uuid}/inventories``: what a provider has of each resource class."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common.api.app import JSON, Op, no_content
from litestack.common.api.policy import body
from litestack.common.db import run_blocking
from litestack.placement.api.base import GENERATION, RC_KEY, PlacementAPI, at_least, need
from litestack.placement.api.providers import uuid_of
from litestack.placement.manager import inventories
from litestack.placement.manager.base import Inv

R = "placement:resource_providers:inventories:"
MAX = 2147483647

FIELDS: dict[str, Any] = {
    "total": {"type": "integer", "minimum": 1, "maximum": MAX},
    "reserved": {"type": "integer", "minimum": 0, "maximum": MAX},
    "min_unit": {"type": "integer", "minimum": 1, "maximum": MAX},
    "max_unit": {"type": "integer", "minimum": 1, "maximum": MAX},
    "step_size": {"type": "integer", "minimum": 1, "maximum": MAX},
    "allocation_ratio": {"type": "number", "exclusiveMinimum": 0, "maximum": 3.40282e38},
}
ONE: dict[str, Any] = {"type": "object", "required": ["total"], "additionalProperties": False,
                       "properties": FIELDS}
PUT_ALL: dict[str, Any] = {"type": "object", "required": ["resource_provider_generation", "inventories"],
                           "additionalProperties": False,
                           "properties": {"resource_provider_generation": GENERATION,
                                          "inventories": {"type": "object", "patternProperties": {RC_KEY: ONE},
                                                          "additionalProperties": False}}}
PUT_ONE: dict[str, Any] = {"type": "object", "required": ["total", "resource_provider_generation"],
                           "additionalProperties": False,
                           "properties": {**FIELDS, "resource_provider_generation": GENERATION}}
POST: dict[str, Any] = {"type": "object", "required": ["resource_class", "total", "resource_provider_generation"],
                        "additionalProperties": False,
                        "properties": {**FIELDS, "resource_provider_generation": GENERATION,
                                       "resource_class": {"type": "string", "pattern": RC_KEY, "maxLength": 255}}}
INVENTORIES_VIEW: dict[str, Any] = {"type": "object", "required": ["inventories", "resource_provider_generation"],
                                    "properties": {"inventories": {"type": "object"},
                                                   "resource_provider_generation": {"type": "integer"}}}


def _fields(data: dict[str, Any]) -> Inv:
    return inventories.make("", {k: data[k] for k in FIELDS if k in data})


def ops(api: PlacementAPI) -> list[Op]:
    mgr = api.mgr

    def equal_ok(request: Request) -> bool:
        return at_least(request, "1.26")

    def all_view(invs: dict[str, Inv], gen: int) -> Response:
        return JSON({"inventories": {rc: inv.view() for rc, inv in sorted(invs.items())},
                     "resource_provider_generation": gen})

    async def get_all(request: Request) -> Response:
        invs, gen = await run_blocking(mgr.inventories.get_all, uuid_of(request))
        return all_view(invs, gen)

    async def put_all(request: Request) -> Response:
        data = body(request)
        new = {rc: _fields(fields) for rc, fields in data["inventories"].items()}
        invs, gen = await run_blocking(mgr.inventories.set_all, uuid_of(request), data["resource_provider_generation"],
                                       new, equal_ok(request))
        return all_view(invs, gen)

    async def post(request: Request) -> Response:
        data = body(request)
        rc = data["resource_class"]
        inv, gen = await run_blocking(mgr.inventories.add, uuid_of(request), data["resource_provider_generation"], rc,
                                      _fields(data), equal_ok(request))
        where = api.location(request, f"/resource_providers/{uuid_of(request)}/inventories/{rc}")
        return JSON({**inv.view(), "resource_provider_generation": gen}, status_code=201,
                    headers=where)

    async def delete_all(request: Request) -> Response:
        need(request, "1.5")
        await run_blocking(mgr.inventories.delete, uuid_of(request), None)
        return no_content()

    async def get_one(request: Request) -> Response:
        inv, gen = await run_blocking(mgr.inventories.get, uuid_of(request), request.path_params["rc"])
        return JSON({**inv.view(), "resource_provider_generation": gen})

    async def put_one(request: Request) -> Response:
        data = body(request)
        inv, gen = await run_blocking(mgr.inventories.update, uuid_of(request), data["resource_provider_generation"],
                                      request.path_params["rc"], _fields(data), equal_ok(request))
        return JSON({**inv.view(), "resource_provider_generation": gen})

    async def delete_one(request: Request) -> Response:
        await run_blocking(mgr.inventories.delete, uuid_of(request), request.path_params["rc"])
        return no_content()

    many = "/resource_providers/{uuid}/inventories"
    one = many + "/{rc}"
    tag = "inventories"
    conflict = (400, 401, 403, 404, 409)
    return [
        Op("GET", many, get_all, "List a provider's inventories", rule=R + "list", tag=tag, response=INVENTORIES_VIEW),
        Op("PUT", many, put_all, "Replace a provider's inventories", body=PUT_ALL, rule=R + "update", tag=tag,
           errors=conflict, response=INVENTORIES_VIEW),
        Op("POST", many, post, "Add an inventory of one resource class", body=POST, status=201, rule=R + "create",
           tag=tag, errors=conflict),
        Op("DELETE", many, delete_all, "Delete a provider's inventories", status=204, rule=R + "delete", tag=tag,
           errors=(401, 403, 404, 409)),
        Op("GET", one, get_one, "Show a provider's inventory of one class", rule=R + "show", tag=tag),
        Op("PUT", one, put_one, "Update a provider's inventory of one class", body=PUT_ONE, rule=R + "update",
           tag=tag, errors=conflict),
        Op("DELETE", one, delete_one, "Delete a provider's inventory of one class", status=204, rule=R + "delete",
           tag=tag, errors=(401, 403, 404, 409)),
    ]
