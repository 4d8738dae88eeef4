"""Moving servers and their disks: resize (confirm, revert), cold and live migration, evacuate,
snapshots (createImage, createBackup), shelve (offload, unshelve) and rescue; the migrations
records (``os-migrations``, ``/servers/{id}/migrations``).

Each action checks Nova's allowed states and its own rule, sets the task state, records the
instance action and hands the work to the conductor (which schedules the destination and claims
it in placement) or to the agent of the server's host. See ``docs/compute.md``, "Moves".
"""

from __future__ import annotations

import dataclasses
import secrets
import zlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op
from litestack.common.api.microversion import Version
from litestack.common.api.middleware import context_of
from litestack.common.api.policy import loaded
from litestack.compute import states
from litestack.compute.api.actions import Action, Handler, conflict, record, start_task
from litestack.compute.api.base import ComputeAPI, iso_us, microversion
from litestack.compute.api.boot_volumes import snapshot_volumes
from litestack.compute.manager.instances import parse_time
from litestack.compute.manager.migrations import MigrationNotFound
from litestack.compute.manager.quotas import OverQuota

V = Version
_NULLABLE = {"type": ["object", "null"]}
_META = {"type": "object", "maxProperties": 128, "additionalProperties": {"type": "string", "maxLength": 255},
         "propertyNames": {"minLength": 1, "maxLength": 255}}
_NAME = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^(?!\s)[\s\S]*(?<!\s)$"}
_HOST = {"type": ["string", "null"], "minLength": 1, "maxLength": 255}
_FLAVOR_REF = {"type": ["string", "integer"], "minLength": 1}

MIGRATE_LIVE = "os_compute_api:os-migrate-server:migrate_live"


def flavor_snapshot(flavor: Any) -> dict[str, Any]:
    """The copy of a flavor an instance keeps (as the boot does)."""
    return {"id": flavor.id, "name": flavor.name, "vcpus": flavor.vcpus, "ram": flavor.memory_mb,
            "disk": flavor.root_gb, "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral_gb, "swap": flavor.swap,
            "extra_specs": {e.key: e.value for e in flavor.extra_specs}}


def flavor_number(flavor: dict[str, Any]) -> int | None:
    """Nova's integer ``old_instance_type_id``/``new_instance_type_id``: ours are the flavor id when
    it is a number, else a stable 31-bit number derived from it."""
    ident = str(flavor.get("id", ""))
    if not ident:
        return None
    return int(ident) if ident.isdigit() and len(ident) < 10 else zlib.crc32(ident.encode()) & 0x7FFFFFFF


