#!/usr/bin/env python3
"""CPU per request of litestack's ASGI app driven in process: no sockets, no HTTP server.

    .venv/bin/python bench/api_inprocess.py [--requests N] [--concurrency C] [--rounds R] [--only get,list]
    .venv/bin/python bench/api_inprocess.py --profile get      # cProfile of the event-loop thread

The companion of ``bench/api_overhead.py`` (issue 6 §8) for deciding what to change: on a shared,
busy host the HTTP figures move by ±20 % between runs, while the CPU time of the app alone, best of
a few rounds, is steadier. It builds the all-in-one app of this checkout (``Cloud.start``) on a
scratch data directory, makes the same resources as ``api_overhead.py`` (a domain, 100 projects in
a domain of their own), then calls the app ``--requests`` times per case from ``--concurrency``
coroutines and prints the process CPU time per request (worker threads included) for each round.

What it leaves out: uvicorn's HTTP parsing and socket writes (the floor of ``api_overhead.py``),
and the bus (the app's lifespan is not run). cProfile sees only the event-loop thread: work that a
handler sends to a worker thread shows up as the wait for it.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message

HOST = b"127.0.0.1:8800"


class Client:
    """Calls an ASGI app directly, as uvicorn would for one HTTP/1.1 request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def call(self, method: str, target: str, body: Any = None, headers: dict[str, str] | None = None
                   ) -> tuple[int, dict[bytes, bytes], bytes]:
        path, _, query = target.partition("?")
        raw = json.dumps(body).encode() if body is not None else b""
        hdrs = [(b"host", HOST), (b"accept", b"application/json")]
        hdrs += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        if raw:
            hdrs += [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
                 "root_path": "", "headers": hdrs, "server": ("127.0.0.1", 8800), "client": ("127.0.0.1", 50000),
                 "state": {}}
        sent = False
        status = 0
        out_headers: dict[bytes, bytes] = {}
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            await asyncio.Event().wait()  # no disconnect while the app runs
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                out_headers.update(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, out_headers, b"".join(chunks)


def auth_body(user: str, password: str, project: str) -> dict[str, Any]:
    dom = {"id": "default"}
    return {"auth": {"identity": {"methods": ["password"],
                                  "password": {"user": {"name": user, "domain": dom, "password": password}}},
                     "scope": {"project": {"name": project, "domain": dom}}}}


async def setup(client: Client, data: Path) -> dict[str, tuple[str, dict[str, str]]]:
    """Tokens and resources; the cases, each a path and its headers."""
    sec = json.loads((data / "secrets.json").read_text())
    tokens = []
    for user in ("admin", "demo"):
        s, h, b = await client.call("POST", "/identity/v3/auth/tokens",
                                    auth_body(user, sec[f"{user}_password"], user))
        if s != 201:
            raise RuntimeError(f"{user} token: HTTP {s}: {b[:300]!r}")
        tokens.append(h[b"x-subject-token"].decode())
    admin, demo = tokens
    auth = {"X-Auth-Token": admin}

    async def create(path: str, body: dict[str, Any]) -> str:
        s, _, b = await client.call("POST", path, body, auth)
        if s != 201:
            raise RuntimeError(f"POST {path}: HTTP {s}: {b[:300]!r}")
        key = next(iter(body))
        return str(json.loads(b)[key]["id"])

    did = await create("/identity/v3/domains", {"domain": {"name": "bench-overhead"}})
    lid = await create("/identity/v3/domains", {"domain": {"name": "bench-list100"}})
    for i in range(100):
        await create("/identity/v3/projects",
                     {"project": {"name": f"bench-{i:03d}", "domain_id": lid, "description": f"project {i}"}})
    return {
        "version": ("/identity/v3", {}),
        "validate": ("/identity/v3/auth/tokens", {**auth, "X-Subject-Token": demo}),
        "get": (f"/identity/v3/domains/{did}", auth),
        "list": (f"/identity/v3/projects?domain_id={lid}", auth),
    }


async def measure(client: Client, path: str, headers: dict[str, str], n: int, conc: int) -> float:
    """CPU ms per request of the whole process over ``n`` requests from ``conc`` coroutines."""
    per = max(1, n // conc)

    async def worker() -> None:
        for _ in range(per):
            s, _, b = await client.call("GET", path, headers=headers)
            if s != 200:
                raise RuntimeError(f"GET {path}: HTTP {s}: {b[:300]!r}")

    c0 = time.process_time()
    await asyncio.gather(*(worker() for _ in range(conc)))
    return 1000 * (time.process_time() - c0) / (per * conc)


async def run(args: argparse.Namespace, app: ASGIApp, data: Path) -> None:
    client = Client(app)
    cases = await setup(client, data)
    only = [c for c in args.only.split(",") if c] or list(cases)
    for name in only:
        path, headers = cases[name]
        # a list is ten times dearer: a tenth of the requests keeps the rounds about as long
        n = args.requests if name != "list" else max(args.concurrency, args.requests // 10)
        await measure(client, path, headers, min(n, 200), args.concurrency)  # warm caches and pools
        prof = cProfile.Profile() if args.profile == name else None
        if prof is not None:
            prof.enable()
        cpu = sorted([await measure(client, path, headers, n, args.concurrency) for _ in range(args.rounds)])
        if prof is not None:
            prof.disable()
        print(f"inprocess {name} cpu_ms_per_req_min={cpu[0]:.3f} median={cpu[len(cpu) // 2]:.3f} "
              f"rounds={','.join(f'{c:.3f}' for c in cpu)} requests={n} c={args.concurrency}", flush=True)
        if prof is not None:
            stats = pstats.Stats(prof, stream=sys.stdout)
            stats.sort_stats("tottime").print_stats(args.profile_top)
            stats.sort_stats("cumulative").print_stats(args.profile_top)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000, help="requests per round (a tenth for the list)")
    ap.add_argument("--concurrency", type=int, default=32, help="concurrent callers (default 32)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds per case; min and median printed (default 5)")
    ap.add_argument("--only", default="", help="comma-separated cases: version,validate,get,list")
    ap.add_argument("--profile", default="", help="cProfile this case (its rounds, event-loop thread only)")
    ap.add_argument("--profile-top", type=int, default=30)
    args = ap.parse_args()

    os.environ["LITESTACK_IDENTITY_PASSWORD_HASH_ROUNDS"] = "4"  # only the set-up logins hash
    import uvloop

    from litestack.cli.cloud import Cloud
    from litestack.common import config, log

    data = Path(tempfile.mkdtemp(prefix="litestack-inprocess-"))
    try:
        conf = config.load(None, environ={"LITESTACK_IDENTITY_PASSWORD_HASH_ROUNDS": "4"})
        log.setup(conf.get("DEFAULT", "log_level"), data / "logs" / "litestack.log")
        cloud = Cloud(conf, data)
        app = cloud.start(prepare=True)
        try:
            uvloop.run(run(args, app, data))
        finally:
            cloud.close()
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
