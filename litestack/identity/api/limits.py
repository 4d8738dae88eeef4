"""Unified limits: /v3/registered_limits, /v3/limits and /v3/limits/model."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, ctx
from litestack.common.api.crud import Resource, crud_ops
from litestack.common.api.policy import Target, body, loaded, policy_target, stash, target
from litestack.common.api.schema import DESC, INT, NSTR, SELF_LINK, STR, listing, obj, single
from litestack.identity import models as m
from litestack.identity.api.service import IdentityAPI
from litestack.identity.manager.limits import MODEL

LIMIT_INT = {"type": "integer", "minimum": -1, "maximum": 0x7FFFFFFF}
REF = {"type": "string", "minLength": 1, "maxLength": 64}
REGION = {"type": ["string", "null"], "minLength": 1, "maxLength": 255}
RESOURCE = {"type": "string", "minLength": 1, "maxLength": 255}
REGISTERED_PROPS = {"service_id": REF, "region_id": REGION, "resource_name": RESOURCE,
                    "default_limit": LIMIT_INT, "description": DESC}
CREATE_REGISTERED = {"type": "object", "required": ["registered_limits"], "additionalProperties": False,
                     "properties": {"registered_limits": {"type": "array", "minItems": 1, "items": {
                         "type": "object", "properties": REGISTERED_PROPS, "additionalProperties": False,
                         "required": ["service_id", "resource_name", "default_limit"]}}}}
UPDATE_REGISTERED = {"type": "object", "required": ["registered_limit"], "additionalProperties": False,
                     "properties": {"registered_limit": {"type": "object", "properties": REGISTERED_PROPS,
                                                         "additionalProperties": False}}}
CREATE_LIMITS = {"type": "object", "required": ["limits"], "additionalProperties": False,
                 "properties": {"limits": {"type": "array", "minItems": 1, "items": {
                     "type": "object", "additionalProperties": False,
                     "properties": {"service_id": REF, "region_id": REGION, "resource_name": RESOURCE,
                                    "resource_limit": LIMIT_INT, "description": DESC,
                                    "project_id": {"type": ["string", "null"], "maxLength": 64},
                                    "domain_id": {"type": ["string", "null"], "maxLength": 64}},
                     "required": ["service_id", "resource_name", "resource_limit"],
                     "oneOf": [{"required": ["project_id"]}, {"required": ["domain_id"]}]}}}}
UPDATE_LIMIT = {"type": "object", "required": ["limit"], "additionalProperties": False,
                "properties": {"limit": {"type": "object", "additionalProperties": False, "properties": {
                    "id": {"type": "string"}, "resource_limit": LIMIT_INT, "description": DESC}}}}


def registered_view(base: str, r: m.RegisteredLimit) -> dict[str, Any]:
    return {"id": r.id, "service_id": r.service_id, "region_id": r.region_id, "resource_name": r.resource_name,
            "default_limit": r.default_limit, "description": r.description,
            "links": {"self": f"{base}/v3/registered_limits/{r.id}"}}


REGISTERED_LIMIT = obj({"id": STR, "service_id": STR, "region_id": NSTR, "resource_name": STR, "default_limit": INT,
                        "description": NSTR, "links": SELF_LINK})


def limit_view(base: str, lim: m.Limit, reg: m.RegisteredLimit) -> dict[str, Any]:
    return {"id": lim.id, "project_id": lim.project_id, "domain_id": lim.domain_id,
            "service_id": reg.service_id, "region_id": reg.region_id, "resource_name": reg.resource_name,
            "resource_limit": lim.resource_limit, "description": lim.description,
            "links": {"self": f"{base}/v3/limits/{lim.id}"}}


LIMIT = obj({"id": STR, "project_id": NSTR, "domain_id": NSTR, "service_id": STR, "region_id": NSTR,
             "resource_name": STR, "resource_limit": INT, "description": NSTR, "links": SELF_LINK})
MODEL_BODY = single("model", obj({"name": STR, "description": STR}))


def ops(api: IdentityAPI) -> list[Op]:
    mgr = api.mgr

    async def model(request: Request) -> Response:
        return JSON({"model": MODEL})

    async def create_registered(request: Request) -> Response:
        items = body(request)["registered_limits"]
        rows = await api.run(mgr.limits.create_registered_limits, items)
        base = api.base(request)
        return JSON({"registered_limits": [registered_view(base, r) for r in rows]}, status_code=201)

    registered = Resource(
        "registered_limits", "registered_limit", "registered_limits", "limit_id", registered_view,
        "identity:{verb}_registered_limit", query=("service_id", "region_id", "resource_name"), item=REGISTERED_LIMIT,
        lister=lambda r, limit: mgr.limits.list_registered_limits(
            {k: r.query_params.get(k) for k in ("service_id", "region_id", "resource_name")}, limit),
        getter=mgr.limits.get_registered_limit, updater=mgr.limits.update_registered_limit,
        deleter=mgr.limits.delete_registered_limit,
        update_body=UPDATE_REGISTERED, links_as_requested=True)

    async def create_limits(request: Request) -> Response:
        items = body(request)["limits"]
        rows = await api.run(mgr.limits.create_limits, items)
        base = api.base(request)
        return JSON({"limits": [limit_view(base, lim, reg) for lim, reg in rows]}, status_code=201)

    async def list_limits(request: Request) -> Response:
        c = ctx(request)
        q = request.query_params
        filters = {k: q.get(k) for k in ("service_id", "region_id", "resource_name", "project_id", "domain_id")}
        # As in Keystone: the system, admins and services see every limit; a domain-scoped token
        # sees its domain's and its projects' limits; a project-scoped token its project's.
        if c.system_scope or "admin" in c.roles or "service" in c.roles:
            rows = await api.run(mgr.limits.list_limits, filters, None, None, api.list_limit)
        elif c.domain_id:
            projects = await api.run(mgr.limits.projects_in_domain, c.domain_id)
            rows = await api.run(mgr.limits.list_limits, filters, projects, c.domain_id, api.list_limit)
        elif c.project_id:
            rows = await api.run(mgr.limits.list_limits, filters, [c.project_id], None, api.list_limit)
        else:
            rows = []
        return JSON(api.collection(request, "limits", rows, lambda base, row: limit_view(base, *row)))

    async def limit_target(request: Request) -> Target:
        ident = api.param(request, "limit_id")
        try:
            lim, reg = await api.run(mgr.limits.get_limit, ident)
        except errors.NotFound as exc:
            return Target(policy_target({"limit": {"id": ident}}), missing=exc)
        stash(request, (lim, reg))
        owner: dict[str, Any] = {"id": lim.id, "project_id": lim.project_id, "domain": {"id": lim.domain_id}}
        if lim.project_id:
            try:
                proj = await api.run(mgr.resources.get_project, lim.project_id)
                owner["project"] = {"id": proj.id, "domain_id": proj.domain_id}
            except errors.NotFound:
                pass
        return target({"limit": owner})

    async def get_limit(request: Request) -> Response:
        lim, reg = loaded(request)
        return JSON({"limit": limit_view(api.base(request), lim, reg)})

    async def update_limit(request: Request) -> Response:
        data = body(request)["limit"]
        ident = api.param(request, "limit_id")
        if "id" in data and data["id"] != ident:
            raise errors.ValidationError("Cannot change the ID of a limit.")
        lim, reg = await api.run(mgr.limits.update_limit, ident, data)
        return JSON({"limit": limit_view(api.base(request), lim, reg)})

    delete_limit = api.action(mgr.limits.delete_limit, "limit_id")

    reg, lim = "/v3/registered_limits", "/v3/limits"
    return [
        Op("GET", lim + "/model", model, "The limit enforcement model", response=MODEL_BODY,
           rule="identity:get_limit_model"),
        Op("POST", reg, create_registered, "Create registered limits", body=CREATE_REGISTERED, status=201,
           response=listing("registered_limits", REGISTERED_LIMIT) | {"required": ["registered_limits"]},
           errors=(400, 401, 403, 409), rule="identity:create_registered_limits"),
        *crud_ops(api, registered),
        Op("POST", lim, create_limits, "Create project or domain limits", body=CREATE_LIMITS, status=201,
           response=listing("limits", LIMIT) | {"required": ["limits"]}, errors=(400, 401, 403, 409),
           rule="identity:create_limits"),
        Op("GET", lim, list_limits, "List limits", response=listing("limits", LIMIT),
           query=("service_id", "region_id", "resource_name", "project_id", "domain_id"), rule="identity:list_limits"),
        Op("GET", lim + "/{limit_id}", get_limit, "Show a limit", response=single("limit", LIMIT),
            rule="identity:get_limit",
           target=limit_target),
        Op("PATCH", lim + "/{limit_id}", update_limit, "Update a limit", body=UPDATE_LIMIT,
           response=single("limit", LIMIT), rule="identity:update_limit"),
        Op("DELETE", lim + "/{limit_id}", delete_limit, "Delete a limit", status=204, rule="identity:delete_limit"),
    ]
