"""The storage server's side of replication: the requests the replicators of other devices send,
each a POST with ``X-Backend-Replication: <verb>``.

- ``REPLICATE /<dev>/<part>``: ``{suffix: hash}`` of the partition's objects (cleaned up and with
  old tombstones reclaimed first), which the sender compares with its own;
- ``REPLICATE /<dev>/<part>/<suffix>-<suffix>…``: ``{suffix: {hash: [files]}}`` for the suffixes
  that differ, so that the sender pushes only the files this device lacks;
- ``SYNC /<dev>/<part>/<suffix>/<hash>/<file>``: one object file pushed as it is on the sender's
  disk; a ``.data`` file is checked (trailer and md5) before it is renamed in, so bit rot is never
  spread; a file older than what the device holds is refused (409);
- ``DBDIGEST /<dev>/<part>/<accounts|containers>/<hash>``: the md5 of a database's content;
- ``DBSYNC /<dev>/<part>/<accounts|containers>/<hash>``: merge another replica's rows (JSON).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from litestack.object import storage_policy
from litestack.object.server.dbs import Broker
from litestack.object.server.diskfile import (
    check_data_file,
    cleanup_dir,
    file_ts,
    fsync_dir,
    normalize_timestamp,
    suffix_hashes,
    suffix_listing,
)

if TYPE_CHECKING:
    from litestack.object.server.app import StorageServer

#: The header that names a replication request (sent as POST: HTTP parsers such as httptools
#: refuse methods they do not know, so Swift's ``REPLICATE`` method is a header here).
HEADER = "x-backend-replication"
VERBS = ("REPLICATE", "SYNC", "DBDIGEST", "DBSYNC")
_HASH = re.compile(r"^[0-9a-f]{32}$")
_SUFFIX = re.compile(r"^[0-9a-f]{3}$")
_FILE = re.compile(r"^\d{10}\.\d{5}\.(data|ts|meta)$")


def _resp(status: int) -> Response:
    return Response(b"", status_code=status)


async def handle(server: StorageServer, request: Request, method: str, dev_path: Path, part: int,
                 rest: list[str]) -> Response:
    reclaim_before = time.time() - server.reclaim_age
    try:
        policy = storage_policy.parse_index(request.headers.get(storage_policy.INDEX_HEADER))
    except ValueError:
        return _resp(400)
    part_dir = dev_path / storage_policy.objects_dir(policy) / str(part)
    if method == "REPLICATE":
        if not rest:
            return JSONResponse(await server.run(suffix_hashes, part_dir, reclaim_before))
        suffixes = rest[0].split("-")
        if not all(_SUFFIX.match(s) for s in suffixes):
            return _resp(400)

        def listings() -> dict[str, Any]:
            return {s: suffix_listing(part_dir, s, reclaim_before) for s in suffixes}

        return JSONResponse(await server.run(listings))
    if method == "SYNC":
        if len(rest) != 3 or not _SUFFIX.match(rest[0]) or not _HASH.match(rest[1]) \
                or rest[1][-3:] != rest[0] or not _FILE.match(rest[2]):
            return _resp(400)
        return await _sync_file(server, request, dev_path, part_dir / rest[0] / rest[1], rest[2])
    if len(rest) != 2 or rest[0] not in ("accounts", "containers") or not _HASH.match(rest[1]):
        return _resp(400)
    broker = Broker(dev_path, rest[0][:-1], part, rest[1])
    if method == "DBDIGEST":
        digest = await server.run(broker.digest)
        return JSONResponse({"digest": digest}, status_code=200 if digest else 404)
    try:
        dump = json.loads(await request.body())
        normalize_timestamp(dump["put_timestamp"])
    except (ValueError, KeyError, TypeError):
        return _resp(400)
    await server.run(broker.merge, dump)
    return _resp(204)


async def _sync_file(server: StorageServer, request: Request, dev_path: Path, obj_dir: Path,
                     name: str) -> Response:
    ts, ext = file_ts(name)
    tmp_dir = dev_path / "tmp"
    await server.run(tmp_dir.mkdir, parents=True, exist_ok=True)
    tmp = tmp_dir / f"sync-{os.urandom(8).hex()}.tmp"
    f = await server.run(open, tmp, "wb")
    try:
        async for chunk in request.stream():
            if chunk:
                await server.run(f.write, chunk)
        await server.run(f.flush)
        await server.run(os.fsync, f.fileno())
    finally:
        f.close()
    try:
        if ext == "data" and not await server.run(check_data_file, tmp):
            return _resp(422)
        return _resp(await server.run(_commit, obj_dir, tmp, ts, ext, name))
    finally:
        tmp.unlink(missing_ok=True)


def _commit(obj_dir: Path, tmp: Path, ts: str, ext: str, name: str) -> int:
    """Rename a pushed file in when it is newer than what this device holds for the object."""
    files = cleanup_dir(obj_dir) if obj_dir.is_dir() else []
    winner = next((f for f in files if f.endswith((".data", ".ts"))), None)
    if ext == "meta":
        if winner is None or not winner.endswith(".data") or file_ts(winner)[0] >= ts:
            return 409
        if any(f.endswith(".meta") and file_ts(f)[0] >= ts for f in files):
            return 409
    elif winner is not None and file_ts(winner)[0] >= ts:
        return 409
    obj_dir.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, obj_dir / name)
    fsync_dir(obj_dir)
    cleanup_dir(obj_dir)
    return 201
