"""``/v2/images``: create, list, show, JSON-patch update, delete, tags, deactivate and reactivate."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, no_content
from litestack.common.api.body import json_body
from litestack.common.api.policy import Target, loaded, policy_target
from litestack.image.api.service import ImageAPI
from litestack.image.manager.images import CORE, Change
from litestack.image.manager.listing import list_images

#: Never accepted from clients (Glance's ``_disallowed_properties`` and ``_readonly_properties``).
DISALLOWED = ("direct_url", "self", "file", "schema", "stores")
READ_ONLY = ("created_at", "updated_at", "status", "checksum", "size", "virtual_size", "direct_url", "self",
             "file", "schema", "id", "os_hash_algo", "os_hash_value")
RESERVED = ("location", "deleted", "deleted_at")
RESERVED_NS = "os_glance"
BASE = ("checksum", "created_at", "container_format", "disk_format", "id", "min_disk", "min_ram", "name", "size",
        "virtual_size", "status", "tags", "owner", "updated_at", "visibility", "protected", "os_hidden")
PATCH_TYPES = {"application/openstack-images-v2.0-json-patch": 4,
               "application/openstack-images-v2.1-json-patch": 10}
OPERATIONS = ("add", "remove", "replace")


def _reserved(key: str) -> bool:
    return key in RESERVED or key.startswith(RESERVED_NS)


async def _body(request: Request) -> Any:
    data = await json_body(request)
    if data is None:
        raise errors.BadRequest("Body expected in request.")
    return data


def ops(api: ImageAPI) -> list[Op]:
    # --- create ------------------------------------------------------------------------------

    async def create_target(request: Request) -> Target:
        """The body is the target (``owner`` defaults to the caller's project), so the rule is
        checked after the body is parsed: a member may not create an image for another project."""
        body = await _body(request)
        if not isinstance(body, dict):
            raise errors.BadRequest("Provided object does not match schema 'image': the body must be an object")
        for key in DISALLOWED:
            if key in body:
                raise errors.Forbidden(f"Attribute '{key}' is read-only.")
        api.validate_image(body)
        for key in ("created_at", "updated_at", "status", "checksum", "os_hash_algo", "os_hash_value", "size",
                    "virtual_size"):
            if key in body:
                raise errors.Forbidden(f"Attribute '{key}' is read-only.")
        for key in body:
            if key not in BASE:
                if len(key) > 255:
                    raise errors.BadRequest("Custom property should not be greater than 255 characters.")
                if _reserved(key):
                    raise errors.Forbidden(f"Attribute '{key}' is reserved.")
        owner = body.get("owner") or api.caller(request).project_id
        body["owner"] = owner
        request.state.body = body
        return Target(policy_target(None, project_id=owner, owner=owner, visibility=body.get("visibility")))

    async def create(request: Request) -> Response:
        body: dict[str, Any] = dict(request.state.body)
        visibility = body.get("visibility")
        if visibility in ("public", "community"):
            api.authorize_new(request, "publicize_image" if visibility == "public" else "communitize_image", body)
        tags = body.pop("tags", [])
        core = {k: body.pop(k) for k in BASE if k in body and k != "tags"}
        limits = await api.quota_limits(core.get("owner"))
        image = await api.run(api.images.create, core, body, tags, api.caller(request), limits)
        view = api.view(image)
        api.notifier.emit("image.create", view)
        headers = {"Location": f"{api.base(request)}/v2/images/{image.id}"}
        if api.settings.import_methods:
            headers["OpenStack-image-import-methods"] = ",".join(api.settings.import_methods)
        if api.settings.multiple_stores:
            headers["OpenStack-image-store-ids"] = ",".join(api.data.stores)
        return JSON(view, status_code=201, headers=headers)

    # --- list and show -----------------------------------------------------------------------

    async def list_target(request: Request) -> Target:
        return Target(policy_target(None, project_id=api.caller(request).project_id))

    async def index(request: Request) -> Response:
        params = list(request.query_params.multi_items())
        flat = dict(params)
        raw_limit = flat.get("limit")
        limit = api.settings.limit_default
        if raw_limit is not None:
            try:
                limit = int(raw_limit)
            except ValueError:
                raise errors.BadRequest("limit param must be an integer") from None
            if limit < 0:
                raise errors.BadRequest("limit param must be positive")
        limit = min(limit, api.settings.limit_max)
        rows = await api.run(list_images, api.images.db, params, api.caller(request), limit, flat.get("marker"))
        more = len(rows) > limit
        rows = rows[:limit]
        kept = [(k, v) for k, v in params if k != "marker"]
        body: dict[str, Any] = {"images": [api.view(r) for r in rows],
                                "first": "/v2/images" + (f"?{urlencode(kept)}" if kept else ""),
                                "schema": "/v2/schemas/images"}
        if more and rows:
            body["next"] = "/v2/images?" + urlencode([*kept, ("marker", rows[-1].id)])
        return JSON(body)

    async def show(request: Request) -> Response:
        return JSON(api.view(loaded(request)))

    # --- update --------------------------------------------------------------------------------

    async def update(request: Request) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        version = PATCH_TYPES.get(ctype)
        if version is None:
            allowed = ", ".join(sorted(PATCH_TYPES))
            err = errors.UnsupportedMediaType(f"Image PATCH expects Content-Type one of: {allowed}")
            err.headers = {"Accept-Patch": allowed}
            raise err
        changes = parse_patch(api, await _body(request), version)
        image = loaded(request)
        updated = await api.run(api.images.update, image.id, changes, api.caller(request),
                                lambda rule, img: api.authorize(request, rule, img))
        view = api.view(updated)
        api.notifier.emit("image.update", view)
        return JSON(view)

    # --- delete, tags, actions ------------------------------------------------------------------

    async def delete(request: Request) -> Response:
        image = loaded(request)
        data = await api.run(api.images.delete, image.id, api.caller(request))
        for store_name, location in data:
            store = api.store_named(store_name)
            if store is not None:
                await api.run(store.delete, location)
        api.notifier.emit("image.delete", {"id": image.id, "owner": image.owner})
        return no_content()

    async def add_tag(request: Request) -> Response:
        tag = api.param(request, "tag")
        if len(tag) > 255:
            raise errors.BadRequest("Provided object does not match schema 'image': tag is longer than 255 "
                                    "characters")
        await api.run(api.images.add_tag, loaded(request).id, tag, api.caller(request))
        return no_content()

    async def delete_tag(request: Request) -> Response:
        await api.run(api.images.delete_tag, loaded(request).id, api.param(request, "tag"), api.caller(request))
        return no_content()

    async def delete_from_store(request: Request) -> Response:
        store_id = api.param(request, "store_id")
        store = api.data.stores.get(store_id)
        if not api.settings.multiple_stores:
            raise errors.NotFound("The resource could not be found.")
        if store is None:
            raise errors.Conflict(f"The selected store {store_id} is not available on this node.")
        location = await api.run(api.images.delete_from_store, loaded(request).id, store_id, api.caller(request))
        await api.run(store.delete, location)
        return no_content()

    def action(active: bool) -> Any:
        async def handler(request: Request) -> Response:
            await api.run(api.images.set_active, loaded(request).id, api.caller(request), active)
            api.notifier.emit("image.reactivate" if active else "image.deactivate", {"id": loaded(request).id})
            return no_content()
        return handler

    async def no_id(request: Request) -> Response:
        # Glance answers an empty image id as an unknown image, not as the collection.
        raise errors.NotFound("No image found with ID ")

    one = "/v2/images/{image_id}"
    load = api.image_loader()
    image, images = api.response_schema("image"), api.collection_schema("images", "image")
    empty = [Op(m, "/v2/images/", no_id, "An empty image id (404)", rule="get_images", target=list_target,
                tag="images", errors=(401, 403, 404)) for m in ("GET", "DELETE", "PATCH", "PUT")]
    return [*empty,
        Op("POST", "/v2/images", create, "Create an image", status=201, rule="add_image", target=create_target,
           response=image,
           alt_rules=("publicize_image", "communitize_image"),
           tag="images", errors=(400, 401, 403, 409, 413)),
        Op("GET", "/v2/images", index, "List images", rule="get_images", target=list_target, tag="images",
           response=images,
           query=("limit", "marker", "sort", "sort_key", "sort_dir", "name", "visibility", "member_status",
                  "owner", "status", "tag", "size_min", "size_max", "created_at", "updated_at", "os_hidden",
                  "protected", "container_format", "disk_format", "id")),
        Op("GET", one, show, "Show an image", rule="get_image", target=load, tag="images", response=image),
        Op("PATCH", one, update, "Update an image (JSON patch)", rule="modify_image", target=load, tag="images",
           response=image,
           alt_rules=("publicize_image", "communitize_image"), errors=(400, 401, 403, 404, 409, 413, 415)),
        Op("DELETE", one, delete, "Delete an image", status=204, rule="delete_image", target=load, tag="images"),
        Op("PUT", one + "/tags/{tag}", add_tag, "Add a tag", status=204, rule="modify_image", target=load,
           tag="images", errors=(400, 401, 403, 404, 413)),
        Op("DELETE", one + "/tags/{tag}", delete_tag, "Remove a tag", status=204, rule="modify_image",
           target=load, tag="images"),
        Op("DELETE", "/v2/stores/{store_id}/{image_id}", delete_from_store, "Delete an image's data from one store",
           status=204, rule="delete_image_location", target=load, tag="images", errors=(401, 403, 404, 409)),
        Op("POST", one + "/actions/deactivate", action(False), "Deactivate an image", status=204,
           rule="deactivate", target=load, tag="images"),
        Op("POST", one + "/actions/reactivate", action(True), "Reactivate an image", status=204,
           rule="reactivate", target=load, tag="images"),
    ]


# --- JSON patch ----------------------------------------------------------------------------------


def _pointer(pointer: Any) -> list[str]:
    if not isinstance(pointer, str):
        raise errors.BadRequest("Invalid JSON pointer for this resource: the path must be a string.")
    if not pointer.startswith("/"):
        raise errors.BadRequest(f'Pointer `{pointer}` does not start with "/".')
    if re.search(r"/\s*?/", pointer[1:]):
        raise errors.BadRequest(f'Pointer `{pointer}` contains adjacent "/".')
    if len(pointer) > 1 and pointer.endswith("/"):
        raise errors.BadRequest(f'Pointer `{pointer}` end with "/".')
    if pointer[1:].strip() == "/":
        raise errors.BadRequest(f"Pointer `{pointer}` does not contains valid token.")
    if re.search("~[^01]", pointer) or pointer.endswith("~"):
        raise errors.BadRequest(f'Pointer `{pointer}` contains "~" not part of a recognized escape sequence.')
    return [part.replace("~1", "/").replace("~0", "~").strip() for part in pointer.lstrip("/").split("/")]


def parse_patch(api: ImageAPI, body: Any, version: int) -> list[Change]:
    """Glance's JSON-patch rules: draft 10 (``{"op", "path", "value"}``, media type v2.1) or draft 4
    (``{"add": path, "value"}``, v2.0); one level deep; read-only and reserved names refused."""
    if not isinstance(body, list):
        raise errors.BadRequest("Request body must be a JSON array of operation objects.")
    changes = []
    for raw in body:
        if not isinstance(raw, dict):
            raise errors.BadRequest("Operations must be JSON objects.")
        if version == 10:
            op = raw.get("op")
            if op is None or op not in OPERATIONS:
                what = "Unable to find `op` in JSON Schema change." if op is None else f"Invalid operation: `{op}`."
                raise errors.BadRequest(f"{what} It must be one of the following: {', '.join(OPERATIONS)}.")
            if "path" not in raw:
                raise errors.BadRequest("Unable to find 'path' in JSON Schema change")
            path = _pointer(raw["path"])
        else:
            present = [k for k in OPERATIONS if k in raw]
            if len(present) != 1:
                raise errors.BadRequest('Operation objects must contain exactly one member named "add", '
                                        '"remove", or "replace".')
            op = present[0]
            path = _pointer(raw[op])
        if len(path) != 1:
            raise errors.BadRequest(f"Invalid JSON pointer for this resource: '/{'/'.join(path)}'")
        name = path[0]
        if name in READ_ONLY:
            raise errors.Forbidden(f"Attribute '{name}' is read-only.")
        if _reserved(name):
            raise errors.Forbidden(f"Attribute '{name}' is reserved.")
        if name == "locations":
            raise errors.Forbidden("It's not allowed to update locations if locations are invisible.")
        change = Change(op, name)
        if op != "remove":
            if "value" not in raw:
                raise errors.BadRequest(f'Operation "{op}" requires a member named "value".')
            change.value = raw["value"]
            api.validate_image({name: change.value})
            if name not in CORE and len(name) > 255:
                raise errors.BadRequest("Custom property should not be greater than 255 characters.")
        changes.append(change)
    return changes
