"""Existing storage: ``/manageable_volumes`` and ``/manageable_snapshots`` (3.8; ``cinder_id`` and
the rest of the detail 3.17 as Cinder), ``POST /os-volume-manage`` and ``/os-snapshot-manage``
(adopt), and the ``os-unmanage`` actions (forget, the data stays on the backend)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op
from litestack.common.api.policy import body
from litestack.common.rpc import RPCError
from litestack.volume.api.base import V, VolumeAPI, require
from litestack.volume.api.schemas import DESC, NAME
from litestack.volume.manager import Caller
from litestack.volume.manager.manage import Manage, classify
from litestack.volume.models import BackendService, Snapshot, Volume

P = "/v3/{project_id}"
REF: dict[str, Any] = {"type": "object", "required": ["source-name"], "properties": {
    "source-name": {"type": "string", "minLength": 1, "maxLength": 255}}}
VOLUME_MANAGE: dict[str, Any] = {"type": "object", "required": ["volume"], "properties": {"volume": {
    "type": "object", "required": ["ref"], "properties": {
        "host": {"type": ["string", "null"], "maxLength": 255}, "cluster": {"type": ["string", "null"]},
        "ref": REF, "name": NAME, "description": DESC, "volume_type": {"type": ["string", "null"], "maxLength": 255},
        "availability_zone": {"type": ["string", "null"], "maxLength": 255},
        "metadata": {"type": ["object", "null"], "additionalProperties": {"type": "string", "maxLength": 255}},
        "bootable": {"type": ["boolean", "string", "null"]}}}}}
SNAPSHOT_MANAGE: dict[str, Any] = {"type": "object", "required": ["snapshot"], "properties": {"snapshot": {
    "type": "object", "required": ["volume_id", "ref"], "properties": {
        "volume_id": {"type": "string", "maxLength": 36}, "ref": REF, "name": NAME, "description": DESC,
        "metadata": {"type": ["object", "null"], "additionalProperties": {"type": "string", "maxLength": 255}}}}}}


def ops(api: VolumeAPI) -> list[Op]:
    def manage() -> Manage:
        return Manage(api.volumes.db, api.quotas)

    async def backend(host: str | None) -> BackendService:
        if not host:
            raise errors.BadRequest("Invalid input received: host is required (host@backend or host@backend#pool).")
        server = host.partition("#")[0]
        rows = await api.run(api.volumes.services)
        # a host@backend, or (3.16/3.17) a cluster: one of its backends
        row = next((r for r in rows if r.host == server), None) or next(
            (r for r in rows if r.cluster_name and r.cluster_name == server), None)
        if row is None:
            raise errors.BadRequest(f"Invalid input received: no volume service {server[:64]} has reported itself.")
        return row

    async def storage(row: BackendService, snapshots: bool) -> list[dict[str, Any]]:
        try:
            entries = await api.flow.agents.manageable_volumes(row.host)
        except RPCError as exc:
            raise errors.ServiceUnavailable(f"The volume agent of {row.host} did not answer: {exc}") from None
        vols, snaps = await api.run(manage().known_ids)
        return classify(entries, vols, snaps, snapshots)

    def lister(snapshots: bool, detail: bool) -> Any:
        key = "manageable-snapshots" if snapshots else "manageable-volumes"

        async def handler(request: Request) -> Response:
            require(api, request, V(3, 8))
            q = request.query_params
            row = await backend(q.get("host") or q.get("cluster"))
            items = await storage(row, snapshots)
            try:
                offset, limit = int(q.get("offset", 0)), int(q.get("limit", 1000))
            except ValueError:
                raise errors.BadRequest("Invalid input received: limit and offset must be integers.") from None
            if offset < 0 or limit < 0:
                raise errors.BadRequest("Invalid input received: limit and offset must not be negative.")
            items = items[offset:offset + limit]
            if not detail:
                items = [{k: i[k] for k in ("reference", "size", "safe_to_manage")} for i in items]
            return JSON({key: items})
        return handler

    async def find(row: BackendService, name: str, snapshots: bool) -> dict[str, Any]:
        entry = next((e for e in await storage(row, snapshots) if e["reference"]["source-name"] == name), None)
        if entry is None:
            raise errors.BadRequest(f"Manage existing volume failed due to invalid backend reference {name[:64]}: "
                                    f"no such {'snapshot' if snapshots else 'volume'} file on {row.host}.")
        if not entry["safe_to_manage"]:
            raise errors.BadRequest(f"Manage existing volume failed due to invalid backend reference {name[:64]}: "
                                    f"{entry['reason_not_safe']}")
        return entry

    async def manage_volume(request: Request) -> Response:
        req = body(request)["volume"]
        caller = api.caller(request)
        row = await backend(req.get("host") or req.get("cluster"))
        entry = await find(row, req["ref"]["source-name"], False)
        vtype = (await api.run(api.types.get, req["volume_type"], caller) if req.get("volume_type")
                 else await api.run(api.types.default))
        names = await api.run(api.types.names)
        bootable = str(req.get("bootable", False)).lower() in ("true", "1", "yes")
        fields = {"name": req.get("name"), "description": req.get("description"),
                  "metadata_": dict(req.get("metadata") or {}), "multiattach": False, "bootable": bootable,
                  "size": entry["size"], "availability_zone": req.get("availability_zone") or row.availability_zone}
        vol: Volume = await api.run(api.volumes.create, caller, fields, vtype, names,
                                    api.flow.settings.service_down_time, f"{row.host}#{row.backend_name}")
        vol = await api.run(api.volumes.transition, vol.id, Caller(None, is_admin=True), (), "managing")
        api.notifier.emit("volume.manage_existing.start", {"volume_id": vol.id})
        await api.flow.agents.manage_volume(row.host, vol.id, req["ref"]["source-name"])
        return JSON({"volume": api.volume_view(request, vol, names, [], extended=False)}, status_code=202)

    async def manage_snapshot(request: Request) -> Response:
        req = body(request)["snapshot"]
        caller = api.caller(request)
        vol = await api.run(api.volumes.get, req["volume_id"], caller)
        row = await backend(vol.host)
        entry = await find(row, req["ref"]["source-name"], True)
        names = await api.run(api.types.names)
        snap: Snapshot = await api.run(manage().adopt_snapshot, caller, vol.id, row.host, entry["size"],
                                       {k: req.get(k) for k in ("name", "description", "metadata")}, names)
        await api.flow.agents.manage_snapshot(row.host, snap.id, req["ref"]["source-name"])
        return JSON({"snapshot": api.snapshot_view(request, snap, detail=False)}, status_code=202)

    q = ("host", "cluster", "limit", "offset", "sort", "sort_key", "sort_dir", "marker")
    return [
        Op("GET", f"{P}/manageable_volumes", lister(False, False), "List manageable volumes (3.8)",
           rule="volume_extension:list_manageable", target=api.own(), query=q, tag="manage"),
        Op("GET", f"{P}/manageable_volumes/detail", lister(False, True), "List manageable volumes in detail (3.8)",
           rule="volume_extension:list_manageable", target=api.own(), query=q, tag="manage"),
        Op("GET", f"{P}/manageable_snapshots", lister(True, False), "List manageable snapshots (3.8)",
           rule="snapshot_extension:list_manageable", target=api.own(), query=q, tag="manage"),
        Op("GET", f"{P}/manageable_snapshots/detail", lister(True, True), "List manageable snapshots in detail (3.8)",
           rule="snapshot_extension:list_manageable", target=api.own(), query=q, tag="manage"),
        Op("POST", f"{P}/manageable_volumes", manage_volume, "Manage an existing volume (3.8)", body=VOLUME_MANAGE,
           status=202, rule="volume_extension:volume_manage", target=api.own(), tag="manage",
           errors=(400, 401, 403, 404, 413, 503)),
        Op("POST", f"{P}/manageable_snapshots", manage_snapshot, "Manage an existing snapshot (3.8)",
           body=SNAPSHOT_MANAGE, status=202, rule="snapshot_extension:snapshot_manage", target=api.own(),
           tag="manage", errors=(400, 401, 403, 404, 413, 503)),
        Op("POST", f"{P}/os-volume-manage", manage_volume, "Manage an existing volume", body=VOLUME_MANAGE,
           status=202, rule="volume_extension:volume_manage", target=api.own(), tag="manage",
           errors=(400, 401, 403, 404, 413, 503)),
        Op("POST", f"{P}/os-snapshot-manage", manage_snapshot, "Manage an existing snapshot", body=SNAPSHOT_MANAGE,
           status=202, rule="snapshot_extension:snapshot_manage", target=api.own(), tag="manage",
           errors=(400, 401, 403, 404, 413, 503)),
    ]


async def unmanage_volume(api: VolumeAPI, request: Request, vol: Volume) -> Response:
    """``os-unmanage``: the volume leaves the cloud, its file stays on the backend (manageable again)."""
    await api.run(Manage(api.volumes.db, api.quotas).unmanage, vol.id, api.caller(request))
    api.notifier.emit("volume.unmanage.end", {"volume_id": vol.id})
    return Response(status_code=202)


async def unmanage_snapshot(api: VolumeAPI, request: Request, snap: Snapshot) -> Response:
    await api.run(Manage(api.volumes.db, api.quotas).unmanage_snapshot, snap.id, api.caller(request))
    api.notifier.emit("snapshot.unmanage.end", {"snapshot_id": snap.id})
    return Response(status_code=202)
