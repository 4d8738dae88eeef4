from __future__ import annotations

import pytest

from litestack.common import errors
from litestack.common.api.microversion import Range, Version

pytestmark = pytest.mark.unit

COMPUTE = Range("compute", Version(2, 1), Version(2, 90), legacy_header="x-openstack-nova-api-version")


@pytest.mark.parametrize("headers, want", [
    ({}, "2.1"),
    ({"openstack-api-version": "compute latest"}, "2.90"),
    ({"openstack-api-version": "compute 2.53"}, "2.53"),
    ({"openstack-api-version": "volume 3.5, compute 2.10"}, "2.10"),
    ({"x-openstack-nova-api-version": "2.20"}, "2.20"),
    ({"openstack-api-version": "image 2.5"}, "2.1"),  # another service's version is ignored
])
def test_negotiation(headers: dict[str, str], want: str) -> None:
    assert str(COMPUTE.negotiate(headers)) == want


@pytest.mark.parametrize("value", ["compute 2.91", "compute 1.0", "compute 3.0"])
def test_out_of_range_is_406(value: str) -> None:
    with pytest.raises(errors.NotAcceptable):
        COMPUTE.negotiate({"openstack-api-version": value})


@pytest.mark.parametrize("value", ["compute two", "compute 2.01", "compute 2"])
def test_junk_is_400(value: str) -> None:
    with pytest.raises(errors.BadRequest):
        COMPUTE.negotiate({"openstack-api-version": value})


def test_response_headers_echo_and_vary() -> None:
    h = COMPUTE.response_headers(Version(2, 53))
    assert h["OpenStack-API-Version"] == "compute 2.53"
    assert h["X-OpenStack-Nova-API-Version"] == "2.53"
    assert "OpenStack-API-Version" in h["Vary"]


def test_versions_order_numerically() -> None:
    assert Version.parse("2.10") > Version.parse("2.9")


def _app_with(versions: Range, prefix: str, extra: object = None) -> tuple[object, list[str]]:
    """An ASGI app behind ``negotiation``: answers the version it was given, or raises."""
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse

    from litestack.common.api.microversion import negotiation, requested

    seen: list[str] = []

    async def app(scope: dict, receive: object, send: object) -> None:
        v = requested(Request(scope), versions)
        seen.append(str(v))
        if scope["path"].endswith("/missing"):
            raise errors.NotFound("gone")
        await PlainTextResponse(str(v))(scope, receive, send)  # type: ignore[arg-type]

    return negotiation(versions, prefix, extra)(app), seen  # type: ignore[arg-type]


def test_the_negotiation_middleware_keeps_echoes_and_puts_the_echo_on_errors() -> None:
    import asyncio

    import httpx

    def extra(scope: object, version: Version, start: dict) -> list[tuple[bytes, bytes]]:
        return [(b"x-extra", f"{start['status']}".encode())]

    async def scenario() -> None:
        app, seen = _app_with(COMPUTE, "/v2.1/", extra)
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.get("/v2.1/servers", headers={"OpenStack-API-Version": "compute 2.10"})
            assert r.text == "2.10" and r.headers["openstack-api-version"] == "compute 2.10"
            assert r.headers["x-openstack-nova-api-version"] == "2.10" and r.headers["x-extra"] == "200"
            assert "OpenStack-API-Version" in r.headers["vary"]
            r = await client.get("/", headers={"OpenStack-API-Version": "compute 9.9"})  # outside the prefix
            assert r.text == "2.1" and "openstack-api-version" not in r.headers
            # An error raised below carries the echo for the error boundary that answers it.
            with pytest.raises(errors.NotFound) as caught:
                await client.get("/v2.1/missing", headers={"OpenStack-API-Version": "compute 2.2"})
            assert (caught.value.headers or {})["OpenStack-API-Version"] == "compute 2.2"
            with pytest.raises(errors.NotAcceptable):
                await client.get("/v2.1/servers", headers={"OpenStack-API-Version": "compute 2.91"})
        assert seen == ["2.10", "2.1", "2.2"]

    asyncio.run(scenario())
