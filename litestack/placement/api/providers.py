"""``/resource_providers``: providers, and their traits (1.6) and aggregates (1.1)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common.api.app import JSON, Op, no_content, validate
from litestack.common.api.policy import body
from litestack.common.db import run_blocking
from litestack.placement import errors
from litestack.placement.api.base import (
    GENERATION,
    UUID_STR,
    PlacementAPI,
    at_least,
    check_uuid,
    need,
    parse_member_of,
    parse_resources,
    parse_traits,
    query,
    single,
)
from litestack.placement.manager.providers import ProviderQuery

P = "placement:resource_providers:"

NAME: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 200}
CREATE: dict[str, Any] = {"type": "object", "required": ["name"], "additionalProperties": False,
                          "properties": {"name": NAME, "uuid": UUID_STR,
                                         "parent_provider_uuid": {"anyOf": [UUID_STR, {"type": "null"}]}}}
UPDATE: dict[str, Any] = {"type": "object", "required": ["name"], "additionalProperties": False,
                          "properties": {"name": NAME,
                                         "parent_provider_uuid": {"anyOf": [UUID_STR, {"type": "null"}]}}}
TRAIT_NAME: dict[str, Any] = {"type": "string", "pattern": "^[A-Z0-9_]+$", "minLength": 1, "maxLength": 255}
TRAITS: dict[str, Any] = {"type": "object", "required": ["traits", "resource_provider_generation"],
                          "additionalProperties": False,
                          "properties": {"traits": {"type": "array", "items": TRAIT_NAME, "uniqueItems": True},
                                         "resource_provider_generation": GENERATION}}
AGG_LIST: dict[str, Any] = {"type": "array", "items": UUID_STR, "uniqueItems": True}
AGGREGATES_1_19: dict[str, Any] = {"type": "object", "required": ["aggregates", "resource_provider_generation"],
                                   "additionalProperties": False,
                                   "properties": {"aggregates": AGG_LIST, "resource_provider_generation": GENERATION}}
AGGREGATES: dict[str, Any] = {"anyOf": [AGG_LIST, AGGREGATES_1_19]}

PROVIDER_VIEW: dict[str, Any] = {"type": "object", "required": ["uuid", "name", "generation", "links"],
                                 "properties": {"uuid": {"type": "string"}, "name": {"type": "string"},
                                                "generation": {"type": "integer"}, "links": {"type": "array"}}}


def provider_view(api: PlacementAPI, request: Request, p: dict[str, Any]) -> dict[str, Any]:
    base = f"/resource_providers/{p['uuid']}"
    links = [("self", ""), ("inventories", "/inventories"), ("usages", "/usages")]
    if at_least(request, "1.1"):
        links.append(("aggregates", "/aggregates"))
    if at_least(request, "1.6"):
        links.append(("traits", "/traits"))
    if at_least(request, "1.11"):
        links.append(("allocations", "/allocations"))
    out = {"uuid": p["uuid"], "name": p["name"], "generation": p["generation"],
           "links": [{"rel": rel, "href": api.path(request, base + tail)} for rel, tail in links]}
    if at_least(request, "1.14"):
        out["parent_provider_uuid"] = p["parent_provider_uuid"]
        out["root_provider_uuid"] = p["root_provider_uuid"]
    return out


def uuid_of(request: Request) -> str:
    value: str = request.path_params["uuid"]
    return value


def ops(api: PlacementAPI) -> list[Op]:
    mgr = api.mgr

    async def list_providers(request: Request) -> Response:
        allowed = {"name", "uuid"}
        for key, since in (("member_of", "1.3"), ("resources", "1.4"), ("in_tree", "1.14"), ("required", "1.18")):
            if at_least(request, since):
                allowed.add(key)
        q = query(request, allowed.__contains__)
        pq = ProviderQuery(name=single(q, "name"))
        if (u := single(q, "uuid")) is not None:
            pq.uuid = check_uuid(u)
        if (t := single(q, "in_tree")) is not None:
            pq.in_tree = check_uuid(t, "in_tree")
        if (r := single(q, "resources")) is not None:
            pq.resources = parse_resources(r)
        if "member_of" in q:
            pq.member_of = parse_member_of(q["member_of"], request)
        if "required" in q:
            pq.traits = parse_traits(q["required"], request)
        found = await run_blocking(mgr.providers.find, pq)
        return JSON({"resource_providers": [provider_view(api, request, p) for p in found]})

    async def create(request: Request) -> Response:
        data = body(request)
        if "parent_provider_uuid" in data and not at_least(request, "1.14"):
            raise errors.BadRequest("JSON does not validate: Additional properties are not allowed "
                                    "('parent_provider_uuid' was unexpected)")
        uuid = check_uuid(data["uuid"]) if "uuid" in data else None
        parent = check_uuid(data["parent_provider_uuid"]) if data.get("parent_provider_uuid") else None
        p = await run_blocking(mgr.providers.create, data["name"], uuid, parent)
        location = api.location(request, f"/resource_providers/{p['uuid']}")
        if at_least(request, "1.20"):
            return JSON(provider_view(api, request, p), headers=location)
        return Response(status_code=201, headers=location)

    async def show(request: Request) -> Response:
        p = await run_blocking(mgr.providers.get, uuid_of(request))
        return JSON(provider_view(api, request, p))

    async def update(request: Request) -> Response:
        data = body(request)
        given = "parent_provider_uuid" in data
        if given and not at_least(request, "1.14"):
            raise errors.BadRequest("JSON does not validate: Additional properties are not allowed "
                                    "('parent_provider_uuid' was unexpected)")
        parent = check_uuid(data["parent_provider_uuid"]) if data.get("parent_provider_uuid") else None
        p = await run_blocking(mgr.providers.update, uuid_of(request), data["name"], parent, given,
                               at_least(request, "1.37"))
        return JSON(provider_view(api, request, p))

    async def delete(request: Request) -> Response:
        await run_blocking(mgr.providers.delete, uuid_of(request))
        return no_content()

    async def get_traits(request: Request) -> Response:
        need(request, "1.6")
        names, gen = await run_blocking(mgr.providers.traits, uuid_of(request))
        return JSON({"traits": names, "resource_provider_generation": gen})

    async def put_traits(request: Request) -> Response:
        need(request, "1.6")
        data = body(request)
        names, gen = await run_blocking(mgr.providers.set_traits, uuid_of(request), data["traits"],
                                        data["resource_provider_generation"])
        return JSON({"traits": names, "resource_provider_generation": gen})

    async def delete_traits(request: Request) -> Response:
        need(request, "1.6")
        await run_blocking(mgr.providers.set_traits, uuid_of(request), [], None)
        return no_content()

    def aggregates_view(request: Request, aggs: list[str], gen: int) -> Response:
        out: dict[str, Any] = {"aggregates": aggs}
        if at_least(request, "1.19"):
            out["resource_provider_generation"] = gen
        return JSON(out)

    async def get_aggregates(request: Request) -> Response:
        need(request, "1.1")
        aggs, gen = await run_blocking(mgr.providers.aggregates, uuid_of(request))
        return aggregates_view(request, aggs, gen)

    async def put_aggregates(request: Request) -> Response:
        need(request, "1.1")
        data = body(request)
        if at_least(request, "1.19"):
            validate(AGGREGATES_1_19, data)
            wanted, gen = data["aggregates"], data["resource_provider_generation"]
        else:
            validate(AGG_LIST, data)
            wanted, gen = data, None
        aggs, new_gen = await run_blocking(mgr.providers.set_aggregates, uuid_of(request),
                                           [check_uuid(a, "aggregate") for a in wanted], gen)
        return aggregates_view(request, aggs, new_gen)

    one = "/resource_providers/{uuid}"
    return [
        Op("GET", "/resource_providers", list_providers, "List resource providers", rule=P + "list",
           query=("name", "uuid", "member_of", "resources", "in_tree", "required"), tag="resource_providers",
           response={"type": "object", "required": ["resource_providers"]}),
        Op("POST", "/resource_providers", create, "Create a resource provider (201 without a body before 1.20)",
           body=CREATE, rule=P + "create", tag="resource_providers", errors=(201, 400, 401, 403, 409)),
        Op("GET", one, show, "Show a resource provider", rule=P + "show", tag="resource_providers",
           response=PROVIDER_VIEW),
        Op("PUT", one, update, "Update a resource provider", body=UPDATE, rule=P + "update",
           tag="resource_providers", errors=(400, 401, 403, 404, 409), response=PROVIDER_VIEW),
        Op("DELETE", one, delete, "Delete a resource provider", status=204, rule=P + "delete",
           tag="resource_providers", errors=(401, 403, 404, 409)),
        Op("GET", one + "/traits", get_traits, "List a provider's traits", rule=P + "traits:list", tag="traits"),
        Op("PUT", one + "/traits", put_traits, "Replace a provider's traits", body=TRAITS,
           rule=P + "traits:update", tag="traits", errors=(400, 401, 403, 404, 409)),
        Op("DELETE", one + "/traits", delete_traits, "Remove a provider's traits", status=204,
           rule=P + "traits:delete", tag="traits", errors=(401, 403, 404, 409)),
        Op("GET", one + "/aggregates", get_aggregates, "List a provider's aggregates", rule=P + "aggregates:list",
           tag="aggregates"),
        Op("PUT", one + "/aggregates", put_aggregates, "Replace a provider's aggregates", body=AGGREGATES,
           rule=P + "aggregates:update", tag="aggregates", errors=(400, 401, 403, 404, 409)),
    ]
