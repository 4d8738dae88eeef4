"""``/allocations`` (per consumer, and several consumers at once from 1.13), a provider's
allocations and usages, ``/usages`` (1.9) and ``/reshaper`` (1.30)."""

from __future__ import annotations

import copy
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common.api.app import JSON, Op, no_content, validate
from litestack.common.api.policy import Target, body, target
from litestack.common.db import run_blocking
from litestack.placement import errors
from litestack.placement.api.base import (
    AMOUNTS,
    GENERATION,
    RC_KEY,
    RC_NAME,
    UUID_STR,
    PlacementAPI,
    at_least,
    check_uuid,
    need,
    query,
    single,
)
from litestack.placement.api.inventories import ONE
from litestack.placement.api.providers import uuid_of
from litestack.placement.manager import inventories
from litestack.placement.manager.allocations import INCOMPLETE, UNCHECKED, Claim

UUID_KEY = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
ID_STR: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 255}

#: Before 1.12: a list of {resource_provider: {uuid}, resources}.
LIST_FORM: dict[str, Any] = {
    "type": "object", "required": ["allocations"], "additionalProperties": False,
    "properties": {"allocations": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["resource_provider", "resources"], "additionalProperties": False,
        "properties": {"resource_provider": {"type": "object", "required": ["uuid"], "additionalProperties": False,
                                             "properties": {"uuid": UUID_STR}},
                       "resources": AMOUNTS}}},
        "project_id": ID_STR, "user_id": ID_STR}}
#: From 1.12: a dict by provider uuid, as GET shows it.
PROVIDER_ALLOCS: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "patternProperties": {UUID_KEY: {"type": "object", "required": ["resources"], "additionalProperties": False,
                                     "properties": {"resources": AMOUNTS, "generation": {}}}}}
MAPPINGS: dict[str, Any] = {"type": "object", "patternProperties": {
    r"^[A-Za-z0-9_-]{0,64}$": {"type": "array", "items": UUID_STR, "minItems": 1}}, "additionalProperties": False}


CONSUMER_TYPE: dict[str, Any] = {"type": "string", "pattern": "^[A-Z0-9_]+$", "minLength": 1, "maxLength": 255}


def dict_form(since_1_28: bool, empty_ok: bool, mappings: bool, types: bool = False) -> dict[str, Any]:
    allocs = copy.deepcopy(PROVIDER_ALLOCS)
    if not empty_ok:
        allocs["minProperties"] = 1
    props: dict[str, Any] = {"allocations": allocs, "project_id": ID_STR, "user_id": ID_STR}
    required = ["allocations", "project_id", "user_id"]
    if since_1_28:
        props["consumer_generation"] = {"type": ["integer", "null"], "minimum": 0}
        required.append("consumer_generation")
    if mappings:
        props["mappings"] = MAPPINGS
    if types:
        props["consumer_type"] = CONSUMER_TYPE
        required.append("consumer_type")
    return {"type": "object", "required": required, "additionalProperties": False, "properties": props}


def put_schema(request: Request) -> dict[str, Any]:
    if not at_least(request, "1.12"):
        schema = copy.deepcopy(LIST_FORM)
        if at_least(request, "1.8"):
            schema["required"] += ["project_id", "user_id"]
        return schema
    return dict_form(at_least(request, "1.28"), at_least(request, "1.28"), at_least(request, "1.34"),
                     at_least(request, "1.38"))


def post_schema(request: Request) -> dict[str, Any]:
    one = dict_form(at_least(request, "1.28"), True, at_least(request, "1.34"), at_least(request, "1.38"))
    return {"type": "object", "minProperties": 1, "additionalProperties": False,
            "patternProperties": {UUID_KEY: one}}


def claim_of(request: Request, consumer: str, data: dict[str, Any]) -> Claim:
    allocs: dict[str, dict[str, int]] = {}
    if isinstance(data["allocations"], list):
        for item in data["allocations"]:
            rp = check_uuid(item["resource_provider"]["uuid"])
            for rc, n in item["resources"].items():
                allocs.setdefault(rp, {})[rc] = allocs.get(rp, {}).get(rc, 0) + n
    else:
        allocs = {check_uuid(rp): dict(v["resources"]) for rp, v in data["allocations"].items()}
    return Claim(consumer, allocs, data.get("project_id", INCOMPLETE), data.get("user_id", INCOMPLETE),
                 data["consumer_generation"] if at_least(request, "1.28") else UNCHECKED,
                 data.get("consumer_type"))


def consumer_of(request: Request) -> str:
    raw: str = request.path_params["consumer"]
    try:
        return check_uuid(raw)
    except errors.BadRequest:
        raise errors.BadRequest(f"Malformed consumer_uuid: {raw}") from None


RESHAPE: dict[str, Any] = {
    "type": "object", "required": ["inventories", "allocations"], "additionalProperties": False,
    "properties": {
        "inventories": {"type": "object", "additionalProperties": False, "patternProperties": {UUID_KEY: {
            "type": "object", "required": ["resource_provider_generation", "inventories"],
            "additionalProperties": False,
            "properties": {"resource_provider_generation": GENERATION,
                           "inventories": {"type": "object", "patternProperties": {RC_KEY: ONE},
                                           "additionalProperties": False}}}}},
        "allocations": {"type": "object", "additionalProperties": False,
                        "patternProperties": {UUID_KEY: {"anyOf": [dict_form(True, True, True),
                                                                   dict_form(True, True, True, True)]}}}}}


