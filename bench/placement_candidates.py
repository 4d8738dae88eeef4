#!/usr/bin/env python3
"""Allocation candidates among 1,000 providers, in process (issue 10 §2).

    .venv/bin/python bench/placement_candidates.py [--providers N] [--rounds R] [--database-url URL]

Builds the placement API of this checkout on a scratch SQLite database (or a given database URL;
an admin caller stands in for the auth middleware, so no identity service is needed), creates N
compute-host-like providers through the manager (VCPU 16 at ratio 4, MEMORY_MB 32768, DISK_GB
1000; every tenth with a custom trait and in an aggregate; every other one with a child provider
holding 8 VCPU) and a claim on every third, then times from the ASGI app, over R rounds (p50 and
max): ``GET /allocation_candidates`` for a flavor-sized request unrestricted, with ``limit=10``
(what the compute scheduler asks), with a required trait and with member_of; the provider list;
and one claim (``PUT /allocations/{consumer}``). Then, on a second scratch database, ``--list``
providers (default 10,000) written straight into the table are listed (budget: under 1 s). It
leaves out uvicorn, sockets and token checks.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

FLAVOR = "resources=VCPU:2,MEMORY_MB:2048,DISK_GB:20"
HEADERS = {"OpenStack-API-Version": "placement 1.35"}


def admin(app: ASGIApp) -> ASGIApp:
    async def mw(scope: Scope, receive: Receive, send: Send) -> None:
        c = scope["state"]["context"]
        c.user_id, c.project_id, c.roles = "bench", "bench-project", ["admin", "member", "reader"]
        await app(scope, receive, send)
    return mw


def fill(mgr: Any, n: int) -> str:
    from litestack.placement.manager.allocations import Claim
    from litestack.placement.manager.inventories import make

    agg = str(uuid.uuid4())
    mgr.catalog.create_trait("CUSTOM_BENCH_FAST")
    for i in range(n):
        rp = mgr.providers.create(f"host-{i}", None, None)["uuid"]
        mgr.inventories.set_all(rp, 0, {"VCPU": make("VCPU", {"total": 16, "allocation_ratio": 4.0}),
                                        "MEMORY_MB": make("MEMORY_MB", {"total": 32768}),
                                        "DISK_GB": make("DISK_GB", {"total": 1000})}, True)
        if i % 10 == 0:
            mgr.providers.set_traits(rp, ["CUSTOM_BENCH_FAST"], None)
            mgr.providers.set_aggregates(rp, [agg], None)
        if i % 2 == 0:
            child = mgr.providers.create(f"host-{i}-numa0", None, rp)["uuid"]
            mgr.inventories.set_all(child, 0, {"VCPU": make("VCPU", {"total": 8})}, True)
        if i % 3 == 0:
            mgr.allocations.replace([Claim(str(uuid.uuid4()), {rp: {"VCPU": 4, "MEMORY_MB": 4096}}, "p", "u")])
    return agg


async def measure(app: ASGIApp, method: str, path: str, rounds: int, body: Any = None) -> tuple[list[float], Any]:
    times: list[float] = []
    out: Any = None
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench",
                                 headers=HEADERS) as c:
        for _ in range(rounds):
            t0 = time.perf_counter()
            r = await c.request(method, path, json=body() if callable(body) else body)
            times.append(time.perf_counter() - t0)
            r.raise_for_status()
            out = r.json() if r.content else None
    return times, out


def list_many(n: int, rounds: int) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import insert, update

    from litestack.common.db import Database, upgrade
    from litestack.common.policy import Enforcer
    from litestack.placement import api
    from litestack.placement.manager import Manager
    from litestack.placement.models import Base, Provider
    from litestack.placement.policy import RULES

    with tempfile.TemporaryDirectory() as d:
        db = Database(f"sqlite:///{Path(d) / 'placement.db'}")
        upgrade(db, "litestack.placement.migrations", Base, "placement")
        now = datetime.now(UTC).replace(tzinfo=None)
        with db.writer() as s:
            s.execute(insert(Provider), [{"uuid": str(uuid.UUID(int=i + 1)), "name": f"host-{i}", "generation": 0,
                                          "created_at": now, "updated_at": now} for i in range(n)])
            s.execute(update(Provider).values(root_provider_id=Provider.id))
        app = api.build(Manager(db), Enforcer(RULES), admin)
        times, out = asyncio.run(measure(app, "GET", "/resource_providers", rounds))
        verdict = "within" if min(times) < 1 else "OVER"
        print(f"{'provider list (bulk-made)':28s} {len(out['resource_providers']):6d} results  best "
              f"{min(times) * 1000:7.1f} ms  (budget 1000 ms: {verdict})")
        db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--providers", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--database-url", default="")
    ap.add_argument("--list", type=int, default=10_000, help="providers for the list budget (0: skip)")
    args = ap.parse_args()

    from litestack.common.db import Database, upgrade
    from litestack.common.policy import Enforcer
    from litestack.placement import api
    from litestack.placement.manager import Manager
    from litestack.placement.models import Base
    from litestack.placement.policy import RULES

    with tempfile.TemporaryDirectory() as d:
        db = Database(args.database_url or f"sqlite:///{Path(d) / 'placement.db'}")
        upgrade(db, "litestack.placement.migrations", Base, "placement")
        mgr = Manager(db)
        mgr.catalog.sync()
        t0 = time.perf_counter()
        agg = fill(mgr, args.providers)
        print(f"placement bench: {args.providers} root providers (+{(args.providers + 1) // 2} children) made in "
              f"{time.perf_counter() - t0:.1f} s on {db.engine.dialect.name}")
        app = api.build(mgr, Enforcer(RULES), admin)
        rp = mgr.providers.find(api.providers.ProviderQuery(name="host-1"))[0]["uuid"]

        def claim() -> dict[str, Any]:
            return {"allocations": {rp: {"resources": {"VCPU": 1}}}, "project_id": "p", "user_id": "u",
                    "consumer_generation": None}

        cases = [
            ("candidates, all", "GET", f"/allocation_candidates?{FLAVOR}", None),
            ("candidates, limit=10", "GET", f"/allocation_candidates?{FLAVOR}&limit=10", None),
            ("candidates, required trait", "GET", f"/allocation_candidates?{FLAVOR}&required=CUSTOM_BENCH_FAST", None),
            ("candidates, member_of", "GET", f"/allocation_candidates?{FLAVOR}&member_of={agg}", None),
            ("provider list", "GET", "/resource_providers", None),
        ]
        for label, method, path, body in cases:
            times, out = asyncio.run(measure(app, method, path, args.rounds, body))
            n = len(out.get("allocation_requests", out.get("resource_providers", [])))
            print(f"{label:28s} {n:6d} results  p50 {statistics.median(times) * 1000:8.1f} ms  "
                  f"max {max(times) * 1000:8.1f} ms")
        times = []
        for _ in range(args.rounds):
            t, _out = asyncio.run(measure(app, "PUT", f"/allocations/{uuid.uuid4()}", 1, claim))
            times += t
        print(f"{'claim (PUT /allocations)':28s} {'':6s}          p50 {statistics.median(times) * 1000:8.1f} ms  "
              f"max {max(times) * 1000:8.1f} ms")
        db.dispose()
    if args.list:
        list_many(args.list, min(args.rounds, 3))


if __name__ == "__main__":
    main()
