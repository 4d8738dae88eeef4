"""``/v3/{project_id}/volumes``: create (empty, from an image, a snapshot or a volume), list,
detail, summary, show, update, delete (cascade) and metadata."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op
from litestack.common.api.policy import body, loaded
from litestack.common.api.resource import truthy
from litestack.volume.api import schemas
from litestack.volume.api.base import V, VolumeAPI
from litestack.volume.api.filters import check_filters
from litestack.volume.api.metadata import metadata_ops
from litestack.volume.manager import Caller
from litestack.volume.models import Volume

P = "/v3/{project_id}/volumes"
DELETABLE = ("available", "error", "error_restoring", "error_extending", "error_managing")


def size_of(raw: Any) -> int | None:
    if raw is None:
        return None
    try:
        size = int(raw) if isinstance(raw, int | float) else int(str(raw).strip())
    except (ValueError, OverflowError):
        raise errors.BadRequest(f"Invalid input received: size {str(raw)[:32]} is not an integer.") from None
    if size != raw and not isinstance(raw, str):
        raise errors.BadRequest(f"Invalid input received: size {raw} is not an integer.")
    if size < 1:
        raise errors.BadRequest(f"Invalid input received: Invalid input for field/attribute size. Value: {raw}. "
                                "Size must be greater than 0.")
    return size


def ops(api: VolumeAPI) -> list[Op]:
    async def views(request: Request, rows: list[Volume], extended: bool = True) -> list[dict[str, Any]]:
        names = await api.run(api.types.names)
        attached = await api.run(api.volumes.attachments, [v.id for v in rows])
        return [api.volume_view(request, v, names, attached[v.id], extended) for v in rows]

    async def one(request: Request, vol: Volume, extended: bool = True) -> dict[str, Any]:
        return (await views(request, [vol], extended))[0]

    # --- create --------------------------------------------------------------------------------

    async def create(request: Request) -> Response:
        req = body(request)["volume"]
        caller = api.caller(request)
        size = size_of(req.get("size"))
        fields: dict[str, Any] = {
            "name": req.get("name", req.get("display_name")),
            "description": req.get("description", req.get("display_description")),
            "metadata_": dict(req.get("metadata") or {}), "multiattach": bool(req.get("multiattach", False))}
        source: dict[str, Any] = {"kind": "empty"}
        type_ref = req.get("volume_type")
        if req.get("backup_id"):
            if api.version(request) < V(3, 47):
                raise errors.BadRequest("Invalid input received: backup_id needs microversion 3.47 or later.")
            return await from_backup(request, req, caller, size, fields, type_ref)
        sources = [k for k in ("snapshot_id", "source_volid", "imageRef", "image_id") if req.get(k)]
        if len(sources) > 1 and set(sources) != {"imageRef", "image_id"}:
            raise errors.BadRequest("Invalid input received: only one of snapshot_id, source_volid and imageRef "
                                    "may be given.")
        zone = req.get("availability_zone")
        if req.get("snapshot_id"):
            snap = await api.run(api.volumes.snapshot, req["snapshot_id"], caller)
            if snap.status != "available":
                raise errors.BadRequest(f"Invalid snapshot: Originating snapshot status must be one of 'available' "
                                        f"values, but it is {snap.status}.")
            parent = await api.run(api.volumes.get, snap.volume_id, Caller(None, is_admin=True))
            size = size or snap.size
            if size < snap.size:
                raise errors.BadRequest(f"Invalid input received: Volume size '{size}'GB cannot be smaller than "
                                        f"the snapshot size {snap.size}GB. They must be >= original snapshot size.")
            fields.update(snapshot_id=snap.id, bootable=parent.bootable, image_metadata=dict(parent.image_metadata))
            type_ref = type_ref or parent.volume_type_id
            zone = zone or parent.availability_zone
            source = {"kind": "snapshot", "id": snap.id, "host": parent.host}
        elif req.get("source_volid"):
            src = await api.run(api.volumes.get, req["source_volid"], caller)
            if src.status not in ("available", "in-use"):
                raise errors.BadRequest(f"Invalid volume: Source volume status must be available or in-use, but "
                                        f"it is {src.status}.")
            size = size or src.size
            if size < src.size:
                raise errors.BadRequest(f"Invalid input received: Clones currently must be >= original volume size "
                                        f"({size} < {src.size}).")
            fields.update(source_volid=src.id, bootable=src.bootable, image_metadata=dict(src.image_metadata))
            type_ref = type_ref or src.volume_type_id
            zone = zone or src.availability_zone
            source = {"kind": "volume", "id": src.id, "host": src.host}
        elif req.get("imageRef") or req.get("image_id"):
            image_id = str(req.get("imageRef") or req.get("image_id"))
            image, source = await api.flow.image_source(image_id, api.token(request))
            image_gb = -(-int(image.get("size") or 0) // (1 << 30))
            size = size or max(image_gb, int(image.get("min_disk") or 0), 1)
            if size < int(image.get("min_disk") or 0):
                raise errors.BadRequest(f"Invalid input received: Volume size {size}GB cannot be smaller than the "
                                        f"image minDisk size {image.get('min_disk')}GB.")
            if image_gb > size:
                raise errors.BadRequest(f"Invalid input received: Size of specified image {image_gb}GB is larger "
                                        f"than volume size {size}GB.")
            fields.update(image_id=image_id, bootable=True, image_metadata=api.flow.image_metadata(image))
        if size is None:
            raise errors.BadRequest("Invalid input received: size is required for a volume without a source.")
        if zone and zone != api.flow.settings.availability_zone:
            zones = await api.run(lambda: {s.availability_zone for s in api.volumes.services()})
            if zone not in zones:
                raise errors.BadRequest(f"Invalid input received: Availability zone '{zone}' is invalid.")
        vtype = (await api.run(api.types.get, type_ref, caller) if type_ref else await api.run(api.types.default))
        if fields["multiattach"]:
            api.enforcer.authorize("volume:multiattach", {"project_id": caller.project_id,
                                                          "target": {"project_id": caller.project_id}},
                                   _creds(request))
        fields.update(size=size, availability_zone=zone or api.flow.settings.availability_zone)
        if req.get("group_id"):
            from litestack.volume.api.groups import place_in_group

            await place_in_group(api, request, str(req["group_id"]), bool(type_ref), vtype, fields, source)
        vol = await api.flow.create_volume(caller, fields, vtype, source)
        return JSON({"volume": await one(request, vol, extended=False)}, status_code=202)

    async def from_backup(request: Request, req: dict[str, Any], caller: Caller, size: int | None,
                          fields: dict[str, Any], type_ref: Any) -> Response:
        """3.47: the new volume is filled from the backup (on the backup's host), as a restore."""
        from litestack.volume.api.backups import restore_into_new

        if any(req.get(k) for k in ("snapshot_id", "source_volid", "imageRef", "image_id")):
            raise errors.BadRequest("Invalid input received: only one of backup_id, snapshot_id, source_volid and "
                                    "imageRef may be given.")
        b = await api.run(api.backups.get, str(req["backup_id"]), caller)
        size = size or b.size
        if size < b.size:
            raise errors.BadRequest(f"Invalid input received: Volume size '{size}'GB cannot be smaller than the "
                                    f"backup size {b.size}GB.")
        vtype = await api.run(api.types.get, type_ref, caller) if type_ref else await api.run(api.types.default)
        fields.update(size=size, availability_zone=req.get("availability_zone") or api.flow.settings.availability_zone)
        vol = await restore_into_new(api, request, b, fields, vtype)
        return JSON({"volume": await one(request, vol, extended=False)}, status_code=202)

    # --- list ----------------------------------------------------------------------------------

    def lister(detail: bool) -> Any:
        async def handler(request: Request) -> Response:
            params = dict(request.query_params)
            caller = api.caller(request)
            all_tenants = truthy(params.get("all_tenants"))
            if "display_name" in params:
                params.setdefault("name", params["display_name"])
            if api.version(request) < V(3, 45):
                params.pop("with_count", None)
            if api.version(request) < V(3, 10):
                params.pop("group_id", None)
            params = check_filters(api, request, "volume", params)
            type_ids = await api.run(api.types.names)
            rows, more, count = await api.run(api.volumes.list_volumes, caller, params, all_tenants, type_ids)
            items = await views(request, rows) if detail else [
                {"id": v.id, "name": v.name, "links": api.member_links(request, "volumes", v.id)} for v in rows]
            out: dict[str, Any] = {"volumes": items}
            # Cinder links the next page whenever a page is full, even when it is the last one.
            if rows and (more or ("limit" in params and len(rows) == _int(params["limit"]))):
                out["volumes_links"] = [{"href": _next(api.self_url(request), params, rows[-1].id), "rel": "next"}]
            if "with_count" in params:
                out["count"] = count
            return JSON(out)
        return handler

    async def summary(request: Request) -> Response:
        caller = api.caller(request)
        all_tenants = truthy(request.query_params.get("all_tenants"))
        rows, _, _ = await api.run(api.volumes.list_volumes, caller, {"limit": "1000"}, all_tenants, {})
        out: dict[str, Any] = {"total_size": sum(v.size for v in rows), "total_count": len(rows)}
        if api.version(request) >= V(3, 36):
            meta: dict[str, list[str]] = {}
            for v in rows:
                for k, val in (v.metadata_ or {}).items():
                    if val not in meta.setdefault(k, []):
                        meta[k].append(val)
            out["metadata"] = meta
        return JSON({"volume-summary": out})

    # --- member --------------------------------------------------------------------------------

    async def show(request: Request) -> Response:
        return JSON({"volume": await one(request, loaded(request))})

    async def update(request: Request) -> Response:
        req = body(request)["volume"]
        changes: dict[str, Any] = {}
        for key, col in (("name", "name"), ("display_name", "name"), ("description", "description"),
                         ("display_description", "description")):
            if key in req:
                changes[col] = req[key]
        if "metadata" in req:
            changes["metadata_"] = dict(req["metadata"])
        vol = await api.run(api.volumes.update, loaded(request).id, api.caller(request), changes)
        api.notifier.emit("volume.update.end", {"volume_id": vol.id})
        return JSON({"volume": await one(request, vol, extended=False)})

    async def delete(request: Request) -> Response:
        vol: Volume = loaded(request)
        caller = api.caller(request)
        cascade = truthy(request.query_params.get("cascade"))
        force = truthy(request.query_params.get("force"))
        if force:
            api.enforcer.authorize("volume:force_delete", {"project_id": vol.project_id,
                                                           "target": {"project_id": vol.project_id}}, _creds(request))
        await delete_volume(api, vol, caller, cascade, force)
        return Response(status_code=202)

    # --- metadata ------------------------------------------------------------------------------

    async def save_metadata(request: Request, vol: Volume, meta: dict[str, str]) -> None:
        await api.run(api.volumes.update, vol.id, api.caller(request), {"metadata_": meta})

    async def no_id(request: Request) -> Response:
        raise errors.NotFound("Volume could not be found: no volume id was given.")

    v = api.volume_loader()
    q = ("all_tenants", "limit", "marker", "sort", "sort_key", "sort_dir", "name", "status", "metadata",
         "availability_zone", "bootable", "with_count", "project_id", "volume_type", "group_id", "glance_metadata",
         "migration_status", "size", "created_at", "updated_at", "name~", "status~")
    return [
        Op("POST", P, create, "Create a volume", body=schemas.VOLUME_CREATE, response=schemas.VOLUME, status=202,
           rule="volume:create", target=api.own(), tag="volumes", errors=(400, 401, 403, 404, 413, 503)),
        Op("GET", P, lister(False), "List volumes", response=schemas.VOLUMES, rule="volume:get_all",
           target=api.own(), query=q, tag="volumes"),
        Op("GET", f"{P}/detail", lister(True), "List volumes with details", response=schemas.VOLUMES,
           rule="volume:get_all", target=api.own(), query=q, tag="volumes"),
        Op("GET", f"{P}/summary", summary, "Volume summary", rule="volume:get_volume_summary", target=api.own(),
           query=("all_tenants",), tag="volumes"),
        *(Op(m, f"{P}/", no_id, "A volume path without an id (404)", rule="volume:get", target=api.own(),
             tag="volumes") for m in ("GET", "PUT", "DELETE")),
        Op("GET", f"{P}/{{volume_id}}", show, "Show a volume", response=schemas.VOLUME, rule="volume:get",
           target=v, tag="volumes"),
        Op("PUT", f"{P}/{{volume_id}}", update, "Update a volume", body=schemas.VOLUME_UPDATE,
           response=schemas.VOLUME, rule="volume:update", target=v, tag="volumes"),
        Op("DELETE", f"{P}/{{volume_id}}", delete, "Delete a volume", status=202, rule="volume:delete", target=v,
           query=("cascade", "force"), tag="volumes"),
        *metadata_ops(f"{P}/{{volume_id}}", "volume", v, "volumes", save_metadata, {
            "get": "volume:get_volume_metadata", "add": "volume:create_volume_metadata",
            "replace": "volume:update_volume_metadata", "set": "volume:update_volume_metadata",
            "delete": "volume:delete_volume_metadata"}, etags=lambda request: api.version(request) >= V(3, 15)),
    ]


async def delete_volume(api: VolumeAPI, vol: Volume, caller: Caller, cascade: bool, force: bool) -> None:
    """Cinder's delete: only from a settled status (any but attached ones with ``force``), with its
    snapshots only when ``cascade``; the agent removes the data and the rows go."""
    if vol.group_id:
        raise errors.BadRequest(f"Invalid volume: Volume {vol.id} belongs to group {vol.group_id}: remove it from "
                                "the group first, or delete the group with delete-volumes.")
    snaps = await api.run(api.volumes.snapshots_of, vol.id)
    if any(s.group_snapshot_id for s in snaps):
        raise errors.BadRequest(f"Invalid volume: Volume {vol.id} has snapshots that are part of a group snapshot.")
    if snaps and not cascade:
        raise errors.BadRequest(f"Invalid volume: Volume {vol.id} still has {len(snaps)} dependent snapshots.")
    if any(s.status in ("creating", "deleting") for s in snaps):
        raise errors.BadRequest("Invalid volume: Snapshot of volume is in a transitional status.")
    attached = await api.run(api.volumes.attachments, [vol.id])
    if attached[vol.id] or vol.attach_status == "attached":
        raise errors.BadRequest(f"Invalid volume: Volume {vol.id} status must be available or error or "
                                f"error_restoring or error_extending or error_managing and must not be migrating, "
                                f"attached, belong to a group, have snapshots or be disassociated from snapshots "
                                f"after volume transfer.")
    await api.run(api.services_admin().check_not_frozen, vol)
    allowed = () if force else DELETABLE  # force: any status, as long as nothing is attached
    vol = await api.run(api.volumes.transition, vol.id, caller, allowed, "deleting", "")
    for s in snaps:
        await api.run(api.volumes.snapshot_transition, s.id, Caller(None, is_admin=True), (), "deleting")
    api.notifier.emit("volume.delete.start", {"volume_id": vol.id})
    await api.flow.delete_volume(vol)


def _int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        return -1


def _creds(request: Request) -> dict[str, Any]:
    from litestack.common.api.policy import policy_creds

    return policy_creds(request)


def _next(url: str, params: dict[str, str], marker: str) -> str:
    from litestack.common.api.pagination import next_link

    return next_link(url, params, marker) or url
