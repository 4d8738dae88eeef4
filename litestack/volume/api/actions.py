"""``POST /v3/{project_id}/volumes/{volume_id}/action``: Cinder's volume actions, one key each.

Each action names its own policy rule (the Op's ``alt_rules``), chosen from the body's key before
the rule is checked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, validate
from litestack.common.api.policy import body, loaded
from litestack.volume.api import schemas
from litestack.volume.api.base import V, VolumeAPI, isotime
from litestack.volume.api.manage import unmanage_volume
from litestack.volume.api.volumes import size_of
from litestack.volume.manager import Caller
from litestack.volume.models import Volume

P = "/v3/{project_id}/volumes/{volume_id}/action"

Action = Callable[[Request, Volume, Any], Awaitable[Response]]

#: Each action's policy rule (Cinder's names).
RULES: dict[str, str] = {
    "os-extend": "volume:extend",
    "os-reset_status": "volume_extension:volume_admin_actions:reset_status",
    "os-force_delete": "volume_extension:volume_admin_actions:force_delete",
    "os-set_bootable": "volume:update",
    "os-update_readonly_flag": "volume:update_readonly_flag",
    "os-volume_upload_image": "volume_extension:volume_actions:upload_image",
    "revert": "volume:revert_to_snapshot",
    "os-set_image_metadata": "volume_extension:volume_image_metadata:set",
    "os-unset_image_metadata": "volume_extension:volume_image_metadata:remove",
    "os-show_image_metadata": "volume_extension:volume_image_metadata:show",
    "os-reserve": "volume:reserve_volume",
    "os-unreserve": "volume:unreserve_volume",
    "os-begin_detaching": "volume:begin_detaching",
    "os-roll_detaching": "volume:roll_detaching",
    "os-attach": "volume:attach",
    "os-detach": "volume:detach",
    "os-initialize_connection": "volume:initialize_connection",
    "os-terminate_connection": "volume:terminate_connection",
    "os-force_detach": "volume_extension:volume_admin_actions:force_detach",
    "os-retype": "volume:retype",
    "os-unmanage": "volume_extension:volume_unmanage",
}

VOLUME_STATUSES = ("available", "error", "creating", "deleting", "in-use", "attaching", "detaching",
                   "error_deleting", "maintenance", "reserved", "extending", "error_extending", "uploading",
                   "downloading", "backing-up", "restoring-backup", "error_restoring", "reverting",
                   "awaiting-transfer", "retyping")
SHAPES: dict[str, dict[str, Any]] = {
    "os-extend": {"type": "object", "required": ["new_size"], "properties": {"new_size": schemas.SIZE}},
    "os-reset_status": {"type": "object", "properties": {
        "status": {"enum": list(VOLUME_STATUSES)}, "attach_status": {"enum": ["attached", "detached"]},
        "migration_status": {"type": ["string", "null"], "maxLength": 32}}},
    "os-set_bootable": {"type": "object", "required": ["bootable"], "properties": {"bootable": schemas.BOOLISH}},
    "os-update_readonly_flag": {"type": "object", "required": ["readonly"],
                                "properties": {"readonly": schemas.BOOLISH}},
    "os-volume_upload_image": {"type": "object", "required": ["image_name"], "properties": {
        "image_name": {"type": "string", "minLength": 1, "maxLength": 255}, "force": schemas.BOOLISH,
        "disk_format": {"enum": ["raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx"]},
        "container_format": {"enum": ["bare", "ovf", "compressed"]},
        "visibility": {"enum": ["public", "private", "shared", "community"]}, "protected": schemas.BOOLISH}},
    "revert": {"type": "object", "required": ["snapshot_id"],
               "properties": {"snapshot_id": {"type": "string", "maxLength": 36}}},
    "os-set_image_metadata": {"type": "object", "required": ["metadata"],
                              "properties": {"metadata": schemas.METADATA}},
    "os-unset_image_metadata": {"type": "object", "required": ["key"],
                                "properties": {"key": {"type": "string", "minLength": 1, "maxLength": 255}}},
    "os-attach": {"type": "object", "properties": {
        "instance_uuid": schemas.UUID, "host_name": {"type": ["string", "null"], "maxLength": 255},
        "mountpoint": {"type": "string", "maxLength": 255}, "mode": {"enum": ["rw", "ro"]}}},
    "os-detach": {"type": ["object", "null"], "properties": {"attachment_id": schemas.UUID}},
    "os-initialize_connection": {"type": "object", "required": ["connector"],
                                 "properties": {"connector": {"type": "object"}}},
    "os-terminate_connection": {"type": "object", "required": ["connector"],
                                "properties": {"connector": {"type": ["object", "null"]}}},
    "os-force_detach": {"type": ["object", "null"], "properties": {"attachment_id": schemas.UUID}},
    "os-retype": {"type": "object", "required": ["new_type"], "properties": {
        "new_type": {"type": "string", "maxLength": 255}, "migration_policy": {"enum": ["never", "on-demand"]}}},
}


def boolish(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on", "t", "y"):
        return True
    if text in ("false", "0", "no", "off", "f", "n"):
        return False
    raise errors.BadRequest(f"Invalid value '{value}' for {what}: must be a boolean.")


def ops(api: VolumeAPI) -> list[Op]:
    ADMIN = Caller(None, is_admin=True)

    async def accepted() -> Response:
        return Response(status_code=202)

    async def extend(request: Request, vol: Volume, arg: Any) -> Response:
        new = size_of(arg["new_size"])
        assert new is not None
        if new <= vol.size:
            raise errors.BadRequest(f"Invalid input received: New size for extend must be greater than current "
                                    f"size. (current: {vol.size}, extended: {new}).")
        allowed = ("available", "in-use") if api.version(request) >= V(3, 42) else ("available",)
        await api.run(api.services_admin().check_not_frozen, vol)
        names = await api.run(api.types.names)
        await api.run(_check_extend_quota, api, vol, new - vol.size, names)
        back = vol.status
        vol = await api.run(api.volumes.transition, vol.id, api.caller(request), allowed, "extending")
        await api.flow.extend(vol, new, back)
        return await accepted()

    async def reset_status(request: Request, vol: Volume, arg: Any) -> Response:
        updates: dict[str, Any] = {}
        if "attach_status" in arg:
            updates["attach_status"] = arg["attach_status"]
        if "migration_status" in arg:
            updates["migration_status"] = arg["migration_status"]
        await api.run(api.volumes.transition, vol.id, ADMIN, (), arg.get("status"), "", updates)
        return await accepted()

    async def force_delete(request: Request, vol: Volume, arg: Any) -> Response:
        from litestack.volume.api.volumes import delete_volume

        await delete_volume(api, vol, ADMIN, True, True)
        return await accepted()

    async def set_bootable(request: Request, vol: Volume, arg: Any) -> Response:
        await api.run(api.volumes.update, vol.id, api.caller(request),
                      {"bootable": boolish(arg["bootable"], "bootable")})
        return Response(status_code=200)

    async def readonly(request: Request, vol: Volume, arg: Any) -> Response:
        flag = boolish(arg["readonly"], "readonly")
        await api.run(api.volumes.transition, vol.id, api.caller(request), ("available", "in-use"), None, "",
                      {"readonly": flag, "admin_metadata": {**(vol.admin_metadata or {}), "readonly": str(flag)}})
        return await accepted()

    async def upload(request: Request, vol: Volume, arg: Any) -> Response:
        force = boolish(arg.get("force", False), "force")
        if arg.get("visibility") == "public":
            api.enforcer.authorize("volume_extension:volume_actions:upload_public",
                                   {"project_id": vol.project_id, "target": {"project_id": vol.project_id}},
                                   _creds(request))
        allowed = ("available", "in-use") if force else ("available",)
        back = vol.status
        vol = await api.run(api.volumes.transition, vol.id, api.caller(request), allowed, "uploading")
        try:
            image = await api.flow.upload_to_image(vol, back, arg, api.token(request))
        except errors.LitestackError:
            await api.run(api.volumes.transition, vol.id, ADMIN, (), back)
            raise
        vt = await api.run(api.types.get, vol.volume_type_id, ADMIN)
        out = {"id": vol.id, "updated_at": isotime(vol.updated_at), "status": "uploading",
               "display_description": vol.description, "size": vol.size,
               "volume_type": {**api.type_view(request, vt), "created_at": isotime(vt.created_at),
                               "updated_at": isotime(vt.updated_at), "deleted": False, "deleted_at": None,
                               "extra_specs": dict(vt.extra_specs or {})},
               "image_id": image["id"], "container_format": image.get("container_format"),
               "disk_format": image.get("disk_format"), "image_name": image.get("name"),
               "protected": image.get("protected", False), "visibility": image.get("visibility"),
               "is_public": image.get("visibility") == "public"}
        return JSON({"os-volume_upload_image": out}, status_code=202)

    async def revert(request: Request, vol: Volume, arg: Any) -> Response:
        snap = await api.run(api.volumes.snapshot, arg["snapshot_id"], api.caller(request))
        if snap.volume_id != vol.id:
            raise errors.BadRequest("Invalid snapshot: the snapshot is not of this volume.")
        snaps = await api.run(api.volumes.snapshots_of, vol.id)
        latest: Any = max(snaps, key=lambda s: (s.created_at, s.id))
        if latest.id != snap.id:
            raise errors.BadRequest(f"Invalid snapshot: Volume {vol.id} can only be reverted to its latest "
                                    "snapshot.")
        if snap.status != "available":
            raise errors.BadRequest(f"Invalid snapshot: Snapshot status must be available, but current status "
                                    f"is: {snap.status}.")
        vol = await api.run(api.volumes.transition, vol.id, api.caller(request), ("available",), "reverting")
        await api.flow.revert(vol, snap)
        return await accepted()

    async def set_image_meta(request: Request, vol: Volume, arg: Any) -> Response:
        meta = {**(vol.image_metadata or {}), **arg["metadata"]}
        await api.run(api.volumes.update, vol.id, api.caller(request), {"image_metadata": meta})
        return JSON({"metadata": meta})

    async def unset_image_meta(request: Request, vol: Volume, arg: Any) -> Response:
        meta = dict(vol.image_metadata or {})
        if arg["key"] not in meta:
            raise errors.NotFound(f"Glance metadata for volume {vol.id} with key {arg['key']} cannot be found.")
        del meta[arg["key"]]
        await api.run(api.volumes.update, vol.id, api.caller(request), {"image_metadata": meta})
        return Response(status_code=200)

    async def show_image_meta(request: Request, vol: Volume, arg: Any) -> Response:
        return JSON({"metadata": dict(vol.image_metadata or {})})

    # --- the legacy attach flow ------------------------------------------------------------------

    async def reserve(request: Request, vol: Volume, arg: Any) -> Response:
        await api.run(api.volumes.transition, vol.id, api.caller(request),
                      ("available", "in-use") if vol.multiattach else ("available",), "attaching")
        return await accepted()

    async def unreserve(request: Request, vol: Volume, arg: Any) -> Response:
        attached = (await api.run(api.volumes.attachments, [vol.id]))[vol.id]
        if vol.status == "attaching":
            await api.run(api.volumes.transition, vol.id, api.caller(request), ("attaching",),
                          "in-use" if any(a.attach_status == "attached" for a in attached) else "available")
        return await accepted()

    async def begin_detaching(request: Request, vol: Volume, arg: Any) -> Response:
        await api.run(api.volumes.transition, vol.id, api.caller(request), ("in-use",), "detaching")
        return await accepted()

    async def roll_detaching(request: Request, vol: Volume, arg: Any) -> Response:
        if vol.status == "detaching":
            await api.run(api.volumes.transition, vol.id, api.caller(request), ("detaching",), "in-use")
        return await accepted()

    async def attach(request: Request, vol: Volume, arg: Any) -> Response:
        if not arg.get("instance_uuid") and not arg.get("host_name"):
            raise errors.BadRequest("Invalid request to attach volume to an invalid target")
        caller = api.caller(request)
        if vol.status == "available":
            vol = await api.run(api.volumes.transition, vol.id, caller, ("available",), "attaching")
        if vol.status not in ("attaching", "in-use"):
            raise errors.BadRequest(f"Invalid volume: Volume {vol.id} status must be attaching or available, but "
                                    f"current status is: {vol.status}.")
        mode = arg.get("mode", "rw")
        if vol.readonly and mode == "rw":
            raise errors.BadRequest(f"Invalid volume: Volume {vol.id} is read-only; attach it with mode ro.")
        a, _ = await api.run(api.volumes.reserve, vol.id, caller, arg.get("instance_uuid"), mode, "attaching",
                             ("attaching",))
        await api.run(lambda: api.volumes.connect(a.id, {"host": arg.get("host_name")} if arg.get("host_name")
                                                  else None, None, "attached", mountpoint=arg.get("mountpoint")))
        return await accepted()

    async def detach(request: Request, vol: Volume, arg: Any) -> Response:
        attached = (await api.run(api.volumes.attachments, [vol.id]))[vol.id]
        wanted = (arg or {}).get("attachment_id")
        if wanted:
            attached = [a for a in attached if a.id == wanted]
            if not attached:
                raise errors.BadRequest(f"Invalid volume: attachment {wanted} is not of volume {vol.id}.")
        elif len(attached) > 1:
            raise errors.BadRequest("Invalid volume: the volume has several attachments; name attachment_id.")
        if not attached:
            raise errors.BadRequest(f"Invalid volume: Volume {vol.id} is not attached.")
        if vol.status not in ("in-use", "detaching"):
            raise errors.BadRequest(f"Invalid volume: Volume {vol.id} status must be in-use or detaching, but "
                                    f"current status is: {vol.status}.")
        for a in attached:
            left = await api.run(api.volumes.detach, a.id)
        if left is not None and left.status == "available":
            await api.flow.remove_export(left)
        return await accepted()

    async def force_detach(request: Request, vol: Volume, arg: Any) -> Response:
        attached = (await api.run(api.volumes.attachments, [vol.id]))[vol.id]
        wanted = (arg or {}).get("attachment_id")
        for a in attached:
            if not wanted or a.id == wanted:
                await api.run(api.volumes.detach, a.id)
        return await accepted()

    async def initialize(request: Request, vol: Volume, arg: Any) -> Response:
        if vol.status not in ("available", "attaching", "in-use", "reserved", "uploading", "downloading"):
            raise errors.BadRequest(f"Invalid volume: Volume {vol.id} status must be available or attaching or "
                                    f"in-use, but current status is: {vol.status}.")
        info = await api.flow.connection_info(vol, arg["connector"])
        return JSON({"connection_info": info})

    async def terminate(request: Request, vol: Volume, arg: Any) -> Response:
        if vol.status not in ("in-use", "attaching", "detaching", "reserved"):
            await api.flow.remove_export(vol)
        return await accepted()

    async def retype(request: Request, vol: Volume, arg: Any) -> Response:
        caller = api.caller(request)
        new = await api.run(api.types.get, arg["new_type"], caller)
        if new.id == vol.volume_type_id:
            raise errors.BadRequest("Invalid input received: New volume type must be different from the current "
                                    "type.")
        backend = (new.extra_specs or {}).get("volume_backend_name")
        if backend and vol.host and vol.host.partition("#")[0].partition("@")[2] != backend:
            raise errors.BadRequest("Invalid input received: retyping to a type of another backend needs a "
                                    "migration, which this cloud does not do yet.")
        await api.run(api.volumes.transition, vol.id, caller, ("available", "in-use"), None, "",
                      {"volume_type_id": new.id})
        return await accepted()

    handlers: dict[str, Action] = {
        "os-extend": extend, "os-reset_status": reset_status, "os-force_delete": force_delete,
        "os-set_bootable": set_bootable, "os-update_readonly_flag": readonly, "os-volume_upload_image": upload,
        "revert": revert, "os-set_image_metadata": set_image_meta, "os-unset_image_metadata": unset_image_meta,
        "os-show_image_metadata": show_image_meta, "os-reserve": reserve, "os-unreserve": unreserve,
        "os-begin_detaching": begin_detaching, "os-roll_detaching": roll_detaching, "os-attach": attach,
        "os-detach": detach, "os-initialize_connection": initialize, "os-terminate_connection": terminate,
        "os-force_detach": force_detach, "os-retype": retype,
        "os-unmanage": lambda request, vol, arg: unmanage_volume(api, request, vol)}
    minimum = {"revert": V(3, 40)}

    def pick(request: Request) -> str | None:
        data = body(request)
        name = next(iter(data))
        if name not in handlers:
            raise errors.BadRequest(f"There is no such action: {name[:64]}")
        if name in minimum and api.version(request) < minimum[name]:
            raise errors.NotFound(f"The action {name} needs microversion {minimum[name]} or later.")
        if name in SHAPES:
            validate(SHAPES[name], data[name])
        return RULES[name]

    async def handler(request: Request) -> Response:
        data = body(request)
        name = next(iter(data))
        return await handlers[name](request, loaded(request), data[name])

    return [Op("POST", P, handler, "Run a volume action", body=schemas.ACTION, status=202, rule="volume:get",
               alt_rules=sorted(set(RULES.values())), target=api.volume_loader(pick=pick), tag="volume actions",
               errors=(200, 400, 401, 403, 404, 413, 503))]


def _check_extend_quota(api: VolumeAPI, vol: Volume, more: int, names: dict[str, str]) -> None:
    with api.volumes.db.writer() as s:
        api.quotas.check(s, vol.project_id, names, names.get(vol.volume_type_id, ""), "volumes", more, count=0)


def _creds(request: Request) -> dict[str, Any]:
    from litestack.common.api.policy import policy_creds

    return policy_creds(request)
