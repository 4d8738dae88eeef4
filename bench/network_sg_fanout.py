#!/usr/bin/env python3
"""Security group rule fan-out to the agents for N bound ports (issue 9).

    .venv/bin/python bench/network_sg_fanout.py [--ports 500] [--rounds 3]

The real server side (network manager on a scratch SQLite database, its RPC endpoint on the
in-process bus) and the fake agent of one host; N ports bound to that host, all in one security
group, wired by the agent first. Then a rule is added to the group, and the bench times, best of
R rounds: the rule create itself (the API's transaction and the fan-out being sent), the fan-out
reaching the agent (``security_groups_rule_updated``), and the agent holding the new rule after
asking ``security_group_info_for_devices`` for its N ports (rules and remote-group members).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path


async def bench(n: int, rounds: int) -> None:
    import litestack.network.options  # noqa: F401 - registers [network]
    from litestack.common.config import load
    from litestack.common.db import Database, upgrade
    from litestack.common.notify import Notifier
    from litestack.common.rpc import get_transport
    from litestack.network.agents import PLUGIN_TOPIC
    from litestack.network.agents.fake import FakeAgent
    from litestack.network.agents.rpc import AgentFanout, PluginEndpoint
    from litestack.network.manager import Manager
    from litestack.network.manager.base import Caller
    from litestack.network.models import Base

    with tempfile.TemporaryDirectory() as d:
        db = Database(f"sqlite:///{Path(d) / 'network.db'}")
        upgrade(db, "litestack.network.migrations", Base)
        mgr = Manager(db, load(None), Notifier("network", "bench"))
        bus = get_transport(f"inproc://bench-{uuid.uuid4().hex[:6]}")
        await bus.start()
        await bus.listen(PLUGIN_TOPIC, PluginEndpoint(mgr, None))
        fanout = AgentFanout(bus)
        for part in mgr.parts:
            part.agent_fanout = fanout
        agent = FakeAgent(bus, "bench-host", 3600)
        await agent.start()
        admin = Caller("p", True)
        net = await asyncio.to_thread(mgr.networks.create, admin, {"project_id": "p", "name": "n"})
        await asyncio.to_thread(mgr.subnets.create, admin, {"project_id": "p", "network_id": net["id"],
                                                            "cidr": "10.0.0.0/20", "ip_version": 4})
        t0 = time.perf_counter()
        for _ in range(n):
            await asyncio.to_thread(mgr.ports.create, admin, {"project_id": "p", "network_id": net["id"],
                                                              "binding:host_id": "bench-host"})
        while sum(1 for p in agent.ports.values() if p["status"] == "ACTIVE") < n:
            await asyncio.sleep(0.01)
        print(f"{n} ports created, bound and reported ACTIVE by the fake agent in {time.perf_counter() - t0:.2f} s")
        group = next(iter(agent.ports.values()))["security_groups"][0]
        best = {"create": 1e9, "fanout": 1e9, "applied": 1e9}
        for i in range(rounds):
            seen = len(agent.told)
            t0 = time.perf_counter()
            rule = await asyncio.to_thread(mgr.security_groups.create_rule, admin, {
                "project_id": "p", "security_group_id": group, "direction": "ingress", "ethertype": "IPv4",
                "protocol": "tcp", "port_range_min": 1000 + i, "port_range_max": 1000 + i})
            t1 = time.perf_counter()
            while not any(m == "security_groups_rule_updated" for m, _ in agent.told[seen:]):
                await asyncio.sleep(0.001)
            t2 = time.perf_counter()
            while not any(r["id"] == rule["id"] for r in agent.security_groups.get(group, [])):
                await asyncio.sleep(0.001)
            t3 = time.perf_counter()
            best = {"create": min(best["create"], t1 - t0), "fanout": min(best["fanout"], t2 - t0),
                    "applied": min(best["applied"], t3 - t0)}
        print(f"rule create (API transaction, fan-out sent)  {best['create'] * 1000:8.1f} ms")
        print(f"fan-out received by the agent                {best['fanout'] * 1000:8.1f} ms")
        print(f"rule held by the agent for its {n} ports     {best['applied'] * 1000:8.1f} ms  (best of {rounds})")
        await agent.stop()
        await bus.stop()
        db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--ports", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    asyncio.run(bench(args.ports, args.rounds))


if __name__ == "__main__":
    main()
