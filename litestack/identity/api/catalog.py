"""Regions, services and endpoints."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from litestack.common.api.app import JSON, Op
from litestack.common.api.crud import Resource, crud_ops
from litestack.common.api.policy import body
from litestack.common.api.schema import BOOL, DESC, NAME, OPT_ID, single, wrapped
from litestack.identity.api import views
from litestack.identity.api.service import IdentityAPI

URL = {"type": "string", "minLength": 1, "maxLength": 2048, "pattern": "^[a-zA-Z][a-zA-Z0-9+.-]*://"}
INTERFACE = {"type": "string", "enum": ["public", "internal", "admin"]}
REGION_PROPS = {"id": {"type": "string", "minLength": 1, "maxLength": 255}, "description": DESC,
                "parent_region_id": {"type": ["string", "null"], "maxLength": 255}}
SERVICE_PROPS = {"type": NAME, "name": {"type": "string", "maxLength": 255}, "description": DESC,
                 "enabled": BOOL}
ENDPOINT_PROPS = {"service_id": {"type": "string", "minLength": 1, "maxLength": 64}, "interface": INTERFACE,
                  "url": URL, "region_id": OPT_ID, "region": OPT_ID, "enabled": BOOL}
CREATE_REGION = wrapped("region", REGION_PROPS)
UPDATE_REGION = wrapped("region", {k: v for k, v in REGION_PROPS.items() if k != "id"})
CREATE_SERVICE = wrapped("service", SERVICE_PROPS, ["type"])
UPDATE_SERVICE = wrapped("service", SERVICE_PROPS)
CREATE_ENDPOINT = wrapped("endpoint", ENDPOINT_PROPS, ["service_id", "interface", "url"])
UPDATE_ENDPOINT = wrapped("endpoint", ENDPOINT_PROPS)


def ops(api: IdentityAPI) -> list[Op]:
    mgr = api.mgr
    w = (400, 401, 403, 404, 409)
    regions = Resource(
        "regions", "region", "regions", "region_id", views.region, "identity:{verb}_region", tag="catalog",
        item=views.REGION, query=("parent_region_id",),
        lister=lambda r, limit: mgr.catalog.list_regions(r.query_params.get("parent_region_id"), limit),
        getter=mgr.catalog.get_region, creator=mgr.catalog.create_region, updater=mgr.catalog.update_region,
        deleter=mgr.catalog.delete_region,
        create_body=CREATE_REGION, update_body=UPDATE_REGION)
    services = Resource(
        "services", "service", "services", "service_id", views.service, "identity:{verb}_service", tag="catalog",
        item=views.SERVICE, query=("type", "name"),
        lister=lambda r, limit: mgr.catalog.list_services(r.query_params.get("type"), r.query_params.get("name"),
                                                          limit),
        getter=mgr.catalog.get_service, creator=mgr.catalog.create_service, updater=mgr.catalog.update_service,
        deleter=mgr.catalog.delete_service, create_body=CREATE_SERVICE, update_body=UPDATE_SERVICE)
    endpoints = Resource(
        "endpoints", "endpoint", "endpoints", "endpoint_id", views.endpoint, "identity:{verb}_endpoint",
        item=views.ENDPOINT, tag="catalog", query=("service_id", "interface", "region_id"),
        lister=lambda r, limit: mgr.catalog.list_endpoints(
            {k: r.query_params.get(k) for k in ("service_id", "interface", "region_id")}, limit),
        getter=mgr.catalog.get_endpoint, creator=mgr.catalog.create_endpoint, updater=mgr.catalog.update_endpoint,
        deleter=mgr.catalog.delete_endpoint, create_body=CREATE_ENDPOINT, update_body=UPDATE_ENDPOINT)

    async def put_region(request: Request) -> Response:
        # A region may be created with the id in the path (PUT), which no generic create does.
        data = body(request)["region"]
        data["id"] = api.param(request, "region_id")
        region = await api.run(mgr.catalog.create_region, data)
        return JSON({"region": views.region(api.base(request), region)}, status_code=201)

    return [
        *crud_ops(api, regions),
        Op("PUT", "/v3/regions/{region_id}", put_region, "Create a region with an id", body=CREATE_REGION,
           response=single("region", views.REGION), status=201, tag="catalog", errors=w, rule="identity:create_region"),
        *crud_ops(api, services),
        *crud_ops(api, endpoints),
    ]
