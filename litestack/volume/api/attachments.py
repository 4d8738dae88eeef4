"""``/v3/{project_id}/attachments`` (3.27+): the attachment flow a compute service drives.

create (``reserved``; with a connector: connection info at once, ``attaching``) → update with the
connector (connection info) → ``os-complete`` (3.44: ``attached``, the volume ``in-use``) → delete
(the volume ``available`` again once no attachment is left). Multiattach volumes take several.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op
from litestack.common.api.policy import Target, body, loaded, policy_target
from litestack.common.api.resource import truthy
from litestack.volume.api import schemas
from litestack.volume.api.base import V, VolumeAPI, require
from litestack.volume.manager import Caller
from litestack.volume.models import Attachment

P = "/v3/{project_id}/attachments"
ADMIN = Caller(None, is_admin=True)


def ops(api: VolumeAPI) -> list[Op]:
    async def create_target(request: Request) -> Target:
        require(api, request, V(3, 27))
        vol = await api.run(api.volumes.get, body(request)["attachment"]["volume_uuid"], api.caller(request))
        request.state.volume = vol
        return Target(policy_target(None, project_id=vol.project_id))

    async def create(request: Request) -> Response:
        req = body(request)["attachment"]
        vol = request.state.volume
        mode = req.get("mode", "rw")
        if vol.readonly and mode == "rw":
            mode = "ro"
        a, vol = await api.run(api.volumes.reserve, vol.id, api.caller(request), req.get("instance_uuid"), mode,
                               "reserved")
        connector = req.get("connector")
        if connector:
            try:
                info = await _connect(request, a, connector)
            except errors.LitestackError:
                await api.run(api.volumes.detach, a.id)  # as Cinder: no half-made attachment stays
                raise
            a = await api.run(lambda: api.volumes.connect(a.id, connector, info, "attaching", "attaching",
                                                          mountpoint=connector.get("mountpoint")))
        api.notifier.emit("volume.attach.start", {"volume_id": vol.id, "attachment_id": a.id})
        return JSON({"attachment": api.attachment_view(a)})

    async def _connect(request: Request, a: Attachment, connector: dict[str, Any]) -> dict[str, Any]:
        vol = await api.run(api.volumes.get, a.volume_id, ADMIN)
        info = await api.flow.connection_info(vol, connector)
        info["attachment_id"] = a.id
        info["data"]["access_mode"] = a.attach_mode
        return info

    def lister(detail: bool) -> Any:
        async def handler(request: Request) -> Response:
            require(api, request, V(3, 27))
            params = dict(request.query_params)
            rows = await api.run(api.volumes.list_attachments, api.caller(request), params,
                                 truthy(params.get("all_tenants")))
            return JSON({"attachments": [api.attachment_view(a, detail) for a in rows]})
        return handler

    async def show(request: Request) -> Response:
        require(api, request, V(3, 27))
        return JSON({"attachment": api.attachment_view(loaded(request))})

    async def update(request: Request) -> Response:
        require(api, request, V(3, 27))
        a: Attachment = loaded(request)
        connector = body(request)["attachment"]["connector"]
        info = await _connect(request, a, connector)
        a = await api.run(lambda: api.volumes.connect(a.id, connector, info, "attaching", "attaching",
                                                      mountpoint=connector.get("mountpoint")))
        return JSON({"attachment": api.attachment_view(a)})

    async def delete(request: Request) -> Response:
        require(api, request, V(3, 27))
        a: Attachment = loaded(request)
        vol = await api.run(api.volumes.detach, a.id)
        if vol is not None and vol.status == "available":
            await api.flow.remove_export(vol)
        api.notifier.emit("volume.detach.end", {"volume_id": a.volume_id, "attachment_id": a.id})
        left = (await api.run(api.volumes.attachments, [a.volume_id]))[a.volume_id]
        return JSON({"attachments": [api.attachment_view(x, False) for x in left]})

    async def action(request: Request) -> Response:
        require(api, request, V(3, 44))
        data = body(request)
        if next(iter(data)) != "os-complete":
            raise errors.BadRequest(f"There is no such action: {next(iter(data))[:64]}")
        a: Attachment = loaded(request)
        await api.run(lambda: api.volumes.connect(a.id, None, None, "attached"))
        api.notifier.emit("volume.attach.end", {"volume_id": a.volume_id, "attachment_id": a.id})
        return Response(status_code=204)

    a = api.attachment_loader()
    q = ("all_tenants", "volume_id", "instance_id", "status")
    return [
        Op("POST", P, create, "Create an attachment", body=schemas.ATTACHMENT_CREATE,
           rule="volume:attachment_create", target=create_target, tag="attachments"),
        Op("GET", P, lister(False), "List attachments", rule="volume:attachment_get_all", target=api.own(), query=q,
           tag="attachments"),
        Op("GET", f"{P}/detail", lister(True), "List attachments with details", rule="volume:attachment_get_all",
           target=api.own(), query=q, tag="attachments"),
        Op("GET", f"{P}/{{attachment_id}}", show, "Show an attachment", rule="volume:attachment_get", target=a,
           tag="attachments"),
        Op("PUT", f"{P}/{{attachment_id}}", update, "Update an attachment with a connector",
           body=schemas.ATTACHMENT_UPDATE, rule="volume:attachment_update", target=a, tag="attachments"),
        Op("DELETE", f"{P}/{{attachment_id}}", delete, "Delete an attachment", rule="volume:attachment_delete",
           target=a, tag="attachments"),
        Op("POST", f"{P}/{{attachment_id}}/action", action, "Complete an attachment", body=schemas.ACTION,
           status=204, rule="volume:attachment_complete", target=a, tag="attachments"),
    ]
