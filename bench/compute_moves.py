#!/usr/bin/env python3
"""How long the move operations take with the fake virt driver, end to end over the API.

    .venv/bin/python bench/compute_moves.py [--hosts 3] [--rounds 5]

Starts ``litestack up`` like ``compute_boot.py`` (``--hosts`` fake hosts), boots one server, then
times, ``--rounds`` times each, from the request to the state a client waits for (polling every
50 ms): resize → VERIFY_RESIZE, confirmResize → ACTIVE, resize + revertResize → ACTIVE, migrate
→ VERIFY_RESIZE (admin), os-migrateLive → back to ACTIVE on another host (admin), createImage →
image active, shelve → SHELVED_OFFLOADED, unshelve → ACTIVE. Prints p50 and max. Never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compute_boot import CONFIG, REPO, free_port


async def token_of(http: httpx.AsyncClient, auth: dict[str, Any]) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": auth["username"], "password": auth["password"], "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": auth["project_name"], "domain": {"name": "Default"}}}}}
    return (await http.post("/identity/v3/auth/tokens", json=body)).headers["x-subject-token"]


async def run(port: int, data: Path, rounds: int) -> None:
    clouds = yaml.safe_load((data / "clouds.yaml").read_text())["clouds"]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
        demo = {"X-Auth-Token": await token_of(http, clouds["litestack"]["auth"])}
        admin = {"X-Auth-Token": await token_of(http, clouds["litestack-admin"]["auth"])}
        net = (await http.post("/networking/v2.0/networks", headers=demo, json={"network": {"name": "b"}})).json()
        await http.post("/networking/v2.0/subnets", headers=demo, json={"subnet": {
            "network_id": net["network"]["id"], "cidr": "10.98.0.0/24", "ip_version": 4}})
        img = (await http.post("/image/v2/images", headers=demo, json={
            "name": "bench", "disk_format": "raw", "container_format": "bare"})).json()["id"]
        await http.put(f"/image/v2/images/{img}/file", headers={**demo, "Content-Type": "application/octet-stream"},
                       content=b"\0" * 64)
        for _ in range(100):
            if (await http.get("/compute/v2.1/os-availability-zone", headers=demo)).json().get("availabilityZoneInfo"):
                break
            await asyncio.sleep(0.1)
        r = await http.post("/compute/v2.1/servers", headers=demo, json={"server": {
            "name": "moving", "imageRef": img, "flavorRef": "1"}})
        sid = r.json()["server"]["id"]

        async def server() -> dict[str, Any]:
            return dict((await http.get(f"/compute/v2.1/servers/{sid}", headers=admin)).json()["server"])

        async def until(check: Callable[[dict[str, Any]], bool]) -> None:
            for _ in range(1200):
                if check(await server()):
                    return
                await asyncio.sleep(0.05)
            raise TimeoutError(str(await server()))

        def settled(status: str) -> Callable[[dict[str, Any]], bool]:
            return lambda s: s["status"] == status and s["OS-EXT-STS:task_state"] is None

        async def act(body: dict[str, Any], headers: dict[str, str] = demo) -> httpx.Response:
            r = await http.post(f"/compute/v2.1/servers/{sid}/action", headers=headers, json=body)
            if r.status_code not in (200, 202, 204):
                raise RuntimeError(r.text)
            return r

        await until(settled("ACTIVE"))
        times: dict[str, list[float]] = {}

        async def timed(name: str, step: Callable[[], Awaitable[None]]) -> None:
            start = time.perf_counter()
            await step()
            times.setdefault(name, []).append(time.perf_counter() - start)

        flavors = ["c1", "1"]  # same disk: a resize may not shrink it
        for n in range(rounds):
            flavor = flavors[n % 2]

            async def resize(f: str = flavor) -> None:
                await act({"resize": {"flavorRef": f}})
                await until(settled("VERIFY_RESIZE"))

            async def confirm() -> None:
                await act({"confirmResize": None})
                await until(settled("ACTIVE"))

            async def revert(other: str = flavors[(n + 1) % 2]) -> None:
                await act({"resize": {"flavorRef": other}})
                await until(settled("VERIFY_RESIZE"))
                await act({"revertResize": None})
                await until(settled("ACTIVE"))

            async def migrate() -> None:
                await act({"migrate": None}, admin)
                await until(settled("VERIFY_RESIZE"))

            async def live() -> None:
                before = (await server())["OS-EXT-SRV-ATTR:host"]
                await act({"os-migrateLive": {"host": None, "block_migration": False, "disk_over_commit": False}},
                          admin)
                await until(lambda s: s["OS-EXT-SRV-ATTR:host"] != before and s["OS-EXT-STS:task_state"] is None)

            async def snapshot(n: int = n) -> None:
                r = await act({"createImage": {"name": f"snap-{n}"}})
                image = r.headers["location"].rsplit("/", 1)[-1]
                for _ in range(1200):
                    if (await http.get(f"/image/v2/images/{image}", headers=demo)).json().get("status") == "active":
                        break
                    await asyncio.sleep(0.05)
                await until(settled("ACTIVE"))

            async def shelve() -> None:
                await act({"shelve": None})
                await until(settled("SHELVED_OFFLOADED"))

            async def unshelve() -> None:
                await act({"unshelve": None})
                await until(settled("ACTIVE"))

            await timed("resize", resize)
            await timed("confirmResize", confirm)
            await timed("resize+revertResize", revert)
            await timed("migrate", migrate)
            await act({"confirmResize": None})
            await until(settled("ACTIVE"))
            await timed("os-migrateLive", live)
            await timed("createImage", snapshot)
            await timed("shelve (offloaded)", shelve)
            await timed("unshelve", unshelve)
        for name, values in times.items():
            print(f"{name:22s} p50_ms={statistics.median(values) * 1000:7.1f} max_ms={max(values) * 1000:7.1f} "
                  f"n={len(values)}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data, port = Path(tmp) / "data", free_port()
        cfg = Path(tmp) / "bench.toml"
        cfg.write_text(CONFIG.format(hosts=args.hosts) + "move_poll_interval = 1.0\n")
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("OS_CLOUD", None)
        proc = subprocess.Popen([sys.executable, "-m", "litestack.cli.main", "up", "--data-dir", str(data),
                                 "--port", str(port), "--config", str(cfg)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthcheck", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            print(f"hosts={args.hosts} driver=fake", flush=True)
            asyncio.run(run(port, data, args.rounds))
        finally:
            proc.terminate()
            proc.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
