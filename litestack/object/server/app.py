"""One storage host's ASGI app: the object, container and account servers of its devices.

Paths are Swift's backend paths, ``/<device>/<partition>/<account>[/<container>[/<object>]]``
(percent-encoded). Every request must carry the cluster secret (``X-Backend-Cluster-Secret``):
these servers are for the proxy, never for users. A device that is not a directory under the
devices root answers 507, so the proxy moves on to another replica or a handoff (Swift's
``mount_check``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import hashlib
import hmac
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, unquote

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from litestack.object import errors, http, storage_policy
from litestack.object.bufferedhttp import Pool
from litestack.object.ring import Ring, hash_path
from litestack.object.server import replication
from litestack.object.server.dbs import Broker
from litestack.object.server.diskfile import (
    ObjectDir,
    normalize_timestamp,
    quarantine,
    read_range,
    write_trailer_and_sync,
)

LOG = logging.getLogger(__name__)
T = TypeVar("T")

#: Large objects are read from disk, and written to it, in blocks of this size.
READ_CHUNK = 1 << 20
#: Blocks a GET reads ahead of what it has sent.
READ_AHEAD = 4
WRITE_BLOCK = 1 << 20
#: Bodies up to this size are read whole and written by one thread call.
SMALL_BODY = 64 * 1024
#: Marks a row update (``container``: an object's row; ``account``: a container's row).
UPDATE_HEADER = "x-backend-update"


@dataclass
class Daemons:
    """Where the ring is, which addresses this server answers on, and the intervals (seconds) of
    its background daemons (0: off)."""

    ring_path: Path | None = None
    addresses: frozenset[tuple[str, int]] = frozenset()
    replicator_interval: float = 0.0
    auditor_interval: float = 0.0
    auditor_files_per_second: float = 0.0
    expirer_interval: float = 0.0
    reclaim_age: float = 7 * 86400.0


def _resp(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Response:
    return Response(body, status_code=status, headers=headers)


class StorageServer:
    """The account, container and object servers of the devices under one directory."""

    def __init__(self, devices: Path, secret: str, hash_prefix: str, hash_suffix: str,
                 updater_interval: float = 5.0, io_threads: int = 16, daemons: Daemons | None = None) -> None:
        self.devices = devices
        self.secret = secret.encode()
        self.prefix, self.suffix = hash_prefix, hash_suffix
        self.updater_interval = updater_interval
        self._client: Pool | None = None
        self._updater: asyncio.Task[None] | None = None
        self._account_pending: set[Path] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._pool = ThreadPoolExecutor(io_threads, thread_name_prefix="object-io")
        # Databases get threads of their own: a listing update must not wait behind object fsyncs.
        self._db_pool = ThreadPoolExecutor(8, thread_name_prefix="object-db")
        self.daemons = daemons or Daemons()
        self.reclaim_age = self.daemons.reclaim_age
        self._daemon_tasks: list[asyncio.Task[None]] = []
        self._ring: Ring | None = None
        self._ring_mtime = 0.0
        self._policy_rings: dict[int, tuple[Ring, float]] = {}

    def ring(self) -> Ring | None:
        """The ring (reloaded when its file changes), or None when this server has none."""
        path = self.daemons.ring_path
        if path is None:
            return None
        try:
            mtime = os.stat(path).st_mtime
        except FileNotFoundError:
            return None
        if self._ring is None or mtime != self._ring_mtime:
            self._ring = Ring.load(path)
            self._ring_mtime = mtime
        return self._ring

    def policy_ring(self, index: int) -> Ring | None:
        """The object ring of a storage policy (reloaded when its file changes), None without one."""
        if index == 0:
            return self.ring()
        if self.daemons.ring_path is None:
            return None
        path = storage_policy.ring_path(self.daemons.ring_path, index)
        try:
            mtime = os.stat(path).st_mtime
        except FileNotFoundError:
            return None
        cached = self._policy_rings.get(index)
        if cached is None or cached[1] != mtime:
            cached = self._policy_rings[index] = (Ring.load(path), mtime)
        return cached[0]

    def serves(self, ip: str, port: int) -> bool:
        """Whether a ring device at ``ip:port`` is this server's (any address when none is known)."""
        addresses = self.daemons.addresses
        if not addresses:
            return True
        return any(p == port and (a == ip or a in ("0.0.0.0", "::")) for a, p in addresses)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Disk and database work, off the event loop, in this server's own threads (fsync waits
        must not take every thread of the process's default pool)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    _run = run

    async def read_ahead(self, blocks: Iterator[bytes], depth: int = READ_AHEAD) -> AsyncGenerator[bytes]:
        """The blocks of a (blocking) file reader, read in this server's threads up to ``depth``
        blocks ahead of the consumer: the disk read (and the md5 of a checked read) of the next
        blocks overlaps with the sending of this one, several blocks per thread call. No thread
        ever waits for the consumer (a slow client holds memory, at most ``depth`` blocks, never a
        thread). A consumer that stops early (a client gone) closes the reader."""
        loop = asyncio.get_running_loop()
        buffered: collections.deque[bytes] = collections.deque()
        job: asyncio.Future[tuple[list[bytes], bool]] | None = None
        done = False

        def take(n: int) -> tuple[list[bytes], bool]:
            out: list[bytes] = []
            while len(out) < n:
                block = next(blocks, None)
                if block is None:
                    return out, True
                out.append(block)
            return out, False

        try:
            while True:
                if job is not None and (job.done() or not buffered):
                    got, done = await job
                    job = None
                    buffered.extend(got)
                if job is None and not done and len(buffered) < depth:
                    job = loop.run_in_executor(self._pool, take, depth - len(buffered))
                if buffered:
                    yield buffered.popleft()
                elif job is None:
                    return
        finally:
            if job is not None and not job.done():
                job.add_done_callback(lambda f: _close_reader(blocks, f))  # not while it runs
            else:
                _close_reader(blocks, job)

    async def run_db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Account and container database work, in the database threads."""
        return await asyncio.get_running_loop().run_in_executor(self._db_pool, functools.partial(fn, *args, **kwargs))

    @property
    def client(self) -> Pool:
        if self._client is None:
            self._client = Pool(10.0)
        return self._client

    # --- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.start()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.stop()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        try:
            response = await self.handle(request)
        except Exception:  # a storage server answers 500 and the proxy tries another replica
            LOG.exception("storage server error: %s %s", scope["method"], scope["path"])
            response = _resp(500)
        await response(scope, receive, send)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._updater is None and self.updater_interval > 0:
            self._updater = loop.create_task(self._update_loop())
        if self._daemon_tasks:
            return
        from litestack.object.daemons.auditor import audit_forever
        from litestack.object.daemons.expirer import expire_forever
        from litestack.object.daemons.replicator import replicate_forever

        d = self.daemons
        for interval, run in ((d.replicator_interval, replicate_forever), (d.auditor_interval, audit_forever),
                              (d.expirer_interval, expire_forever)):
            if interval > 0 and d.ring_path is not None:
                self._daemon_tasks.append(loop.create_task(run(self, interval)))

    async def stop(self) -> None:
        for task in self._daemon_tasks:
            task.cancel()
        for task in self._daemon_tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._daemon_tasks.clear()
        if self._updater is not None:
            self._updater.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._updater
            self._updater = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._pool.shutdown(wait=True)  # writes in flight finish (their files are fsynced)
        self._db_pool.shutdown(wait=True)

    async def handle(self, request: Request) -> Response:
        given = request.headers.get(http.SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.secret):
            return _resp(403)
        if request.url.path == "/recon/devices":
            return JSONResponse({"devices": sorted(p.name for p in self.devices.iterdir() if p.is_dir())})
        parts = [unquote(p) for p in request.scope["raw_path"].decode("latin-1").lstrip("/").split("/", 4)]
        verb = request.headers.get(replication.HEADER)
        if verb is None and (len(parts) < 3 or not parts[0] or not parts[2] or not parts[1].isdigit()):
            return _resp(400)
        if verb is not None:
            if verb not in replication.VERBS or request.method != "POST":
                return _resp(400)
            dev_path = self.devices / parts[0]
            if "/" in parts[0] or parts[0] in (".", "..") or not dev_path.is_dir():
                return _resp(507)
            if len(parts) < 2 or not parts[1].isdigit():
                return _resp(400)
            rest = [p for p in request.url.path.lstrip("/").split("/")[2:] if p]
            return await replication.handle(self, request, verb, dev_path, int(parts[1]), rest)
        device, part, account = parts[0], int(parts[1]), parts[2]
        container = parts[3] if len(parts) > 3 and parts[3] else None
        obj = parts[4] if len(parts) > 4 and parts[4] else None
        dev_path = self.devices / device
        if "/" in device or device in (".", "..") or not dev_path.is_dir():
            return _resp(507)
        if request.method == "HEAD" and obj is None and container is None and part == 0 and account == "-":
            return _resp(204)  # the proxy's check that a device is mounted before it sends data
        method = request.method
        # Row updates share the path shape of the next level down (Swift tells them apart by the
        # server they reach): an object's row in its container, a container's row in its account.
        update = request.headers.get(UPDATE_HEADER)
        if update == "container" and obj is not None and container is not None:
            broker = Broker(dev_path, "container", part, hash_path(self.prefix, self.suffix, account, container))
            return await self._container_row(request, broker, account, container, obj)
        if update == "account" and container is not None:
            broker = Broker(dev_path, "account", part, hash_path(self.prefix, self.suffix, account))
            return await self._account_row(request, broker, container)
        if obj is not None and container is not None:
            h = hash_path(self.prefix, self.suffix, account, container, obj)
            try:
                policy = storage_policy.parse_index(request.headers.get(storage_policy.INDEX_HEADER))
            except ValueError:
                return _resp(400, body=b"Unknown storage policy")
            od = ObjectDir(dev_path, part, h, storage_policy.objects_dir(policy))
            handler = {"PUT": self.object_put, "GET": self.object_get, "HEAD": self.object_get,
                       "DELETE": self.object_delete, "POST": self.object_post}.get(method)
            if handler is None:
                return _resp(405)
            return await handler(request, od, dev_path, account, container, obj)
        if container is not None:
            broker = Broker(dev_path, "container", part, hash_path(self.prefix, self.suffix, account, container))
            return await self.db_request(request, broker, account, container)
        broker = Broker(dev_path, "account", part, hash_path(self.prefix, self.suffix, account))
        return await self.db_request(request, broker, account, None)

    # --- object server -----------------------------------------------------------------------

    async def object_put(self, request: Request, od: ObjectDir, dev_path: Path, account: str,
                         container: str, obj: str) -> Response:
        try:
            ts = normalize_timestamp(request.headers.get("x-timestamp", ""))
        except ValueError:
            return _resp(400, body=b"Missing or bad X-Timestamp")
        declared = request.headers.get("content-length")
        expected = request.headers.get("etag", "").strip('"').lower()
        h = request.headers
        metadata: dict[str, Any] = {
            "name": f"/{account}/{container}/{obj}", "X-Timestamp": ts,
            "Content-Type": h.get("content-type", "application/octet-stream"),
            **{k.title(): v for k, v in h.items() if _kept_object_header(k)}}
        delete_at = _delete_at(request)
        if delete_at is not None:
            metadata["X-Delete-At"] = str(delete_at)
        if declared is not None and declared.isdigit() and int(declared) <= SMALL_BODY:
            # A small body is read whole, then written, fsynced and renamed in by one thread call.
            body = await request.body()
            etag = hashlib.md5(body, usedforsecurity=False).hexdigest()
            if len(body) != int(declared) or (expected and expected != etag):
                return _resp(499 if expected == "" or expected == etag else 422)
            metadata.update({"Content-Length": len(body), "ETag": etag})
            current_ts = await self._run(_store_small, od, body, metadata, ts)
            if current_ts is not None:
                return _resp(409, {"X-Backend-Timestamp": current_ts})
            size = len(body)
        else:
            current = await self._run(od.state)
            if current.timestamp is not None and current.timestamp >= ts:
                return _resp(409, {"X-Backend-Timestamp": current.timestamp})
            tmp = await self._run(od.tmp_file)
            md5 = hashlib.md5(usedforsecurity=False)
            size = 0
            f = await self._run(open, tmp, "wb")
            try:
                pending = bytearray()  # written in blocks of WRITE_BLOCK: one thread call each
                async for chunk in request.stream():
                    if chunk:
                        md5.update(chunk)
                        size += len(chunk)
                        pending += chunk
                        if len(pending) >= WRITE_BLOCK:
                            await self._run(f.write, bytes(pending))
                            pending.clear()
                if pending:
                    await self._run(f.write, bytes(pending))
                etag = md5.hexdigest()
                if (declared is not None and int(declared) != size) or (expected and expected != etag):
                    f.close()
                    os.unlink(tmp)
                    return _resp(499 if expected == "" or expected == etag else 422)
                metadata.update({"Content-Length": size, "ETag": etag})
                # One fsync makes the bytes and their metadata durable together.
                await self._run(write_trailer_and_sync, f, metadata)
            except BaseException:
                f.close()
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
            f.close()
            await self._run(od.commit_data, tmp, ts)
        if delete_at is not None:
            await self._queue_expiry(request, od, dev_path, account, container, obj, delete_at)
        await self._container_update(request, dev_path, "PUT", account, container, obj,
                                     {"X-Timestamp": ts, "X-Size": str(size), "X-Etag": etag,
                                      "X-Content-Type": metadata["Content-Type"]})
        return _resp(201, {"ETag": etag, "X-Timestamp": ts})

    async def object_get(self, request: Request, od: ObjectDir, dev_path: Path, account: str,
                         container: str, obj: str) -> Response:
        st = await self._run(od.state)
        if st.data is None or st.metadata is None:
            headers = {"X-Backend-Timestamp": st.timestamp} if st.timestamp else {}
            return _resp(404, headers)
        meta = st.metadata
        if _expired(meta):
            return _resp(404)
        ts = meta["X-Timestamp"]
        headers = {"Content-Type": meta["Content-Type"], "ETag": meta["ETag"], "X-Timestamp": ts,
                   "Last-Modified": http.http_date(ts), "Accept-Ranges": "bytes",
                   "X-Backend-Timestamp": ts}
        headers.update({k: v for k, v in meta.items() if _kept_object_header(k.lower()) or k.lower() == "x-delete-at"})
        cond = http.check_preconditions({k.lower(): v for k, v in request.headers.items()}, meta["ETag"], ts,
                                        request.method)
        if cond is not None:
            return _resp(cond, {"ETag": meta["ETag"], "X-Timestamp": ts, "Last-Modified": headers["Last-Modified"]})
        length = int(meta["Content-Length"])
        data = st.data
        headers["Content-Length"] = str(length)
        if request.method == "HEAD":  # a HEAD ignores Range, as Swift's does
            return _resp(200, headers)
        try:
            ranges = http.parse_range(request.headers.get("range"), length)
        except errors.RangeNotSatisfiable as exc:
            return _resp(416, exc.headers)
        if ranges is None:
            return StreamingResponse(self.read_ahead(_read_checked(data, length, meta["ETag"], dev_path, od)),
                                     200, headers)
        if len(ranges) == 1:
            start, end = ranges[0]
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{length}"
            headers["Content-Length"] = str(end - start)
            return StreamingResponse(self.read_ahead(read_range(data, start, end, READ_CHUNK)), 206, headers)
        frame = http.Multipart.of(ranges, length, headers["Content-Type"])
        headers["Content-Type"] = frame.content_type
        headers["Content-Length"] = str(frame.content_length)

        def parts() -> Any:
            for (s, e), head in zip(ranges, frame.heads, strict=True):
                yield head
                yield from read_range(data, s, e, READ_CHUNK)
                yield b"\r\n"
            yield frame.tail

        return StreamingResponse(self.read_ahead(parts()), 206, headers)

    async def object_delete(self, request: Request, od: ObjectDir, dev_path: Path, account: str,
                            container: str, obj: str) -> Response:
        try:
            ts = normalize_timestamp(request.headers.get("x-timestamp", ""))
        except ValueError:
            return _resp(400)
        st = await self._run(od.state)
        if st.timestamp is not None and st.timestamp >= ts:
            return _resp(409, {"X-Backend-Timestamp": st.timestamp})
        await self._run(od.write_tombstone, ts)
        await self._container_update(request, dev_path, "DELETE", account, container, obj, {"X-Timestamp": ts})
        return _resp(204 if st.data is not None else 404)

    async def object_post(self, request: Request, od: ObjectDir, dev_path: Path, account: str,
                          container: str, obj: str) -> Response:
        try:
            ts = normalize_timestamp(request.headers.get("x-timestamp", ""))
        except ValueError:
            return _resp(400)
        st = await self._run(od.state)
        if st.data is None or st.metadata is None or _expired(st.metadata):
            return _resp(404)
        meta = {k.title(): v for k, v in request.headers.items()
                if k.startswith("x-object-meta-") or k == "x-object-manifest"}  # a POST may make a DLO
        delete_at = _delete_at(request)
        if delete_at is not None:
            meta["X-Delete-At"] = str(delete_at)
        await self._run(od.write_meta, ts, meta)
        if delete_at is not None:
            await self._queue_expiry(request, od, dev_path, account, container, obj, delete_at)
        return _resp(202)

    async def _queue_expiry(self, request: Request, od: ObjectDir, dev_path: Path, account: str,
                            container: str, obj: str, delete_at: int) -> None:
        from litestack.object.daemons.expirer import add_entry

        where = {k: request.headers.get(f"x-container-{k}", "") for k in ("host", "device", "partition")}
        entry = {"partition": od.path.parent.parent.name, "hash": od.path.name, "account": account,
                 "objects": od.path.parent.parent.parent.name,
                 "container": container, "object": obj, "container_update": where}
        await self._run(add_entry, dev_path, delete_at, entry)

    async def _container_update(self, request: Request, dev_path: Path, method: str, account: str,
                                container: str, obj: str, headers: dict[str, str]) -> None:
        """Tell the container server of this replica; if it cannot be reached, keep the update as
        an async-pending file for the updater."""
        where = {k: request.headers.get(f"x-container-{k}", "") for k in ("host", "device", "partition")}
        await self.container_update(where, dev_path, method, account, container, obj, headers)

    async def container_update(self, where: dict[str, str], dev_path: Path, method: str, account: str,
                               container: str, obj: str, headers: dict[str, str]) -> None:
        """Send an object's row update to the container replicas ``where`` names (host, device
        and partition, as the proxy gives them); keep it as async pending when one is down."""
        host, device, part = where.get("host"), where.get("device"), where.get("partition")
        if not (host and device and part):
            return
        async def one(one_host: str, one_device: str) -> None:
            path = "/".join(quote(x, safe="") for x in (one_device, part, account, container, obj))
            update = {"url": f"http://{one_host}/{path}", "method": method,
                      "headers": {**headers, UPDATE_HEADER: "container"}}
            if not await self._send_update(update):
                pending = dev_path / "async_pending"
                await self._run(_write_pending, pending, update)

        await asyncio.gather(*(one(h, d) for h, d in zip(host.split(","), device.split(","), strict=False)))

    async def _send_update(self, update: dict[str, Any]) -> bool:
        try:
            r = await self.client.request(update["method"], update["url"],
                                          headers={**update["headers"], http.SECRET_HEADER: self.secret.decode()})
        except httpx.HTTPError:
            return False
        return r.status_code < 300

    async def _update_loop(self) -> None:
        while True:
            await asyncio.sleep(self.updater_interval)
            try:
                await self.run_updates()
            except Exception:
                LOG.exception("object updater pass failed")

    async def run_updates(self) -> int:
        """Send the async-pending container updates of every device (the object updater)."""
        sent = 0
        for dev in await self._run(lambda: [p for p in self.devices.iterdir() if p.is_dir()]):
            pending = dev / "async_pending"
            if not pending.is_dir():
                continue
            for f in sorted(pending.iterdir()):
                try:
                    update = json.loads(f.read_text())
                except (OSError, ValueError):
                    continue
                if await self._send_update(update):
                    f.unlink(missing_ok=True)
                    sent += 1
        return sent

    # --- account and container servers ---------------------------------------------------------

    async def db_request(self, request: Request, broker: Broker, account: str, container: str | None) -> Response:
        method = request.method
        kind = broker.kind
        obj_rows = kind == "container"
        if method in ("PUT", "DELETE", "POST"):
            try:
                ts = normalize_timestamp(request.headers.get("x-timestamp", "")
                                         or request.headers.get("x-put-timestamp", ""))
            except ValueError:
                return _resp(400)
        if method == "PUT":
            meta = _meta_updates(request, kind, ts)
            wanted = request.headers.get(storage_policy.INDEX_HEADER)
            if kind == "container" and wanted is not None:
                current = await self.run_db(broker.info)
                if current is not None and not current["deleted"]:
                    held = current["metadata"].get(storage_policy.INDEX_HEADER, ["0"])[0]
                    if held != wanted:
                        return _resp(409, body=b"Container exists with another storage policy")
                meta[storage_policy.INDEX_HEADER] = (wanted, ts)
            created = await self.run_db(broker.initialize, ts)
            if meta:
                await self.run_db(broker.update_metadata, meta)
            if kind == "container":
                where = {h: request.headers.get(f"x-account-{h}", "") for h in ("host", "device", "partition")}
                if all(where.values()):
                    await self.run_db(broker.set_account_update, where)
                await self._account_update(broker, account, container)
            return _resp(201 if created else 202)
        info = await self.run_db(broker.info)
        if info is None or info["deleted"]:
            headers = {"X-Backend-Timestamp": info["delete_timestamp"]} if info else {}
            return _resp(404, headers)
        if method == "POST":
            await self.run_db(broker.update_metadata, _meta_updates(request, kind, ts))
            return _resp(204)
        if method == "DELETE":
            if not await self.run_db(broker.mark_deleted, ts):
                return _resp(409)
            if kind == "container":
                await self._account_update(broker, account, container)
            return _resp(204)
        headers = {"X-Timestamp": info["put_timestamp"], "X-Put-Timestamp": info["put_timestamp"]}
        prefix = "X-Container-" if obj_rows else "X-Account-"
        headers[f"{prefix}Object-Count"] = str(info["object_count"])
        headers[f"{prefix}Bytes-Used"] = str(info["bytes_used"])
        if not obj_rows:
            headers["X-Account-Container-Count"] = str(info["container_count"])
        headers.update({k: v[0] for k, v in info["metadata"].items()})
        if method == "HEAD":
            return _resp(204, headers)
        q = request.query_params
        try:
            limit = int(q.get("limit", "10000"))
        except ValueError:
            return _resp(400)
        rows = await self._run(
            broker.list, prefix=q.get("prefix", ""), delimiter=q.get("delimiter", ""), marker=q.get("marker", ""),
            end_marker=q.get("end_marker", ""), limit=limit, reverse=q.get("reverse", "") in ("1", "true", "yes", "on"))
        return Response(json.dumps(rows), 200, {**headers, "Content-Type": "application/json"})

    async def _container_row(self, request: Request, broker: Broker, account: str, container: str,
                             obj: str) -> Response:
        h = request.headers
        try:
            ts = normalize_timestamp(h.get("x-timestamp", ""))
        except ValueError:
            return _resp(400)
        if not await self.run_db(broker.exists_now):
            return _resp(404)
        deleted = request.method == "DELETE"
        await self.run_db(broker.put_object, obj, ts, int(h.get("x-size", "0") or 0),
                                h.get("x-content-type", ""), h.get("x-etag", ""), deleted)
        self._schedule_account_update(broker, account, container)
        return _resp(201 if not deleted else 204)

    async def _account_row(self, request: Request, broker: Broker, container: str) -> Response:
        h = request.headers
        if not broker.exists:
            await self.run_db(broker.initialize, normalize_timestamp(time.time()))
        await self.run_db(broker.put_container, container, h.get("x-put-timestamp", "0"),
                                h.get("x-delete-timestamp", "0"), int(h.get("x-object-count", "0")),
                                int(h.get("x-bytes-used", "0")))
        return _resp(201)

    def _schedule_account_update(self, broker: Broker, account: str, container: str) -> None:
        """Report the container's new counts to its account soon, once for a burst of updates."""
        key = broker.path
        if key in self._account_pending:
            return
        self._account_pending.add(key)

        async def later() -> None:
            await asyncio.sleep(0.05)
            self._account_pending.discard(key)
            await self._account_update(broker, account, container)

        task = asyncio.get_running_loop().create_task(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _account_update(self, broker: Broker, account: str, container: str | None) -> None:
        """Report a container's counts to its account replica (best effort: the next change reports again)."""
        info = await self.run_db(broker.info)
        if info is None or not info["account_update"] or container is None:
            return
        where = info["account_update"]
        path = "/".join(quote(x, safe="") for x in (where["device"], where["partition"], account, container))
        url = f"http://{where['host']}/{path}"
        headers = {UPDATE_HEADER: "account", "X-Put-Timestamp": info["put_timestamp"],
                   "X-Delete-Timestamp": info["delete_timestamp"],
                   "X-Object-Count": str(info["object_count"]), "X-Bytes-Used": str(info["bytes_used"]),
                   http.SECRET_HEADER: self.secret.decode()}
        with contextlib.suppress(httpx.HTTPError):
            await self.client.put(url, headers=headers)


#: Object headers kept with the data besides X-Object-Meta-*: Swift's allowed headers, the large
#: object markers and system metadata (which the proxy alone sets; users never see or send it).
_OBJECT_KEPT = ("content-disposition", "content-encoding", "x-object-manifest", "x-static-large-object")


def _kept_object_header(name: str) -> bool:
    return name.startswith(("x-object-meta-", "x-object-sysmeta-")) or name in _OBJECT_KEPT


#: Account and container settings kept as metadata besides X-*-Meta-* (ACLs, versioning, sysmeta).
_DB_KEPT = {"container": ("x-container-read", "x-container-write", "x-versions-location", "x-history-location",
                          "x-container-sysmeta-"),
            "account": ("x-account-sysmeta-",)}


def _meta_updates(request: Request, kind: str, ts: str) -> dict[str, tuple[str, str]]:
    prefix = f"x-{kind}-meta-"
    remove = f"x-remove-{kind}-meta-"
    out: dict[str, tuple[str, str]] = {}
    for k, v in request.headers.items():
        if k.startswith(prefix) or k.startswith(_DB_KEPT.get(kind, ())):
            out[k.title()] = (v, ts)
        elif k.startswith(remove):
            out[(prefix + k[len(remove):]).title()] = ("", ts)
    return out


def _read_checked(path: Path, length: int, etag: str, dev_path: Path, od: ObjectDir) -> Any:
    """The whole object, its md5 checked on the way (as Swift's object server does): a mismatch
    quarantines the object's directory at the end, so the next read goes to a good replica and the
    replicator restores this one. (The bytes already sent cannot be taken back.)"""
    md5 = hashlib.md5(usedforsecurity=False)
    for block in read_range(path, 0, length, READ_CHUNK):
        md5.update(block)
        yield block
    if md5.hexdigest() != etag and od.state().data == path:  # (not replaced meanwhile)
        with contextlib.suppress(OSError):
            dest = quarantine(dev_path, od.path)
            LOG.warning("object server: %s does not match its checksum on read: quarantined to %s", path, dest)


def _close_reader(blocks: Iterator[bytes], job: asyncio.Future[Any] | None) -> None:
    """Close a file reader a GET has stopped reading (and collect its last thread call's outcome)."""
    if job is not None and not job.cancelled():
        job.exception()
    close = getattr(blocks, "close", None)
    if close is not None:
        close()


def _store_small(od: ObjectDir, body: bytes, metadata: dict[str, Any], ts: str) -> str | None:
    """Write a small object (state check, data and trailer, fsync, rename, directory fsync) in one
    go; the timestamp on disk when it is as new or newer (nothing written), else None."""
    current = od.state()
    if current.timestamp is not None and current.timestamp >= ts:
        return current.timestamp
    tmp = od.tmp_file()
    try:
        with open(tmp, "wb") as f:
            f.write(body)
            write_trailer_and_sync(f, metadata)
        od.commit_data(tmp, ts)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return None


def _delete_at(request: Request) -> int | None:
    """The ``X-Delete-At`` of a write (the proxy has checked it), or None."""
    value = request.headers.get("x-delete-at", "")
    return int(value) if value.isdigit() else None


def _expired(meta: dict[str, Any]) -> bool:
    value = str(meta.get("X-Delete-At", ""))
    return value.isdigit() and int(value) <= time.time()


def _write_pending(pending: Path, update: dict[str, Any]) -> None:
    pending.mkdir(parents=True, exist_ok=True)
    tmp = pending / f".{uuid.uuid4().hex}.tmp"
    tmp.write_text(json.dumps(update))
    os.replace(tmp, pending / f"{time.time():.5f}-{uuid.uuid4().hex}.json")
