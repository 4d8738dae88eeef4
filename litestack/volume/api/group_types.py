"""``/v3/{project_id}/group_types`` (3.11): group types, the default one and their group specs."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op
from litestack.common.api.policy import Target, body, loaded, stash
from litestack.volume.api.actions import boolish
from litestack.volume.api.base import V, VolumeAPI, require
from litestack.volume.models import GroupType

P = "/v3/{project_id}/group_types"
_SPEC_KEY = "^[a-zA-Z0-9-_:.]{1,255}$"
SPECS: dict[str, Any] = {"type": "object", "additionalProperties": False,
                         "patternProperties": {_SPEC_KEY: {"type": ["string", "null"], "maxLength": 255}}}
NAME: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"}
CREATE: dict[str, Any] = {
    "type": "object", "required": ["group_type"], "additionalProperties": False,
    "properties": {"group_type": {"type": "object", "required": ["name"], "additionalProperties": False,
                                  "properties": {
        "name": NAME, "description": {"type": ["string", "null"], "maxLength": 255},
        "is_public": {"type": ["boolean", "string"], "maxLength": 5}, "group_specs": {**SPECS,
                                                                                      "type": ["object", "null"]}}}}}
UPDATE: dict[str, Any] = {
    "type": "object", "required": ["group_type"], "additionalProperties": False,
    "properties": {"group_type": {"type": "object", "additionalProperties": False, "properties": {
        "name": {"type": ["string", "null"], "maxLength": 255},
        "description": {"type": ["string", "null"], "maxLength": 255},
        "is_public": {"type": ["boolean", "string", "null"], "maxLength": 5}}}}}
SPECS_BODY: dict[str, Any] = {"type": "object", "required": ["group_specs"], "additionalProperties": False,
                              "properties": {"group_specs": SPECS}}
SPEC_ITEM: dict[str, Any] = {**SPECS, "minProperties": 1, "maxProperties": 1}


def _specs(raw: dict[str, Any] | None) -> dict[str, str]:
    return {k: "" if v is None else str(v) for k, v in (raw or {}).items()}


def ops(api: VolumeAPI) -> list[Op]:
    def view(request: Request, gt: GroupType) -> dict[str, Any]:
        out: dict[str, Any] = {"id": gt.id, "name": gt.name, "description": gt.description,
                               "is_public": gt.is_public}
        if api.allowed(request, "group:access_group_types_specs"):
            out["group_specs"] = dict(gt.group_specs or {})
        return out

    async def own(request: Request) -> Target:
        require(api, request, V(3, 11))
        return await api.own()(request)

    async def type_target(request: Request) -> Target:
        require(api, request, V(3, 11))
        ident = api.param(request, "group_type_id")
        if ident == "default" and request.method == "GET" and request.url.path.endswith("/default"):
            gt = await api.run(api.groups.default_type)
        else:
            gt = await api.run(api.groups.get_type, ident, api.caller(request))
        stash(request, gt)
        return await api.own()(request)

    async def index(request: Request) -> Response:
        raw = request.query_params.get("is_public")
        is_public = None if raw is None or raw.lower() == "none" else boolish(raw, "is_public")
        rows = await api.run(api.groups.types, api.caller(request), is_public)
        return JSON({"group_types": [view(request, t) for t in rows]})

    async def show(request: Request) -> Response:
        return JSON({"group_type": view(request, loaded(request))})

    async def create(request: Request) -> Response:
        req = body(request)["group_type"]
        public = boolish(req.get("is_public", True), "is_public")
        gt = await api.run(api.groups.create_type, req["name"].strip(), req.get("description"), public,
                           _specs(req.get("group_specs")))
        api.notifier.emit("group_type.create", {"group_type_id": gt.id, "name": gt.name})
        return JSON({"group_type": view(request, gt)}, status_code=202)

    async def update(request: Request) -> Response:
        req = body(request)["group_type"]
        name, description, public = req.get("name"), req.get("description"), req.get("is_public")
        if name is not None and not name.strip():
            raise errors.BadRequest("Group type name can not be empty.")
        if name is None and description is None and public is None:
            raise errors.BadRequest("Specify group type name, description or a combination thereof.")
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name.strip()
        if description is not None:
            changes["description"] = description
        if public is not None:
            changes["is_public"] = boolish(public, "is_public")
        gt = await api.run(api.groups.update_type, loaded(request).id, changes)
        api.notifier.emit("group_type.update", {"group_type_id": gt.id})
        return JSON({"group_type": view(request, gt)})

    async def delete(request: Request) -> Response:
        gt: GroupType = loaded(request)
        await api.run(api.groups.delete_type, gt.id)
        api.notifier.emit("group_type.delete", {"group_type_id": gt.id})
        return Response(status_code=202)

    async def specs(request: Request) -> Response:
        return JSON({"group_specs": dict(loaded(request).group_specs or {})})

    async def specs_set(request: Request) -> Response:
        new = _specs(body(request)["group_specs"])
        await api.run(api.groups.set_specs, loaded(request).id, new)
        return JSON({"group_specs": new}, status_code=202)

    async def spec_show(request: Request) -> Response:
        key = api.param(request, "key")
        gt: GroupType = loaded(request)
        if key not in (gt.group_specs or {}):
            raise errors.NotFound(f"Group Type {gt.id} has no specs with key {key[:255]}.")
        return JSON({key: gt.group_specs[key]})

    async def spec_set(request: Request) -> Response:
        key = api.param(request, "key")
        data = body(request)
        if key not in data:
            raise errors.BadRequest("Request body and URI mismatch")
        new = _specs(data)
        await api.run(api.groups.set_specs, loaded(request).id, new)
        return JSON(new)

    async def spec_delete(request: Request) -> Response:
        await api.run(api.groups.unset_spec, loaded(request).id, api.param(request, "key"))
        return Response(status_code=202)

    t = type_target
    one = f"{P}/{{group_type_id}}"
    r = "group:group_types_specs:"
    return [
        Op("GET", P, index, "List group types", rule="group:group_types:get_all", target=own,
           query=("is_public",), tag="group-types"),
        Op("POST", P, create, "Create a group type", body=CREATE, status=202, rule="group:group_types:create",
           target=own, tag="group-types", errors=(400, 403, 404, 409)),
        Op("GET", one, show, "Show a group type (or the default one: group_types/default)",
           rule="group:group_types:get", target=t, tag="group-types"),
        Op("PUT", one, update, "Update a group type", body=UPDATE, rule="group:group_types:update", target=t,
           tag="group-types", errors=(400, 403, 404, 409)),
        Op("DELETE", one, delete, "Delete a group type", status=202, rule="group:group_types:delete", target=t,
           tag="group-types"),
        Op("GET", f"{one}/group_specs", specs, "List a group type's specs", rule=r + "get_all", target=t,
           tag="group-types"),
        Op("POST", f"{one}/group_specs", specs_set, "Set group specs", body=SPECS_BODY, status=202,
           rule=r + "create", target=t, tag="group-types"),
        Op("GET", f"{one}/group_specs/{{key}}", spec_show, "Show a group spec", rule=r + "get", target=t,
           tag="group-types"),
        Op("PUT", f"{one}/group_specs/{{key}}", spec_set, "Set a group spec", body=SPEC_ITEM, rule=r + "update",
           target=t, tag="group-types"),
        Op("DELETE", f"{one}/group_specs/{{key}}", spec_delete, "Delete a group spec", status=202,
           rule=r + "delete", target=t, tag="group-types"),
    ]