def ops(api: PlacementAPI) -> list[Op]:
    mgr = api.mgr

    async def get_allocations(request: Request) -> Response:
        found = await run_blocking(mgr.allocations.for_consumer, consumer_of(request))
        out: dict[str, Any] = {"allocations": found["allocations"]}
        if at_least(request, "1.12") and "project_id" in found:
            out.update(project_id=found["project_id"], user_id=found["user_id"])
        if at_least(request, "1.28") and "consumer_generation" in found:
            out["consumer_generation"] = found["consumer_generation"]
        if at_least(request, "1.38") and "consumer_type" in found:
            out["consumer_type"] = found["consumer_type"]
        return JSON(out)

    async def put_allocations(request: Request) -> Response:
        consumer = consumer_of(request)
        data = body(request)
        validate(put_schema(request), data)
        await run_blocking(mgr.allocations.replace, [claim_of(request, consumer, data)])
        return no_content()

    async def post_allocations(request: Request) -> Response:
        need(request, "1.13")
        data = body(request)
        validate(post_schema(request), data)
        claims = [claim_of(request, check_uuid(c), d) for c, d in sorted(data.items())]
        await run_blocking(mgr.allocations.replace, claims)
        return no_content()

    async def delete_allocations(request: Request) -> Response:
        await run_blocking(mgr.allocations.delete, consumer_of(request))
        return no_content()

    async def provider_allocations(request: Request) -> Response:
        allocs, gen = await run_blocking(mgr.allocations.for_provider, uuid_of(request))
        return JSON({"allocations": allocs, "resource_provider_generation": gen})

    async def provider_usages(request: Request) -> Response:
        used, gen = await run_blocking(mgr.allocations.provider_usages, uuid_of(request))
        return JSON({"usages": used, "resource_provider_generation": gen})

    def usage_query(request: Request) -> tuple[str, str | None, str | None]:
        keys = {"project_id", "user_id", "consumer_type"} if at_least(request, "1.38") else {"project_id", "user_id"}
        q = query(request, keys.__contains__)
        project = single(q, "project_id")
        if not project:
            raise errors.bad_query("Invalid query string parameters: 'project_id' is a required property",
                                   errors.QUERY_MISSING_VALUE)
        kind = single(q, "consumer_type")
        if (kind is not None and not (kind in ("all", "unknown") or RC_NAME.match(kind))) or kind == "":
            raise errors.bad_query(f"Invalid query string parameters: '{kind}' does not match the consumer type "
                                   "pattern (^[A-Z0-9_]+$, all or unknown)")
        return project, single(q, "user_id"), kind

    async def usages_target(request: Request) -> Target:
        need(request, "1.9")
        project, _user, _kind = usage_query(request)
        return target(project_id=project)

    async def usages(request: Request) -> Response:
        project, user, kind = usage_query(request)
        if at_least(request, "1.38"):
            return JSON({"usages": await run_blocking(mgr.allocations.usages_by_type, project, user, kind)})
        return JSON({"usages": await run_blocking(mgr.allocations.project_usages, project, user)})

    async def reshape(request: Request) -> Response:
        need(request, "1.30")
        data = body(request)
        invs = {check_uuid(rp): (v["resource_provider_generation"],
                                 {rc: inventories.make(rc, f) for rc, f in v["inventories"].items()})
                for rp, v in data["inventories"].items()}
        claims = [claim_of(request, check_uuid(c), d) for c, d in sorted(data["allocations"].items())]
        await run_blocking(mgr.reshaper.reshape, invs, claims)
        return no_content()

    conflict = (400, 401, 403, 404, 409)
    loose: dict[str, Any] = {"type": "object"}
    return [
        Op("GET", "/allocations/{consumer}", get_allocations, "Show a consumer's allocations",
           rule="placement:allocations:list", tag="allocations",
           response={"type": "object", "required": ["allocations"]}),
        Op("PUT", "/allocations/{consumer}", put_allocations, "Replace a consumer's allocations", body=loose,
           status=204, rule="placement:allocations:update", tag="allocations", errors=conflict),
        Op("DELETE", "/allocations/{consumer}", delete_allocations, "Delete a consumer's allocations", status=204,
           rule="placement:allocations:delete", tag="allocations", errors=(400, 401, 403, 404, 409)),
        Op("POST", "/allocations", post_allocations, "Replace several consumers' allocations at once",
           body=loose, status=204, rule="placement:allocations:manage", tag="allocations", errors=conflict),
        Op("GET", "/resource_providers/{uuid}/allocations", provider_allocations, "List a provider's allocations",
           rule="placement:resource_providers:allocations:list", tag="allocations"),
        Op("GET", "/resource_providers/{uuid}/usages", provider_usages, "Show a provider's usages",
           rule="placement:resource_providers:usages", tag="usages"),
        Op("GET", "/usages", usages, "Show a project's (or user's) usages", rule="placement:usages",
           target=usages_target, query=("project_id", "user_id", "consumer_type"), tag="usages"),
        Op("POST", "/reshaper", reshape, "Move inventories and allocations atomically", body=RESHAPE, status=204,
           rule="placement:reshaper:reshape", tag="reshaper", errors=conflict),
    ]
