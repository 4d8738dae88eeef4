"""Volumes of servers: ``/servers/{id}/os-volume_attachments`` (attach, list, show, detach) and
the view of them (boot from volume is ``boot_volumes.py``).

Attach, as Nova with block storage's attachments API::

    API:   the volume as the user sees it (404) → a mapping row with a free device name
           (status attaching) → POST block-storage /attachments {volume, instance} with the
           user's token (the volume ``reserved``; 400 when it is in use) → cast attach_volume
    agent: the host's connector → PUT /attachments/ID {connector} (connection info) →
           driver.attach_volume → POST /attachments/ID/action os-complete (volume ``in-use``)

Detach: the mapping ``detaching`` → cast detach_volume → driver.detach_volume → DELETE
/attachments/ID (the volume ``available``) → the mapping row removed.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op
from litestack.common.api.microversion import Version
from litestack.common.api.middleware import context_of
from litestack.common.api.policy import body, loaded
from litestack.compute import states
from litestack.compute.api.actions import conflict, record
from litestack.compute.api.base import ComputeAPI, microversion
from litestack.compute.api.boot_volumes import TAG as _TAG
from litestack.compute.manager.block_devices import ATTACHING, check_device

LOG = logging.getLogger(__name__)

#: Nova's vm_states that allow attaching and detaching volumes (shelved ones are not built here).
ATTACH_STATES = (states.ACTIVE, states.PAUSED, states.STOPPED, states.SUSPENDED)
TAG = Version(2, 49)
TAG_SHOWN = Version(2, 70)
MULTIATTACH = Version(2, 60)

_DEVICE = {"type": ["string", "null"], "maxLength": 255}
_ATTACH = {"type": "object", "required": ["volumeAttachment"], "additionalProperties": False, "properties": {
    "volumeAttachment": {"type": "object", "required": ["volumeId"], "additionalProperties": False, "properties": {
        "volumeId": {"type": "string", "format": "uuid"}, "device": _DEVICE, "tag": _TAG}}}}

def attachment_view(bdm: Any, server_id: str, version: Version) -> dict[str, Any]:
    view: dict[str, Any] = {"id": bdm.volume_id, "serverId": server_id, "volumeId": bdm.volume_id,
                            "device": bdm.device_name}
    if version >= TAG_SHOWN:
        view["tag"] = bdm.tag
    return view


def ops(api: ComputeAPI) -> list[Op]:
    async def index(request: Request) -> Response:
        inst = loaded(request)
        version = microversion(request)
        rows = [b for b in await api.run(api.p.block_devices.of, inst.id) if b.volume_id]
        q = request.query_params
        try:
            offset = int(q.get("offset", 0))
            limit = int(q["limit"]) if "limit" in q else None
        except ValueError:
            raise errors.BadRequest("limit and offset must be integers") from None
        if offset < 0 or (limit is not None and limit < 0):
            raise errors.BadRequest("limit and offset must be >= 0")
        rows = rows[offset:offset + limit if limit is not None else None]
        return JSON({"volumeAttachments": [attachment_view(b, inst.id, version) for b in rows]})

    async def show(request: Request) -> Response:
        inst = loaded(request)
        bdm = await api.run(api.p.block_devices.get, inst.id, request.path_params["volume_id"])
        return JSON({"volumeAttachment": attachment_view(bdm, inst.id, microversion(request))})

    async def attach(request: Request) -> Response:
        inst = loaded(request)
        args = body(request)["volumeAttachment"]
        version = microversion(request)
        if "tag" in args and version < TAG:
            raise errors.BadRequest("Invalid input for field/attribute volumeAttachment. Value: "
                                    f"{args}. Additional properties are not allowed ('tag' was unexpected)")
        device = check_device(args.get("device"))
        if inst.locked and not api.is_admin(request):
            raise errors.Conflict(f"Instance {inst.id} is locked")
        if inst.vm_state not in ATTACH_STATES or inst.task_state is not None or not inst.host:
            raise conflict(inst, "attach_volume")
        token = context_of(request).auth_token or ""
        volume_id = args["volumeId"]
        vol = await api.p.volumes.volume(volume_id, token)
        if vol.get("multiattach") and version < MULTIATTACH:
            raise errors.BadRequest("Multiattach volumes are only supported starting with compute API "
                                    "version 2.60.")
        bdm = await api.run(lambda: api.p.block_devices.add(inst.id, {
            "source_type": "volume", "volume_id": volume_id, "status": ATTACHING, "tag": args.get("tag"),
            "volume_size": vol.get("size")}, device))
        try:
            attachment = await api.p.volumes.reserve(volume_id, inst.id, token)
        except Exception:
            await api.run(api.p.block_devices.remove, bdm.id)
            raise
        bdm = await api.run(lambda: api.p.block_devices.save(bdm.id, attachment_id=attachment))
        await record(api, request, inst, "attach_volume")
        await api.p.agents.cast(inst.host, "attach_volume", instance_id=inst.id, bdm_id=bdm.id,
                                request_id=context_of(request).request_id)
        return JSON({"volumeAttachment": attachment_view(bdm, inst.id, version)})

    async def detach(request: Request) -> Response:
        inst = loaded(request)
        volume_id = request.path_params["volume_id"]
        if inst.locked and not api.is_admin(request):
            raise errors.Conflict(f"Instance {inst.id} is locked")
        if inst.vm_state not in ATTACH_STATES or inst.task_state is not None or not inst.host:
            raise conflict(inst, "detach_volume")
        await api.p.volumes.volume(volume_id, context_of(request).auth_token or "")
        await api.run(api.p.block_devices.start_detach, inst.id, volume_id)
        await record(api, request, inst, "detach_volume")
        await api.p.agents.cast(inst.host, "detach_volume", instance_id=inst.id, volume_id=volume_id,
                                request_id=context_of(request).request_id)
        return Response(status_code=202)

    rule = "os_compute_api:os-volumes-attachments"
    path = "/v2.1/servers/{server_id}/os-volume_attachments"
    load = api.server_loader()
    return [
        Op("GET", path, index, rule=f"{rule}:index", target=load, tag="volume-attachments",
           query=("limit", "offset")),
        Op("POST", path, attach, body=_ATTACH, rule=f"{rule}:create", target=load, tag="volume-attachments",
           errors=(400, 401, 403, 404, 409)),
        Op("GET", f"{path}/{{volume_id}}", show, rule=f"{rule}:show", target=load, tag="volume-attachments"),
        Op("DELETE", f"{path}/{{volume_id}}", detach, rule=f"{rule}:delete", target=load,
           tag="volume-attachments", status=202, errors=(400, 401, 403, 404, 409)),
    ]
