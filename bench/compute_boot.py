#!/usr/bin/env python3
"""Boot-to-ACTIVE latency and boots per second with the fake virt driver.

    .venv/bin/python bench/compute_boot.py [--hosts 10] [--boots 100] [--list 5000] [--nova]

Starts ``litestack up`` (identity, image, network, placement, compute) with ``--hosts`` fake
compute hosts on a new data directory, makes a network and an image in the demo project, then
boots servers at concurrency 1, 10 and 50: each client POSTs a server and polls it until ACTIVE.
Prints p50/p95 of POST-to-ACTIVE and the boots per second of each round (every server is deleted
between rounds), beside the issue's targets and Nova's published fake-driver figure.

``--list N`` then fills the project to N servers (multi-create, 50 per request, each with a port)
and times ``openstack server list --long`` (the real CLI, median of 3) and ``GET /servers/detail``
(median of 3), and prints the cloud process's RSS growth per 1,000 instances (RSS after the fill
minus RSS before it, the instances being ACTIVE on the fake hosts).

``--nova`` runs the real Nova with its fake driver afterwards in the same run
(``/work/shared/anchors/anchor-nova.sh``: nova-api, conductor, scheduler, placement, two fake
computes on MariaDB and RabbitMQ, about 16 minutes) with the same concurrencies and list size,
and prints its figures beside ours. Never asserts.
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
from typing import Any

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
quota_port = -1  # one port per server, beyond the default 500
[compute]
fake_hosts = {hosts}
quota_instances = -1
quota_cores = -1
quota_ram = -1
fake_vcpus = 1000
fake_memory_mb = 800000
fake_disk_gb = 600000
"""
ANCHOR = Path("/work/shared/anchors/anchor-nova.sh")


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


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def fill_and_list(http: httpx.AsyncClient, token: str, image: str, total: int, pid: int, data: Path,
                        results: dict[str, float]) -> None:
    """Fills the project to ``total`` ACTIVE servers, then times the listings and the RSS growth."""
    h = {"X-Auth-Token": token}
    before = rss_mb(pid)
    t0 = time.perf_counter()
    made = 0
    while made < total:
        n = min(50, total - made)
        r = await http.post("/compute/v2.1/servers", headers=h, json={"server": {
            "name": f"fill-{made}", "flavorRef": "c1", "imageRef": image, "min_count": n, "max_count": n}})
        r.raise_for_status()
        made += n
        while True:  # closed loop: the next batch once this one is built
            r = await http.get("/compute/v2.1/servers/detail", headers=h,
                               params={"status": "BUILD", "limit": 1})
            if not r.json()["servers"]:
                break
            await asyncio.sleep(0.2)
    fill_s = time.perf_counter() - t0
    active = len((await http.get("/compute/v2.1/servers", headers=h, params={"status": "ACTIVE"})).json()["servers"])
    after = rss_mb(pid)
    detail: list[float] = []
    for _ in range(3):
        t1 = time.perf_counter()
        r = await http.get("/compute/v2.1/servers/detail", headers=h)
        detail.append(time.perf_counter() - t1)
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(data / "clouds.yaml")}
    cli_bin = Path(sys.executable).parent / "openstack"
    cli: list[float] = []
    for _ in range(3):
        t1 = time.perf_counter()
        out = await asyncio.to_thread(subprocess.run, [str(cli_bin), "--os-cloud", "litestack", "server", "list",
                                                       "--long", "-f", "value", "-c", "ID"],
                                      env=env, capture_output=True, text=True, check=True)
        cli.append(time.perf_counter() - t1)
    listed = len(out.stdout.split())
    results.update(list_servers=active, cli_s=statistics.median(cli), detail_ms=statistics.median(detail) * 1000,
                   rss_per_1000_mb=(after - before) / max(active, 1) * 1000)
    print(f"fill servers={active}/{total} wall_s={fill_s:.1f} (multi-create 50 per request, each with a port)")
    print(f"list servers={active} cli_listed={listed} 'openstack server list --long' p50_s={results['cli_s']:.2f} "
          f"GET /servers/detail p50_ms={results['detail_ms']:.0f} bytes={len(r.content)}")
    print(f"rss before_mb={before:.1f} after_mb={after:.1f} per_1000_instances_mb={results['rss_per_1000_mb']:.1f}")
    print("target (issue 10): the 5,000-server list under 2 s", flush=True)


