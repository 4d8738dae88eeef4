"""Nova's deprecated proxies to block storage: ``/os-volumes`` and ``/os-snapshots`` (up to 2.35;
404 from 2.36, as Nova). Each call goes to the block storage API with the user's token; the
answers are reshaped into Nova's views (camelCase names, ``attachments`` of ``[{}]`` when none)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op
from litestack.common.api.microversion import Version
from litestack.common.api.middleware import context_of
from litestack.common.api.policy import body
from litestack.compute.api.base import ComputeAPI, microversion
from litestack.compute.netclient import segment
from litestack.compute.volclient import NoBlockStorage, _message

LAST = Version(2, 35)

_META = {"type": "object", "additionalProperties": {"type": "string", "maxLength": 255}}
_VOLUME = {"type": "object", "required": ["volume"], "additionalProperties": False, "properties": {
    "volume": {"type": "object", "required": ["size"], "additionalProperties": False, "properties": {
        "size": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1},
        "display_name": {"type": ["string", "null"], "maxLength": 255},
        "display_description": {"type": ["string", "null"], "maxLength": 255},
        "volume_type": {"type": ["string", "null"], "maxLength": 255},
        "metadata": _META, "availability_zone": {"type": ["string", "null"], "maxLength": 255},
        "snapshot_id": {"type": ["string", "null"], "maxLength": 255},
        "imageRef": {"type": ["string", "null"], "maxLength": 255}}}}}
_SNAPSHOT = {"type": "object", "required": ["snapshot"], "additionalProperties": False, "properties": {
    "snapshot": {"type": "object", "required": ["volume_id"], "additionalProperties": False, "properties": {
        "volume_id": {"type": "string", "maxLength": 255},
        "force": {"type": ["boolean", "string"]},
        "display_name": {"type": ["string", "null"], "maxLength": 255},
        "display_description": {"type": ["string", "null"], "maxLength": 255}}}}}


def volume_view(v: dict[str, Any]) -> dict[str, Any]:
    attached = [a for a in v.get("attachments") or [] if a.get("server_id")]
    return {"id": v["id"], "status": v.get("status"), "size": v.get("size"),
            "availabilityZone": v.get("availability_zone"), "createdAt": v.get("created_at"),
            "displayName": v.get("name"), "displayDescription": v.get("description"),
            "volumeType": v.get("volume_type"), "snapshotId": v.get("snapshot_id"),
            "metadata": v.get("metadata") or {},
            "attachments": [{"id": v["id"], "volumeId": v["id"], "serverId": a["server_id"],
                             "device": a.get("device")} for a in attached] or [{}]}


def snapshot_view(s: dict[str, Any]) -> dict[str, Any]:
    return {"id": s["id"], "volumeId": s.get("volume_id"), "status": s.get("status"), "size": s.get("size"),
            "createdAt": s.get("created_at"), "displayName": s.get("name"),
            "displayDescription": s.get("description")}


def ops(api: ComputeAPI) -> list[Op]:
    async def call(request: Request, method: str, path: str, **kw: Any) -> Any:
        if microversion(request) > LAST:
            raise errors.NotFound("The resource could not be found.")
        token = context_of(request).auth_token or ""
        try:
            r = await api.p.volumes.request(method, path, token, **kw)
        except NoBlockStorage:
            raise errors.NotFound("The resource could not be found (no block storage service).") from None
        if r.status_code == 404:
            raise errors.NotFound(_message(r))
        if r.status_code == 413:
            raise errors.Forbidden(_message(r))
        if r.status_code >= 400:
            raise errors.BadRequest(_message(r))
        return r

    def listing(kind: str, detail: bool) -> Any:
        view = volume_view if kind == "volumes" else snapshot_view
        key = "volumes" if kind == "volumes" else "snapshots"

        async def handler(request: Request) -> Response:
            if request.url.path.endswith("/"):  # Nova reads ``/os-volumes/`` as an empty id
                raise errors.NotFound("The resource could not be found.")
            params = {k: v for k, v in request.query_params.items() if k in ("limit", "offset")}
            r = await call(request, "GET", f"/{kind}/detail", params=params)
            return JSON({key: [view(x) for x in r.json()[key]]})
        return handler

    def show(kind: str) -> Any:
        view = volume_view if kind == "volumes" else snapshot_view
        key = "volume" if kind == "volumes" else "snapshot"

        async def handler(request: Request) -> Response:
            r = await call(request, "GET", f"/{kind}/{segment(request.path_params['item_id'])}")
            return JSON({key: view(r.json()[key])})
        return handler

    def delete(kind: str) -> Any:
        async def handler(request: Request) -> Response:
            await call(request, "DELETE", f"/{kind}/{segment(request.path_params['item_id'])}")
            return Response(status_code=202)
        return handler

    async def create_volume(request: Request) -> Response:
        v = body(request)["volume"]
        out: dict[str, Any] = {"size": int(v["size"])}
        for ours, theirs in (("display_name", "name"), ("display_description", "description"),
                             ("volume_type", "volume_type"), ("metadata", "metadata"),
                             ("availability_zone", "availability_zone"), ("snapshot_id", "snapshot_id"),
                             ("imageRef", "imageRef")):
            if v.get(ours) is not None:
                out[theirs] = v[ours]
        r = await call(request, "POST", "/volumes", json={"volume": out})
        return JSON({"volume": volume_view(r.json()["volume"])})

    async def create_snapshot(request: Request) -> Response:
        s = body(request)["snapshot"]
        out: dict[str, Any] = {"volume_id": s["volume_id"],
                               "force": str(s.get("force", False)).lower() in ("true", "1", "yes")}
        for ours, theirs in (("display_name", "name"), ("display_description", "description")):
            if s.get(ours) is not None:
                out[theirs] = s[ours]
        r = await call(request, "POST", "/snapshots", json={"snapshot": out})
        return JSON({"snapshot": snapshot_view(r.json()["snapshot"])})

    rule = "os_compute_api:os-volumes"
    own = api.own_project
    ops: list[Op] = []
    for kind, prefix, create, schema in (("volumes", "/v2.1/os-volumes", create_volume, _VOLUME),
                                         ("snapshots", "/v2.1/os-snapshots", create_snapshot, _SNAPSHOT)):
        r = rule if kind == "volumes" else f"{rule}:snapshots"
        ops += [
            Op("GET", prefix, listing(kind, False), rule=f"{r}:list", target=own, tag="volumes-proxy",
               query=("limit", "offset")),
            Op("GET", f"{prefix}/detail", listing(kind, True), rule=f"{r}:detail", target=own, tag="volumes-proxy",
               query=("limit", "offset")),
            Op("POST", prefix, create, body=schema, rule=f"{r}:create", target=own, tag="volumes-proxy"),
            Op("GET", f"{prefix}/{{item_id}}", show(kind), rule=f"{r}:show", target=own, tag="volumes-proxy"),
            Op("DELETE", f"{prefix}/{{item_id}}", delete(kind), rule=f"{r}:delete", target=own, tag="volumes-proxy",
               status=202),
        ]
    return ops
