"""The storage server's ASGI app, driven in-process: what it does with a rotten file on read."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from litestack.object.ring import hash_path
from litestack.object.server.app import StorageServer


def test_a_read_that_finds_rot_quarantines_the_object(tmp_path: Path) -> None:
    (tmp_path / "d1").mkdir()
    server = StorageServer(tmp_path, "secret", "p", "s", 0)
    headers = {"X-Backend-Cluster-Secret": "secret"}

    async def main() -> tuple[int, int, bytes]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(server), base_url="http://s") as c:
            put = await c.put("/d1/0/AUTH_a/c/o", content=b"hello world" * 100,
                              headers={**headers, "X-Timestamp": f"{time.time():016.5f}"})
            h = hash_path("p", "s", "AUTH_a", "c", "o")
            data = next((tmp_path / "d1" / "objects" / "0" / h[-3:] / h).glob("*.data"))
            raw = bytearray(data.read_bytes())
            raw[3] ^= 0xFF
            data.write_bytes(bytes(raw))
            got = await c.get("/d1/0/AUTH_a/c/o", headers=headers)
            again = await c.get("/d1/0/AUTH_a/c/o", headers=headers)
            return put.status_code, again.status_code, got.content

    put, again, body = asyncio.run(main())
    server._pool.shutdown()
    server._db_pool.shutdown()
    assert put == 201 and body[3] != ord("l")  # the rotten bytes went out (as in Swift) ...
    assert again == 404  # ... but the object was quarantined: the next read goes to another replica
    assert any((tmp_path / "d1" / "quarantined" / "objects").iterdir())
