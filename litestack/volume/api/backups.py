"""``/v3/{project_id}/backups``: create (full or incremental), list, detail, show, delete, restore
into a new or an existing volume, and the admin's reset-status."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, validate
from litestack.common.api.policy import Target, body, loaded, policy_target, stash
from litestack.common.api.resource import truthy
from litestack.volume.api.actions import boolish
from litestack.volume.api.base import V, VolumeAPI, isotime, require
from litestack.volume.api.filters import check_filters
from litestack.volume.api.schemas import BOOLISH, DESC, NAME, UUID
from litestack.volume.manager import Caller
from litestack.volume.models import Backup, Volume

P = "/v3/{project_id}/backups"
ADMIN = Caller(None, is_admin=True)
CREATE: dict[str, Any] = {
    "type": "object", "required": ["backup"],
    "properties": {"backup": {"type": "object", "required": ["volume_id"], "properties": {
        "volume_id": {"type": "string", "maxLength": 36}, "name": NAME, "description": DESC,
        "incremental": BOOLISH, "force": BOOLISH, "container": {"type": ["string", "null"], "maxLength": 255},
        "snapshot_id": UUID, "metadata": {"type": ["object", "null"]},
        "availability_zone": {"type": ["string", "null"], "maxLength": 255}}}}}
RESTORE: dict[str, Any] = {
    "type": "object", "required": ["restore"],
    "properties": {"restore": {"type": ["object", "null"], "properties": {"volume_id": UUID, "name": NAME}}}}
UPDATE: dict[str, Any] = {
    "type": "object", "required": ["backup"],
    "properties": {"backup": {"type": "object", "additionalProperties": False, "properties": {
        "name": NAME, "description": DESC,
        "metadata": {"type": ["object", "null"], "additionalProperties": {"type": "string", "maxLength": 255}}}}}}
STATUSES = ("available", "error", "creating", "deleting", "restoring", "error_deleting")


def ops(api: VolumeAPI) -> list[Op]:
    def view(request: Request, b: Backup, detail: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"id": b.id, "name": b.name, "links": api.member_links(request, "backups", b.id)}
        if detail:
            out.update(status=b.status, description=b.description, container=b.container,
                       availability_zone=api.flow.settings.availability_zone, created_at=isotime(b.created_at),
                       updated_at=isotime(b.updated_at), volume_id=b.volume_id, size=b.size,
                       object_count=b.object_count, fail_reason=b.fail_reason, is_incremental=b.is_incremental,
                       has_dependent_backups=api.backups.has_dependents(b.id), snapshot_id=b.snapshot_id,
                       data_timestamp=isotime(b.created_at))
            v = api.version(request)
            if v >= V(3, 18) and api.allowed(request, "backup:backup_project_attribute"):
                out["os-backup-project-attr:project_id"] = b.project_id
            if v >= V(3, 43):
                out["metadata"] = dict(b.metadata_ or {})
            if v >= V(3, 56):
                out["user_id"] = b.user_id
        return out

    async def one(request: Request) -> Target:
        b = await api.run(api.backups.get, api.param(request, "backup_id"), api.caller(request))
        stash(request, b)
        return Target(policy_target(None, project_id=b.project_id))

    async def stored_in(request: Request, b: Backup) -> dict[str, Any] | None:
        return await storage_target(api, request, b)

    async def create(request: Request) -> Response:
        req = body(request)["backup"]
        meta = req.get("metadata") or {}
        if meta and api.version(request) < V(3, 43):
            raise errors.BadRequest("Invalid input received: backup metadata needs microversion 3.43 or later.")
        if not all(isinstance(k, str) and isinstance(v, str) and len(k) <= 255 and len(v) <= 255
                   for k, v in meta.items()):
            raise errors.BadRequest("Invalid input received: metadata keys and values must be strings of up to "
                                    "255 characters.")
        zone = req.get("availability_zone")
        if zone and api.version(request) >= V(3, 51):
            # 3.51: a backup kept in another zone; backups are kept by the volume's own agent here,
            # so only a zone of a backend that reports itself is accepted
            zones = await api.run(lambda: {r.availability_zone for r in api.volumes.services()})
            if zone not in zones:
                raise errors.BadRequest(f"Invalid input received: no backup service in availability zone "
                                        f"{zone[:64]}.")
        b, vol, back_to = await api.run(api.backups.create, api.caller(request), req["volume_id"],
                                        {"name": req.get("name"), "description": req.get("description"),
                                         "metadata": meta},
                                        boolish(req.get("incremental", False), "incremental"),
                                        boolish(req.get("force", False), "force"), req.get("snapshot_id"))
        api.notifier.emit("backup.create.start", {"backup_id": b.id, "volume_id": vol.id})
        target = await api.flow.backup_target(b.project_id, req.get("container"), api.token(request))
        if target is not None:
            await api.run(api.backups.set_container, b.id, target["container"])
        await api.flow.create_backup(b.id, vol, b.parent_id, back_to, target, b.snapshot_id)
        return JSON({"backup": view(request, b, detail=False)}, status_code=202)

    def lister(detail: bool) -> Any:
        async def handler(request: Request) -> Response:
            params = check_filters(api, request, "backup", dict(request.query_params))
            if api.version(request) < V(3, 37) and "name" in params.get("sort", params.get("sort_key", "")):
                raise errors.BadRequest("Invalid input received: sorting backups by name needs microversion 3.37.")
            count = None
            if api.version(request) >= V(3, 45) and truthy(params.get("with_count")):
                unpaged = {k: v for k, v in params.items() if k not in ("limit", "marker")}
                count = len(await api.run(api.backups.listed, api.caller(request), unpaged,
                                          truthy(params.get("all_tenants"))))
            rows = await api.run(api.backups.listed, api.caller(request), params, truthy(params.get("all_tenants")))
            if detail:
                items = await api.run(lambda: [view(request, b) for b in rows])
            else:
                items = [view(request, b, False) for b in rows]
            out: dict[str, Any] = {"backups": items}
            if count is not None:
                out["count"] = count
            return JSON(out)
        return handler

    async def show(request: Request) -> Response:
        b = loaded(request)
        return JSON({"backup": await api.run(view, request, b)})

    async def delete(request: Request) -> Response:
        force = truthy(request.query_params.get("force"))
        if force:
            api.enforcer.authorize("backup:force_delete", {"project_id": loaded(request).project_id,
                                                            "target": {"project_id": loaded(request).project_id}},
                                   _creds(request))
        target = await stored_in(request, loaded(request))
        b = await api.run(api.backups.start_delete, loaded(request).id, api.caller(request), force)
        if b.host:
            await api.flow.delete_backup(b.id, b.host, target)
        else:
            await api.run(api.backups.finish, b.id, "deleted", {})
        return Response(status_code=202)

    async def restore(request: Request) -> Response:
        req = body(request)["restore"] or {}
        b: Backup = loaded(request)
        caller = api.caller(request)
        if b.status != "available":
            raise errors.BadRequest(f"Invalid backup: Backup status must be available but is {b.status}.")
        target = await stored_in(request, b)
        target_id = req.get("volume_id")
        if not target_id:
            source = await api.run(lambda: _source_type(api, b))
            vol = await restore_into_new(api, request, b, {
                "size": b.size, "availability_zone": api.flow.settings.availability_zone,
                "name": req.get("name") or f"restore_backup_{b.id}", "description": None}, source)
            return JSON({"restore": {"backup_id": b.id, "volume_id": vol.id, "volume_name": vol.name}},
                        status_code=202)
        b, vol = await api.run(api.backups.start_restore, b.id, caller, target_id)
        await api.flow.restore_backup(b.id, vol, vol.size, target)
        return JSON({"restore": {"backup_id": b.id, "volume_id": vol.id, "volume_name": vol.name}},
                    status_code=202)

    async def update(request: Request) -> Response:
        require(api, request, V(3, 9))
        req = body(request)["backup"]
        changes = {k: req[k] for k in ("name", "description") if k in req}
        if "metadata" in req:
            if api.version(request) < V(3, 43):
                raise errors.BadRequest("Invalid input received: backup metadata needs microversion 3.43 or later.")
            changes["metadata_"] = dict(req["metadata"] or {})
        b = await api.run(api.backups.update, loaded(request).id, api.caller(request), changes)
        return JSON({"backup": view(request, b, detail=False)})

    async def action_target(request: Request) -> Target:
        tgt = await one(request)
        data = body(request)
        name = next(iter(data))
        if name != "os-reset_status":
            raise errors.BadRequest(f"There is no such action: {name[:64]}")
        validate({"type": "object", "required": ["status"], "properties": {"status": {"enum": list(STATUSES)}}},
                 data[name])
        return Target(tgt.values, rule="volume_extension:backup_admin_actions:reset_status")

    async def action(request: Request) -> Response:
        await api.run(api.backups.reset_status, loaded(request).id, body(request)["os-reset_status"]["status"])
        return Response(status_code=202)

    q = ("all_tenants", "volume_id", "status", "name")
    return [
        Op("POST", P, create, "Create a backup", body=CREATE, status=202, rule="backup:create", target=api.own(),
           tag="backups", errors=(400, 401, 403, 404, 413, 503)),
        Op("GET", P, lister(False), "List backups", rule="backup:get_all", target=api.own(), query=q, tag="backups"),
        Op("GET", f"{P}/detail", lister(True), "List backups with details", rule="backup:get_all",
           target=api.own(), query=q, tag="backups"),
        Op("GET", f"{P}/{{backup_id}}", show, "Show a backup", rule="backup:get", target=one, tag="backups"),
        Op("PUT", f"{P}/{{backup_id}}", update, "Update a backup's name or description (3.9)", body=UPDATE,
           rule="backup:update", target=one, tag="backups"),
        Op("DELETE", f"{P}/{{backup_id}}", delete, "Delete a backup", status=202, rule="backup:delete", target=one,
           query=("force",), tag="backups"),
        Op("POST", f"{P}/{{backup_id}}/restore", restore, "Restore a backup", body=RESTORE, status=202,
           rule="backup:restore", target=one, tag="backups", errors=(400, 401, 403, 404, 413, 503)),
        Op("POST", f"{P}/{{backup_id}}/action", action, "Reset a backup's status", body={"type": "object",
           "minProperties": 1, "maxProperties": 1}, status=202, rule="backup:get",
           alt_rules=["volume_extension:backup_admin_actions:reset_status"], target=action_target, tag="backups"),
    ]


async def storage_target(api: VolumeAPI, request: Request, b: Backup) -> dict[str, Any] | None:
    """What the agent needs to find a backup's data: the object-storage container (in the account
    of the project that made it) and, for an imported record, the original's key (None: this
    backup's own data in the host's directory store)."""
    meta = b.service_metadata or {}
    target: dict[str, Any] | None = None
    if b.container is not None:
        target = await api.flow.backup_target(meta.get("account") or b.project_id, b.container, api.token(request))
        if target is None:
            raise errors.ServiceUnavailable(f"Backup {b.id} is in object storage, which is not in the catalog.")
    if meta.get("key"):
        target = {**(target or {}), "key": meta["key"]}
    return target


async def restore_into_new(api: VolumeAPI, request: Request, b: Backup, fields: dict[str, Any], vtype: Any
                           ) -> Volume:
    """A new volume (``fields``: size, name, ...) on the backup's host, filled from the backup: the
    restore into a new volume, and a volume created with ``backup_id`` (3.47)."""
    caller = api.caller(request)
    if b.status != "available":
        raise errors.BadRequest(f"Invalid backup: Backup status must be available but is {b.status}.")
    target = await storage_target(api, request, b)
    names = await api.run(api.types.names)
    vol: Volume = await api.run(api.volumes.create, caller, fields, vtype, names,
                                api.flow.settings.service_down_time, b.host)
    b, vol = await api.run(api.backups.start_restore, b.id, caller, vol.id)
    await api.flow.restore_backup(b.id, vol, vol.size, target)
    return vol


def _source_type(api: VolumeAPI, b: Backup) -> Any:
    """The type of the backed-up volume when it still exists, else the default type."""
    try:
        vol = api.volumes.get(b.volume_id, ADMIN)
        return api.types.get(vol.volume_type_id, ADMIN)
    except errors.NotFound:
        return api.types.default()


def _creds(request: Request) -> dict[str, Any]:
    from litestack.common.api.policy import policy_creds

    return policy_creds(request)
