"""``/v3/{project_id}/qos-specs``: QoS specs, their keys and their volume type associations."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op
from litestack.common.api.policy import Target, body, loaded, stash
from litestack.volume.api.actions import boolish
from litestack.volume.api.base import VolumeAPI
from litestack.volume.models import QosSpec

P = "/v3/{project_id}/qos-specs"
_VALUE = {"type": ["string", "number", "boolean"]}
_KEY = {"type": "string", "minLength": 1, "maxLength": 255}
CREATE = {"type": "object", "required": ["qos_specs"], "additionalProperties": False,
          "properties": {"qos_specs": {
              "type": "object", "required": ["name"], "propertyNames": _KEY,
              "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"},
                             "consumer": {"type": "string"}},
              "additionalProperties": _VALUE}}}
SET = {"type": "object", "required": ["qos_specs"], "additionalProperties": False,
       "properties": {"qos_specs": {"type": "object", "minProperties": 1, "propertyNames": _KEY,
                                    "additionalProperties": _VALUE}}}
UNSET = {"type": "object", "required": ["keys"], "additionalProperties": False,
         "properties": {"keys": {"type": "array", "minItems": 1, "items": _KEY}}}


def _str(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def ops(api: VolumeAPI) -> list[Op]:
    def view(q: QosSpec) -> dict[str, Any]:
        return {"id": q.id, "name": q.name, "consumer": q.consumer, "specs": dict(q.specs or {})}

    async def spec_target(request: Request) -> Target:
        stash(request, await api.run(api.qos.get, api.param(request, "qos_id")))
        return await api.own()(request)

    def type_id(request: Request) -> str:
        value = request.query_params.get("vol_type_id")
        if not value:
            raise errors.BadRequest("vol_type_id is required.")
        return value

    async def index(request: Request) -> Response:
        rows = await api.run(api.qos.all)
        return JSON({"qos_specs": [view(q) for q in rows]})

    async def show(request: Request) -> Response:
        q: QosSpec = loaded(request)
        return JSON({"qos_specs": view(q), "links": api.member_links(request, "qos-specs", q.id)})

    async def create(request: Request) -> Response:
        req = dict(body(request)["qos_specs"])
        name = req.pop("name").strip()
        consumer = req.pop("consumer", "back-end")
        q = await api.run(api.qos.create, name, consumer, {k: _str(v) for k, v in req.items()})
        api.notifier.emit("qos_specs.create", {"qos_specs_id": q.id, "name": q.name})
        return JSON({"qos_specs": view(q), "links": api.member_links(request, "qos-specs", q.id)})

    async def update(request: Request) -> Response:
        keys = {k: _str(v) for k, v in body(request)["qos_specs"].items()}
        await api.run(api.qos.set_keys, loaded(request).id, keys)
        return JSON({"qos_specs": keys})

    async def delete_keys(request: Request) -> Response:
        await api.run(api.qos.delete_keys, loaded(request).id, list(body(request)["keys"]))
        return Response(status_code=202)

    async def delete(request: Request) -> Response:
        force = boolish(request.query_params.get("force", "false"), "force")
        await api.run(api.qos.delete, loaded(request).id, force)
        api.notifier.emit("qos_specs.delete", {"qos_specs_id": loaded(request).id})
        return Response(status_code=202)

    async def associations(request: Request) -> Response:
        types = await api.run(api.qos.associations, loaded(request).id)
        return JSON({"qos_associations": [{"association_type": "volume_type", "name": t.name, "id": t.id}
                                          for t in types]})

    async def associate(request: Request) -> Response:
        await api.run(api.qos.associate, loaded(request).id, type_id(request))
        return Response(status_code=202)

    async def disassociate(request: Request) -> Response:
        await api.run(api.qos.disassociate, loaded(request).id, type_id(request))
        return Response(status_code=202)

    async def disassociate_all(request: Request) -> Response:
        await api.run(api.qos.disassociate, loaded(request).id, None)
        return Response(status_code=202)

    t = spec_target
    r = "volume_extension:qos_specs_manage:"
    one = f"{P}/{{qos_id}}"
    return [
        Op("GET", P, index, "List QoS specs", rule=r + "get_all", target=api.own(), tag="qos-specs"),
        Op("POST", P, create, "Create a QoS spec", body=CREATE, rule=r + "create", target=api.own(),
           tag="qos-specs", errors=(400, 403, 409)),
        Op("GET", one, show, "Show a QoS spec", rule=r + "get", target=t, tag="qos-specs"),
        Op("PUT", one, update, "Set keys of a QoS spec", body=SET, rule=r + "update", target=t, tag="qos-specs"),
        Op("DELETE", one, delete, "Delete a QoS spec (force: also when associated)", status=202,
           rule=r + "delete", target=t, query=("force",), tag="qos-specs"),
        Op("PUT", f"{one}/delete_keys", delete_keys, "Unset keys of a QoS spec", body=UNSET, status=202,
           rule=r + "update", target=t, tag="qos-specs"),
        Op("GET", f"{one}/associations", associations, "List a QoS spec's volume types", rule=r + "get",
           target=t, tag="qos-specs"),
        Op("GET", f"{one}/associate", associate, "Associate a QoS spec with a volume type", status=202,
           rule=r + "update", target=t, query=("vol_type_id",), tag="qos-specs"),
        Op("GET", f"{one}/disassociate", disassociate, "Disassociate a QoS spec from a volume type",
           status=202, rule=r + "update", target=t, query=("vol_type_id",), tag="qos-specs"),
        Op("GET", f"{one}/disassociate_all", disassociate_all, "Disassociate a QoS spec from every type",
           status=202, rule=r + "update", target=t, tag="qos-specs"),
    ]
