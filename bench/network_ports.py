#!/usr/bin/env python3
"""Port creation rate through the network API, in process, at several concurrencies (issue 9).

    .venv/bin/python bench/network_ports.py [--ports N] [--concurrency 1,10,50]

Builds the network API of this checkout on a scratch SQLite database (an admin caller stands in
for the auth middleware), makes one network with a /16, then creates N ports through
``POST /v2.0/ports`` from the ASGI app with C requests in flight, for each C, and prints ports per
second and the median and 95th percentile latency. Every port takes a MAC and an address under
their unique keys (``ip_allocation``, ``port``), so concurrent requests race for them as they
would on a real cloud. Uvicorn, sockets and token validation are left out.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send


def admin(app: ASGIApp) -> ASGIApp:
    async def mw(scope: Scope, receive: Receive, send: Send) -> None:
        c = scope["state"]["context"]
        c.user_id, c.project_id, c.roles = "bench", "bench-project", ["admin", "member", "reader"]
        await app(scope, receive, send)
    return mw


async def run(app: ASGIApp, network_id: str, n: int, concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    todo = iter(range(n))

    async def worker(c: httpx.AsyncClient) -> None:
        for _ in todo:
            t0 = time.perf_counter()
            r = await c.post("/v2.0/ports", json={"port": {"network_id": network_id}})
            latencies.append(time.perf_counter() - t0)
            r.raise_for_status()

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench",
                                 timeout=120) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for _ in range(concurrency)))
        return time.perf_counter() - t0, latencies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--ports", type=int, default=500)
    ap.add_argument("--concurrency", default="1,10,50")
    args = ap.parse_args()

    import litestack.network.options  # noqa: F401 - registers [network]
    from litestack.common.config import load
    from litestack.common.db import Database, upgrade
    from litestack.common.notify import Notifier
    from litestack.common.policy import Enforcer
    from litestack.network import api
    from litestack.network.manager import Manager
    from litestack.network.manager.base import Caller
    from litestack.network.models import Base
    from litestack.network.policy import RULES

    for conc in (int(x) for x in args.concurrency.split(",")):
        with tempfile.TemporaryDirectory() as d:
            db = Database(f"sqlite:///{Path(d) / 'network.db'}")
            upgrade(db, "litestack.network.migrations", Base)
            mgr = Manager(db, load(None), Notifier("network", "bench"))
            caller: Any = Caller("bench-project", True)
            net = mgr.networks.create(caller, {"name": "bench", "project_id": "bench-project"})
            mgr.subnets.create(caller, {"network_id": net["id"], "ip_version": 4, "cidr": "10.0.0.0/16",
                                        "project_id": "bench-project"})
            app = api.build(mgr, Enforcer(RULES), admin)
            elapsed, lat = asyncio.run(run(app, net["id"], args.ports, conc))
            lat.sort()
            print(f"port create  concurrency {conc:3d}: {args.ports} ports in {elapsed:6.2f} s = "
                  f"{args.ports / elapsed:7.1f} ports/s  median {statistics.median(lat) * 1000:7.1f} ms  "
                  f"p95 {lat[int(len(lat) * 0.95) - 1] * 1000:7.1f} ms")
            db.dispose()


if __name__ == "__main__":
    main()
