"""A stand-in compute API for the network tests (``[DEFAULT] service_plugins``): in the catalog as
type ``compute``, it records the server external events the network service sends and shows them
at ``GET /recorded``. Only for checking the sender's side while compute is built elsewhere."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from litestack.common.service import CatalogEntry, ServiceContext, ServiceRuntime, ServiceSpec

SERVICE = ServiceSpec(
    name="computerecorder",
    code_name="Nova",
    description="Records os-server-external-events (network tests only)",
    catalog=(CatalogEntry("compute", "nova", "Compute events recorder of the test suite"),),
    port=9797,
    path="/compute-recorder",
    factory="tests.functional.network.compute_recorder:Recorder",
)


class Recorder(ServiceRuntime):
    def __init__(self, ctx: ServiceContext) -> None:
        self.events: list[dict[str, Any]] = []
        self.tokens: list[bool] = []

        async def external_events(request: Request) -> JSONResponse:
            body = await request.json()
            self.tokens.append(bool(request.headers.get("x-auth-token")))
            events = [{**e, "code": 200} for e in body["events"]]
            self.events.extend(events)
            return JSONResponse({"events": events})

        async def recorded(request: Request) -> JSONResponse:
            return JSONResponse({"events": self.events, "authenticated": all(self.tokens)})

        self.app = Starlette(routes=[Route("/os-server-external-events", external_events, methods=["POST"]),
                                     Route("/recorded", recorded)])