def actions(api: ComputeAPI) -> dict[str, Action]:
    """Every move action of ``POST /servers/{id}/action``."""

    def migrations() -> Any:
        return api.p.extra["migrations"]

    def images() -> Any:
        return api.p.extra["images"]

    def rid(request: Request) -> str:
        return context_of(request).request_id

    async def host_exists(host: str) -> None:
        if await api.run(api.p.hosts.by_host, host) is None:
            raise errors.BadRequest(f"Compute host {host} could not be found.")

    async def begin_move(request: Request, inst: Any, action: str, allowed: tuple[str, ...], task: str, kind: str,
                         new_flavor: dict[str, Any], host: str | None = None, force: bool = False) -> None:
        """The task state, the migration record (``dest_compute`` holds the host asked for, if
        any, until the conductor chose), the instance action, the conductor's cast."""
        inst = await start_task(api, request, inst, action, allowed, task)
        try:
            m = await api.run(migrations().create, inst, kind, "accepted" if kind != "resize" and kind != "migration"
                              else "pre-migrating", new_flavor, host)
        except errors.Conflict:
            await api.run(lambda: api.p.instances.save(inst.id, task_state=None))
            raise
        if force:
            await api.run(lambda: migrations().save(m.id, progress={"force": True}))
        if kind in ("evacuation",):
            await api.run(migrations().set_sysmeta, inst.id, {"old_vm_state": inst.vm_state})
        await record(api, request, inst, action)
        await api.p.conductor.move_instance(inst.id, m.id, rid(request))

    # --- resize -------------------------------------------------------------------------

    def upsize_quota(project_id: str, vcpus: int, ram: int) -> None:
        """Nova's upsize check: the growth in cores and RAM must fit the project's quota."""
        q = api.p.quotas
        with q.db.reader() as s:
            limits, used = q.limits(s, project_id), q.usage(s, project_id)
        asked = {"cores": vcpus, "ram": ram}
        over = [r for r, n in asked.items() if n > 0 and limits[r] >= 0 and used[r] + n > limits[r]]
        if over:
            names = ", ".join(over)
            raise OverQuota(f"Quota exceeded for {names}: Requested {', '.join(str(asked[r]) for r in over)}, "
                            f"but already used {', '.join(str(used[r]) for r in over)} of "
                            f"{', '.join(str(limits[r]) for r in over)} {names}")

    async def resize(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        c = context_of(request)
        flavor_id = str(args["flavorRef"]).rstrip("/").rsplit("/", 1)[-1]
        try:
            flavor = await api.run(api.p.flavors.get, flavor_id, c.project_id, api.is_admin(request))
        except errors.NotFound:
            raise errors.BadRequest(f"Flavor {flavor_id} could not be found.") from None
        if flavor.id == inst.flavor_id:
            raise errors.BadRequest("When resizing, instances must change flavor!")
        if flavor.disabled:
            raise errors.BadRequest(f"Flavor {flavor_id} is disabled.")
        if flavor.root_gb == 0 and int(inst.flavor.get("disk", 0)) != 0:
            raise errors.BadRequest("Resize to zero disk flavor is not allowed.")
        if flavor.root_gb < int(inst.flavor.get("disk", 0)):
            raise errors.BadRequest("Resize error: Unable to resize disk down.")
        await api.run(upsize_quota, inst.project_id, flavor.vcpus - int(inst.flavor["vcpus"]),
                      flavor.memory_mb - int(inst.flavor["ram"]))
        await begin_move(request, inst, "resize", (states.ACTIVE, states.STOPPED), states.RESIZE_PREP, "resize",
                         flavor_snapshot(flavor))
        return Response(status_code=202)

    async def resized_migration(inst: Any, action: str) -> Any:
        m = await api.run(migrations().in_progress, inst.id)
        if inst.vm_state != states.RESIZED or m is None or m.status != "finished":
            if inst.vm_state == states.RESIZED and inst.task_state is not None:
                raise conflict(inst, action)
            raise errors.BadRequest(f"Instance {inst.id} has not been resized.") if m is None \
                else conflict(inst, action)
        return m

    async def confirm_resize(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        m = await resized_migration(inst, "confirmResize")
        try:
            await api.run(lambda: migrations().save(m.id, expected_status=["finished"], status="confirming"))
        except errors.Conflict:
            raise conflict(inst, "confirmResize") from None
        await record(api, request, inst, "confirmResize")
        await api.p.agents.cast(m.source_compute, "confirm_resize", instance_id=inst.id, migration_id=m.id,
                                request_id=rid(request))
        return Response(status_code=204)

    async def revert_resize(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        m = await resized_migration(inst, "revertResize")
        inst = await start_task(api, request, inst, "revertResize", (states.RESIZED,), states.RESIZE_REVERTING)
        await api.run(lambda: migrations().save(m.id, status="reverting"))
        await record(api, request, inst, "revertResize")
        await api.p.agents.cast(inst.host, "revert_resize", instance_id=inst.id, migration_id=m.id,
                                request_id=rid(request))
        return Response(status_code=202)

    # --- migrations -----------------------------------------------------------------------

    async def migrate(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        host = args.get("host")
        if host is not None:
            if microversion(request) < V(2, 56):
                raise errors.BadRequest("Invalid input for field/attribute migrate. Additional properties are not "
                                        "allowed ('host' was unexpected)")
            await host_exists(host)
            if host == inst.host:
                raise errors.BadRequest(f"Unable to migrate instance ({inst.id}) to current host ({host}).")
        await begin_move(request, inst, "migrate", (states.ACTIVE, states.STOPPED), states.RESIZE_PREP, "migration",
                         dict(inst.flavor), host)
        return Response(status_code=202)

    async def migrate_live(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        version = microversion(request)
        block = args.get("block_migration")
        if version < V(2, 25):
            for key in ("block_migration", "disk_over_commit"):
                if key not in args:
                    raise errors.BadRequest(f"Invalid input for field/attribute os-migrateLive. '{key}' is a "
                                            "required property")
                if not isinstance(args[key], bool) and str(args[key]).lower() not in ("true", "false"):
                    raise errors.BadRequest(f"Invalid input for field/attribute {key}.")
            if "host" not in args:
                raise errors.BadRequest("Invalid input for field/attribute os-migrateLive. 'host' is a required "
                                        "property")
        else:
            if "disk_over_commit" in args:
                raise errors.BadRequest("Invalid input for field/attribute os-migrateLive. Additional properties "
                                        "are not allowed ('disk_over_commit' was unexpected)")
            if block not in (True, False, "auto") and str(block).lower() not in ("true", "false", "auto"):
                raise errors.BadRequest("Invalid input for field/attribute block_migration.")
        force = bool(args.get("force"))
        if "force" in args and not (V(2, 30) <= version < V(2, 68)):
            raise errors.BadRequest("Invalid input for field/attribute os-migrateLive. Additional properties are "
                                    "not allowed ('force' was unexpected)")
        host = args.get("host")
        if host:
            await host_exists(host)
            if host == inst.host:
                raise errors.BadRequest(f"Unable to migrate instance ({inst.id}) to current host ({host}).")
        elif force:
            raise errors.BadRequest("Can't force to a non-provided destination")
        await begin_move(request, inst, "live-migration", (states.ACTIVE, states.PAUSED), states.MIGRATING,
                         "live-migration", dict(inst.flavor), host or None, force and bool(host))
        return Response(status_code=202)

    async def evacuate(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        version = microversion(request)
        if version < V(2, 14) and "onSharedStorage" not in args:
            raise errors.BadRequest("Invalid input for field/attribute evacuate. 'onSharedStorage' is a required "
                                    "property")
        if version >= V(2, 14) and "onSharedStorage" in args:
            raise errors.BadRequest("Invalid input for field/attribute evacuate. Additional properties are not "
                                    "allowed ('onSharedStorage' was unexpected)")
        if "force" in args and not (V(2, 29) <= version < V(2, 68)):
            raise errors.BadRequest("Invalid input for field/attribute evacuate. Additional properties are not "
                                    "allowed ('force' was unexpected)")
        shared = str(args.get("onSharedStorage", False)).lower() == "true"
        if shared and args.get("adminPass"):
            raise errors.BadRequest("admin password can't be changed on existing disk")
        host = args.get("host")
        if host:
            await host_exists(host)
            if host == inst.host:
                raise errors.BadRequest("The target host can't be the same one.")
        if not inst.host:
            raise conflict(inst, "evacuate")
        svc = await api.run(api.p.hosts.by_host, inst.host)
        if svc is not None and api.p.hosts.is_up(svc):
            raise errors.BadRequest(f"Compute service of {inst.host} is still in use.")
        await begin_move(request, inst, "evacuate", (states.ACTIVE, states.STOPPED, states.ERROR),
                         states.REBUILDING, "evacuation", dict(inst.flavor), host or None,
                         bool(args.get("force")) and bool(host))
        if version >= V(2, 14):
            return Response(status_code=200)  # no adminPass from 2.14 on
        return JSON({"adminPass": args.get("adminPass") or (None if shared else secrets.token_urlsafe(12))})

    # --- snapshots ------------------------------------------------------------------------

    async def snapshot(request: Request, inst: Any, name: str, image_type: str, task: str, action: str,
                       metadata: dict[str, str], backup: tuple[str, int] | None = None) -> dict[str, Any]:
        allowed = (states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED)
        inst = await start_task(api, request, inst, action, allowed, task)
        extra = dict(metadata)
        if backup is not None:
            extra["backup_type"] = backup[0]
        try:
            image = await images().create(context_of(request).auth_token or "", name, inst, image_type, extra)
        except Exception:
            await api.run(lambda: api.p.instances.save(inst.id, task_state=None))
            raise
        await record(api, request, inst, action)
        await api.p.agents.cast(inst.host, "snapshot_instance", instance_id=inst.id, image_id=image["id"],
                                request_id=rid(request), backup_type=backup[0] if backup else None,
                                rotation=backup[1] if backup else None)
        return image

    def image_answer(request: Request, image_id: str) -> Response:
        if microversion(request) >= V(2, 45):
            return JSON({"image_id": image_id}, status_code=202)
        return Response(status_code=202, headers={"Location": f"{api.base(request)}/images/{image_id}"})

    async def create_image(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        if volume_backed(inst):
            return await volume_backed_image(request, inst, args)
        image = await snapshot(request, inst, args["name"], "snapshot", states.IMAGE_SNAPSHOT, "createImage",
                               args.get("metadata") or {})
        return image_answer(request, image["id"])

    async def volume_backed_image(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        """Nova's snapshot of a volume-backed server: a snapshot of each of its volumes in block
        storage, and an image of no data whose ``block_device_mapping`` names them (booting from
        it makes volumes from those snapshots)."""
        if inst.vm_state not in (states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED) or inst.task_state:
            raise conflict(inst, "createImage")
        props = await snapshot_volumes(api, request, inst, args["name"]) or {}
        image = await images().create(context_of(request).auth_token or "", args["name"], inst, "snapshot",
                                      {**(args.get("metadata") or {}), **props})
        await images().upload(image["id"], b"")
        await record(api, request, inst, "createImage")
        return image_answer(request, image["id"])

    async def create_backup(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        if volume_backed(inst):
            raise errors.BadRequest("Backup of a volume-backed server is not supported.")
        rotation = int(args["rotation"])
        if rotation == 0:  # Nova: no image, only the rotation (every backup of that type goes)
            if inst.vm_state not in (states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED):
                raise conflict(inst, "createBackup")
            await images().rotate(inst.id, args["backup_type"], 0)
            await record(api, request, inst, "createBackup")
            return JSON({}, status_code=202) if microversion(request) >= V(2, 45) else Response(status_code=202)
        image = await snapshot(request, inst, args["name"], "backup", states.IMAGE_BACKUP, "createBackup",
                               args.get("metadata") or {}, (args["backup_type"], rotation))
        return image_answer(request, image["id"])

    # --- shelve ---------------------------------------------------------------------------

    async def shelve(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        inst = await start_task(api, request, inst, "shelve",
                                (states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED), states.SHELVING)
        try:
            image = await images().create(context_of(request).auth_token or "", f"{inst.name}-shelved", inst,
                                          "snapshot", {})
        except Exception:
            await api.run(lambda: api.p.instances.save(inst.id, task_state=None))
            raise
        await record(api, request, inst, "shelve")
        await api.p.agents.cast(inst.host, "shelve_instance", instance_id=inst.id, image_id=image["id"],
                                request_id=rid(request))
        return Response(status_code=202)

    async def shelve_offload(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        inst = await start_task(api, request, inst, "shelveOffload", (states.SHELVED,), states.SHELVING_OFFLOADING)
        await record(api, request, inst, "shelveOffload")
        await api.p.agents.cast(inst.host, "shelve_offload_instance", instance_id=inst.id, request_id=rid(request))
        return Response(status_code=202)

    async def unshelve(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        if args:
            raise errors.BadRequest("Invalid input for field/attribute unshelve: a body needs microversion 2.77, "
                                    "which this cloud does not offer")
        inst = await start_task(api, request, inst, "unshelve", (states.SHELVED, states.SHELVED_OFFLOADED),
                                states.UNSHELVING, need_host=False)
        await record(api, request, inst, "unshelve")
        if inst.vm_state == states.SHELVED and inst.host:
            await api.p.agents.cast(inst.host, "unshelve_instance", instance_id=inst.id, request_id=rid(request))
        else:
            await api.p.conductor.unshelve_instance(inst.id, rid(request))
        return Response(status_code=202)

    # --- rescue ---------------------------------------------------------------------------

    async def rescue(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        image_id = inst.image_id
        if args.get("rescue_image_ref"):
            image_id = str(args["rescue_image_ref"]).rstrip("/").rsplit("/", 1)[-1]
            await api.p.image(image_id, context_of(request).auth_token or "")
        password = args.get("adminPass") or secrets.token_urlsafe(12)
        inst = await start_task(api, request, inst, "rescue", (states.ACTIVE, states.STOPPED, states.ERROR),
                                states.RESCUING)
        await record(api, request, inst, "rescue")
        await api.p.agents.cast(inst.host, "rescue_instance", instance_id=inst.id, rescue_image_id=image_id,
                                admin_password=password, request_id=rid(request))
        return JSON({"adminPass": password})

    async def unrescue(request: Request, inst: Any, args: dict[str, Any]) -> Response:
        inst = await start_task(api, request, inst, "unrescue", (states.RESCUED,), states.UNRESCUING)
        await record(api, request, inst, "unrescue")
        await api.p.agents.cast(inst.host, "unrescue_instance", instance_id=inst.id, request_id=rid(request))
        return Response(status_code=202)

    def without_volumes(name: str, handler: Handler) -> Handler:
        """Moving a server's volumes (connections made again on the destination host) is not built
        yet: a server with volumes is refused instead of losing them on the way."""
        async def guarded(request: Request, inst: Any, args: dict[str, Any]) -> Response:
            if getattr(inst, "block_devices", None):
                raise errors.Conflict(f"Cannot '{name}' instance {inst.id}: it has volumes, and moving a "
                                      f"server's volumes is not supported by this cloud yet.")
            return await handler(request, inst, args)
        return guarded


    live_schema = {"type": "object", "properties": {
        "host": _HOST, "block_migration": {"type": ["boolean", "string"]},
        "disk_over_commit": {"type": ["boolean", "string"]}, "force": {"type": ["boolean", "string"]}},
        "additionalProperties": False}
    table = {
        "resize": Action("os_compute_api:servers:resize", {
            "type": "object", "required": ["flavorRef"], "additionalProperties": False, "properties": {
                "flavorRef": _FLAVOR_REF, "OS-DCF:diskConfig": {"enum": ["AUTO", "MANUAL"]}}}, resize),
        "confirmResize": Action("os_compute_api:servers:confirm_resize", _NULLABLE, confirm_resize),
        "revertResize": Action("os_compute_api:servers:revert_resize", _NULLABLE, revert_resize),
        "migrate": Action("os_compute_api:os-migrate-server:migrate", {
            "type": ["object", "null"], "additionalProperties": False, "properties": {"host": _HOST}}, migrate),
        "os-migrateLive": Action(MIGRATE_LIVE, live_schema, migrate_live),
        "evacuate": Action("os_compute_api:os-evacuate", {
            "type": "object", "additionalProperties": False, "properties": {
                "host": {"type": "string", "minLength": 1, "maxLength": 255},
                "onSharedStorage": {"type": ["boolean", "string"]}, "adminPass": {"type": "string"},
                "force": {"type": ["boolean", "string"]}}}, evacuate),
        "createImage": Action("os_compute_api:servers:create_image", {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": _NAME, "metadata": _META}}, create_image),
        "createBackup": Action("os_compute_api:os-create-backup", {
            "type": "object", "required": ["name", "backup_type", "rotation"], "additionalProperties": False,
            "properties": {"name": _NAME, "backup_type": {"type": "string", "minLength": 1, "maxLength": 255},
                           "rotation": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 0},
                           "metadata": _META}}, create_backup),
        "shelve": Action("os_compute_api:os-shelve:shelve", _NULLABLE, shelve),
        "shelveOffload": Action("os_compute_api:os-shelve:shelve_offload", _NULLABLE, shelve_offload),
        "unshelve": Action("os_compute_api:os-shelve:unshelve", _NULLABLE, unshelve),
        "rescue": Action("os_compute_api:os-rescue", {
            "type": ["object", "null"], "additionalProperties": False, "properties": {
                "adminPass": {"type": "string"}, "rescue_image_ref": {"type": "string", "minLength": 1}}}, rescue),
        "unrescue": Action("os_compute_api:os-unrescue", _NULLABLE, unrescue),
    }
    for name in ("resize", "migrate", "os-migrateLive", "evacuate", "shelve", "unshelve", "rescue"):
        table[name] = dataclasses.replace(table[name], handler=without_volumes(name, table[name].handler))
    return table


def volume_backed(inst: Any) -> bool:
    """Whether the server boots from a volume (its root disk is in block storage)."""
    return any(b.boot_index == 0 and b.volume_id for b in getattr(inst, "block_devices", None) or [])


# --- the migrations records ------------------------------------------------------------------


def ops(api: ComputeAPI) -> list[Op]:
    """``GET /os-migrations``; a server's live migrations (2.23), force-complete (2.22) and abort (2.24)."""

    def migrations() -> Any:
        return api.p.extra["migrations"]

    def view(request: Request, m: Any, version: Version) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": m.id, "status": m.status, "instance_uuid": m.instance_id, "source_node": m.source_node,
            "source_compute": m.source_compute, "source_region": api.p.conf.get("DEFAULT", "region")
            if api.p.conf is not None else "RegionOne", "dest_node": m.dest_node, "dest_compute": m.dest_compute,
            "dest_host": m.dest_host, "dest_region": api.p.conf.get("DEFAULT", "region")
            if api.p.conf is not None else "RegionOne",
            "old_instance_type_id": flavor_number(m.old_flavor), "new_instance_type_id": flavor_number(m.new_flavor),
            "created_at": iso_us(m.created_at), "updated_at": iso_us(m.updated_at)}
        if version >= V(2, 23):
            body["migration_type"] = m.migration_type
            if m.migration_type == "live-migration" and m.status in ("queued", "preparing", "running"):
                base = api.base(request)
                path = f"servers/{m.instance_id}/migrations/{m.id}"
                body["links"] = [{"rel": "self", "href": f"{base}/v2.1/{path}"},
                                 {"rel": "bookmark", "href": f"{base}/{path}"}]
        if version >= V(2, 59):
            body["uuid"] = m.uuid
        return body

    def server_view(m: Any, version: Version) -> dict[str, Any]:
        p = m.progress or {}
        body: dict[str, Any] = {
            "id": m.id, "status": m.status, "server_uuid": m.instance_id, "source_node": m.source_node,
            "source_compute": m.source_compute, "dest_node": m.dest_node, "dest_compute": m.dest_compute,
            "dest_host": m.dest_host, "created_at": iso_us(m.created_at), "updated_at": iso_us(m.updated_at)}
        for key in ("memory_total_bytes", "memory_processed_bytes", "memory_remaining_bytes", "disk_total_bytes",
                    "disk_processed_bytes", "disk_remaining_bytes"):
            body[key] = p.get(key)
        if version >= V(2, 59):
            body["uuid"] = m.uuid
        return body

    async def index(request: Request) -> Response:
        version = microversion(request)
        q = request.query_params
        filters: dict[str, Any] = {k: q[k] for k in ("host", "status", "instance_uuid", "source_compute")
                                   if k in q}
        if "migration_type" in q:
            filters["migration_type"] = q["migration_type"]
        limit = marker = None
        if version >= V(2, 59):
            if "changes-since" in q:
                filters["changes-since"] = parse_time(q["changes-since"])
            if "changes-before" in q and version >= V(2, 66):
                filters["changes-before"] = parse_time(q["changes-before"])
            if "limit" in q:
                if not q["limit"].isdigit():
                    raise errors.BadRequest(f"Invalid input for query parameters limit. Value: {q['limit']}.")
                limit = int(q["limit"])
            if "marker" in q:
                try:
                    marker = (await api.run(migrations().get, q["marker"])).id
                except MigrationNotFound:
                    raise errors.BadRequest(f"Marker {q['marker']} could not be found.") from None
        found = await api.run(lambda: migrations().find(filters, limit, marker))
        body: dict[str, Any] = {"migrations": [view(request, m, version) for m in found]}
        if limit is not None and len(found) == limit and found:
            body["migrations_links"] = [{"rel": "next", "href": f"{api.base(request)}/v2.1/os-migrations?"
                                                                f"limit={limit}&marker={found[-1].uuid}"}]
        return JSON(body)

    def need(request: Request, version: Version) -> None:
        if microversion(request) < version:
            raise errors.NotFound("The resource could not be found.")

    async def live_of(request: Request, live_only: bool = True) -> Any:
        inst = loaded(request)
        ident = api.param(request, "migration_id")
        try:
            m = await api.run(migrations().get, int(ident)) if ident.isdigit() else None
        except MigrationNotFound:
            m = None
        if m is None or m.instance_id != inst.id:
            raise errors.NotFound(f"Migration {ident} could not be found for instance {inst.id}.")
        if live_only and (m.migration_type != "live-migration" or m.status not in ("queued", "preparing",
                                                                                  "running")):
            raise errors.NotFound(f"In-progress live migration {ident} is not found for server {inst.id}.")
        return inst, m

    async def server_index(request: Request) -> Response:
        need(request, V(2, 23))
        inst = loaded(request)
        found = await api.run(lambda: migrations().find({"instance_uuid": inst.id,
                                                         "migration_type": "live-migration",
                                                         "statuses": ["queued", "preparing", "running"]}))
        version = microversion(request)
        return JSON({"migrations": [server_view(m, version) for m in found]})

    async def server_show(request: Request) -> Response:
        need(request, V(2, 23))
        _inst, m = await live_of(request)
        return JSON({"migration": server_view(m, microversion(request))})

    async def force_complete(request: Request) -> Response:
        need(request, V(2, 22))
        inst, m = await live_of(request, live_only=False)
        if inst.locked and not api.is_admin(request):
            raise errors.Conflict(f"Instance {inst.id} is locked")
        if m.migration_type != "live-migration" or m.status != "running" or inst.task_state != states.MIGRATING:
            raise errors.BadRequest(f"Migration {m.id} state of instance {inst.id} is {m.status}. Cannot "
                                    "force_complete while the migration is in this state.")
        await record(api, request, inst, "live_migration_force_complete")
        await api.p.agents.cast(m.source_compute, "live_migration_force_complete", instance_id=inst.id,
                                migration_id=m.id)
        return Response(status_code=202)

    async def abort(request: Request) -> Response:
        need(request, V(2, 24))
        inst, m = await live_of(request, live_only=False)
        if m.migration_type != "live-migration":
            raise errors.BadRequest(f"Migration {m.id} for instance {inst.id} is not a live migration.")
        if m.status not in ("queued", "preparing", "running"):
            raise errors.BadRequest(f"Migration {m.id} state of instance {inst.id} is {m.status}. Cannot abort "
                                    "while the migration is in this state.")
        await record(api, request, inst, "live_migration_cancel")
        await api.p.agents.cast(m.source_compute, "live_migration_abort", instance_id=inst.id, migration_id=m.id)
        return Response(status_code=202)

    server = api.server_loader()
    sm = "os_compute_api:servers:migrations"
    body = {"type": "object", "required": ["force_complete"], "additionalProperties": False,
            "properties": {"force_complete": {"type": "null"}}}
    return [
        Op("GET", "/v2.1/os-migrations", index, rule="os_compute_api:os-migrations:index", tag="migrations",
           query=("host", "status", "instance_uuid", "migration_type", "source_compute", "changes-since",
                  "changes-before", "limit", "marker", "hidden")),
        Op("GET", "/v2.1/servers/{server_id}/migrations", server_index, rule=f"{sm}:index", target=server,
           tag="server-migrations"),
        Op("GET", "/v2.1/servers/{server_id}/migrations/{migration_id}", server_show, rule=f"{sm}:show",
           target=server, tag="server-migrations"),
        Op("POST", "/v2.1/servers/{server_id}/migrations/{migration_id}/action", force_complete, body=body,
           rule=f"{sm}:force_complete", target=server, tag="server-migrations", status=202,
           errors=(400, 401, 403, 404, 409)),
        Op("DELETE", "/v2.1/servers/{server_id}/migrations/{migration_id}", abort, rule=f"{sm}:delete",
           target=server, tag="server-migrations", status=202, errors=(400, 401, 403, 404, 409)),
    ]
