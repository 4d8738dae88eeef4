"""``/v3/{project_id}/os-volume-transfer`` and (3.55) ``/volume-transfers``: offer a volume to
another project, list, show, cancel, and accept with the auth key."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op
from litestack.common.api.policy import Target, body, loaded, policy_target, stash
from litestack.common.api.resource import truthy
from litestack.volume.api.base import V, VolumeAPI, isotime, require
from litestack.volume.api.schemas import NAME
from litestack.volume.manager.transfers import Transfers
from litestack.volume.models import Transfer

CREATE: dict[str, Any] = {
    "type": "object", "required": ["transfer"],
    "properties": {"transfer": {"type": "object", "required": ["volume_id"], "properties": {
        "volume_id": {"type": "string", "maxLength": 36}, "name": NAME, "no_snapshots": {"type": "boolean"}}}}}
ACCEPT: dict[str, Any] = {
    "type": "object", "required": ["accept"],
    "properties": {"accept": {"type": "object", "required": ["auth_key"], "properties": {
        "auth_key": {"type": "string", "minLength": 1, "maxLength": 255}}}}}


def ops(api: VolumeAPI, transfers: Transfers) -> list[Op]:
    out: list[Op] = []
    for base, since in (("os-volume-transfer", None), ("volume-transfers", V(3, 55))):
        out += _ops(api, transfers, base, since)
    return out


def _ops(api: VolumeAPI, transfers: Transfers, base: str, since: V | None) -> list[Op]:
    P = f"/v3/{{project_id}}/{base}"

    def check(request: Request) -> None:
        if since is not None:
            require(api, request, since)

    def view(request: Request, t: Transfer, detail: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"id": t.id, "name": t.name, "volume_id": t.volume_id,
                               "links": api.member_links(request, base, t.id)}
        if detail:
            out["created_at"] = isotime(t.created_at)
            if api.version(request) >= V(3, 55):
                out["no_snapshots"] = t.no_snapshots
            if api.version(request) >= V(3, 57):
                out.update(source_project_id=t.project_id, destination_project_id=None, accepted=False)
        return out

    async def own(request: Request) -> Target:
        check(request)
        return Target(policy_target(None, project_id=api.caller(request).project_id))

    async def one(request: Request) -> Target:
        check(request)
        t = await api.run(transfers.get, api.param(request, "transfer_id"), api.caller(request))
        stash(request, t)
        return Target(policy_target(None, project_id=t.project_id))

    async def create(request: Request) -> Response:
        req = body(request)["transfer"]
        no_snapshots = bool(req.get("no_snapshots", False)) and api.version(request) >= V(3, 55)
        offered = await api.run(transfers.create, api.caller(request), req["volume_id"], req.get("name"),
                                no_snapshots)
        out = view(request, offered.transfer)
        out["auth_key"] = offered.auth_key
        api.notifier.emit("transfer.create.end", {"transfer_id": offered.transfer.id,
                                                  "volume_id": offered.transfer.volume_id})
        return JSON({"transfer": out}, status_code=202)

    def lister(detail: bool) -> Any:
        async def handler(request: Request) -> Response:
            rows = await api.run(transfers.offered, api.caller(request),
                                 truthy(request.query_params.get("all_tenants")))
            if api.version(request) >= V(3, 59):
                rows = _page(rows, dict(request.query_params))
            return JSON({"transfers": [view(request, t, detail) for t in rows]})
        return handler

    async def show(request: Request) -> Response:
        return JSON({"transfer": view(request, loaded(request))})

    async def delete(request: Request) -> Response:
        await api.run(transfers.delete, loaded(request).id, api.caller(request))
        return Response(status_code=202)

    async def accept(request: Request) -> Response:
        names = await api.run(api.types.names)
        t = await api.run(transfers.accept, api.param(request, "transfer_id"), body(request)["accept"]["auth_key"],
                          api.caller(request), names)
        api.notifier.emit("transfer.accept.end", {"transfer_id": t.id, "volume_id": t.volume_id})
        return JSON({"transfer": view(request, t, detail=False)}, status_code=202)

    tag = "transfers"
    return [
        Op("POST", P, create, "Offer a volume to another project", body=CREATE, status=202,
           rule="volume:create_transfer", target=own, tag=tag, errors=(400, 401, 403, 404)),
        Op("GET", P, lister(False), "List transfers", rule="volume:get_all_transfers", target=own,
           query=PAGING, tag=tag),
        Op("GET", f"{P}/detail", lister(True), "List transfers with details", rule="volume:get_all_transfers",
           target=own, query=PAGING, tag=tag),
        Op("GET", f"{P}/{{transfer_id}}", show, "Show a transfer", rule="volume:get_transfer", target=one, tag=tag),
        Op("DELETE", f"{P}/{{transfer_id}}", delete, "Cancel a transfer", status=202, rule="volume:delete_transfer",
           target=one, tag=tag),
        Op("POST", f"{P}/{{transfer_id}}/accept", accept, "Accept a transfer", body=ACCEPT, status=202,
           rule="volume:accept_transfer", target=own, tag=tag, errors=(400, 401, 403, 404, 413)),
    ]


PAGING = ("all_tenants", "limit", "marker", "offset", "sort", "sort_key", "sort_dir")
SORT_KEYS = ("created_at", "id", "name", "volume_id")


def _page(rows: list[Any], params: dict[str, str]) -> list[Any]:
    """3.59: transfers sorted (``sort``/``sort_key``, newest first by default), from the one after
    ``marker`` (404 when it names none), ``offset`` skipped, at most ``limit``. A project's
    transfers are few: the page is cut from the list the database gave."""
    from litestack.common.api import pagination

    keys = pagination.parse_sort(params, SORT_KEYS, [("created_at", True)])
    for key, desc in reversed(keys):
        rows = sorted(rows, key=lambda t: (getattr(t, key) is None, getattr(t, key) or ""), reverse=desc)
    marker = params.get("marker")
    if marker is not None:
        ids = [t.id for t in rows]
        if marker not in ids:
            raise errors.NotFound(f"Marker {marker[:64]} could not be found.")
        rows = rows[ids.index(marker) + 1:]
    try:
        offset = int(params.get("offset", 0))
    except ValueError:
        raise errors.BadRequest("Invalid offset: it must be an integer.") from None
    if offset < 0:
        raise errors.BadRequest("Invalid offset: it must not be negative.")
    limit = pagination.parse_limit(params, None, 1000)
    rows = rows[offset:]
    return rows if limit is None else rows[:limit]
