"""Regions, services and endpoints."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from litestack.common.api.app import JSON, Op, no_content
from litestack.common.api.policy import body
from litestack.common.api.schema import BOOL, DESC, NAME, OPT_ID, listing, single, wrapped
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

    async def list_regions(request: Request) -> Response:
        regions = await api.run(mgr.list_regions, request.query_params.get("parent_region_id"), api.list_limit)
        return JSON(api.collection(request, "regions", regions, views.region, "regions"))

    async def create_region(request: Request, region_id: str | None = None) -> Response:
        data = body(request)["region"]
        if region_id is not None:
            data["id"] = region_id
        region = await api.run(mgr.create_region, data)
        return JSON({"region": views.region(api.base(request), region)}, status_code=201)

    async def put_region(request: Request) -> Response:
        return await create_region(request, api.param(request, "region_id"))

    async def get_region(request: Request) -> Response:
        region = await api.run(mgr.get_region, api.param(request, "region_id"))
        return JSON({"region": views.region(api.base(request), region)})

    async def update_region(request: Request) -> Response:
        data = body(request)["region"]
        region = await api.run(mgr.update_region, api.param(request, "region_id"), data)
        return JSON({"region": views.region(api.base(request), region)})

    async def delete_region(request: Request) -> Response:
        await api.run(mgr.delete_region, api.param(request, "region_id"))
        return no_content()

    async def list_services(request: Request) -> Response:
        q = request.query_params
        services = await api.run(mgr.list_services, q.get("type"), q.get("name"), api.list_limit)
        return JSON(api.collection(request, "services", services, views.service, "services"))

    async def create_service(request: Request) -> Response:
        data = body(request)["service"]
        svc = await api.run(mgr.create_service, data)
        return JSON({"service": views.service(api.base(request), svc)}, status_code=201)

    async def get_service(request: Request) -> Response:
        svc = await api.run(mgr.get_service, api.param(request, "service_id"))
        return JSON({"service": views.service(api.base(request), svc)})

    async def update_service(request: Request) -> Response:
        data = body(request)["service"]
        svc = await api.run(mgr.update_service, api.param(request, "service_id"), data)
        return JSON({"service": views.service(api.base(request), svc)})

    async def delete_service(request: Request) -> Response:
        await api.run(mgr.delete_service, api.param(request, "service_id"))
        return no_content()

    async def list_endpoints(request: Request) -> Response:
        q = request.query_params
        eps = await api.run(mgr.list_endpoints, {k: q.get(k) for k in ("service_id", "interface", "region_id")},
                            api.list_limit)
        return JSON(api.collection(request, "endpoints", eps, views.endpoint, "endpoints"))

    async def create_endpoint(request: Request) -> Response:
        data = body(request)["endpoint"]
        ep = await api.run(mgr.create_endpoint, data)
        return JSON({"endpoint": views.endpoint(api.base(request), ep)}, status_code=201)

    async def get_endpoint(request: Request) -> Response:
        ep = await api.run(mgr.get_endpoint, api.param(request, "endpoint_id"))
        return JSON({"endpoint": views.endpoint(api.base(request), ep)})

    async def update_endpoint(request: Request) -> Response:
        data = body(request)["endpoint"]
        ep = await api.run(mgr.update_endpoint, api.param(request, "endpoint_id"), data)
        return JSON({"endpoint": views.endpoint(api.base(request), ep)})

    async def delete_endpoint(request: Request) -> Response:
        await api.run(mgr.delete_endpoint, api.param(request, "endpoint_id"))
        return no_content()

    w = (400, 401, 403, 404, 409)
    return [
        Op("GET", "/v3/regions", list_regions, "List regions", response=listing("regions"),
           query=("parent_region_id",), tag="catalog", rule="identity:list_regions"),
        Op("POST", "/v3/regions", create_region, "Create a region", body=CREATE_REGION,
           response=single("region"), status=201, tag="catalog", errors=w, rule="identity:create_region"),
        Op("PUT", "/v3/regions/{region_id}", put_region, "Create a region with an id", body=CREATE_REGION,
           response=single("region"), status=201, tag="catalog", errors=w, rule="identity:create_region"),
        Op("GET", "/v3/regions/{region_id}", get_region, "Show a region", response=single("region"),
           tag="catalog", rule="identity:get_region"),
        Op("PATCH", "/v3/regions/{region_id}", update_region, "Update a region", body=UPDATE_REGION,
           response=single("region"), tag="catalog", errors=w, rule="identity:update_region"),
        Op("DELETE", "/v3/regions/{region_id}", delete_region, "Delete a region", status=204, tag="catalog",
           rule="identity:delete_region"),
        Op("GET", "/v3/services", list_services, "List services", response=listing("services"),
           query=("type", "name"), tag="catalog", rule="identity:list_services"),
        Op("POST", "/v3/services", create_service, "Create a service", body=CREATE_SERVICE,
           response=single("service"), status=201, tag="catalog", errors=w, rule="identity:create_service"),
        Op("GET", "/v3/services/{service_id}", get_service, "Show a service", response=single("service"),
           tag="catalog", rule="identity:get_service"),
        Op("PATCH", "/v3/services/{service_id}", update_service, "Update a service", body=UPDATE_SERVICE,
           response=single("service"), tag="catalog", errors=w, rule="identity:update_service"),
        Op("DELETE", "/v3/services/{service_id}", delete_service, "Delete a service", status=204,
           tag="catalog", rule="identity:delete_service"),
        Op("GET", "/v3/endpoints", list_endpoints, "List endpoints", response=listing("endpoints"),
           query=("service_id", "interface", "region_id"), tag="catalog", rule="identity:list_endpoints"),
        Op("POST", "/v3/endpoints", create_endpoint, "Create an endpoint", body=CREATE_ENDPOINT,
           response=single("endpoint"), status=201, tag="catalog", errors=w, rule="identity:create_endpoint"),
        Op("GET", "/v3/endpoints/{endpoint_id}", get_endpoint, "Show an endpoint",
           response=single("endpoint"), tag="catalog", rule="identity:get_endpoint"),
        Op("PATCH", "/v3/endpoints/{endpoint_id}", update_endpoint, "Update an endpoint",
           body=UPDATE_ENDPOINT, response=single("endpoint"), tag="catalog", errors=w, rule="identity:update_endpoint"),
        Op("DELETE", "/v3/endpoints/{endpoint_id}", delete_endpoint, "Delete an endpoint", status=204,
           tag="catalog", rule="identity:delete_endpoint"),
    ]
