"""A small HTTP/1.1 client on asyncio streams, with a keep-alive pool per storage server (Swift
has its own too: ``swift/common/bufferedhttp.py``).

The proxy sends about ten requests to storage servers for every object it writes. httpx's pool
looks at (and polls) every pooled connection for each request, which made it the largest cost of a
PUT; this client takes an idle connection of the right host from a list and puts it back after.
It speaks just what the storage servers need: a body as bytes or an async iterator of chunks
(``Content-Length`` if given, chunked otherwise), answers with ``Content-Length``, chunked or no
body, streamed or read whole. Failures raise httpx's exceptions (``httpx.HTTPError``), so callers
handle one family whichever client they use.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]
_NO_BODY = (204, 304)
_CHUNK = 65536
#: The most a streamed answer hands over per read (what the socket has, up to this).
_READ = 1 << 20


class Response:
    """A storage server's answer: status, headers and the body (read whole, or streamed with
    ``aiter_raw``; a streamed answer must be read to the end or closed with ``aclose``)."""

    def __init__(self, pool: Pool, key: tuple[str, int], conn: _Conn, status: int, headers: httpx.Headers,
                 length: int | None, chunked: bool, timeout: float) -> None:
        self._pool, self._key, self._conn = pool, key, conn
        self.status_code = status
        self.headers = headers
        self._length = length
        self._chunked = chunked
        self._timeout = timeout
        self._done = length == 0 and not chunked
        self._reusable = headers.get("connection", "").lower() != "close" and (length is not None or chunked)
        self.content = b""
        if self._done:
            self._release()

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)

    def _release(self) -> None:
        conn, self._conn = self._conn, None  # type: ignore[assignment]
        if conn is None:
            return
        if self._reusable and self._done:
            self._pool.put_back(self._key, conn)
        else:
            conn[1].close()

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        if self._done or self._conn is None:
            return
        reader = self._conn[0]
        try:
            if self._chunked:
                while True:
                    line = await self._read(reader.readline())
                    size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while (await self._read(reader.readline())).strip():
                            pass  # trailers
                        break
                    data = await self._read(reader.readexactly(size))
                    await self._read(reader.readexactly(2))
                    yield data
            elif self._length is not None:
                left = self._length
                while left > 0:
                    # Whole blocks: every chunk handed on costs a pass through the middlewares and
                    # the server's send, so a few large ones are cheaper than many small ones.
                    try:
                        data = await self._read(reader.readexactly(min(left, _READ)))
                    except asyncio.IncompleteReadError:
                        raise httpx.RemoteProtocolError("the storage server closed the connection mid-body") from None
                    left -= len(data)
                    yield data
            else:
                while data := await self._read(reader.read(_READ)):
                    yield data
            self._done = True
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            raise httpx.ReadError(str(exc)) from exc
        finally:
            self._release()

    async def _read(self, aw: Any) -> Any:
        try:
            async with asyncio.timeout(self._timeout):
                return await aw
        except TimeoutError:
            raise httpx.ReadTimeout("the storage server did not answer in time") from None

    async def aread(self) -> bytes:
        self.content = b"".join([chunk async for chunk in self.aiter_raw()])
        return self.content

    async def aclose(self) -> None:
        self._release()


class Pool:
    """Keep-alive connections to storage servers, by host and port."""

    def __init__(self, timeout: float = 10.0, connect_timeout: float = 2.0, max_idle: int = 64) -> None:
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_idle = max_idle
        self._idle: dict[tuple[str, int], list[_Conn]] = {}

    def put_back(self, key: tuple[str, int], conn: _Conn) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) < self.max_idle and not conn[1].is_closing():
            idle.append(conn)
        else:
            conn[1].close()

    async def _connect(self, key: tuple[str, int]) -> tuple[_Conn, bool]:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn[1].is_closing() and not conn[0].at_eof():
                return conn, True
            conn[1].close()
        try:
            async with asyncio.timeout(self.connect_timeout):
                return await asyncio.open_connection(*key, limit=1 << 20), False
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {key[0]}:{key[1]} timed out") from None
        except OSError as exc:
            raise httpx.ConnectError(f"{key[0]}:{key[1]}: {exc}") from exc

    async def request(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                      content: bytes | AsyncIterator[bytes] | None = None, params: dict[str, str] | None = None,
                      stream: bool = False, timeout: float | None = None) -> Response:
        parts = urlsplit(url)
        key = (parts.hostname or "127.0.0.1", parts.port or 80)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params)
        timeout = self.timeout if timeout is None else timeout
        lines = [f"{method} {target} HTTP/1.1", f"Host: {key[0]}:{key[1]}"]
        has_length = False
        for k, v in (headers or {}).items():
            if k.lower() in ("host", "transfer-encoding"):
                continue
            has_length = has_length or k.lower() == "content-length"
            lines.append(f"{k}: {v}")
        streamed = content is not None and not isinstance(content, bytes | bytearray)
        if isinstance(content, bytes | bytearray):
            if not has_length:
                lines.append(f"Content-Length: {len(content)}")
        elif streamed and not has_length:
            lines.append("Transfer-Encoding: chunked")
        elif content is None and method in ("PUT", "POST") and not has_length:
            lines.append("Content-Length: 0")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        for attempt in (0, 1):
            conn, reused = await self._connect(key)
            try:
                return await self._exchange(conn, key, method, head, content, streamed, has_length, stream, timeout)
            except _Stale:
                conn[1].close()
                if attempt or streamed or not reused:
                    raise httpx.RemoteProtocolError("the storage server closed the connection") from None
            except BaseException:
                conn[1].close()
                raise
        raise AssertionError("unreachable")

    async def _exchange(self, conn: _Conn, key: tuple[str, int], method: str, head: bytes,
                        content: bytes | AsyncIterator[bytes] | None, streamed: bool, has_length: bool,
                        stream: bool, timeout: float) -> Response:
        reader, writer = conn
        try:
            if isinstance(content, bytes | bytearray):
                writer.write(head + bytes(content) if len(content) < _CHUNK else head)
                if len(content) >= _CHUNK:
                    writer.write(content)
            else:
                writer.write(head)
            if streamed:
                assert content is not None and not isinstance(content, bytes | bytearray)
                async for chunk in content:
                    if chunk:
                        writer.write(chunk if has_length else b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        await writer.drain()
                if not has_length:
                    writer.write(b"0\r\n\r\n")
            await writer.drain()
            async with asyncio.timeout(timeout):
                status_line = await reader.readline()
                if not status_line:
                    raise _Stale()
                raw_headers: list[tuple[str, str]] = []
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = line.decode("latin-1").partition(":")
                    raw_headers.append((k.strip(), v.strip()))
        except TimeoutError:
            raise httpx.ReadTimeout(f"{key[0]}:{key[1]} did not answer in time") from None
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise _Stale() from exc
        except OSError as exc:
            raise httpx.ReadError(str(exc)) from exc
        try:
            status = int(status_line.split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise httpx.RemoteProtocolError(f"bad status line {status_line[:80]!r}") from None
        hdrs = httpx.Headers(raw_headers)
        chunked = "chunked" in hdrs.get("transfer-encoding", "").lower()
        length: int | None = None
        if method == "HEAD" or status in _NO_BODY or status < 200:
            length, chunked = 0, False
        elif not chunked and "content-length" in hdrs:
            length = int(hdrs["content-length"])
        r = Response(self, key, conn, status, hdrs, length, chunked, timeout)
        if not stream:
            await r.aread()
        return r

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for _, writer in idle:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
        self._idle.clear()

    # httpx-like helpers used by the callers

    async def head(self, url: str, headers: dict[str, str] | None = None) -> Response:
        return await self.request("HEAD", url, headers=headers)

    async def put(self, url: str, headers: dict[str, str] | None = None) -> Response:
        return await self.request("PUT", url, headers=headers)


class _Stale(Exception):
    """A pooled connection the server had closed: the request may be sent again on a new one."""
