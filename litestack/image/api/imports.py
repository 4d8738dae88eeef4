"""Interoperable import: ``PUT .../stage``, ``POST .../import``, and the tasks that run imports."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, ctx, no_content
from litestack.common.api.body import declared_length, json_body
from litestack.common.api.policy import Target, policy_target
from litestack.common.db import run_blocking
from litestack.image.api.data import loaded_image, receive_into, settle
from litestack.image.api.service import ImageAPI, isotime
from litestack.image.drivers.base import StoreError, StoreFull
from litestack.image.manager.imports import STAGING, check_uri
from litestack.image.models import Task


def task_view(t: Task) -> dict[str, Any]:
    return {"id": t.id, "type": t.type, "status": t.status, "input": t.input, "result": t.result, "owner": t.owner,
            "message": t.message or "", "image_id": t.image_id, "request_id": t.request_id, "user_id": t.user_id,
            "expires_at": isotime(t.expires_at), "created_at": isotime(t.created_at),
            "updated_at": isotime(t.updated_at), "self": f"/v2/tasks/{t.id}", "schema": "/v2/schemas/task"}


def ops(api: ImageAPI) -> list[Op]:
    running: set[asyncio.Task[None]] = set()  # referenced until done

    async def stage(request: Request) -> Response:
        if "glance-direct" not in api.settings.import_methods:
            raise errors.NotFound("'glance-direct' method is not available at this site.")
        image = loaded_image(request)
        imports = api.imports
        limits = await api.quota_limits(image.owner)
        await api.run(api.data.begin, image.id, api.caller(request), declared_length(request.scope), "uploading",
                      limits)
        try:
            location, facts = await receive_into(request, imports.staging, image.id, image.disk_format,
                                                 api.settings.image_size_cap)
        except BaseException as exc:
            await settle(api.data.fail, image.id, "uploading")
            if isinstance(exc, StoreFull):
                raise errors.PayloadTooLarge(f"Image storage media is full: {exc.message}") from None
            if isinstance(exc, StoreError):
                raise errors.ServiceUnavailable(f"The staging area failed: {exc.message}") from None
            raise
        try:
            await api.run(api.data.finish, image.id, imports.staging, location,
                          {"size": facts["size"], "virtual_size": facts["virtual_size"]}, "uploading", "uploading",
                          "staged")
        except BaseException:
            await settle(imports.staging.delete, location)
            await settle(api.data.fail, image.id, "uploading")
            raise
        return no_content()

    def stores_of(request: Request, body: dict[str, Any]) -> list[str]:
        names = body.get("stores")
        if body.get("all_stores"):
            names = list(api.data.stores)
        elif names is None:
            header = request.headers.get("x-image-meta-store")
            names = [header] if header else [api.data.default_store]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise errors.BadRequest("'stores' must be a list of store identifiers.")
        for name in names:
            if name not in api.data.stores:
                raise errors.Conflict(f"Store for identifier {name} not found")
        return list(dict.fromkeys(names))

    async def import_image(request: Request) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise errors.BadRequest("Body expected in request.")
        method = body.get("method")
        if not isinstance(method, dict):
            raise errors.BadRequest("Import request requires a 'method' field.")
        name = method.get("name")
        if name is None:
            raise errors.BadRequest("Import request requires a 'name' field.")
        if name not in api.settings.import_methods:
            raise errors.BadRequest(f"Unknown import method name '{name}'.")
        must = body.get("all_stores_must_succeed", True)
        if not isinstance(must, bool):
            raise errors.BadRequest("'all_stores_must_succeed' must be boolean value only")
        if not isinstance(body.get("all_stores", False), bool):
            raise errors.BadRequest("'all_stores' must be boolean value only")
        if name == "web-download":
            await api.run(check_uri, method.get("uri"), api.settings.web_download_hosts)
        image = loaded_image(request)
        if name == "copy-image":
            api.authorize(request, "copy_image", image)
        stores = stores_of(request, body)
        caller = api.caller(request)
        task = await api.run(api.imports.start, image.id, caller, name, stores, body, ctx(request).request_id)
        targets: list[str] = list((task.input or {}).get("backend") or [])
        job = asyncio.ensure_future(run_blocking(api.imports.run, task.id, name, targets, must))
        running.add(job)
        job.add_done_callback(running.discard)
        return Response(status_code=202)

    async def show_task(request: Request) -> Response:
        task = await api.run(api.imports.task, api.param(request, "task_id"))
        caller = api.caller(request)
        if not caller.is_admin and task.owner != caller.project_id:
            raise errors.NotFound(f"Task with identifier {task.id} not found")
        return JSON(task_view(task))

    async def image_tasks(request: Request) -> Response:
        rows = await api.run(api.imports.tasks_of, loaded_image(request).id)
        return JSON({"tasks": [task_view(t) for t in rows]})

    async def own(request: Request) -> Target:
        return Target(policy_target(None, project_id=api.caller(request).project_id))

    one = "/v2/images/{image_id}"
    load = api.image_loader()
    return [
        Op("PUT", one + "/stage", stage, "Stage an image's data for import", status=204, rule="upload_image",
           target=load, tag="import", errors=(400, 401, 403, 404, 409, 413, 415), max_body=None),
        Op("POST", one + "/import", import_image, "Import an image's data", status=202, rule="modify_image",
           alt_rules=("copy_image",), target=load, tag="import", errors=(400, 401, 403, 404, 409, 413)),
        Op("GET", one + "/tasks", image_tasks, "List an image's tasks", rule="get_image", target=load,
           tag="import", response=api.collection_schema("tasks", "task", links=False)),
        Op("GET", "/v2/tasks/{task_id}", show_task, "Show a task", rule="tasks_api_access", target=own,
           tag="tasks", response=api.response_schema("task")),
    ]


__all__ = ["STAGING", "ops", "task_view"]
