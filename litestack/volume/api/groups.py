"""``/v3/{project_id}/groups`` (3.13) and ``/v3/{project_id}/group_snapshots`` (3.14): generic
volume groups (create, from a group snapshot or a source group, list, show, update with volumes
added and removed, delete with ``delete-volumes``, reset status, the replication actions) and
group snapshots (create, list, show, delete, reset status)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, validate
from litestack.common.api.pagination import next_link
from litestack.common.api.policy import Target, body, loaded, stash
from litestack.common.api.resource import truthy
from litestack.volume.api.actions import boolish
from litestack.volume.api.base import V, VolumeAPI, isotime, require
from litestack.volume.manager import Caller
from litestack.volume.manager.groups import GROUP_SNAPSHOT_STATUSES, GROUP_STATUSES, InvalidGroup
from litestack.volume.models import Group, GroupSnapshot, VolumeType

P = "/v3/{project_id}/groups"
S = "/v3/{project_id}/group_snapshots"
ADMIN = Caller(None, is_admin=True)
_NAME: dict[str, Any] = {"type": ["string", "null"], "maxLength": 255}
_UUID: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 36}
_BOOL: dict[str, Any] = {"type": ["boolean", "string"], "maxLength": 5}
CREATE: dict[str, Any] = {
    "type": "object", "required": ["group"], "additionalProperties": False,
    "properties": {"group": {"type": "object", "required": ["group_type", "volume_types"],
                             "additionalProperties": False, "properties": {
        "name": _NAME, "description": _NAME, "group_type": {"type": "string", "minLength": 1, "maxLength": 255},
        "volume_types": {"type": "array", "minItems": 1, "uniqueItems": True,
                         "items": {"type": "string", "minLength": 1, "maxLength": 255}},
        "availability_zone": _NAME}}}}
FROM_SOURCE: dict[str, Any] = {
    "type": "object", "required": ["create-from-src"], "additionalProperties": False,
    "properties": {"create-from-src": {"type": "object", "additionalProperties": False, "properties": {
        "name": _NAME, "description": _NAME, "group_snapshot_id": {**_UUID, "type": ["string", "null"]},
        "source_group_id": {**_UUID, "type": ["string", "null"]}}}}}
UPDATE: dict[str, Any] = {
    "type": "object", "required": ["group"], "additionalProperties": False,
    "properties": {"group": {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": {
        "name": _NAME, "description": _NAME, "add_volumes": _NAME, "remove_volumes": _NAME}}}}
SNAPSHOT_CREATE: dict[str, Any] = {
    "type": "object", "required": ["group_snapshot"], "additionalProperties": False,
    "properties": {"group_snapshot": {"type": "object", "required": ["group_id"], "additionalProperties": False,
                                      "properties": {"group_id": _UUID, "name": _NAME, "description": _NAME}}}}
ACTION: dict[str, Any] = {"type": "object", "minProperties": 1, "maxProperties": 1}
_EMPTY: dict[str, Any] = {"type": ["object", "null"]}
GROUP_ACTIONS: dict[str, tuple[str, Any, dict[str, Any]]] = {
    # action: (rule, minimum microversion, body schema)
    "delete": ("group:delete", V(3, 13), {"type": "object", "additionalProperties": False,
                                          "properties": {"delete-volumes": _BOOL}}),
    "reset_status": ("group:reset_status", V(3, 20), {
        "type": "object", "required": ["status"], "additionalProperties": False,
        "properties": {"status": {"type": "string", "maxLength": 32}}}),
    "enable_replication": ("group:enable_replication", V(3, 38), _EMPTY),
    "disable_replication": ("group:disable_replication", V(3, 38), _EMPTY),
    "failover_replication": ("group:failover_replication", V(3, 38), {
        "type": ["object", "null"], "additionalProperties": False, "properties": {
            "allow_attached_volume": _BOOL, "secondary_backend_id": {"type": ["string", "null"], "maxLength": 255}}}),
    "list_replication_targets": ("group:list_replication_targets", V(3, 38), _EMPTY),
}


def _ids(raw: str | None) -> list[str]:
    return [x.strip() for x in (raw or "").strip(",").split(",") if x.strip()]


def _status(raw: str, allowed: tuple[str, ...], what: str) -> str:
    status = raw.lower()
    if status not in allowed:
        raise errors.BadRequest(f"Invalid input received: {what} status {raw[:32]!r} is not one of "
                                f"{', '.join(allowed)}.")
    return status


def ops(api: VolumeAPI) -> list[Op]:
    # --- views ----------------------------------------------------------------------------------

    def group_view(request: Request, g: Group, volumes: list[str] | None = None) -> dict[str, Any]:
        v = api.version(request)
        out: dict[str, Any] = {"id": g.id, "status": g.status, "availability_zone": g.availability_zone,
                               "created_at": isotime(g.created_at), "name": g.name, "description": g.description,
                               "group_type": g.group_type_id, "volume_types": list(g.volume_type_ids or [])}
        if v >= V(3, 14):
            out["group_snapshot_id"] = g.group_snapshot_id
            out["source_group_id"] = g.source_group_id
        if v >= V(3, 25) and volumes is not None:
            out["volumes"] = volumes
        if v >= V(3, 38):
            out["replication_status"] = g.replication_status
        if v >= V(3, 58) and api.allowed(request, "group:group_project_attribute"):
            out["project_id"] = g.project_id
        return out

    def snapshot_view(request: Request, gs: GroupSnapshot) -> dict[str, Any]:
        out: dict[str, Any] = {"id": gs.id, "group_id": gs.group_id, "group_type_id": gs.group_type_id,
                               "status": gs.status, "created_at": isotime(gs.created_at), "name": gs.name,
                               "description": gs.description}
        if api.version(request) >= V(3, 58) and api.allowed(request, "group:group_snapshot_project_attribute"):
            out["project_id"] = gs.project_id
        return out

    def list_volume(request: Request) -> bool:
        return api.version(request) >= V(3, 25) and truthy(request.query_params.get("list_volume"))

    def page(request: Request, key: str, rows: list[Any], items: list[dict[str, Any]], more: bool,
             params: dict[str, str]) -> Response:
        out: dict[str, Any] = {key: items}
        if rows and (more or params.get("limit") == str(len(rows))):
            out[f"{key[:-1]}_links"] = [{"href": next_link(api.self_url(request), params, rows[-1].id) or "",
                                         "rel": "next"}]
        return JSON(out)

    # --- targets ----------------------------------------------------------------------------------

    async def own(request: Request) -> Target:
        require(api, request, V(3, 13))
        return await api.own()(request)

    async def own_snapshots(request: Request) -> Target:
        require(api, request, V(3, 14))
        return await api.own()(request)

    async def group_target(request: Request) -> Target:
        require(api, request, V(3, 13))
        g = await api.run(api.groups.get, api.param(request, "group_id"), api.caller(request))
        stash(request, g)
        return Target({"project_id": g.project_id, "target": {"project_id": g.project_id}})

    async def group_action_target(request: Request) -> Target:
        require(api, request, V(3, 13))
        data = body(request)
        name = next(iter(data))
        if name not in GROUP_ACTIONS:
            raise errors.BadRequest(f"There is no such action: {name[:64]}")
        rule, minimum, shape = GROUP_ACTIONS[name]
        require(api, request, minimum)
        validate(shape, data[name])
        tgt = await group_target(request)
        return Target(tgt.values, rule=rule)

    async def snapshot_target(request: Request) -> Target:
        require(api, request, V(3, 14))
        gs = await api.run(api.groups.snapshot, api.param(request, "group_snapshot_id"), api.caller(request))
        stash(request, gs)
        return Target({"project_id": gs.project_id, "target": {"project_id": gs.project_id}})

    async def snapshot_action_target(request: Request) -> Target:
        data = body(request)
        name = next(iter(data))
        if name != "reset_status":
            raise errors.BadRequest(f"There is no such action: {name[:64]}")
        require(api, request, V(3, 19))
        validate({"type": "object", "required": ["status"], "additionalProperties": False,
                  "properties": {"status": {"type": "string", "maxLength": 32}}}, data[name])
        return await snapshot_target(request)

    # --- groups -----------------------------------------------------------------------------------

    async def vtypes_of(refs: list[str], caller: Caller) -> list[VolumeType]:
        out: list[VolumeType] = []
        for ref in refs:
            try:
                out.append(await api.run(api.types.get, ref, caller))
            except errors.NotFound:
                raise errors.NotFound(f"Volume type {ref[:64]} could not be found.") from None
        return out

    async def create(request: Request) -> Response:
        req = body(request)["group"]
        caller = api.caller(request)
        gtype = await api.run(api.groups.get_type, req["group_type"], caller)
        vtypes = await vtypes_of(list(req["volume_types"]), caller)
        zone = req.get("availability_zone") or api.flow.settings.availability_zone
        zones = await api.run(lambda: {s.availability_zone for s in api.volumes.services()})
        if zone not in zones | {api.flow.settings.availability_zone}:
            raise errors.BadRequest(f"Invalid input received: Availability zone '{zone[:64]}' is invalid.")
        name = (req.get("name") or "").strip() or req.get("name")
        g = await api.run(api.groups.create, caller, name, (req.get("description") or None), gtype, vtypes, zone,
                          api.flow.settings.service_down_time)
        api.notifier.emit("group.create.end" if g.status == "available" else "group.create.error",
                          {"group_id": g.id, "status": g.status})
        return JSON({"group": {"id": g.id, "name": g.name}}, status_code=202)

    async def create_from_src(request: Request) -> Response:
        require(api, request, V(3, 14))
        req = body(request)["create-from-src"]
        if bool(req.get("group_snapshot_id")) == bool(req.get("source_group_id")):
            # openstacksdk sends the other one as null: only one may have a value
            raise errors.BadRequest("Invalid input received: exactly one of group_snapshot_id and source_group_id "
                                    "must be given.")
        caller = api.caller(request)
        snap: GroupSnapshot | None = None
        if req.get("group_snapshot_id"):
            snap = await api.run(api.groups.snapshot, req["group_snapshot_id"], caller)
            if snap.status != "available":
                raise InvalidGroup(f"Invalid group snapshot: GroupSnapshot {snap.id} status must be available, but "
                                   f"current status is: {snap.status}.")
            source = await api.run(api.groups.get, snap.group_id, ADMIN)
            members = await api.run(api.groups.snapshot_members, snap.id)
            if not members:
                raise InvalidGroup("Invalid group: Group snapshot is empty. No group will be created.")
        else:
            source = await api.run(api.groups.get, req["source_group_id"], caller)
            if source.status != "available":
                raise InvalidGroup(f"Invalid group: Source group {source.id} status must be available, but current "
                                   f"status is: {source.status}.")
            vols = await api.run(api.groups.members, source.id)
            if not vols:
                raise InvalidGroup("Invalid group: Source Group is empty. No group will be created.")
            bad = [v.id for v in vols if v.status not in ("available", "in-use")]
            if bad:
                raise InvalidGroup(f"Invalid volume: Source volume {bad[0]} status must be available or in-use.")
        g = await api.run(api.groups.create_from, caller, req.get("name"), req.get("description"), source, snap)
        api.notifier.emit("group.create.start", {"group_id": g.id})
        try:
            if snap is not None:
                for member in await api.run(api.groups.snapshot_members, snap.id):
                    parent = await api.run(api.volumes.get, member.volume_id, ADMIN)
                    await make_volume(caller, g, parent.volume_type_id, member.size, parent.bootable,
                                      dict(parent.image_metadata or {}), {"snapshot_id": member.id},
                                      {"kind": "snapshot", "id": member.id, "host": parent.host})
            else:
                for vol in await api.run(api.groups.members, source.id):
                    await make_volume(caller, g, vol.volume_type_id, vol.size, vol.bootable,
                                      dict(vol.image_metadata or {}), {"source_volid": vol.id},
                                      {"kind": "volume", "id": vol.id, "host": vol.host})
        except errors.LitestackError as exc:
            await api.run(api.groups.fail_creating, g.id, exc.message)
            raise
        await api.run(api.groups.settle_group, g.id)
        return JSON({"group": {"id": g.id, "name": g.name}}, status_code=202)

    async def make_volume(caller: Caller, g: Group, type_id: str, size: int, bootable: bool,
                          image_metadata: dict[str, str], origin: dict[str, str], source: dict[str, Any]) -> None:
        vtype = await api.run(api.types.get, type_id, ADMIN)
        fields: dict[str, Any] = {"name": None, "description": None, "metadata_": {}, "multiattach": False,
                                  "size": size, "availability_zone": g.availability_zone, "bootable": bootable,
                                  "image_metadata": image_metadata, "group_id": g.id, **origin}
        await api.flow.create_volume(caller, fields, vtype, source)

    def lister(detail: bool) -> Any:
        async def handler(request: Request) -> Response:
            params = dict(request.query_params)
            params.pop("list_volume", None)
            rows, more = await api.run(api.groups.list_groups, api.caller(request), params,
                                       truthy(params.get("all_tenants")))
            if not detail:
                return page(request, "groups", rows, [{"id": g.id, "name": g.name} for g in rows], more, params)
            vols = await api.run(api.groups.volume_ids, [g.id for g in rows]) if list_volume(request) else None
            items = [group_view(request, g, vols[g.id] if vols is not None else None) for g in rows]
            return page(request, "groups", rows, items, more, params)
        return handler

    async def show(request: Request) -> Response:
        g: Group = loaded(request)
        vols = (await api.run(api.groups.volume_ids, [g.id]))[g.id] if list_volume(request) else None
        return JSON({"group": group_view(request, g, vols)})

    async def update(request: Request) -> Response:
        req = body(request)["group"]
        name = req.get("name")
        description = req.get("description")
        g = await api.run(api.groups.update, loaded(request).id, api.caller(request),
                          name.strip() if name else name, description.strip() if description else description,
                          _ids(req.get("add_volumes")), _ids(req.get("remove_volumes")))
        api.notifier.emit("group.update.end", {"group_id": g.id})
        return Response(status_code=202)

    async def action(request: Request) -> Response:
        data = body(request)
        name = next(iter(data))
        arg = data[name] or {}
        g: Group = loaded(request)
        if name == "delete":
            delete_volumes = boolish(arg.get("delete-volumes", False), "delete-volumes")
            left, vols = await api.run(api.groups.start_delete, g.id, api.caller(request), delete_volumes)
            api.notifier.emit("group.delete.start", {"group_id": g.id})
            for vol in vols:
                await api.flow.delete_volume(vol)
            if left is None:
                api.notifier.emit("group.delete.end", {"group_id": g.id})
            return Response(status_code=202)
        if name == "reset_status":
            status = _status(arg["status"], GROUP_STATUSES, "group")
            await api.run(api.groups.reset_status, g.id, status)
            api.notifier.emit("group.reset_status.end", {"group_id": g.id, "status": status})
            return Response(status_code=202)
        # replication: Cinder's checks of the group type, then the backends' answer
        gtype = await api.run(api.groups.get_type, g.group_type_id, ADMIN)
        vtypes = [await api.run(api.types.get, t, ADMIN) for t in g.volume_type_ids or []]
        api.groups.check_replication(g, gtype, vtypes)
        if name == "list_replication_targets":
            return JSON({"replication_targets": []})
        raise InvalidGroup(f"Invalid group: Group {g.id} cannot be replicated: its backend "
                           f"{(g.host or 'none').partition('#')[0]} does not support replication.")

    # --- group snapshots ---------------------------------------------------------------------------

    async def snapshot_create(request: Request) -> Response:
        req = body(request)["group_snapshot"]
        caller = api.caller(request)
        names = await api.run(api.types.names)
        gs, made = await api.run(api.groups.create_snapshot, caller, req["group_id"], req.get("name"),
                                 req.get("description"), names)
        api.notifier.emit("group_snapshot.create.start", {"group_snapshot_id": gs.id, "group_id": gs.group_id})
        for snap, vol in made:
            await api.flow.create_snapshot(snap, vol)
        return JSON({"group_snapshot": {"id": gs.id, "name": gs.name, "group_type_id": gs.group_type_id}},
                    status_code=202)

    def snapshot_lister(detail: bool) -> Any:
        async def handler(request: Request) -> Response:
            params = dict(request.query_params)
            rows, more = await api.run(api.groups.list_snapshots, api.caller(request), params,
                                       truthy(params.get("all_tenants")))
            items = [snapshot_view(request, x) if detail else {"id": x.id, "name": x.name} for x in rows]
            return page(request, "group_snapshots", rows, items, more, params)
        return handler

    async def snapshot_show(request: Request) -> Response:
        return JSON({"group_snapshot": snapshot_view(request, loaded(request))})

    async def snapshot_delete(request: Request) -> Response:
        gs: GroupSnapshot = loaded(request)
        _, snaps = await api.run(api.groups.start_delete_snapshot, gs.id, api.caller(request))
        api.notifier.emit("group_snapshot.delete.start", {"group_snapshot_id": gs.id})
        for snap in snaps:
            await api.flow.delete_snapshot(snap)
        return Response(status_code=202)

    async def snapshot_action(request: Request) -> Response:
        status = _status(body(request)["reset_status"]["status"], GROUP_SNAPSHOT_STATUSES, "group snapshot")
        await api.run(api.groups.reset_snapshot_status, loaded(request).id, status)
        return Response(status_code=202)

    q = ("all_tenants", "limit", "marker", "offset", "sort", "sort_key", "sort_dir", "name", "status",
         "list_volume", "project_id", "availability_zone", "group_type_id")
    sq = ("all_tenants", "limit", "marker", "offset", "sort", "sort_key", "sort_dir", "name", "status",
          "group_id", "project_id")
    one = f"{P}/{{group_id}}"
    sone = f"{S}/{{group_snapshot_id}}"
    return [
        Op("POST", P, create, "Create a group", body=CREATE, status=202, rule="group:create", target=own,
           tag="groups", errors=(400, 401, 403, 404, 413)),
        Op("POST", f"{P}/action", create_from_src, "Create a group from a group snapshot or a source group",
           body=FROM_SOURCE, status=202, rule="group:create", target=own, tag="groups",
           errors=(400, 401, 403, 404, 413)),
        Op("GET", P, lister(False), "List groups", rule="group:get_all", target=own, query=q, tag="groups"),
        Op("GET", f"{P}/detail", lister(True), "List groups with details", rule="group:get_all", target=own,
           query=q, tag="groups"),
        Op("GET", one, show, "Show a group", rule="group:get", target=group_target, query=("list_volume",),
           tag="groups"),
        Op("PUT", one, update, "Update a group (name, description, add or remove volumes)", body=UPDATE,
           status=202, rule="group:update", target=group_target, tag="groups"),
        Op("POST", f"{one}/action", action, "Run a group action (delete, reset_status, replication)", body=ACTION,
           status=202, rule="group:get", alt_rules=sorted({r for r, _, _ in GROUP_ACTIONS.values()}),
           target=group_action_target, tag="groups"),
        Op("POST", S, snapshot_create, "Create a group snapshot", body=SNAPSHOT_CREATE, status=202,
           rule="group:create_group_snapshot", target=own_snapshots, tag="group-snapshots",
           errors=(400, 401, 403, 404, 413)),
        Op("GET", S, snapshot_lister(False), "List group snapshots", rule="group:get_all_group_snapshots",
           target=own_snapshots, query=sq, tag="group-snapshots"),
        Op("GET", f"{S}/detail", snapshot_lister(True), "List group snapshots with details",
           rule="group:get_all_group_snapshots", target=own_snapshots, query=sq, tag="group-snapshots"),
        Op("GET", sone, snapshot_show, "Show a group snapshot", rule="group:get_group_snapshot",
           target=snapshot_target, tag="group-snapshots"),
        Op("DELETE", sone, snapshot_delete, "Delete a group snapshot (and its snapshots)", status=202,
           rule="group:delete_group_snapshot", target=snapshot_target, tag="group-snapshots"),
        Op("POST", f"{sone}/action", snapshot_action, "Reset a group snapshot's status", body=ACTION, status=202,
           rule="group:reset_group_snapshot_status", target=snapshot_action_target, tag="group-snapshots"),
    ]


async def place_in_group(api: VolumeAPI, request: Request, group_id: str, type_given: bool, vtype: VolumeType,
                         fields: dict[str, Any], source: dict[str, Any]) -> None:
    """A volume created with ``group_id`` (3.13): the group must be available and list the volume's
    type (which must be named); the volume goes to the group's backend."""
    if api.version(request) < V(3, 13):
        return
    g = await api.run(api.groups.get, group_id, api.caller(request))
    if not type_given:
        raise errors.BadRequest("Invalid input received: volume_type must be provided when creating a volume in a "
                                "group.")
    if vtype.id not in (g.volume_type_ids or []):
        raise errors.BadRequest(f"Invalid input received: Invalid volume_type provided: {vtype.name} (requested "
                                "type must be supported by this group).")
    if g.status != "available" or not g.host:
        raise InvalidGroup(f"Invalid group: Group {g.id} status must be available, but current status is: "
                           f"{g.status}.")
    if source.get("host") and source["host"].partition("#")[0] != g.host.partition("#")[0]:
        raise InvalidGroup("Invalid volume: Volume is not local to this node.")
    source.setdefault("host", g.host)
    fields["group_id"] = g.id
