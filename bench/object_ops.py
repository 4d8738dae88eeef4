#!/usr/bin/env python3
"""Object storage benchmark (litestack only):

    .venv/bin/python bench/object_ops.py [--count 200] [--concurrency 10] [--big-mib 256]

Starts ``litestack up`` on a fresh data directory (3 replicas on 3 devices, every replica
fsynced on write), then measures, one after the other:

1. PUT, GET and DELETE operations per second for 1-byte objects and for 1 MiB objects, at the
   given concurrency (closed loop, keep-alive connections, one token);
2. GET throughput (MB/s) of one large object (256 MiB by default), streamed and discarded.

It prints ``litestack key=value`` lines and the issue's reference figures for the real Swift
measured on this machine (see issue 12); ``bench/object_swift.py`` runs the real Swift beside it.
It prints; it never asserts. Only the process it started is signalled.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
#: Swift 2.38.3 on this machine (issue 12): 1-byte PUT/GET/DELETE, 1 MiB PUT/GET, 256 MiB GET MB/s.
SWIFT_REFERENCE = {"put_1B": 72, "get_1B": 349, "delete_1B": 90, "put_1MiB": 49, "get_1MiB": 181,
                   "get_big_MBps": 400}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_cloud(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "litestack.cli.main", "up", "--data-dir", str(data_dir),
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthcheck", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("litestack did not become healthy")


def token_and_url(data_dir: Path) -> tuple[str, str]:
    auth = yaml.safe_load((data_dir / "clouds.yaml").read_text())["clouds"]["litestack"]["auth"]
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": auth["username"], "password": auth["password"], "domain": {"name": auth["user_domain_name"]}}}},
        "scope": {"project": {"name": auth["project_name"], "domain": {"name": auth["project_domain_name"]}}}}}
    r = httpx.post(auth["auth_url"] + "/v3/auth/tokens", json=body, timeout=30)
    r.raise_for_status()
    token = r.headers["x-subject-token"]
    for entry in r.json()["token"]["catalog"]:
        if entry["type"] == "object-store":
            url = next(e["url"] for e in entry["endpoints"] if e["interface"] == "public")
            return token, url
    raise SystemExit("no object-store endpoint in the catalog")


async def closed_loop(client: httpx.AsyncClient, method: str, urls: list[str], body: bytes | None,
                      concurrency: int) -> float:
    """Operations per second over ``urls`` (each once) with ``concurrency`` workers."""
    queue = list(urls)

    async def worker() -> None:
        while queue:
            url = queue.pop()
            r = await client.request(method, url, content=body)
            if method == "GET":
                await r.aread()
            if r.status_code >= 300:
                raise SystemExit(f"{method} {url}: {r.status_code} {r.text[:200]}")

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(urls) / (time.perf_counter() - t0)


async def run(args: argparse.Namespace, token: str, url: str, container: str = "bench") -> dict[str, Any]:
    out: dict[str, Any] = {}
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(headers={"X-Auth-Token": token}, timeout=120, limits=limits) as client:
        r = await client.put(f"{url}/{container}")
        r.raise_for_status()
        for label, size in (("1B", 1), ("1MiB", 1 << 20)):
            data = os.urandom(size)
            count = args.count if size == 1 else max(args.count // 4, args.concurrency)
            urls = [f"{url}/{container}/{label}-{i}" for i in range(count)]
            out[f"put_{label}"] = await closed_loop(client, "PUT", urls, data, args.concurrency)
            out[f"get_{label}"] = await closed_loop(client, "GET", urls, None, args.concurrency)
            if size == 1:
                out[f"delete_{label}"] = await closed_loop(client, "DELETE", urls, None, args.concurrency)
        big = args.big_mib << 20

        async def body() -> Any:
            chunk = os.urandom(1 << 20)
            for _ in range(args.big_mib):
                yield chunk

        r = await client.put(f"{url}/{container}/big", content=body(), headers={"Content-Length": str(big)})
        r.raise_for_status()
        t0 = time.perf_counter()
        got = 0
        async with client.stream("GET", f"{url}/{container}/big") as resp:
            async for chunk in resp.aiter_raw():
                got += len(chunk)
        out["get_big_MBps"] = got / (time.perf_counter() - t0) / 1e6
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=200, help="1-byte objects per operation (1 MiB: a quarter)")
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--big-mib", type=int, default=256, help="size of the large object, MiB")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="litestack-bench-object-") as tmp:
        data_dir = Path(tmp) / "data"
        port = free_port()
        proc = start_cloud(data_dir, port)
        try:
            token, url = token_and_url(data_dir)
            results = asyncio.run(run(args, token, url))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(f"litestack concurrency={args.concurrency} replicas=3 devices=3 fsync=every-replica")
    for key, value in results.items():
        print(f"litestack {key}={value:.1f}")
    for key, value in results.items():
        ref = SWIFT_REFERENCE.get(key)
        if ref:
            print(f"ratio {key}={value / ref:.2f}  (swift reference {ref}, issue 12; not measured in this run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
