"""Version discovery, ``/v2/info/*`` and ``/v2/schemas/*``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op
from litestack.common.api.policy import Target, policy_target
from litestack.image.api.service import ImageAPI


def versions(api: ImageAPI, base: str) -> list[dict[str, object]]:
    """Glance's list without the cache API (2.14, 2.16, 2.18): with several stores it also
    advertises 2.8 to 2.13 (multi-store), as Glance does with ``enabled_backends``."""
    href = f"{base}/v2/"

    def v(number: str, status: str = "SUPPORTED") -> dict[str, object]:
        return {"id": f"v{number}", "status": status, "links": [{"rel": "self", "href": href}]}

    out = [v("2.15")]
    out += [v(f"2.{n}") for n in range(13, 7, -1)] if api.settings.multiple_stores else [v("2.9")]
    out.append(v("2.17", "CURRENT"))
    out += [v(f"2.{n}") for n in range(7, -1, -1)]
    return out


def ops(api: ImageAPI) -> list[Op]:
    async def version_list(request: Request) -> Response:
        return JSON({"versions": versions(api, api.base(request))}, status_code=300)

    async def schema(request: Request) -> Response:
        name = api.param(request, "name")
        doc = api.schemas.get(name)
        if doc is None:
            raise errors.NotFound("The resource could not be found.")
        return JSON(doc)

    async def import_info(request: Request) -> Response:
        return JSON({"import-methods": {"description": "Import methods available.", "type": "array",
                                        "value": list(api.settings.import_methods)}})

    def store_list() -> list[dict[str, str]]:
        if not api.settings.multiple_stores:
            raise errors.NotFound("Multi backend is not supported at this site.")
        out = []
        for name, store in api.data.stores.items():
            entry = {"id": name}
            if store.description:
                entry["description"] = store.description
            if name == api.data.default_store:
                entry["default"] = "true"
            out.append(entry)
        return out

    async def stores(request: Request) -> Response:
        return JSON({"stores": store_list()})

    async def stores_detail(request: Request) -> Response:
        out = []
        for entry in store_list():
            store = api.data.stores[entry["id"]]
            detail: dict[str, object] = {**entry, "type": store.kind, "weight": 0,
                                         "properties": {"data_dir": getattr(store, "directory", None),
                                                        "chunk_size": 65536, "thin_provisioning": False}}
            out.append(detail)
        return JSON({"stores": out})

    async def usage(request: Request) -> Response:
        project = api.caller(request).project_id
        counts = await api.run(api.data.usage, project)
        limits = await api.quota_limits(project) or {}
        return JSON({"usage": {k: {"limit": limits.get(k, -1), "usage": v} for k, v in counts.items()}})

    async def own(request: Request) -> Target:
        return Target(policy_target(None, project_id=api.caller(request).project_id))

    return [
        Op("GET", "/", version_list, "List API versions", status=300, public=True, tag="versions"),
        Op("GET", "/versions", version_list, "List API versions", status=300, public=True, tag="versions"),
        Op("GET", "/v2/schemas/{name}", schema, "Show a schema", public=True, tag="schemas"),
        Op("GET", "/v2/info/import", import_info, "Import methods", public=True, tag="info"),
        Op("GET", "/v2/info/stores", stores, "List stores", public=True, tag="info"),
        Op("GET", "/v2/info/stores/detail", stores_detail, "List stores with details", rule="stores_info_detail",
           tag="info"),
        Op("GET", "/v2/info/usage", usage, "Show the project's quota usage", rule="get_usage", target=own,
           tag="info"),
    ]
