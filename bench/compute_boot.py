#!/usr/bin/env python3
"""Boot-to-ACTIVE latency and boots per second with the fake virt driver.

    .venv/bin/python bench/compute_boot.py [--hosts 10] [--boots 100]

Starts ``litestack up`` (identity, image, network, placement, compute) with ``--hosts`` fake
compute hosts on a new data directory, makes a network and an image in the demo project, then
boots servers at concurrency 1, 10 and 50: each client POSTs a server and polls it until ACTIVE.
Prints p50/p95 of POST-to-ACTIVE and the boots per second of each round (every server is deleted
between rounds), beside the issue's targets and Nova's published fake-driver figure. Never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
CONFIG = """
[identity]
password_hash_rounds = 4
[DEFAULT]
services = ["identity", "image", "network", "placement", "compute"]
log_level = "WARNING"
[network]
bootstrap = false  # the project's one network is made here; a boot without networks takes it
[compute]
fake_hosts = {hosts}
quota_instances = -1
quota_cores = -1
quota_ram = -1
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def boot_round(http: httpx.AsyncClient, token: str, image: str, concurrency: int, total: int) -> dict[str, float]:
    h = {"X-Auth-Token": token}
    latencies: list[float] = []
    ids: list[str] = []
    queue = list(range(total))

    async def client() -> None:
        while queue:
            n = queue.pop()
            t0 = time.perf_counter()
            r = await http.post("/compute/v2.1/servers", headers=h, json={"server": {
                "name": f"b{concurrency}-{n}", "flavorRef": "c1", "imageRef": image}})
            sid = r.json()["server"]["id"]
            ids.append(sid)
            while True:
                s = (await http.get(f"/compute/v2.1/servers/{sid}", headers=h)).json()["server"]
                if s["status"] in ("ACTIVE", "ERROR"):
                    break
                await asyncio.sleep(0.05)
            if s["status"] == "ACTIVE":
                latencies.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    for sid in ids:
        await http.delete(f"/compute/v2.1/servers/{sid}", headers=h)
    while (await http.get("/compute/v2.1/servers", headers=h)).json()["servers"]:
        await asyncio.sleep(0.1)
    return {"p50_ms": statistics.median(latencies) * 1000, "p95_ms": pct(latencies, 95) * 1000,
            "boots_per_s": len(latencies) / elapsed, "active": len(latencies), "asked": total}


async def run(port: int, data: Path, boots: int) -> None:
    clouds = yaml.safe_load((data / "clouds.yaml").read_text())["clouds"]["litestack"]["auth"]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": clouds["username"], "password": clouds["password"], "domain": {"name": "Default"}}}},
            "scope": {"project": {"name": clouds["project_name"], "domain": {"name": "Default"}}}}}
        token = (await http.post("/identity/v3/auth/tokens", json=body)).headers["x-subject-token"]
        h = {"X-Auth-Token": token}
        net = (await http.post("/networking/v2.0/networks", headers=h, json={"network": {"name": "bench"}})).json()
        await http.post("/networking/v2.0/subnets", headers=h, json={"subnet": {
            "network_id": net["network"]["id"], "cidr": "10.99.0.0/20", "ip_version": 4}})
        img = (await http.post("/image/v2/images", headers=h, json={
            "name": "bench", "disk_format": "raw", "container_format": "bare"})).json()["id"]
        await http.put(f"/image/v2/images/{img}/file", headers={**h, "Content-Type": "application/octet-stream"},
                       content=b"\0" * 64)
        for _ in range(100):  # the agents register once the cloud serves
            r = await http.get("/compute/v2.1/os-availability-zone", headers=h)
            if r.json().get("availabilityZoneInfo"):
                break
            await asyncio.sleep(0.1)
        await boot_round(http, token, img, 1, 3)  # warm-up
        for concurrency, total in ((1, min(boots, 30)), (10, boots), (50, boots)):
            res = await boot_round(http, token, img, concurrency, total)
            print(f"concurrency={concurrency} boots={res['active']}/{res['asked']} p50_ms={res['p50_ms']:.1f} "
                  f"p95_ms={res['p95_ms']:.1f} boots_per_s={res['boots_per_s']:.1f}", flush=True)
    print("targets (issue 10, 2-core machine): p50 < 100 ms at concurrency 1; >= 50 boots/s at concurrency 50")
    print("Nova's published fake-driver scale test: boot median 6.2 s at concurrency 50 "
          "(1,000 fake computes, 8 schedulers)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=10)
    ap.add_argument("--boots", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data, port = Path(tmp) / "data", free_port()
        cfg = Path(tmp) / "bench.toml"
        cfg.write_text(CONFIG.format(hosts=args.hosts))
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
            asyncio.run(run(port, data, args.boots))
        finally:
            proc.terminate()
            proc.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
