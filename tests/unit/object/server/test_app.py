"""The storage server's ASGI app, driven in-process: what it does with a rotten file on read."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
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


def test_a_large_rotten_object_read_ahead_is_quarantined_too(tmp_path: Path) -> None:
    """The md5 check of a whole read holds when the blocks are read ahead of the sending."""
    (tmp_path / "d1").mkdir()
    server = StorageServer(tmp_path, "secret", "p", "s", 0)
    headers = {"X-Backend-Cluster-Secret": "secret"}
    data = bytes(range(256)) * (3 * 4096 + 7)  # 3 MiB and a bit: several read blocks

    async def main() -> tuple[bytes, bytes, int]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(server), base_url="http://s") as c:
            await c.put("/d1/0/AUTH_a/c/o", content=data, headers={**headers, "X-Timestamp": f"{time.time():016.5f}"})
            good = await c.get("/d1/0/AUTH_a/c/o", headers=headers)
            h = hash_path("p", "s", "AUTH_a", "c", "o")
            path = next((tmp_path / "d1" / "objects" / "0" / h[-3:] / h).glob("*.data"))
            with open(path, "r+b") as f:
                f.seek(len(data) - 10)  # in the last block
                f.write(b"X")
            bad = await c.get("/d1/0/AUTH_a/c/o", headers=headers)
            again = await c.get("/d1/0/AUTH_a/c/o", headers=headers)
            return good.content, bad.content, again.status_code

    good, bad, again = asyncio.run(main())
    server._pool.shutdown()
    server._db_pool.shutdown()
    assert good == data and len(bad) == len(data) and bad != data
    assert again == 404


def test_read_ahead_keeps_order_stops_early_and_passes_errors_on(tmp_path: Path) -> None:
    server = StorageServer(tmp_path, "secret", "p", "s", 0)
    made: list[int] = []
    closed: list[bool] = []

    def blocks(n: int, fail_at: int | None = None) -> Iterator[bytes]:
        try:
            for i in range(n):
                if i == fail_at:
                    raise OSError("disk gone")
                made.append(i)
                yield b"%d" % i
        finally:
            closed.append(True)

    async def main() -> tuple[list[bytes], list[bytes], int, str]:
        every = [b async for b in server.read_ahead(blocks(10), depth=2)]
        made.clear()
        some: list[bytes] = []
        reader = server.read_ahead(blocks(1000), depth=2)
        async for b in reader:
            some.append(b)
            if len(some) == 3:
                break
        await reader.aclose()
        for _ in range(100):  # the reader thread notices the stop
            if len(closed) == 2:
                break
            await asyncio.sleep(0.01)
        read = len(made)
        try:
            async for _ in server.read_ahead(blocks(5, fail_at=2)):
                pass
        except OSError as exc:
            return every, some, read, str(exc)
        return every, some, read, ""

    every, some, read, error = asyncio.run(main())
    server._pool.shutdown()
    server._db_pool.shutdown()
    assert every == [b"%d" % i for i in range(10)] and some == [b"0", b"1", b"2"]
    assert read <= 3 + 2 + 1 and len(closed) == 3  # read at most `depth` ahead, then closed
    assert error == "disk gone"
