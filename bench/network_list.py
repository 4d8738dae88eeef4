#!/usr/bin/env python3
"""Listing 10,000 ports through the network API, in process (issue 9 §5; budget: under 1 s).

    .venv/bin/python bench/network_list.py [--ports N] [--rounds R]

Builds the network API of this checkout on a scratch SQLite database (an admin caller stands in
for the auth middleware, so no identity service is needed), writes N ports with one fixed IP each
straight into the tables (making them through the API would take minutes and measures creation,
not listing), then times ``GET /v2.0/ports`` unfiltered and ``?device_id=`` (one port) from the
ASGI app, best of R rounds, and prints the figures next to the budget. It leaves out uvicorn and
the sockets (``bench/api_overhead.py`` shows their share) and token validation.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
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


def fill(mgr: Any, n: int) -> str:
    from sqlalchemy import insert

    from litestack.network.manager.base import Caller
    from litestack.network.models import IPAllocation, Port

    caller = Caller("bench-project", True)
    net = mgr.networks.create(caller, {"name": "bench", "project_id": "bench-project"})
    sub = mgr.subnets.create(caller, {"network_id": net["id"], "ip_version": 4, "cidr": "10.0.0.0/16",
                                      "project_id": "bench-project"})
    now = datetime.now(UTC).replace(tzinfo=None)
    ports, ips = [], []
    for i in range(n):
        pid = f"00000000-0000-0000-0000-{i:012d}"
        ports.append({"id": pid, "project_id": "bench-project", "network_id": net["id"], "name": f"p{i}",
                      "mac_address": f"fa:16:3e:00:{i >> 8 & 255:02x}:{i & 255:02x}", "admin_state_up": True,
                      "status": "DOWN", "device_id": f"vm-{i}", "device_owner": "compute:nova", "binding_host_id": "",
                      "binding_vnic_type": "normal", "binding_vif_type": "unbound", "binding_vif_details": {},
                      "binding_profile": {}, "port_security_enabled": True, "allowed_address_pairs": [],
                      "extra_dhcp_opts": [], "dns_name": "", "description": "", "revision_number": 0,
                      "created_at": now, "updated_at": now})
        ips.append({"port_id": pid, "subnet_id": sub["id"], "network_id": net["id"],
                    "ip_address": f"10.0.{(i + 2) >> 8 & 255}.{(i + 2) & 255}"})
    with mgr.db.writer() as s:
        s.execute(insert(Port), ports)
        s.execute(insert(IPAllocation), ips)
    return "vm-4242"


async def measure(app: ASGIApp, path: str, rounds: int) -> tuple[float, int]:
    best, count = float("inf"), 0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as c:
        for _ in range(rounds):
            t0 = time.perf_counter()
            r = await c.get(path)
            best = min(best, time.perf_counter() - t0)
            r.raise_for_status()
            count = len(r.json()["ports"])
    return best, count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--ports", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    import litestack.network.options  # noqa: F401 - registers [network]
    from litestack.common.config import load
    from litestack.common.db import Database, upgrade
    from litestack.common.notify import Notifier
    from litestack.common.policy import Enforcer
    from litestack.network import api
    from litestack.network.manager import Manager
    from litestack.network.models import Base
    from litestack.network.policy import RULES

    with tempfile.TemporaryDirectory() as d:
        db = Database(f"sqlite:///{Path(d) / 'network.db'}")
        upgrade(db, "litestack.network.migrations", Base)
        mgr = Manager(db, load(None), Notifier("network", "bench"))
        device = fill(mgr, args.ports)
        app = api.build(mgr, Enforcer(RULES), admin)
        for label, path in (("unfiltered", "/v2.0/ports"), ("by device_id", f"/v2.0/ports?device_id={device}")):
            best, count = asyncio.run(measure(app, path, args.rounds))
            verdict = "within" if best < 1 else "OVER"
            print(f"port list {label:13s} {count:6d} ports  {best * 1000:8.1f} ms  (budget 1000 ms: {verdict})")
        db.dispose()


if __name__ == "__main__":
    main()
