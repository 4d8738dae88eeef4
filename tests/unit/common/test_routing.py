"""The indexed router answers every path with the route starlette's linear scan would pick."""

from __future__ import annotations

import pytest
from starlette.exceptions import HTTPException
from starlette.routing import Match, Route, Router
from starlette.types import Message, Receive, Scope, Send

from litestack.common.api.routing import IndexedRouter

pytestmark = pytest.mark.unit


class Endpoint:
    """An ASGI endpoint that records that it was called, and with which path parameters."""

    def __init__(self, name: str, calls: list[tuple[str, dict[str, str]]]) -> None:
        self.name = name
        self.calls = calls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls.append((self.name, dict(scope.get("path_params", {}))))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


TEMPLATES = [
    "/",
    "/v3",
    "/v3/",
    "/v3/auth/tokens",
    "/v3/domains",
    "/v3/domains/config/default",  # literal, before the parameter route of the same prefix
    "/v3/domains/{domain_id}",
    "/v3/domains/{domain_id}/users/{user_id}/roles",
    "/{version}/extensions",  # a parameter first: tried for every prefix, in its place
    "/v3/projects/{project_id}",
    "/v3/projects/{project_id}/",
    "/v3/OS-TRUST/trusts/{trust_id}",
    "/v3/users/{user_id}/application_credentials/{cred_id}",
    "/files/{rest:path}",
]

PATHS = [
    "/", "/v3", "/v3/", "/v3/auth/tokens", "/v3/domains", "/v3/domains/", "/v3/domains/config/default",
    "/v3/domains/d1", "/v3/domains/d1/users/u1/roles", "/v3/extensions", "/v2/extensions", "/v3/projects/p1",
    "/v3/projects/p1/", "/v3/OS-TRUST/trusts/t1", "/v3/users/u/application_credentials/c",
    "/files/a/b/c", "/v3/nothing/here", "/nothing", "",
]


def _routers() -> tuple[Router, IndexedRouter, list[tuple[str, dict[str, str]]]]:
    calls: list[tuple[str, dict[str, str]]] = []
    routes = [Route(t, Endpoint(t, calls)) for t in TEMPLATES]
    return Router(routes=routes, redirect_slashes=False), IndexedRouter(routes), calls


async def _call(router: Router, path: str) -> list[Message]:
    scope: Scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "query_string": b"",
                    "headers": []}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    try:
        await router(scope, receive, send)
    except HTTPException as exc:  # the indexed router leaves the 404 body to the error boundary
        sent.append({"type": "http.response.start", "status": exc.status_code, "headers": []})
    return sent


@pytest.mark.parametrize("path", PATHS)
async def test_same_route_and_parameters_as_the_linear_scan(path: str) -> None:
    linear, indexed, calls = _routers()
    linear_sent = await _call(linear, path)
    linear_calls = list(calls)
    calls.clear()
    indexed_sent = await _call(indexed, path)
    assert calls == linear_calls
    assert indexed_sent[0]["status"] == linear_sent[0]["status"]


async def test_a_path_no_route_takes_is_404() -> None:
    _, indexed, calls = _routers()
    sent = await _call(indexed, "/v3/nothing/here")
    assert sent[0]["status"] == 404 and not calls


async def test_a_path_no_route_takes_gets_the_services_own_404_body() -> None:
    import httpx

    from litestack.common.api.app import JSON, Op, build_app

    async def ok(request: object) -> JSON:
        return JSON({})

    app = build_app("network", [Op("GET", "/v2.0/networks", ok, public=True)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        got = await c.get("/v2.0/nothing")
    assert got.status_code == 404
    assert got.json()["NeutronError"]["message"] == "The resource could not be found."


def test_a_request_tries_only_its_prefix_and_the_parameter_routes() -> None:
    _, indexed, _ = _routers()
    tried = [r.path for r in indexed.candidates("/v3/domains/d1") if isinstance(r, Route)]
    assert tried == ["/v3/domains", "/v3/domains/config/default", "/v3/domains/{domain_id}",
                     "/v3/domains/{domain_id}/users/{user_id}/roles", "/{version}/extensions",
                     "/files/{rest:path}"]  # a parameter in the first two segments: always tried
    assert all(r.matches({"type": "http", "path": "/v3/auth/tokens", "root_path": "", "method": "GET"})[0]
               is not Match.FULL for r in indexed.candidates("/v3/domains/d1"))
