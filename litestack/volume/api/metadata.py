"""The metadata sub-resource Cinder gives volumes and snapshots alike: ``/{id}/metadata`` (show, add,
replace) and ``/{id}/metadata/{key}`` (show, set, delete), each under its own policy rule."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op
from litestack.common.api.policy import TargetLoader, body, loaded
from litestack.common.api.resource import ServiceAPI
from litestack.volume.api import schemas

#: ``save(request, row, metadata)``: store the row's new metadata (the whole dict).
Save = Callable[[Request, Any, dict[str, str]], Awaitable[Any]]


def etag_of(metadata: dict[str, str]) -> str:
    """Cinder's metadata ETag (3.15): the MD5 of the ``{"metadata": ...}`` document."""
    data = json.dumps({"metadata": metadata}, sort_keys=True).encode()
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _precondition_failed(request: Request, row: Any) -> bool:
    """``If-Match`` names none of the current metadata's ETags (``*`` matches any)."""
    header = request.headers.get("if-match")
    if header is None:
        return False
    tags = {t.strip().removeprefix("W/").strip('"') for t in header.split(",")}
    return "*" not in tags and etag_of(dict(row.metadata_ or {})) not in tags


def metadata_ops(path: str, noun: str, target: TargetLoader, tag: str, save: Save,
                 rules: dict[str, str], etags: Callable[[Request], bool] | None = None) -> list[Op]:
    """The six metadata Ops of ``path`` (``.../volumes/{volume_id}``); ``rules`` names the policy
    rule of each verb: ``get``, ``add`` (POST), ``replace`` (PUT), ``set`` (one item), ``delete``.
    Where ``etags(request)`` holds, the metadata carries an ``ETag`` and the updates (PUT) honour
    ``If-Match`` with Cinder's bare 412."""

    async def show(request: Request) -> Response:
        meta = dict(loaded(request).metadata_ or {})
        headers = {"ETag": etag_of(meta)} if etags is not None and etags(request) else None
        return JSON({"metadata": meta}, headers=headers)

    def put(replace: bool) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            row = loaded(request)
            if replace and etags is not None and etags(request) and _precondition_failed(request, row):
                return Response(status_code=412)
            new = dict(body(request)["metadata"])
            merged = new if replace else {**(row.metadata_ or {}), **new}
            await save(request, row, merged)
            return JSON({"metadata": merged})
        return handler

    async def item(request: Request) -> Response:
        key = ServiceAPI.param(request, "key")
        meta = loaded(request).metadata_ or {}
        if key not in meta:
            raise errors.NotFound(f"Metadata item was not found: {key}")
        return JSON({"meta": {key: meta[key]}})

    async def item_set(request: Request) -> Response:
        key = ServiceAPI.param(request, "key")
        given = body(request)["meta"]
        if key not in given:
            raise errors.BadRequest("Request body and URI mismatch")
        row = loaded(request)
        if etags is not None and etags(request) and _precondition_failed(request, row):
            return Response(status_code=412)
        await save(request, row, {**(row.metadata_ or {}), key: given[key]})
        return JSON({"meta": {key: given[key]}})

    async def item_delete(request: Request) -> Response:
        key = ServiceAPI.param(request, "key")
        row = loaded(request)
        meta = dict(row.metadata_ or {})
        if key not in meta:
            raise errors.NotFound(f"Metadata item was not found: {key}")
        del meta[key]
        await save(request, row, meta)
        return Response(status_code=200)

    m, k = f"{path}/metadata", f"{path}/metadata/{{key}}"
    return [
        Op("GET", m, show, f"Show a {noun}'s metadata", response=schemas.META_OUT, rule=rules["get"],
           target=target, tag=tag),
        Op("POST", m, put(False), f"Add metadata to a {noun}", body=schemas.METADATA_BODY,
           response=schemas.META_OUT, rule=rules["add"], target=target, tag=tag),
        Op("PUT", m, put(True), f"Replace a {noun}'s metadata", body=schemas.METADATA_BODY,
           response=schemas.META_OUT, rule=rules["replace"], target=target, tag=tag),
        Op("GET", k, item, f"Show a {noun} metadata item", rule=rules["get"], target=target, tag=tag),
        Op("PUT", k, item_set, f"Set a {noun} metadata item", body=schemas.META_ITEM, rule=rules["set"],
           target=target, tag=tag),
        Op("DELETE", k, item_delete, f"Delete a {noun} metadata item", rule=rules["delete"], target=target,
           tag=tag),
    ]
