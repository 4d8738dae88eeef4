"""``/v2/images/{image_id}/members``: share a ``shared`` image with projects, who accept or reject it."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, no_content
from litestack.common.api.body import json_body
from litestack.common.api.policy import Target, loaded
from litestack.image.api.service import ImageAPI, isotime
from litestack.image.models import ImageMember


def view(m: ImageMember) -> dict[str, Any]:
    return {"member_id": m.member, "image_id": m.image_id, "status": m.status, "created_at": isotime(m.created_at),
            "updated_at": isotime(m.updated_at), "schema": "/v2/schemas/member"}


def ops(api: ImageAPI) -> list[Op]:
    async def body(request: Request) -> Any:
        data = await json_body(request)
        if data is None:
            raise errors.BadRequest("Body expected in request.")
        return data

    async def create(request: Request) -> Response:
        data = await body(request)
        if not isinstance(data, dict):
            raise errors.BadRequest('Expected a member in the form: {"member": "image_id"}')
        if "member" not in data:
            raise errors.BadRequest("Member to be added not specified")
        member_id = data["member"]
        if not member_id:
            raise errors.BadRequest("Member can't be empty")
        if not isinstance(member_id, str) or len(member_id) > 255:
            raise errors.BadRequest('Expected a member in the form: {"member": "image_id"}')
        member = await api.run(api.members.add, loaded(request).id, member_id, api.caller(request),
                               api.settings.member_quota)
        api.notifier.emit("image.member.create", view(member))
        return JSON(view(member))

    async def index(request: Request) -> Response:
        image = loaded(request)
        if image.visibility != "shared":
            raise errors.Forbidden(f"Not allowed to list members for image {image.id}: Only shared images have "
                                   "members.")
        rows = await api.run(api.members.list, image.id, api.caller(request))
        return JSON({"members": [view(m) for m in rows], "schema": "/v2/schemas/members"})

    async def show(request: Request) -> Response:
        member = await api.run(api.members.get, loaded(request).id, api.param(request, "member_id"),
                               api.caller(request))
        return JSON(view(member))

    async def update(request: Request) -> Response:
        data = await body(request)
        if not isinstance(data, dict):
            raise errors.BadRequest('Expected a status in the form: {"status": "status"}')
        if "status" not in data:
            raise errors.BadRequest("Status not specified")
        member = await api.run(api.members.set_status, loaded(request).id, api.param(request, "member_id"),
                               data["status"], api.caller(request))
        api.notifier.emit("image.member.update", view(member))
        return JSON(view(member))

    async def delete(request: Request) -> Response:
        image, member_id = loaded(request), api.param(request, "member_id")
        await api.run(api.members.delete, image.id, member_id, api.caller(request))
        api.notifier.emit("image.member.delete", {"image_id": image.id, "member_id": member_id})
        return no_content()

    member_loader = api.image_loader("member_id")

    async def own_member(request: Request) -> Target:
        """Glance shows another project's membership as absent (404), not forbidden."""
        tgt = await member_loader(request)
        caller, image = api.caller(request), loaded(request)
        member_id = api.param(request, "member_id")
        if not caller.is_admin and image.owner != caller.project_id and member_id != caller.project_id:
            raise errors.NotFound(f"{member_id} not found in the member list of the image {image.id}.")
        return tgt

    coll = "/v2/images/{image_id}/members"
    one = coll + "/{member_id}"
    member, members = api.response_schema("member"), api.collection_schema("members", "member", links=False)
    return [
        Op("POST", coll, create, "Share an image with a project", rule="add_member", target=api.image_loader(),
           tag="members", response=member, errors=(400, 401, 403, 404, 409, 413)),
        Op("GET", coll, index, "List an image's members", rule="get_members", target=api.image_loader(),
           tag="members", response=members),
        Op("GET", one, show, "Show an image member", rule="get_member", target=own_member,
           tag="members", response=member),
        Op("PUT", one, update, "Accept or reject a shared image", rule="modify_member",
           target=api.image_loader("member_id"), tag="members", response=member),
        Op("DELETE", one, delete, "Stop sharing an image with a project", status=204, rule="delete_member",
           target=api.image_loader(), tag="members"),
    ]
