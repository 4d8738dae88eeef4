"""``/v3/{project_id}/messages`` (3.3; sorting and paging 3.5): the user messages the service left
when an asynchronous operation failed: list, show, delete."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common.api.app import JSON, Op
from litestack.common.api.pagination import next_link
from litestack.common.api.policy import Target, loaded, policy_target, stash
from litestack.volume.api.base import V, VolumeAPI, isotime, require
from litestack.volume.api.filters import check_filters
from litestack.volume.manager.messages import user_message
from litestack.volume.models import Message

P = "/v3/{project_id}/messages"


def ops(api: VolumeAPI) -> list[Op]:
    def view(request: Request, m: Message) -> dict[str, Any]:
        return {"id": m.id, "event_id": m.event_id, "user_message": user_message(m),
                "message_level": m.message_level, "resource_type": m.resource_type,
                "resource_uuid": m.resource_uuid, "request_id": m.request_id, "created_at": isotime(m.created_at),
                "guaranteed_until": isotime(m.expires_at), "links": api.member_links(request, "messages", m.id)}

    async def one(request: Request) -> Target:
        require(api, request, V(3, 3))
        m = await api.run(api.messages.get, api.param(request, "message_id"), api.caller(request))
        stash(request, m)
        return Target(policy_target(None, project_id=m.project_id))

    async def own(request: Request) -> Target:
        require(api, request, V(3, 3))
        return await api.own()(request)

    async def listed(request: Request) -> Response:
        params = dict(request.query_params)
        paged = api.version(request) >= V(3, 5)
        check_filters(api, request, "message", params)
        rows, more = await api.run(api.messages.listed, api.caller(request), params, paged)
        out: dict[str, Any] = {"messages": [view(request, m) for m in rows]}
        if paged and rows and more:
            out["messages_links"] = [{"href": next_link(api.self_url(request), params, rows[-1].id), "rel": "next"}]
        return JSON(out)

    async def show(request: Request) -> Response:
        return JSON({"message": view(request, loaded(request))})

    async def delete(request: Request) -> Response:
        await api.run(api.messages.delete, loaded(request).id, api.caller(request))
        return Response(status_code=204)

    q = ("limit", "marker", "sort", "sort_key", "sort_dir", "resource_uuid", "resource_type", "event_id",
         "request_id", "message_level")
    return [
        Op("GET", P, listed, "List user messages (3.3)", rule="message:get_all", target=own, query=q,
           tag="messages"),
        Op("GET", f"{P}/{{message_id}}", show, "Show a user message (3.3)", rule="message:get", target=one,
           tag="messages"),
        Op("DELETE", f"{P}/{{message_id}}", delete, "Delete a user message (3.3)", status=204,
           rule="message:delete", target=one, tag="messages"),
    ]
