"""``/v3/{project_id}/snapshots``: create (force for in-use volumes), list, detail, show, update,
delete, metadata and the admin's reset-status and force-delete actions."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, validate
from litestack.common.api.policy import body, loaded
from litestack.common.api.resource import truthy
from litestack.volume.api import schemas
from litestack.volume.api.actions import boolish
from litestack.volume.api.base import V, VolumeAPI
from litestack.volume.api.filters import check_filters
from litestack.volume.api.manage import unmanage_snapshot
from litestack.volume.api.metadata import metadata_ops
from litestack.volume.manager import Caller
from litestack.volume.models import Snapshot

P = "/v3/{project_id}/snapshots"
SNAPSHOT_STATUSES = ("available", "error", "creating", "deleting", "error_deleting", "restoring", "unmanaging",
                     "backing-up")


def ops(api: VolumeAPI) -> list[Op]:
    ADMIN = Caller(None, is_admin=True)

    async def create(request: Request) -> Response:
        req = body(request)["snapshot"]
        caller = api.caller(request)
        force = boolish(req.get("force", False), "force")
        fields = {"name": req.get("name", req.get("display_name")),
                  "description": req.get("description", req.get("display_description")),
                  "metadata": dict(req.get("metadata") or {})}
        names = await api.run(api.types.names)
        snap, vol = await api.run(api.volumes.create_snapshot, caller, str(req["volume_id"]), fields, force, names)
        api.notifier.emit("snapshot.create.start", {"snapshot_id": snap.id, "volume_id": vol.id})
        await api.flow.create_snapshot(snap, vol)
        return JSON({"snapshot": api.snapshot_view(request, snap, detail=False)}, status_code=202)

    def lister(detail: bool) -> Any:
        async def handler(request: Request) -> Response:
            params = dict(request.query_params)
            if "display_name" in params:
                params.setdefault("name", params["display_name"])
            params = check_filters(api, request, "snapshot", params)
            if api.version(request) < V(3, 45):
                params.pop("with_count", None)
            counted: list[int] = []
            rows, more = await api.run(api.volumes.list_snapshots, api.caller(request), params,
                                       truthy(params.get("all_tenants")), counted)
            out: dict[str, Any] = {"snapshots": [api.snapshot_view(request, s, detail) for s in rows]}
            if counted:
                out["count"] = counted[0]
            if rows and (more or params.get("limit") == str(len(rows))):
                from litestack.common.api.pagination import next_link

                out["snapshots_links"] = [{"href": next_link(api.self_url(request), params, rows[-1].id),
                                           "rel": "next"}]
            return JSON(out)
        return handler

    async def show(request: Request) -> Response:
        return JSON({"snapshot": api.snapshot_view(request, loaded(request))})

    async def update(request: Request) -> Response:
        req = body(request)["snapshot"]
        changes: dict[str, Any] = {}
        for key, col in (("name", "name"), ("display_name", "name"), ("description", "description"),
                         ("display_description", "description")):
            if key in req:
                changes[col] = req[key]
        snap = await api.run(api.volumes.snapshot_transition, loaded(request).id, api.caller(request), (), None,
                             changes)
        return JSON({"snapshot": api.snapshot_view(request, snap, detail=False)})

    async def delete(request: Request) -> Response:
        snap: Snapshot = loaded(request)
        if snap.group_snapshot_id:
            raise errors.BadRequest("Invalid snapshot: Snapshot status must be available or error and must not be "
                                    f"part of a group (it is in group snapshot {snap.group_snapshot_id}).")
        snap = await api.run(api.volumes.snapshot_transition, snap.id, api.caller(request),
                             ("available", "error", "error_deleting"), "deleting")
        await api.flow.delete_snapshot(snap)
        return Response(status_code=202)

    async def save_metadata(request: Request, snap: Snapshot, meta: dict[str, str]) -> None:
        await api.run(api.volumes.snapshot_transition, snap.id, api.caller(request), (), None, {"metadata_": meta})

    rules = {"os-reset_status": "volume_extension:snapshot_admin_actions:reset_status",
             "os-force_delete": "volume_extension:snapshot_admin_actions:force_delete",
             "os-update_snapshot_status": "snapshot_extension:snapshot_actions:update_snapshot_status",
             "os-unmanage": "snapshot_extension:snapshot_unmanage"}
    shapes = {"os-reset_status": {"type": "object", "required": ["status"],
                                  "properties": {"status": {"enum": list(SNAPSHOT_STATUSES)}}},
              "os-update_snapshot_status": {"type": "object", "required": ["status"], "properties": {
                  "status": {"enum": list(SNAPSHOT_STATUSES)}, "progress": {"type": "string", "maxLength": 8}}}}

    def pick(request: Request) -> str:
        data = body(request)
        name = next(iter(data))
        if name not in rules:
            raise errors.BadRequest(f"There is no such action: {name[:64]}")
        if name in shapes:
            validate(shapes[name], data[name])
        return rules[name]

    async def action(request: Request) -> Response:
        data = body(request)
        name = next(iter(data))
        snap: Snapshot = loaded(request)
        if name == "os-unmanage":
            return await unmanage_snapshot(api, request, snap)
        if name == "os-force_delete":
            if snap.group_snapshot_id:
                raise errors.BadRequest("Invalid snapshot: Snapshot must not be part of a group (it is in group "
                                        f"snapshot {snap.group_snapshot_id}).")
            snap = await api.run(api.volumes.snapshot_transition, snap.id, ADMIN, (), "deleting")
            await api.flow.delete_snapshot(snap)
        else:
            extra = {"progress": data[name]["progress"]} if "progress" in data[name] else {}
            await api.run(api.volumes.snapshot_transition, snap.id, ADMIN, (), data[name]["status"], extra)
        return Response(status_code=202)

    async def action_target(request: Request) -> Any:
        tgt = await api.snapshot_loader()(request)
        from litestack.common.api.policy import Target

        return Target(tgt.values, rule=pick(request))

    s = api.snapshot_loader()
    q = ("all_tenants", "limit", "marker", "sort", "sort_key", "sort_dir", "name", "status", "volume_id",
         "metadata", "project_id")
    return [
        Op("POST", P, create, "Create a snapshot", body=schemas.SNAPSHOT_CREATE, response=schemas.SNAPSHOT,
           status=202, rule="volume:create_snapshot", target=api.own(), tag="snapshots",
           errors=(400, 401, 403, 404, 413, 503)),
        Op("GET", P, lister(False), "List snapshots", response=schemas.SNAPSHOTS, rule="volume:get_all_snapshots",
           target=api.own(), query=q, tag="snapshots"),
        Op("GET", f"{P}/detail", lister(True), "List snapshots with details", response=schemas.SNAPSHOTS,
           rule="volume:get_all_snapshots", target=api.own(), query=q, tag="snapshots"),
        Op("GET", f"{P}/{{snapshot_id}}", show, "Show a snapshot", response=schemas.SNAPSHOT,
           rule="volume:get_snapshot", target=s, tag="snapshots"),
        Op("PUT", f"{P}/{{snapshot_id}}", update, "Update a snapshot", body=schemas.SNAPSHOT_UPDATE,
           response=schemas.SNAPSHOT, rule="volume:update_snapshot", target=s, tag="snapshots"),
        Op("DELETE", f"{P}/{{snapshot_id}}", delete, "Delete a snapshot", status=202, rule="volume:delete_snapshot",
           target=s, tag="snapshots"),
        Op("POST", f"{P}/{{snapshot_id}}/action", action, "Run a snapshot action", body=schemas.ACTION, status=202,
           rule="volume:get_snapshot", alt_rules=sorted(rules.values()), target=action_target, tag="snapshots"),
        *metadata_ops(f"{P}/{{snapshot_id}}", "snapshot", s, "snapshots", save_metadata, {
            "get": "volume:get_snapshot_metadata", "add": "volume:update_snapshot_metadata",
            "replace": "volume:update_snapshot_metadata", "set": "volume:update_snapshot_metadata",
            "delete": "volume:delete_snapshot_metadata"}),
    ]
