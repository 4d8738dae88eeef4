"""``/v3/{project_id}/types``: volume types with extra specs and project access."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, validate
from litestack.common.api.policy import Target, body, loaded, policy_target, stash
from litestack.volume.api import schemas
from litestack.volume.api.actions import boolish
from litestack.volume.api.base import V, VolumeAPI
from litestack.volume.manager import Caller
from litestack.volume.models import VolumeType

P = "/v3/{project_id}/types"
ADMIN = Caller(None, is_admin=True)


def ops(api: VolumeAPI) -> list[Op]:
    async def type_target(request: Request) -> Target:
        vt = await api.run(api.types.get, api.param(request, "type_id"), api.caller(request))
        stash(request, vt)
        return Target(policy_target(None, project_id=api.caller(request).project_id))

    async def index(request: Request) -> Response:
        raw = request.query_params.get("is_public")
        is_public = None if raw is None or raw.lower() == "none" else boolish(raw, "is_public")
        rows = await api.run(api.types.visible, api.caller(request), is_public)
        if api.version(request) >= V(3, 52) and request.query_params.get("extra_specs"):
            # 3.52: the types whose extra specs hold every item asked
            from litestack.volume.manager.filters import dict_param

            wanted = dict_param(request.query_params["extra_specs"], "extra_specs")
            rows = [t for t in rows if all((t.extra_specs or {}).get(k) == v for k, v in wanted.items())]
        return JSON({"volume_types": [api.type_view(request, t) for t in rows]})

    async def show(request: Request) -> Response:
        return JSON({"volume_type": api.type_view(request, loaded(request))})

    async def create(request: Request) -> Response:
        req = body(request)["volume_type"]
        public = boolish(req.get("os-volume-type-access:is_public", req.get("is_public", True)), "is_public")
        vt = await api.run(api.types.create, req["name"].strip(), req.get("description"), public,
                           dict(req.get("extra_specs") or {}))
        api.notifier.emit("volume_type.create", {"volume_type_id": vt.id, "name": vt.name})
        return JSON({"volume_type": api.type_view(request, vt, "create")})

    async def update(request: Request) -> Response:
        req = body(request)["volume_type"]
        if not req:
            raise errors.BadRequest("Specify volume type name, description, is_public or a combination thereof.")
        changes: dict[str, Any] = {}
        if req.get("name") is not None:
            changes["name"] = req["name"].strip()
            if not changes["name"]:
                raise errors.BadRequest("Volume type name can not be empty.")
        if "description" in req:
            changes["description"] = req["description"]
        if "is_public" in req:
            changes["is_public"] = boolish(req["is_public"], "is_public")
        vt = await api.run(api.types.update, loaded(request).id, changes)
        return JSON({"volume_type": api.type_view(request, vt, "update")})

    async def delete(request: Request) -> Response:
        vt: VolumeType = loaded(request)
        in_use = await api.run(api.volumes.in_use_types, vt.id)
        await api.run(api.types.delete, vt.id, in_use)
        return Response(status_code=202)

    async def specs(request: Request) -> Response:
        return JSON({"extra_specs": dict(loaded(request).extra_specs or {})})

    async def specs_set(request: Request) -> Response:
        new = dict(body(request)["extra_specs"])
        await api.run(api.types.set_specs, loaded(request).id, new)
        return JSON({"extra_specs": new})

    async def spec_show(request: Request) -> Response:
        key = api.param(request, "key")
        vt: VolumeType = loaded(request)
        if key not in (vt.extra_specs or {}):
            raise errors.NotFound(f"Volume Type {vt.id} has no extra specs with key {key}.")
        return JSON({key: vt.extra_specs[key]})

    async def spec_set(request: Request) -> Response:
        key = api.param(request, "key")
        data = body(request)
        if key not in data or len(data) != 1:
            raise errors.BadRequest("Request body and URI mismatch")
        validate(schemas.METADATA, data)
        await api.run(api.types.set_specs, loaded(request).id, {key: data[key]})
        return JSON({key: data[key]})

    async def spec_delete(request: Request) -> Response:
        await api.run(api.types.unset_spec, loaded(request).id, api.param(request, "key"))
        return Response(status_code=202)

    access_rules = {"addProjectAccess": "volume_extension:volume_type_access:addProjectAccess",
                    "removeProjectAccess": "volume_extension:volume_type_access:removeProjectAccess"}

    async def action_target(request: Request) -> Target:
        tgt = await type_target(request)
        data = body(request)
        name = next(iter(data))
        if name not in access_rules:
            raise errors.BadRequest(f"There is no such action: {name[:64]}")
        validate({"type": "object", "required": ["project"],
                  "properties": {"project": {"type": "string", "minLength": 1, "maxLength": 64}}}, data[name])
        return Target(tgt.values, rule=access_rules[name])

    async def action(request: Request) -> Response:
        data = body(request)
        name = next(iter(data))
        vt: VolumeType = loaded(request)
        fn = api.types.add_access if name == "addProjectAccess" else api.types.remove_access
        await api.run(fn, vt.id, data[name]["project"])
        return Response(status_code=202)

    async def access(request: Request) -> Response:
        vt: VolumeType = loaded(request)
        projects = await api.run(api.types.access, vt.id)
        return JSON({"volume_type_access": [{"volume_type_id": vt.id, "project_id": p} for p in projects]})

    t = type_target
    return [
        Op("GET", P, index, "List volume types", rule="volume_extension:type_get_all", target=api.own(),
           query=("is_public", "extra_specs"), tag="types"),
        Op("POST", P, create, "Create a volume type", body=schemas.TYPE_CREATE, rule="volume_extension:type_create",
           target=api.own(), tag="types", errors=(400, 403, 409)),
        Op("GET", f"{P}/{{type_id}}", show, "Show a volume type", rule="volume_extension:type_get", target=t,
           tag="types"),
        Op("PUT", f"{P}/{{type_id}}", update, "Update a volume type", body=schemas.TYPE_UPDATE,
           rule="volume_extension:type_update", target=t, tag="types", errors=(400, 403, 404, 409)),
        Op("DELETE", f"{P}/{{type_id}}", delete, "Delete a volume type", status=202,
           rule="volume_extension:type_delete", target=t, tag="types"),
        Op("GET", f"{P}/{{type_id}}/extra_specs", specs, "List a type's extra specs",
           rule="volume_extension:types_extra_specs:index", target=t, tag="types"),
        Op("POST", f"{P}/{{type_id}}/extra_specs", specs_set, "Set extra specs", body=schemas.EXTRA_SPECS,
           rule="volume_extension:types_extra_specs:create", target=t, tag="types"),
        Op("GET", f"{P}/{{type_id}}/extra_specs/{{key}}", spec_show, "Show an extra spec",
           rule="volume_extension:types_extra_specs:show", target=t, tag="types"),
        Op("PUT", f"{P}/{{type_id}}/extra_specs/{{key}}", spec_set, "Set an extra spec",
           body={"type": "object", "minProperties": 1, "maxProperties": 1},
           rule="volume_extension:types_extra_specs:update", target=t, tag="types"),
        Op("DELETE", f"{P}/{{type_id}}/extra_specs/{{key}}", spec_delete, "Delete an extra spec", status=202,
           rule="volume_extension:types_extra_specs:delete", target=t, tag="types"),
        Op("POST", f"{P}/{{type_id}}/action", action, "Add or remove project access", body=schemas.ACTION,
           status=202, rule="volume_extension:volume_type_access", alt_rules=sorted(access_rules.values()),
           target=action_target, tag="types", errors=(400, 403, 404, 409)),
        Op("GET", f"{P}/{{type_id}}/os-volume-type-access", access, "List a private type's projects",
           rule="volume_extension:volume_type_access:get_all_for_type", target=t, tag="types"),
    ]
