"""Version documents, flavors (extra specs, access) and key pairs."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, no_content
from litestack.common.api.middleware import context_of
from litestack.common.api.policy import body
from litestack.compute.api.base import VERSIONS, ComputeAPI, Version, microversion, v
from litestack.compute.manager.keypairs import keypair_view

_NAME = {"type": "string", "minLength": 1, "maxLength": 255}
#: Nova's ``parameter_types.boolean``: JSON booleans and their usual spellings as strings.
TRUE = ("1", "t", "true", "on", "y", "yes")
BOOLEAN = {"enum": [True, False, *TRUE, *(v.capitalize() for v in TRUE), *(v.upper() for v in TRUE),
                    "0", "f", "false", "off", "n", "no", "F", "False", "Off", "N", "No", "FALSE", "OFF", "NO"]}
_FLAVOR_CREATE = {"type": "object", "required": ["flavor"], "additionalProperties": False, "properties": {
    "flavor": {"type": "object", "required": ["name", "ram", "vcpus", "disk"], "additionalProperties": False,
               "properties": {
                   "name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^(?!\s)(.*\S)?$"},
                   "id": {"type": ["string", "integer", "null"], "minLength": 1, "maxLength": 255},
                   "ram": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1},
                   "vcpus": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1},
                   "disk": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 0},
                   "OS-FLV-EXT-DATA:ephemeral": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 0},
                   "swap": {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 0},
                   "rxtx_factor": {"type": ["number", "string"], "minimum": 0},
                   "os-flavor-access:is_public": BOOLEAN,
                   "description": {"type": ["string", "null"], "maxLength": 65535}}}}}
_FLAVOR_UPDATE = {"type": "object", "required": ["flavor"], "additionalProperties": False, "properties": {
    "flavor": {"type": "object", "required": ["description"], "additionalProperties": False,
               "properties": {"description": {"type": ["string", "null"], "maxLength": 65535}}}}}
_SPECS = {"type": "object", "required": ["extra_specs"], "additionalProperties": False, "properties": {
    "extra_specs": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"],
                                                               "maxLength": 255},
                    "propertyNames": {"minLength": 1, "maxLength": 255, "pattern": "^[a-zA-Z0-9-_:. ]+$"}}}}
_SPEC_ONE = {"type": "object", "minProperties": 1, "maxProperties": 1,
             "additionalProperties": {"type": ["string", "number", "boolean"], "maxLength": 255}}
_ACCESS = {"type": "object", "minProperties": 1, "maxProperties": 1, "properties": {
    "addTenantAccess": {"type": "object", "required": ["tenant"], "properties": {"tenant": _NAME}},
    "removeTenantAccess": {"type": "object", "required": ["tenant"], "properties": {"tenant": _NAME}}},
    "additionalProperties": False}
_KEYPAIR = {"type": "object", "required": ["keypair"], "additionalProperties": False, "properties": {
    "keypair": {"type": "object", "required": ["name"], "additionalProperties": False, "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[a-zA-Z0-9 _-]+$"},
        "public_key": {"type": "string"}, "type": {"enum": ["ssh", "x509"]},
        "user_id": {"type": "string"}}}}}


#: Nova's largest integer column value (``nova.db.constants.MAX_INT``).
MAX_INT = 2**31 - 1


def _int(v: Any, name: str) -> int:
    try:
        n = int(v)
    except (TypeError, ValueError):
        raise errors.BadRequest(f"Invalid input for field/attribute {name}. Value: {v}.") from None
    if not -1 <= n <= MAX_INT:
        raise errors.BadRequest(f"Invalid input for field/attribute {name}. Value: {v}. must be <= {MAX_INT}")
    return n


def ops(api: ComputeAPI) -> list[Op]:
    def version_doc(request: Request) -> dict[str, Any]:
        return {"id": "v2.1", "status": "CURRENT", "version": str(VERSIONS.maximum),
                "min_version": str(VERSIONS.minimum), "updated": "2013-07-23T11:33:21Z",
                "links": [{"rel": "self", "href": f"{api.base(request)}/v2.1/"}],
                "media-types": [{"base": "application/json",
                                 "type": "application/vnd.openstack.compute+json;version=2.1"}]}

    async def versions(request: Request) -> Response:
        v20 = {"id": "v2.0", "status": "DEPRECATED", "version": "", "min_version": "",
               "updated": "2025-07-04T12:00:00Z", "links": [{"rel": "self", "href": f"{api.base(request)}/v2/"}]}
        return JSON({"versions": [v20, version_doc(request)]})

    async def version(request: Request) -> Response:
        return JSON({"version": version_doc(request)})

    async def version_20(request: Request) -> Response:
        # Nova serves its legacy v2 API too; here only its version document (no v2 routes).
        doc = {**version_doc(request), "id": "v2.0", "status": "DEPRECATED", "version": "", "min_version": "",
               "updated": "2025-07-04T12:00:00Z", "links": [{"rel": "self", "href": f"{api.base(request)}/v2/"}]}
        return JSON({"version": doc})

    # --- flavors ---------------------------------------------------------------------------

    def flavor_listing(detail: bool) -> Any:
        async def handler(request: Request) -> Response:
            q, c = request.query_params, context_of(request)
            limit = _int(q["limit"], "limit") if "limit" in q else None
            rows = await api.run(lambda: api.p.flavors.find(
                c.project_id, api.is_admin(request), q.get("is_public"),
                _int(q.get("minRam", 0), "minRam"), _int(q.get("minDisk", 0), "minDisk"),
                limit, q.get("marker"), q.get("sort_key", "flavorid"), q.get("sort_dir", "asc")))
            return JSON({"flavors": [api.flavor_view(request, f, detail) for f in rows]})
        return handler

    async def flavor_show(request: Request) -> Response:
        c = context_of(request)
        f = await api.run(api.p.flavors.get, api.param(request, "flavor_id"), c.project_id, api.is_admin(request))
        return JSON({"flavor": api.flavor_view(request, f)})

    async def flavor_create(request: Request) -> Response:
        data = dict(body(request)["flavor"])
        if "description" in data and microversion(request) < v(55):
            raise errors.BadRequest("Invalid input for field/attribute flavor. Additional properties are not "
                                    "allowed ('description' was unexpected)")
        if "os-flavor-access:is_public" in data:
            flag = data["os-flavor-access:is_public"]
            data["os-flavor-access:is_public"] = flag if isinstance(flag, bool) else flag.lower() in TRUE
        for k in ("ram", "vcpus", "disk", "OS-FLV-EXT-DATA:ephemeral", "swap"):
            if k in data:
                data[k] = _int(data[k] or 0, k)
        try:
            data["rxtx_factor"] = float(data.get("rxtx_factor", 1.0))
        except (TypeError, ValueError):
            raise errors.BadRequest("Invalid input for field/attribute rxtx_factor.") from None
        if not 0 < data["rxtx_factor"] <= 3.40282e38:
            raise errors.BadRequest("Invalid input for field/attribute rxtx_factor.")
        if data["ram"] < 1 or data["vcpus"] < 1 or data["disk"] < 0:
            raise errors.BadRequest("Invalid input for field/attribute ram or vcpus: must be at least 1.")
        if data.get("id") is not None:
            data["id"] = str(data["id"]).strip()
        f = await api.run(api.p.flavors.create, data)
        return JSON({"flavor": api.flavor_view(request, f)})

    async def flavor_update(request: Request) -> Response:
        api.since(request, 55)
        f = await api.run(api.p.flavors.update, api.param(request, "flavor_id"),
                          body(request)["flavor"]["description"])
        return JSON({"flavor": api.flavor_view(request, f)})

    async def flavor_delete(request: Request) -> Response:
        await api.run(api.p.flavors.delete, api.param(request, "flavor_id"))
        return Response(status_code=202)

    async def specs_index(request: Request) -> Response:
        f = await api.run(api.p.flavors.get, api.param(request, "flavor_id"))
        return JSON({"extra_specs": {e.key: e.value for e in f.extra_specs}})

    async def specs_create(request: Request) -> Response:
        specs = {k: str(v) for k, v in body(request)["extra_specs"].items()}
        merged = await api.run(api.p.flavors.set_specs, api.param(request, "flavor_id"), specs)
        return JSON({"extra_specs": {k: merged[k] for k in specs}})

    async def spec_show(request: Request) -> Response:
        f = await api.run(api.p.flavors.get, api.param(request, "flavor_id"))
        key = request.path_params["key"]
        found = {e.key: e.value for e in f.extra_specs}
        if key not in found:
            raise errors.NotFound(f"Flavor {f.id} has no extra specs with key {key}.")
        return JSON({key: found[key]})

    async def spec_update(request: Request) -> Response:
        key, data = request.path_params["key"], body(request)
        if key not in data:
            raise errors.BadRequest("Request body and URI mismatch")
        await api.run(api.p.flavors.set_specs, api.param(request, "flavor_id"), {key: str(data[key])})
        return JSON({key: str(data[key])})

    async def spec_delete(request: Request) -> Response:
        await api.run(api.p.flavors.delete_spec, api.param(request, "flavor_id"), request.path_params["key"])
        return Response(status_code=200)

    async def access_list(request: Request) -> Response:
        f = await api.run(api.p.flavors.get, api.param(request, "flavor_id"))
        if f.is_public:
            raise errors.NotFound("Access list not available for public flavors.")
        return JSON({"flavor_access": [{"flavor_id": f.id, "tenant_id": p.project_id} for p in f.projects]})

    async def access_action(request: Request) -> Response:
        data, fid = body(request), api.param(request, "flavor_id")
        if "addTenantAccess" in data:
            projects = await api.run(api.p.flavors.add_access, fid, data["addTenantAccess"]["tenant"])
        else:
            projects = await api.run(api.p.flavors.remove_access, fid, data["removeTenantAccess"]["tenant"])
        return JSON({"flavor_access": [{"flavor_id": fid, "tenant_id": p} for p in projects]})

    # --- key pairs -------------------------------------------------------------------------

    def keypair_user(request: Request) -> str:
        c = context_of(request)
        asked = request.query_params.get("user_id") if microversion(request) >= v(10) else None
        if asked and asked != c.user_id:
            if not api.is_admin(request):
                raise errors.Forbidden("Policy doesn't allow os_compute_api:os-keypairs to be performed.")
            return asked
        return str(c.user_id)

    async def keypair_list(request: Request) -> Response:
        user = keypair_user(request)
        q = request.query_params
        paged = microversion(request) >= v(35)
        limit = _int(q["limit"], "limit") if paged and "limit" in q else None
        if limit is not None and limit < 0:
            raise errors.BadRequest(f"Invalid input for query parameters limit. Value: {limit}.")
        marker = q.get("marker") if paged else None
        if marker is not None:
            try:
                await api.run(api.p.keypairs.get, user, marker)
            except errors.NotFound:
                raise errors.BadRequest(f"Marker {marker} could not be found.") from None
        rows = await api.run(api.p.keypairs.find, user, limit, marker)
        with_type = microversion(request) >= Version(2, 2)
        out = []
        for kp in rows:
            item = keypair_view(kp, with_details=False)
            if not with_type:
                item.pop("type")
            out.append({"keypair": item})
        result: dict[str, Any] = {"keypairs": out}
        if limit is not None and len(rows) == limit and rows:
            result["keypairs_links"] = [{"rel": "next", "href": f"{api.self_url(request)}?limit={limit}"
                                                                f"&marker={rows[-1].name}"}]
        return JSON(result)

    async def keypair_create(request: Request) -> Response:
        data = body(request)["keypair"]
        c = context_of(request)
        user = str(c.user_id)
        if "user_id" in data and microversion(request) < v(10):
            raise errors.BadRequest("Invalid input for field/attribute keypair. Additional properties are not "
                                    "allowed ('user_id' was unexpected)")
        if data.get("user_id") and data["user_id"] != user:
            if not api.is_admin(request):
                raise errors.Forbidden("Policy doesn't allow os_compute_api:os-keypairs:create to be performed.")
            user = data["user_id"]
        key_type = data.get("type", "ssh")
        if "type" in data and microversion(request) < Version(2, 2):
            raise errors.BadRequest("Invalid input for field/attribute keypair. Additional properties are not "
                                    "allowed ('type' was unexpected)")
        kp, private = await api.run(api.p.keypairs.create, user, data["name"], key_type, data.get("public_key"))
        view = keypair_view(kp, private, with_details=False)
        view["user_id"] = kp.user_id
        if microversion(request) < Version(2, 2):
            view.pop("type")
        return JSON({"keypair": view}, status_code=201 if microversion(request) >= Version(2, 2) else 200)

    async def keypair_show(request: Request) -> Response:
        kp = await api.run(api.p.keypairs.get, keypair_user(request), request.path_params["name"])
        view = keypair_view(kp)
        if microversion(request) < Version(2, 2):
            view.pop("type")
        return JSON({"keypair": view})

    async def keypair_delete(request: Request) -> Response:
        await api.run(api.p.keypairs.delete, keypair_user(request), request.path_params["name"])
        return Response(status_code=202 if microversion(request) < Version(2, 2) else 204)

    fl, own = "os_compute_api:os-flavor-manage", api.own_project
    return [
        Op("GET", "/", versions, public=True, tag="versions", summary="Versions"),
        Op("GET", "/v2.1", version, public=True, tag="versions", summary="The v2.1 version"),
        Op("GET", "/v2", version_20, public=True, tag="versions", summary="The legacy v2.0 version document"),
        Op("GET", "/v2.1/flavors", flavor_listing(False), rule="os_compute_api:flavors:index", tag="flavors",
           query=("limit", "marker", "is_public", "minRam", "minDisk", "sort_key", "sort_dir")),
        Op("GET", "/v2.1/flavors/detail", flavor_listing(True), rule="os_compute_api:flavors:index", tag="flavors",
           query=("limit", "marker", "is_public", "minRam", "minDisk", "sort_key", "sort_dir")),
        Op("GET", "/v2.1/flavors/{flavor_id}", flavor_show, rule="os_compute_api:flavors:show", tag="flavors"),
        Op("POST", "/v2.1/flavors", flavor_create, body=_FLAVOR_CREATE, rule=f"{fl}:create", tag="flavors",
           errors=(400, 401, 403, 409)),
        Op("PUT", "/v2.1/flavors/{flavor_id}", flavor_update, body=_FLAVOR_UPDATE, rule=f"{fl}:update",
           tag="flavors"),
        Op("DELETE", "/v2.1/flavors/{flavor_id}", flavor_delete, rule=f"{fl}:delete", tag="flavors", status=202),
        Op("GET", "/v2.1/flavors/{flavor_id}/os-extra_specs", specs_index,
           rule="os_compute_api:os-flavor-extra-specs:index", tag="flavors"),
        Op("POST", "/v2.1/flavors/{flavor_id}/os-extra_specs", specs_create, body=_SPECS,
           rule="os_compute_api:os-flavor-extra-specs:create", tag="flavors"),
        Op("GET", "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", spec_show,
           rule="os_compute_api:os-flavor-extra-specs:show", tag="flavors"),
        Op("PUT", "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", spec_update, body=_SPEC_ONE,
           rule="os_compute_api:os-flavor-extra-specs:update", tag="flavors"),
        Op("DELETE", "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", spec_delete,
           rule="os_compute_api:os-flavor-extra-specs:delete", tag="flavors"),
        Op("GET", "/v2.1/flavors/{flavor_id}/os-flavor-access", access_list,
           rule="os_compute_api:os-flavor-access", tag="flavors"),
        Op("POST", "/v2.1/flavors/{flavor_id}/action", access_action, body=_ACCESS,
           rule="os_compute_api:os-flavor-access:add_tenant_access", tag="flavors", errors=(400, 401, 403, 404, 409)),
        Op("GET", "/v2.1/os-keypairs", keypair_list, rule="os_compute_api:os-keypairs:index", target=own,
           tag="keypairs", query=("user_id", "limit", "marker")),
        Op("POST", "/v2.1/os-keypairs", keypair_create, body=_KEYPAIR, rule="os_compute_api:os-keypairs:create",
           target=own, tag="keypairs", errors=(201, 400, 401, 403, 409)),
        Op("GET", "/v2.1/os-keypairs/{name}", keypair_show, rule="os_compute_api:os-keypairs:show", target=own,
           tag="keypairs", query=("user_id",)),
        Op("DELETE", "/v2.1/os-keypairs/{name}", keypair_delete, rule="os_compute_api:os-keypairs:delete",
           target=own, tag="keypairs", query=("user_id",), status=202, errors=(204, 400, 401, 403, 404)),
    ]


__all__ = ["no_content", "ops"]