async def run(port: int, data: Path, boots: int, list_n: int = 0, pid: int = 0,
              results: dict[str, Any] | None = None) -> None:
    results = results if results is not None else {}
    clouds = yaml.safe_load((data / "clouds.yaml").read_text())["clouds"]["litestack"]["auth"]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": clouds["username"], "password": clouds["password"], "domain": {"name": "Default"}}}},
            "scope": {"project": {"name": clouds["project_name"], "domain": {"name": "Default"}}}}}
        token = (await http.post("/identity/v3/auth/tokens", json=body)).headers["x-subject-token"]
        h = {"X-Auth-Token": token}
        net = (await http.post("/networking/v2.0/networks", headers=h, json={"network": {"name": "bench"}})).json()
        await http.post("/networking/v2.0/subnets", headers=h, json={"subnet": {
            "network_id": net["network"]["id"], "cidr": "10.96.0.0/14", "ip_version": 4}})
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
            results[f"c{concurrency}"] = res
            print(f"concurrency={concurrency} boots={res['active']}/{res['asked']} p50_ms={res['p50_ms']:.1f} "
                  f"p95_ms={res['p95_ms']:.1f} boots_per_s={res['boots_per_s']:.1f}", flush=True)
        print("targets (issue 10, 2-core machine): p50 < 100 ms at concurrency 1; >= 50 boots/s at concurrency 50")
        if list_n:
            await fill_and_list(http, token, img, list_n, pid, data, results)
    print("Nova's published fake-driver scale test: boot median 6.2 s at concurrency 50 "
          "(1,000 fake computes, 8 schedulers)")


def run_nova(boots: int, list_n: int) -> dict[str, dict[str, str]]:
    """The real Nova (fake driver) through its anchor script, with our concurrencies and list size;
    its ``nova ...`` lines parsed into {"boot c=1": {...}, "list detail": {...}, "rss after-load": {...}}."""
    env = {**os.environ, "BOOTS": f"1:{min(boots, 30)} 10:{boots} 50:{boots}", "LIST_N": str(list_n or 500)}
    proc = subprocess.run(["bash", str(ANCHOR), "/tmp/anchor-nova"], env=env, capture_output=True, text=True)
    found: dict[str, dict[str, str]] = {}
    for line in proc.stdout.splitlines():
        words = line.split()
        if len(words) < 3 or words[0] != "nova":
            continue
        fields = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        if words[1] == "boot":
            found[f"boot {words[2]}"] = fields
        elif words[1] == "list":
            found[f"list {fields.get('query')}"] = fields
        elif words[1] == "rss":
            found[f"rss {fields.get('when')}"] = fields
        elif words[1] in ("versions", "errors", "done"):
            found[words[1]] = fields
            print("nova:", line.partition(" ")[2])
    if proc.returncode:
        print(f"nova anchor failed (rc={proc.returncode}): {proc.stderr[-2000:]}")
    return found


def side_by_side(ours: dict[str, Any], nova: dict[str, dict[str, str]]) -> None:
    print("\nside by side (same run, same machine)            litestack        nova (fake driver)   ratio")
    for c in (1, 10, 50):
        mine = ours.get(f"c{c}")
        theirs = nova.get(f"boot c={c}")
        if not mine or not theirs:
            continue
        n_rate, n_p50 = float(theirs.get("boots_per_s", 0)), float(theirs.get("p50_s", 0)) * 1000
        print(f"boots/s at concurrency {c:<2}                       {mine['boots_per_s']:>9.1f}  {n_rate:>18.1f}"
              f"   {mine['boots_per_s'] / n_rate if n_rate else 0:>5.1f}x")
        print(f"p50 boot-to-ACTIVE ms at concurrency {c:<2}         {mine['p50_ms']:>9.0f}  {n_p50:>18.0f}"
              f"   {n_p50 / mine['p50_ms'] if mine['p50_ms'] else 0:>5.1f}x faster")
    detail = nova.get("list detail")
    if "detail_ms" in ours and detail:
        print(f"GET /servers/detail ms ({ours['list_servers']} ours, {detail.get('servers')} nova)"
              f"     {ours['detail_ms']:>9.0f}  {float(detail.get('p50_ms', 0)):>18.0f}")
    rss = nova.get("rss after-load")
    if rss:
        print(f"RSS MB after the load (all processes)            see above  {float(rss.get('rss_mb', 0)):>18.0f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=10)
    ap.add_argument("--boots", type=int, default=100)
    ap.add_argument("--list", type=int, default=0, help="fill to N servers and time the listings (issue: 5000)")
    ap.add_argument("--nova", action="store_true", help="also run the real Nova (fake driver) and compare")
    args = ap.parse_args()
    results: dict[str, Any] = {}
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
            asyncio.run(run(port, data, args.boots, args.list, proc.pid, results))
        finally:
            proc.terminate()
            proc.wait(60)
    if args.nova:
        side_by_side(results, run_nova(args.boots, args.list))
    return 0


if __name__ == "__main__":
    sys.exit(main())
