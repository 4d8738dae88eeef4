"""``/resource_classes`` (1.2) and ``/traits`` (1.6): standard names and ``CUSTOM_*`` ones."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common.api.app import JSON, Op, no_content
from litestack.common.api.body import json_body
from litestack.common.api.policy import body
from litestack.common.api.resource import truthy
from litestack.common.db import run_blocking
from litestack.placement import errors
from litestack.placement.api.base import PlacementAPI, at_least, need, query, single
from litestack.placement.manager.catalog import CUSTOM

RC = "placement:resource_classes:"
TR = "placement:traits:"
CUSTOM_NAME: dict[str, Any] = {"type": "string", "pattern": "^CUSTOM_[A-Z0-9_]+$", "maxLength": 255}
CLASS_BODY: dict[str, Any] = {"type": "object", "required": ["name"], "additionalProperties": False,
                              "properties": {"name": CUSTOM_NAME}}
INVALID_TRAIT = ('The trait is invalid. A valid trait must be no longer than 255 characters, start with the prefix '
                 '"CUSTOM_" and use following characters: "A"-"Z", "0"-"9" and "_"')


def ops(api: PlacementAPI) -> list[Op]:
    mgr = api.mgr

    def class_view(request: Request, name: str) -> dict[str, Any]:
        return {"name": name, "links": [{"rel": "self", "href": api.path(request, f"/resource_classes/{name}")}]}

    def name_of(request: Request) -> str:
        value: str = request.path_params["name"]
        return value

    async def list_classes(request: Request) -> Response:
        need(request, "1.2")
        names = await run_blocking(mgr.catalog.classes)
        return JSON({"resource_classes": [class_view(request, n) for n in names]})

    async def create_class(request: Request) -> Response:
        need(request, "1.2")
        name = body(request)["name"]
        await run_blocking(mgr.catalog.create_class, name)
        return Response(status_code=201, headers=api.location(request, f"/resource_classes/{name}"))

    async def show_class(request: Request) -> Response:
        need(request, "1.2")
        name = await run_blocking(mgr.catalog.get_class, name_of(request))
        return JSON(class_view(request, name))

    async def put_class(request: Request) -> Response:
        need(request, "1.2")
        name = name_of(request)
        if at_least(request, "1.7"):
            if not CUSTOM.match(name) or len(name) > 255:
                if name in mgr.catalog.standard_classes:
                    raise errors.BadRequest(f"Cannot update standard resource class {name}")
                raise errors.BadRequest(f"JSON does not validate: {name!r} does not match '^CUSTOM_[A-Z0-9_]+$'")
            created = await run_blocking(lambda: mgr.catalog.create_class(name, exist_ok=True))
            where = api.location(request, f"/resource_classes/{name}")
            return Response(status_code=201, headers=where) if created else no_content(where)
        data = await json_body(request, CLASS_BODY)
        await run_blocking(mgr.catalog.rename_class, name, data["name"])
        return JSON(class_view(request, data["name"]))

    async def delete_class(request: Request) -> Response:
        need(request, "1.2")
        await run_blocking(mgr.catalog.delete_class, name_of(request))
        return no_content()

    async def list_traits(request: Request) -> Response:
        need(request, "1.6")
        q = query(request, {"name", "associated"}.__contains__)
        prefix = names = associated = None
        if (n := single(q, "name")) is not None:
            if n.startswith("startswith:"):
                prefix = n[len("startswith:"):]
            elif n.startswith("in:"):
                names = {x.strip() for x in n[3:].split(",") if x.strip()}
            else:
                raise errors.bad_query(f"Badly formatted name parameter. Expected name query string parameter in "
                                       f"form: ?name=[in|startswith]:[name1,name2|prefix]. Got: \"{n}\"")
        if (a := single(q, "associated")) is not None:
            if a.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise errors.bad_query(f"Invalid query string parameters: {a!r} is not a valid boolean")
            associated = truthy(a)
        found = await run_blocking(lambda: mgr.catalog.traits(prefix=prefix, names=names, associated=associated))
        return JSON({"traits": found})

    async def show_trait(request: Request) -> Response:
        need(request, "1.6")
        name = name_of(request)
        if not await run_blocking(mgr.catalog.has_trait, name):
            raise errors.NotFound(f"No such trait(s): {name}.")
        return no_content()

    async def put_trait(request: Request) -> Response:
        need(request, "1.6")
        name = name_of(request)
        if not CUSTOM.match(name) or len(name) > 255:
            raise errors.BadRequest(INVALID_TRAIT)
        created = await run_blocking(mgr.catalog.create_trait, name)
        where = api.location(request, f"/traits/{name}")
        return Response(status_code=201, headers=where) if created else no_content(where)

    async def delete_trait(request: Request) -> Response:
        need(request, "1.6")
        await run_blocking(mgr.catalog.delete_trait, name_of(request))
        return no_content()

    classes, one_class = "/resource_classes", "/resource_classes/{name}"
    return [
        Op("GET", classes, list_classes, "List resource classes", rule=RC + "list", tag="resource_classes",
           response={"type": "object", "required": ["resource_classes"]}),
        Op("POST", classes, create_class, "Create a custom resource class", body=CLASS_BODY, status=201,
           rule=RC + "create", tag="resource_classes", errors=(400, 401, 403, 409)),
        Op("GET", one_class, show_class, "Show a resource class", rule=RC + "show", tag="resource_classes"),
        Op("PUT", one_class, put_class, "Create (1.7) or rename a custom resource class", status=201,
           rule=RC + "update", tag="resource_classes", errors=(200, 204, 400, 401, 403, 404, 409), max_body=65536),
        Op("DELETE", one_class, delete_class, "Delete a custom resource class", status=204, rule=RC + "delete",
           tag="resource_classes", errors=(400, 401, 403, 404, 409)),
        Op("GET", "/traits", list_traits, "List traits", rule=TR + "list", query=("name", "associated"),
           tag="traits", response={"type": "object", "required": ["traits"]}),
        Op("GET", "/traits/{name}", show_trait, "Check that a trait exists", status=204, rule=TR + "show",
           tag="traits"),
        Op("PUT", "/traits/{name}", put_trait, "Create a custom trait (204: it existed)", status=201,
           rule=TR + "update", tag="traits", errors=(204, 400, 401, 403)),
        Op("DELETE", "/traits/{name}", delete_trait, "Delete a custom trait", status=204, rule=TR + "delete",
           tag="traits", errors=(400, 401, 403, 404, 409)),
    ]
