"""Request bodies: the size limit of every route, and the shared JSON decoding (common/api/body.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, build_app, json_body
from litestack.common.api.body import MAX_BODY, MAX_DEPTH, decode_json

pytestmark = pytest.mark.unit
CHUNK = 64 * 1024


async def _echo(request: Request) -> Response:
    data = await json_body(request)
    return JSON({"size": len(json.dumps(data))})


async def _count(request: Request) -> Response:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    return JSON({"size": size})


async def _ignore(request: Request) -> Response:
    return JSON({"ok": True})


APP = build_app("identity", [
    Op("POST", "/echo", _echo, public=True),
    Op("PUT", "/upload", _count, public=True, max_body=None),
    Op("PUT", "/small", _count, public=True, max_body=10),
    Op("POST", "/ignore", _ignore, public=True),
])


class Feed:
    """An ASGI receive that hands out a body in chunks and counts how much was taken."""

    def __init__(self, chunks: int | None, chunk: bytes = b" " * CHUNK) -> None:
        self.left = chunks  # None: endless
        self.chunk = chunk
        self.taken = 0

    async def __call__(self) -> dict[str, Any]:
        if self.left is not None:
            self.left -= 1
        self.taken += len(self.chunk)
        return {"type": "http.request", "body": self.chunk, "more_body": self.left != 0}


def call(method: str, path: str, feed: Feed, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    """One request through the app at the ASGI level (so the test sees what the app reads)."""
    sent: list[dict[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": b"", "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
             "client": ("192.0.2.7", 1234), "server": ("t", 80), "scheme": "http", "http_version": "1.1",
             "asgi": {"version": "3.0"}}
    async def go() -> None:
        await APP(scope, feed, send)

    asyncio.run(go())
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    hdrs = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], hdrs, json.loads(body)


def test_declared_content_length_over_the_limit_is_refused_before_reading() -> None:
    feed = Feed(None)
    status, headers, body = call("POST", "/echo", feed, {"content-length": str(400 << 20)})
    assert status == 413
    assert body["error"]["code"] == 413  # the service's own error body
    assert feed.taken == 0
    assert headers["connection"] == "close"  # keep-alive must not read the 400 MB to discard it


def test_chunked_body_is_cut_off_at_the_limit() -> None:
    feed = Feed(None)  # endless, no Content-Length: as a chunked upload
    status, headers, _ = call("POST", "/echo", feed, {"transfer-encoding": "chunked"})
    assert status == 413
    assert feed.taken <= MAX_BODY + CHUNK
    assert headers["connection"] == "close"


def test_a_route_can_allow_large_streamed_bodies() -> None:
    status, _, body = call("PUT", "/upload", Feed(48), {"content-length": str(48 * CHUNK)})
    assert (status, body) == (200, {"size": 48 * CHUNK})
    assert 48 * CHUNK > MAX_BODY


def test_a_route_can_lower_the_limit() -> None:
    status, _, _ = call("PUT", "/small", Feed(1, b"x" * 11), {"content-length": "11"})
    assert status == 413
    status, _, body = call("PUT", "/small", Feed(1, b"x" * 10), {"content-length": "10"})
    assert (status, body) == (200, {"size": 10})


def test_unread_oversized_body_closes_the_connection() -> None:
    feed = Feed(None)
    status, headers, _ = call("POST", "/ignore", feed, {"content-length": str(400 << 20)})
    assert status == 200 and feed.taken == 0
    assert headers["connection"] == "close"
    status, headers, _ = call("POST", "/ignore", Feed(1, b"{}"), {"content-length": "2"})
    assert status == 200 and "connection" not in headers


def test_json_body_is_bounded_without_the_middleware() -> None:
    feed = Feed(None)

    async def go() -> None:
        scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
        await json_body(Request(scope, feed))

    with pytest.raises(errors.PayloadTooLarge):
        asyncio.run(go())
    assert feed.taken <= MAX_BODY + CHUNK


@pytest.mark.parametrize("raw", [
    b'{"user": {"name": "\\ud800"}}',
    b'{"user": {"name": "ok", "domain": {"id": "a\\udfffb"}}}',
    b'{"\\ud800": 1}',
    b'["x", ["\\udbff"]]',
    b'{"name": "nul\\u0000"}',
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
])
def test_json_a_database_cannot_store_is_a_400(raw: bytes) -> None:
    with pytest.raises(errors.ValidationError):
        decode_json(raw)
    status, _, body = call("POST", "/echo", Feed(1, raw), {"content-length": str(len(raw))})
    assert status == 400 and body["error"]["code"] == 400


@pytest.mark.parametrize("raw", [
    b'{"name": "\\ud83d\\ude00 \\u00e9"}',  # a surrogate pair is one character (an emoji)
    "{\"name\": \"caf\u00e9 \U0001f600\"}".encode(),
    b"[" * MAX_DEPTH + b"]" * MAX_DEPTH,
    b'{"a": [' + b"{}," * 1000 + b"{}]}",  # many brackets, shallow
])
def test_json_that_is_fine_passes(raw: bytes) -> None:
    assert decode_json(raw) == json.loads(raw)


def test_client_that_leaves_mid_body_is_no_server_error(caplog: pytest.LogCaptureFixture) -> None:
    class Leaves:
        def __init__(self) -> None:
            self.calls = 0

        async def __call__(self) -> dict[str, Any]:
            self.calls += 1
            if self.calls == 1:
                return {"type": "http.request", "body": b'{"a": ', "more_body": True}
            return {"type": "http.disconnect"}

    status, _, body = call("POST", "/echo", Leaves(), {"content-length": "100"})  # type: ignore[arg-type]
    assert status == 400 and body["error"]["code"] == 400
    assert "Traceback" not in caplog.text and "unhandled" not in caplog.text
