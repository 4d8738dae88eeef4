#!/usr/bin/env python3
"""Identity token benchmark: litestack versus the real Keystone, in one run.

    .venv/bin/python bench/identity_tokens.py [--skip-keystone] [--duration S] [--concurrency "1 8 32"]

Measures, one after the other (never two at once; every measurement first waits for the host
to go idle, and a litestack figure taken while other processes were busy is measured again):

1. ``litestack up``: time to ready, cold (new data dir) and warm (restart on the same dir), and
   the process's idle RSS (VmRSS) after start-up and after the load;
2. the bcrypt ceiling of this machine: checkpw() per second at the configured cost (12) on one
   thread and on one thread per core (bcrypt releases the GIL), and the CPU time of one check --
   the upper bound for password token issue;
3. litestack token issue (password, project-scoped, demo user) and token validate
   (GET /v3/auth/tokens, admin token as X-Auth-Token, the demo token as X-Subject-Token) at each
   concurrency: closed loop, keep-alive connections, a load generator in its own process
   (asyncio + uvloop on raw sockets, so that it stays cheap; its CPU use is reported); with
   py-spy available, one extra profiled validate and issue run each, summarised;
4. the real Keystone, through ../shared/anchors/anchor-keystone.sh beside the repository (uWSGI, SQLite, fernet,
   2 workers, cache off and in-memory) with the same duration and concurrency levels;

and prints every figure as one ``key=value`` line prefixed ``litestack `` / ``keystone `` /
``ratio ``, then a summary table "figure | value | target | met?". It prints; it never asserts.

The machine has few cores and the load generator shares them with the server: client_cpu_pct
on each line says how much of a core the client used during the window.
Loopback only; every loop is bounded in time; only processes this script started are signalled.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# The anchors live beside the repository, in ../shared/anchors/.
ANCHOR = REPO.parent / "shared" / "anchors" / "anchor-keystone.sh"
HOST = "127.0.0.1"
TICK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1

TARGETS = {
    "issue_vs_bcrypt": 0.9,  # litestack issue rps / all-core bcrypt ceiling, at c >= cores
    "validate_vs_keystone_cached": 3.0,  # litestack validate rps / keystone (cache=memory)
    "ready_s": 3.0,
    "idle_rss_mb": 150.0,
}


# ------------------------------------------------------------------------------ /proc helpers
def proc_cpu(pids: list[int]) -> float:
    """CPU seconds used so far by these processes (all their threads)."""
    tot = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            tot += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return tot / TICK


def host_cpu() -> float:
    """Busy CPU seconds of the whole host, summed over cores."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / TICK


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid: int) -> int:
    """Proportional set size: the process's private pages plus its share of pages it shares
    (forked workers share the parent's code and imports, which summing VmRSS counts once per process)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    kids = [int(x) for x in f.read().split()]
                out += kids
                todo += kids
        except OSError:
            pass
    return out


def wait_for_quiet(limit: float, label: str = "litestack") -> float:
    """Wait up to ``limit`` s for the host to use < 25% of a core; return the last busy share."""
    deadline, busy = time.monotonic() + limit, 0.0
    while time.monotonic() < deadline:
        h0 = host_cpu()
        time.sleep(2)
        busy = (host_cpu() - h0) / 2
        if busy < 0.25:
            return busy
    if limit:
        print(
            f"{label} note: host still busy ({100 * busy:.0f}% of a core) after {limit:.0f} s, measuring anyway",
            file=sys.stderr,
            flush=True,
        )
    return busy


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_busy(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((HOST, port)) == 0


def fmt(v: float | None, nd: int = 1) -> str:
    if v is None or v != v:  # None or NaN
        return "nan"
    return f"{v:.{nd}f}"


def emit(line: str) -> None:
    print(line, flush=True)


# ------------------------------------------------------------------------------ 1. bcrypt
def bcrypt_rate(threads: int, seconds: float, rounds: int) -> dict[str, float]:
    """checkpw() completions per second with ``threads`` threads checking back to back.

    Also the CPU time of one check (thread CPU time, so not inflated by other load on the host)
    and how much of the host's CPU went to other processes meanwhile.
    """
    import bcrypt

    hashed = bcrypt.hashpw(b"bench-password", bcrypt.gensalt(rounds))
    stop_at = time.perf_counter() + seconds
    counts = [0] * threads
    cpu = [0.0] * threads
    h0, s0 = host_cpu(), self_cpu()
    t0 = time.perf_counter()
    ends = [t0] * threads

    def work(i: int) -> None:
        n = 0
        c0 = time.thread_time()
        while time.perf_counter() < stop_at:
            bcrypt.checkpw(b"bench-password", hashed)
            n += 1
        cpu[i] = time.thread_time() - c0
        counts[i] = n
        ends[i] = time.perf_counter()

    ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    # every thread stops after its last check ends; count the completed checks over the time
    # the threads actually ran (the last check may overrun stop_at by up to one check)
    wall = max(ends) - t0
    other = max(0.0, (host_cpu() - h0) - (self_cpu() - s0))
    n = sum(counts)
    return {"rate": n / wall, "cpu_ms": 1000 * sum(cpu) / n if n else float("nan"), "other_pct": 100 * other / wall}


def measure_bcrypt(args: argparse.Namespace) -> dict[str, float]:
    """The ceiling is the best of three windows: other load on the host can only lower it."""
    wait_for_quiet(args.quiet_wait)
    secs = max(3.0, args.duration / 2)
    single = bcrypt_rate(1, secs, args.hash_rounds)
    runs = [bcrypt_rate(CORES, secs, args.hash_rounds) for _ in range(3)]
    allc = max(runs, key=lambda r: r["rate"])
    over = bcrypt_rate(CORES * 2, secs, args.hash_rounds)
    cpu_ms = statistics.median([single["cpu_ms"], *(r["cpu_ms"] for r in runs)])
    res = {
        "single": single["rate"],
        "all": allc["rate"],
        "over": over["rate"],
        "cpu_ms": cpu_ms,
        "cpu_bound": CORES * 1000 / cpu_ms,
    }
    emit(
        f"litestack bcrypt_ceiling rounds={args.hash_rounds} cores={CORES} "
        f"verifies_per_s={allc['rate']:.2f} threads={CORES} "
        f"windows_per_s={','.join(format(r['rate'], '.2f') for r in runs)} "
        f"single_thread_per_s={single['rate']:.2f} cpu_ms_per_verify={cpu_ms:.1f} "
        f"cpu_bound_per_s={res['cpu_bound']:.2f} threads_2x_per_s={over['rate']:.2f} "
        f"scaling={allc['rate'] / single['rate']:.2f} other_cpu_pct={allc['other_pct']:.0f}"
    )
    return res


# ------------------------------------------------------------------------------ 2. litestack up
class Litestack:
    """One ``litestack up`` process that this script started (and alone stops)."""

    def __init__(self, data_dir: Path, port: int, rounds: int, workers: int = 1) -> None:
        self.data_dir = data_dir
        self.port = port
        self.rounds = rounds
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / (data_dir.name + ".stdout.log")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60) -> dict[str, float]:
        env = dict(os.environ)
        env["LITESTACK_IDENTITY_PASSWORD_HASH_ROUNDS"] = str(self.rounds)
        # The load comes from one address at concurrency up to 32: lift the per-source fairness
        # queue and the failed-login throttle that would otherwise answer it 429.
        env["LITESTACK_IDENTITY_HASH_QUEUE_PER_SOURCE"] = "256"
        env["LITESTACK_IDENTITY_HASH_QUEUE"] = "256"
        env["LITESTACK_IDENTITY_AUTH_FAILURES_PER_SOURCE"] = "0"
        env.pop("LITESTACK_DEFAULT_PORT", None)
        exe = REPO / ".venv" / "bin" / "litestack"
        cmd = [
            str(exe) if exe.exists() else "litestack",
            "up",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            "--host",
            HOST,
            *(["--workers", str(self.workers)] if self.workers > 1 else []),
        ]
        log = open(self.log_path, "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
        log.close()
        deadline = t0 + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"litestack up exited with {self.proc.returncode}; see {self.log_path}")
            if time.perf_counter() > deadline:
                self.stop()
                raise RuntimeError(f"litestack up not ready within {timeout} s; see {self.log_path}")
            try:
                c = http.client.HTTPConnection(HOST, self.port, timeout=2)
                c.request("GET", "/healthcheck")
                r = c.getresponse()
                r.read()
                c.close()
                if r.status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.01)
        ready = time.perf_counter() - t0
        reported = float("nan")
        text = self.log_path.read_text(errors="replace")
        found = re.findall(r"ready in ([0-9.]+)s", text)
        if found:
            reported = float(found[-1])
        return {"ready_s": ready, "reported_s": reported}

    def stop(self) -> float:
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        t0 = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            print(f"litestack note: pid {self.proc.pid} ignored SIGTERM for 20 s, killing it", file=sys.stderr)
            self.proc.kill()
            self.proc.wait(10)
        return time.perf_counter() - t0

    def rss(self) -> dict[str, float]:
        pids = [self.pid, *descendants(self.pid)]
        return {
            "rss_mb": sum(status_kb(p, "VmRSS") for p in pids) / 1024,
            "hwm_mb": sum(status_kb(p, "VmHWM") for p in pids) / 1024,
            "pss_mb": sum(pss_kb(p) for p in pids) / 1024,
            "threads": float(sum(_threads(p) for p in pids)),
            "procs": float(len(pids)),
        }

    def secrets(self) -> dict[str, Any]:
        return json.loads((self.data_dir / "secrets.json").read_text())

    def password_rounds(self, user: str) -> str:
        db = self.data_dir / "identity.db"
        if not db.exists():
            return "?"
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            row = con.execute(
                "SELECT p.hash FROM password p WHERE p.user_id = "
                '(SELECT id FROM "user" WHERE name = ?) ORDER BY p.id DESC LIMIT 1',
                (user,),
            ).fetchone()
            con.close()
        except sqlite3.Error:
            return "?"
        if not row or not row[0].startswith("$2"):
            return "?"
        return row[0].split("$")[2]


def _threads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def measure_startup(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """Cold (fresh dir) and warm (restart on the same dir) starts, ``--startup-runs`` times."""
    cold: list[dict[str, float]] = []
    warm: list[dict[str, float]] = []
    stops: list[float] = []
    rss_idle: list[dict[str, float]] = []
    wait_for_quiet(args.quiet_wait)
    for i in range(args.startup_runs):
        d = root / f"startup-{i}"
        shutil.rmtree(d, ignore_errors=True)
        ls = Litestack(d, free_port(), args.hash_rounds, args.litestack_workers)
        cold.append(ls.start())
        time.sleep(args.settle)
        rss_idle.append(ls.rss())
        stops.append(ls.stop())
        warm.append(ls.start())
        time.sleep(args.settle)
        rss_idle.append(ls.rss())
        stops.append(ls.stop())
        time.sleep(0.5)
    for kind, runs in (("cold", cold), ("warm", warm)):
        ready = [r["ready_s"] for r in runs]
        rep = [r["reported_s"] for r in runs]
        emit(
            f"litestack startup kind={kind} ready_s={statistics.median(ready):.2f} "
            f"first_s={ready[0]:.2f} max_s={max(ready):.2f} runs={len(ready)} "
            f"self_reported_s={statistics.median(rep):.2f} "
            f"before_run_s={statistics.median(a - b for a, b in zip(ready, rep, strict=True)):.2f}"
        )
    emit(f"litestack shutdown stop_s={statistics.median(stops):.2f} max_s={max(stops):.2f}")
    return {
        "cold": statistics.median(r["ready_s"] for r in cold),
        "cold_max": max(r["ready_s"] for r in cold),
        "warm": statistics.median(r["ready_s"] for r in warm),
        "warm_max": max(r["ready_s"] for r in warm),
        "rss_idle": statistics.median(r["rss_mb"] for r in rss_idle),
    }


# ------------------------------------------------------------------------------ 3. load generator
def auth_body(user: str, password: str, project: str) -> bytes:
    dom = {"id": "default"}
    return json.dumps(
        {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"name": user, "domain": dom, "password": password}},
                },
                "scope": {"project": {"name": project, "domain": dom}},
            }
        }
    ).encode()


def http_call(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any, bytes]:
    c = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        c.request(
            method,
            path,
            body=body,
            headers={"Content-Type": "application/json", "Accept": "application/json", **(headers or {})},
        )
        r = c.getresponse()
        return r.status, r.headers, r.read()
    finally:
        c.close()


def prepare_tokens(ls: Litestack) -> dict[str, Any]:
    sec = ls.secrets()
    s, h, d = http_call(ls.port, "POST", "/identity/v3/auth/tokens", auth_body("admin", sec["admin_password"], "admin"))
    if s != 201:
        raise RuntimeError(f"admin token: HTTP {s}: {d[:300]!r}")
    admin = h["X-Subject-Token"]
    s, h, d = http_call(ls.port, "POST", "/identity/v3/auth/tokens", auth_body("demo", sec["demo_password"], "demo"))
    if s != 201:
        raise RuntimeError(f"demo token: HTTP {s}: {d[:300]!r}")
    demo = h["X-Subject-Token"]
    body = json.loads(d)
    s, _, d2 = http_call(
        ls.port, "GET", "/identity/v3/auth/tokens", headers={"X-Auth-Token": admin, "X-Subject-Token": demo}
    )
    if s != 200:
        raise RuntimeError(f"validate: HTTP {s}: {d2[:300]!r}")
    emit(
        f"litestack token_bytes={len(demo)} admin_token_bytes={len(admin)} issue_body_bytes={len(d)} "
        f"validate_body_bytes={len(d2)} catalog_entries={len(body['token'].get('catalog', []))} "
        f"roles={','.join(sorted(r['name'] for r in body['token']['roles']))} "
        f"password_hash=bcrypt rounds={ls.password_rounds('demo')}"
    )
    return {"admin_token": admin, "subject_token": demo, "demo_password": sec["demo_password"]}


def build_request(mode: str, port: int, state: dict[str, Any]) -> tuple[bytes, int]:
    host = f"{HOST}:{port}"
    if mode == "issue":
        body = auth_body("demo", state["demo_password"], "demo")
        head = (
            f"POST /identity/v3/auth/tokens HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/json\r\nAccept: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body, 201
    head = (
        f"GET /identity/v3/auth/tokens HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n"
        f"X-Auth-Token: {state['admin_token']}\r\nX-Subject-Token: {state['subject_token']}\r\n\r\n"
    )
    return head.encode(), 200


_CL = re.compile(rb"\r\ncontent-length:\s*(\d+)")


def loadgen_main(cfg_path: str) -> int:
    """Runs in its own process: C keep-alive connections, each sending back to back."""
    cfg = json.loads(Path(cfg_path).read_text())
    req: bytes = cfg["request"].encode("latin-1")
    want: int = cfg["want"]
    conc: int = cfg["concurrency"]
    port: int = cfg["port"]
    pids: list[int] = cfg["server_pids"]
    lat: list[float] = []
    errs: dict[str, Any] = {"n": 0, "first": "", "reconnects": 0, "inflight_at_end": 0}
    samples: dict[str, tuple[float, float, float, float]] = {}

    def err(what: str) -> None:
        errs["n"] += 1
        if not errs["first"]:
            errs["first"] = what

    async def main() -> None:
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter() + 0.2
        w0 = t0 + cfg["warmup"]
        w1 = w0 + cfg["duration"]

        class Conn(asyncio.Protocol):
            def __init__(self, done: asyncio.Future[None]) -> None:
                self.done = done
                self.buf = bytearray()
                self.need = -1
                self.status = 0
                self.close_after = False
                self.start = 0.0
                self.busy = False
                self.tr: asyncio.Transport | None = None

            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.tr = transport  # type: ignore[assignment]
                self.send()

            def send(self) -> None:
                assert self.tr is not None
                now = time.perf_counter()
                if now >= w1:
                    self.tr.close()
                    return
                self.start = now
                self.busy = True
                self.tr.write(req)

            def data_received(self, data: bytes) -> None:
                self.buf += data
                if self.need < 0:
                    i = self.buf.find(b"\r\n\r\n")
                    if i < 0:
                        return
                    head = bytes(self.buf[:i]).lower()
                    m = _CL.search(head)
                    try:
                        self.status = int(head[9:12])
                    except ValueError:
                        self.status = 0
                    if m is None:  # we never ask for chunked bodies; treat as a broken reply
                        err(f"HTTP {self.status} without content-length")
                        self.busy = False
                        assert self.tr is not None
                        self.tr.close()
                        return
                    self.need = i + 4 + int(m.group(1))
                    self.close_after = b"\r\nconnection: close" in head
                if len(self.buf) < self.need:
                    return
                end = time.perf_counter()
                del self.buf[: self.need]
                self.need = -1
                self.busy = False
                if self.status != want:
                    err(f"HTTP {self.status}")
                elif w0 <= end <= w1:
                    lat.append(end - self.start)
                assert self.tr is not None
                if self.close_after:
                    self.tr.close()
                else:
                    self.send()

            def connection_lost(self, exc: Exception | None) -> None:
                if self.busy:
                    if time.perf_counter() < w1:
                        err(f"connection lost: {exc!r}")
                    else:
                        errs["inflight_at_end"] += 1
                if not self.done.done():
                    self.done.set_result(None)

        async def slot() -> None:
            await asyncio.sleep(max(0.0, t0 - time.perf_counter()))
            first = True
            while time.perf_counter() < w1:
                if not first:
                    errs["reconnects"] += 1
                first = False
                done: asyncio.Future[None] = loop.create_future()

                def factory(d: asyncio.Future[None] = done) -> Conn:
                    return Conn(d)

                try:
                    tr, _ = await asyncio.wait_for(loop.create_connection(factory, HOST, port), 10)
                except (TimeoutError, OSError) as e:
                    err(f"connect: {e!r}")
                    await asyncio.sleep(0.05)
                    continue
                # after the window no new request is sent, but the ones in flight may finish
                # (up to `drain` s) so that the server is idle again for the next measurement
                try:
                    await asyncio.wait_for(asyncio.shield(done), max(0.0, w1 - time.perf_counter()) + cfg["drain"])
                except TimeoutError:
                    tr.close()  # give up on the request in flight
                    await done

        async def sampler() -> None:
            for key, at in (("w0", w0), ("w1", w1)):
                await asyncio.sleep(max(0.0, at - time.perf_counter()))
                samples[key] = (time.perf_counter(), proc_cpu(pids), self_cpu(), host_cpu())

        await asyncio.gather(sampler(), *(slot() for _ in range(conc)))

    try:
        import uvloop

        uvloop.run(main())
        loop_name = "uvloop"
    except ImportError:
        asyncio.run(main())
        loop_name = "asyncio"
    lat.sort()

    def pct(p: float) -> float:
        if not lat:
            return float("nan")
        k = max(0, min(len(lat) - 1, -(-p * len(lat) // 100) - 1))  # nearest rank
        return lat[int(k)] * 1000

    (ta, sa, ca, ha), (tb, sb, cb, hb) = samples["w0"], samples["w1"]
    wall = tb - ta
    srv, cli, host = sb - sa, cb - ca, hb - ha
    out = {
        "rps": len(lat) / cfg["duration"],
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": lat[-1] * 1000 if lat else float("nan"),
        "errors": errs["n"],
        "n": len(lat),
        "server_cpu_ms_per_req": 1000 * srv / len(lat) if lat else float("nan"),
        "server_cpu_pct": 100 * srv / wall,
        "client_cpu_pct": 100 * cli / wall,
        "other_cpu_pct": 100 * max(0.0, host - srv - cli) / wall,
        "client_us_per_req": 1e6 * cli / len(lat) if lat else float("nan"),
        "reconnects": errs["reconnects"],
        "inflight_at_end": errs["inflight_at_end"],
        "first_error": errs["first"],
        "loop": loop_name,
    }
    print(json.dumps(out), flush=True)
    return 0


def _run_load_once(
    args: argparse.Namespace, ls: Litestack, state: dict[str, Any], mode: str, c: int, tmp: Path, profile: str | None
) -> dict[str, Any]:
    wait_for_quiet(args.quiet_wait)
    req, want = build_request(mode, ls.port, state)
    cfg = {
        "request": req.decode("latin-1"),
        "want": want,
        "concurrency": c,
        "port": ls.port,
        "server_pids": [ls.pid, *descendants(ls.pid)],
        "duration": args.duration,
        "warmup": args.warmup,
        "drain": args.drain,
    }
    cfg_path = tmp / f"loadgen-{mode}-{c}.json"
    cfg_path.write_text(json.dumps(cfg))
    os.chmod(cfg_path, 0o600)
    spy: subprocess.Popen[bytes] | None = None
    if profile:
        # validate: sample only the thread holding the GIL (= where the Python CPU goes);
        # issue: every thread that is running (bcrypt runs without the GIL)
        spy = subprocess.Popen(
            [
                args.py_spy,
                "record",
                "--pid",
                str(ls.pid),
                "--rate",
                "100",
                "--duration",
                str(int(args.duration + args.warmup)),
                "--format",
                "raw",
                "--threads",
                "--nonblocking",
                *(["--gil"] if mode == "validate" else []),
                "--output",
                profile,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    p = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "_loadgen", str(cfg_path)],
        capture_output=True,
        text=True,
        timeout=args.warmup + args.duration + args.drain + 120,
    )
    return loadgen_result(p, spy, args.duration + args.warmup + 60)


def loadgen_result(p: subprocess.CompletedProcess[str], spy: subprocess.Popen[bytes] | None,
                   spy_wait: float) -> dict[str, Any]:
    """The load generator's figures (its last stdout line), once the profiler beside it stopped."""
    if spy is not None:
        try:
            spy.wait(spy_wait)
        except subprocess.TimeoutExpired:
            spy.terminate()
            spy.wait(10)
    if p.returncode != 0:
        raise RuntimeError(f"load generator failed ({p.returncode}): {p.stderr[-2000:]}")
    out: dict[str, Any] = json.loads(p.stdout.strip().splitlines()[-1])
    return out


def run_load(
    args: argparse.Namespace,
    ls: Litestack,
    state: dict[str, Any],
    mode: str,
    c: int,
    tmp: Path,
    profile: str | None = None,
) -> dict[str, Any]:
    """One measurement; repeated (up to ``--retries`` times) while other processes on the host
    took more than ``--disturbed-pct`` of a core during the window. The least disturbed attempt
    is kept and printed with ``attempts=``."""
    best: dict[str, Any] | None = None
    attempts = errors_all = 0
    for attempts in range(1, (0 if profile else args.retries) + 2):
        res = _run_load_once(args, ls, state, mode, c, tmp, profile)
        errors_all += res["errors"]
        if best is None or res["other_cpu_pct"] < best["other_cpu_pct"]:
            best = res
        if res["other_cpu_pct"] <= args.disturbed_pct:
            break
        print(
            f"litestack note: {mode} c={c} attempt {attempts} disturbed (other processes used "
            f"{res['other_cpu_pct']:.0f}% of a core)",
            file=sys.stderr,
            flush=True,
        )
    assert best is not None
    res = best
    res["errors_all_attempts"] = errors_all
    disturbed = "yes" if res["other_cpu_pct"] > args.disturbed_pct else "no"
    name = "token_issue" if mode == "issue" else "token_validate"
    tag = " profiled=py-spy" if profile else ""
    emit(
        f"litestack {name} c={c} rps={fmt(res['rps'])} p50_ms={fmt(res['p50_ms'])} "
        f"p99_ms={fmt(res['p99_ms'])} errors={res['errors']} n={res['n']} "
        f"server_cpu_ms_per_req={fmt(res['server_cpu_ms_per_req'], 2)} "
        f"server_cpu_pct={res['server_cpu_pct']:.0f} client_cpu_pct={res['client_cpu_pct']:.0f} "
        f"other_cpu_pct={res['other_cpu_pct']:.0f} p90_ms={fmt(res['p90_ms'])} max_ms={fmt(res['max_ms'])} "
        f"client_us_per_req={fmt(res['client_us_per_req'], 0)} reconnects={res['reconnects']} "
        f"attempts={attempts} errors_all_attempts={errors_all} disturbed={disturbed}{tag}"
    )
    if res["first_error"]:
        print(f"litestack {name} c={c} first_error={res['first_error']!r}", file=sys.stderr, flush=True)
    return res


# ------------------------------------------------------------------------------ py-spy summary
def summarise_profile(path: Path, label: str, top: int) -> None:
    """Collapsed stacks from py-spy (--format raw): top functions by self and inclusive share."""
    selfc: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    idle = 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        print(f"litestack profile {label}: no output at {path}", file=sys.stderr)
        return
    for line in lines:
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        cnt = int(n)
        frames = [f for f in stack.split(";") if f]
        if frames and frames[0].startswith("thread ("):  # --threads adds the thread as root
            frames = frames[1:]
        total += cnt
        if not frames:
            continue
        leaf = _short(frames[-1])
        if _method(leaf) in _IDLE_LEAVES:
            idle += cnt
        selfc[leaf] = selfc.get(leaf, 0) + cnt
        for f in {_short(f) for f in frames}:
            incl[f] = incl.get(f, 0) + cnt
    if not total:
        return
    emit(f"litestack profile {label} samples={total} idle_or_waiting_pct={100 * idle / total:.0f} raw={path}")
    for rank, (fn, k) in enumerate(sorted(selfc.items(), key=lambda kv: -kv[1])[:top], 1):
        emit(f"litestack profile {label} self rank={rank} pct={100 * k / total:.1f} func={fn.replace(' ', '')}")
    busy_incl = [
        (fn, k) for fn, k in incl.items() if _method(fn) not in _IDLE_LEAVES and fn.split(" ")[0] not in _ENTRY_FRAMES
    ]
    for rank, (fn, k) in enumerate(sorted(busy_incl, key=lambda kv: -kv[1])[:top], 1):
        emit(f"litestack profile {label} inclusive rank={rank} pct={100 * k / total:.1f} func={fn.replace(' ', '')}")


_IDLE_LEAVES = {"wait", "_wait_for_tstate_lock", "select", "poll", "run_forever", "get", "_worker", "acquire"}


# frames every sample passes through: they say nothing about where the time goes
_ENTRY_FRAMES = {
    "<module>",
    "main",
    "cmd_up",
    "run",
    "asyncio_run",
    "serve",
    "_serve",
    "run_forever",
    "_run_once",
    "_run",
    "_bootstrap",
    "_bootstrap_inner",
    "Thread._bootstrap",
    "Thread._bootstrap_inner",
    "WorkerThread.run",
    "Runner.run",
    "Server.run",
    "Server.serve",
    "Server._serve",
    "Handle._run",
    "Context.run",
    "Thread.run",
}


def _method(frame: str) -> str:
    return frame.split(" ")[0].rsplit(".", 1)[-1]


def _short(frame: str) -> str:
    # py-spy raw frames look like "func (path/to/file.py:123)"; keep the function and file tail
    m = re.match(r"(.*) \((.*?):?(\d*)\)$", frame)
    if not m:
        return frame
    func, path = m.group(1), m.group(2)
    parts = Path(path).parts
    tail = "/".join(parts[-2:]) if parts else path
    return f"{func} ({tail})"


# ------------------------------------------------------------------------------ 4. keystone
KS_LINE = re.compile(r"^keystone (\S+)(.*)$")


def parse_kv(rest: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"(\w+)=(\S+)", rest)}


def run_keystone(args: argparse.Namespace) -> list[str]:
    if args.keystone_output:
        lines = Path(args.keystone_output).read_text().splitlines()
        out: list[str] = [ln for ln in lines if ln.startswith("keystone ")]
        for ln in out:
            emit(ln + " source=file")
        return out
    if not ANCHOR.exists():
        print(f"keystone note: {ANCHOR} not found; skipping keystone", file=sys.stderr)
        return []
    port = args.keystone_port
    if port_busy(port):
        print(f"keystone note: port {port} busy; skipping keystone", file=sys.stderr)
        return []
    env = dict(
        os.environ,
        PORT=str(port),
        WORKERS=str(args.keystone_workers),
        CACHE=args.keystone_cache,
        DURATION=fmt(args.duration, 3).rstrip("0").rstrip("."),
        WARMUP=fmt(args.warmup, 3).rstrip("0").rstrip("."),
        CONCURRENCY=" ".join(str(c) for c in args.conc),
        QUIET_WAIT=str(int(args.quiet_wait)),
    )
    # the anchor builds its own venv with the system interpreter; never with ours
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = ":".join(p for p in env.get("PATH", "").split(":") if not p.startswith(str(REPO / ".venv")))
    Path(args.keystone_workdir).mkdir(parents=True, exist_ok=True)
    errlog = Path(args.keystone_workdir) / "anchor-stderr.log"
    out = []
    with open(errlog, "w") as ef:
        p = subprocess.Popen(
            ["bash", str(ANCHOR), args.keystone_workdir],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
        )

        def pump_err() -> None:
            assert p.stderr is not None
            for line in p.stderr:
                ef.write(line)
                ef.flush()
                sys.stderr.write(line)
                sys.stderr.flush()

        th = threading.Thread(target=pump_err, daemon=True)
        th.start()
        assert p.stdout is not None
        for line in p.stdout:
            line = line.rstrip("\n")
            if line.startswith("keystone "):
                out.append(line)
                emit(line)
        rc = p.wait()
        th.join(5)
    if rc != 0:
        print(f"keystone note: anchor-keystone.sh exited with {rc} (see {errlog})", file=sys.stderr)
    return out


def keystone_results(lines: list[str]) -> dict[tuple[str, int, str], dict[str, str]]:
    res: dict[tuple[str, int, str], dict[str, str]] = {}
    for ln in lines:
        m = KS_LINE.match(ln)
        if not m or m.group(1) not in ("token_issue", "token_validate"):
            continue
        kv = parse_kv(m.group(2))
        if "rps" not in kv or "c" not in kv:
            continue
        res[(m.group(1), int(kv["c"]), kv.get("cache", "?"))] = kv
    return res


# ------------------------------------------------------------------------------ main
def main() -> int:
    if len(sys.argv) >= 3 and sys.argv[1] == "_loadgen":
        return loadgen_main(sys.argv[2])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-keystone", action="store_true", help="do not run the real Keystone")
    ap.add_argument(
        "--keystone-output",
        metavar="FILE",
        help="take the keystone lines from a saved anchor-keystone.sh output instead of running it",
    )
    ap.add_argument("--duration", type=float, default=10, help="measured seconds per figure (default 10)")
    ap.add_argument("--warmup", type=float, default=2, help="warm-up seconds before each window (default 2)")
    ap.add_argument("--concurrency", default="1 8 32", help='client concurrency levels (default "1 8 32")')
    ap.add_argument("--startup-runs", type=int, default=3, help="cold+warm start pairs (default 3)")
    ap.add_argument(
        "--retries",
        type=int,
        default=2,
        help="re-measure a litestack figure up to N times when the host was disturbed (default 2)",
    )
    ap.add_argument(
        "--disturbed-pct",
        type=float,
        default=25,
        help="a window is disturbed when other processes used more than this %% of a core (default 25)",
    )
    ap.add_argument(
        "--drain", type=float, default=30, help="after each window, wait up to S s for requests in flight (default 30)"
    )
    ap.add_argument("--settle", type=float, default=3, help="idle seconds before reading RSS (default 3)")
    ap.add_argument(
        "--litestack-workers",
        type=int,
        default=1,
        help="`litestack up --workers N` (default 1: the single-process all-in-one); RSS and CPU "
        "are summed over the worker processes",
    )
    ap.add_argument("--hash-rounds", type=int, default=12, help="bcrypt cost (default 12, as Keystone)")
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=60,
        help="wait up to S s for the host to go idle before each measurement (default 60)",
    )
    ap.add_argument("--workdir", default="/tmp/litestack-bench", help="scratch dir for litestack data dirs")
    ap.add_argument("--keep", action="store_true", help="keep the litestack data dirs")
    ap.add_argument("--keystone-workdir", default="/tmp/litestack-bench-keystone")
    ap.add_argument("--keystone-port", type=int, default=35357)
    ap.add_argument("--keystone-workers", type=int, default=2)
    ap.add_argument("--keystone-cache", default="off memory")
    ap.add_argument(
        "--py-spy",
        metavar="EXE",
        default=shutil.which("py-spy"),
        help="py-spy executable: adds profiled extra runs (validate at the highest c, issue "
        "at c=cores) after the measured ones; default: py-spy on PATH, if any",
    )
    ap.add_argument("--no-profile", action="store_true", help="no py-spy runs even if py-spy is found")
    ap.add_argument("--profile-top", type=int, default=12)
    args = ap.parse_args()
    args.conc = [int(x) for x in args.concurrency.replace(",", " ").split()]

    t_start = time.monotonic()
    root = Path(args.workdir)
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    tmp = Path(tempfile.mkdtemp(prefix="run-", dir=root))
    try:
        git = (
            subprocess.run(
                ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
            ).stdout.strip()
            or "?"
        )
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "litestack"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        git, dirty = "?", ""
    from importlib import metadata

    def ver(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "?"

    emit(
        f"litestack versions litestack={ver('litestack')} git={git}{'+dirty' if dirty else ''} "
        f"python={sys.version.split()[0]} uvicorn={ver('uvicorn')} starlette={ver('starlette')} "
        f"sqlalchemy={ver('SQLAlchemy')} bcrypt={ver('bcrypt')} host_cores={CORES} "
        f"loadavg_1m={os.getloadavg()[0]:.2f} duration_s={args.duration:g} warmup_s={args.warmup:g} "
        f"concurrency={','.join(map(str, args.conc))} litestack_workers={args.litestack_workers}"
    )

    # start-up time and idle RSS
    st = measure_startup(args, root)

    # 3. load on a warm-restarted server
    data = root / "load"
    shutil.rmtree(data, ignore_errors=True)
    ls = Litestack(data, free_port(), args.hash_rounds, args.litestack_workers)
    results: dict[tuple[str, int], dict[str, Any]] = {}
    rss_start = rss_after = None
    bc: dict[str, float] = {}
    try:
        ls.start()
        ls.stop()
        ls.start()  # warm: the measured server restarted on an existing data dir
        time.sleep(args.settle)
        rss_start = ls.rss()
        emit(
            f"litestack rss when=after_startup rss_mb={rss_start['rss_mb']:.1f} hwm_mb={rss_start['hwm_mb']:.1f} "
            f"pss_mb={rss_start['pss_mb']:.1f} threads={rss_start['threads']:.0f} processes={rss_start['procs']:.0f} "
            f"startup_median_rss_mb={st['rss_idle']:.1f}"
        )
        state = prepare_tokens(ls)
        # the bcrypt ceiling, measured right before the issue runs it bounds (server idle)
        bc = measure_bcrypt(args)
        for mode in ("issue", "validate"):
            for c in args.conc:
                results[(mode, c)] = run_load(args, ls, state, mode, c, tmp)
        wait_for_quiet(args.quiet_wait)
        time.sleep(args.settle)
        rss_after = ls.rss()
        emit(
            f"litestack rss when=after_load rss_mb={rss_after['rss_mb']:.1f} hwm_mb={rss_after['hwm_mb']:.1f} "
            f"pss_mb={rss_after['pss_mb']:.1f} threads={rss_after['threads']:.0f} processes={rss_after['procs']:.0f}"
        )
        if args.py_spy and not args.no_profile:
            top_c = max(args.conc)
            for mode, c in (("validate", top_c), ("issue", max(CORES, min(8, top_c)))):
                prof = tmp / f"py-spy-{mode}-c{c}.txt"
                run_load(args, ls, state, mode, c, tmp, profile=str(prof))
                summarise_profile(prof, f"mode={mode} c={c}", args.profile_top)
    finally:
        ls.stop()

    # 4. the real Keystone
    ks_lines: list[str] = []
    if not args.skip_keystone:
        wait_for_quiet(args.quiet_wait, "keystone")
        ks_lines = run_keystone(args)
    ks = keystone_results(ks_lines)

    # ratios
    summary: list[tuple[str, str, str, str]] = []

    def met(ok: bool | None) -> str:
        return "n/a" if ok is None else ("yes" if ok else "no")

    # The ceiling: the best wall-clock rate of CORES threads, or CORES / (CPU time of one check)
    # when that is higher -- other load on the host can only lower the wall-clock figure, and
    # these cores are not SMT siblings, so the CPU bound is reachable. Taking the higher of the
    # two makes the target harder to meet, never easier.
    ceiling = max(bc["all"], bc["cpu_bound"])
    src = "wall" if bc["all"] >= bc["cpu_bound"] else "cpu"
    emit(
        f"litestack bcrypt_ceiling_used value={ceiling:.2f} source={src} wall_per_s={bc['all']:.2f} "
        f"cpu_bound_per_s={bc['cpu_bound']:.2f}"
    )
    summary.append(
        (f"bcrypt-{args.hash_rounds} ceiling, {CORES} threads, wall (verifies/s)", f"{bc['all']:.2f}", "-", "-")
    )
    summary.append(
        (f"bcrypt-{args.hash_rounds} CPU bound, {CORES} cores (verifies/s)", f"{bc['cpu_bound']:.2f}", "-", "-")
    )
    for c in args.conc:
        r = results.get(("issue", c))
        if not r:
            continue
        v = r["rps"] / ceiling if ceiling else float("nan")
        applies = c >= CORES
        emit(
            f"ratio issue_vs_bcrypt_ceiling c={c} value={fmt(v, 2)} litestack_rps={fmt(r['rps'], 2)} "
            f"ceiling_per_s={ceiling:.2f} ceiling_source={src} "
            f"target={TARGETS['issue_vs_bcrypt'] if applies else 'n/a'} "
            f"met={met(v >= TARGETS['issue_vs_bcrypt']) if applies else 'n/a'}"
            + ("" if applies else f" vs_single_thread={fmt(r['rps'] / bc['single'], 2)}")
        )
        # the same in CPU terms, which other load on the host does not skew: the share of the
        # server's CPU per issued token that the one unavoidable bcrypt check accounts for
        cpu_eff = bc["cpu_ms"] / r["server_cpu_ms_per_req"] if r["server_cpu_ms_per_req"] else float("nan")
        emit(
            f"ratio issue_bcrypt_share_of_server_cpu c={c} value={fmt(cpu_eff, 2)} "
            f"bcrypt_cpu_ms={bc['cpu_ms']:.1f} server_cpu_ms_per_req={fmt(r['server_cpu_ms_per_req'], 1)} "
            f"cpu_bound_rps={fmt(CORES * 1000 / r['server_cpu_ms_per_req'], 2)} "
            f"target={TARGETS['issue_vs_bcrypt']} met={met(cpu_eff >= TARGETS['issue_vs_bcrypt'])}"
        )
        summary.append((f"litestack token issue c={c} (rps)", fmt(r["rps"], 2), "-", "-"))
        if applies:
            summary.append(
                (
                    f"issue / bcrypt ceiling, c={c}",
                    fmt(v, 2),
                    f">= {TARGETS['issue_vs_bcrypt']}",
                    met(v >= TARGETS["issue_vs_bcrypt"]),
                )
            )
            summary.append(
                (
                    f"issue: bcrypt share of server CPU, c={c}",
                    fmt(cpu_eff, 2),
                    f">= {TARGETS['issue_vs_bcrypt']}",
                    met(cpu_eff >= TARGETS["issue_vs_bcrypt"]),
                )
            )
    for c in args.conc:
        r = results.get(("validate", c))
        if r:
            summary.append((f"litestack token validate c={c} (rps)", fmt(r["rps"]), "-", "-"))
    caches = args.keystone_cache.split()
    for mode in ("issue", "validate"):
        for cache in caches:
            for c in args.conc:
                r = results.get((mode, c))
                k = ks.get((f"token_{mode}", c, cache))
                if not r or not k:
                    continue
                krps = float(k["rps"])
                v = r["rps"] / krps if krps else float("inf")
                tgt = TARGETS["validate_vs_keystone_cached"] if (mode == "validate" and cache != "off") else None
                try:
                    kcpu = float(k.get("server_cpu_ms_per_req", "nan"))
                except ValueError:
                    kcpu = float("nan")
                lcpu = r["server_cpu_ms_per_req"]
                emit(
                    f"ratio {mode}_vs_keystone c={c} cache={cache} value={fmt(v, 2)} "
                    f"litestack_rps={fmt(r['rps'], 2)} keystone_rps={krps:g} "
                    f"p50_ratio={fmt(float(k['p50_ms']) / r['p50_ms'] if r['p50_ms'] else float('nan'), 2)} "
                    f"cpu_per_req_ratio={fmt(kcpu / lcpu if lcpu else float('nan'), 2)} "
                    f"target={tgt if tgt else 'n/a'} met={met(v >= tgt) if tgt else 'n/a'}"
                )
                if mode == "validate" or c == max(args.conc):
                    summary.append(
                        (
                            f"{mode} litestack/keystone(cache={cache}), c={c}",
                            fmt(v, 2),
                            f">= {tgt:g}x" if tgt else "-",
                            met(v >= tgt) if tgt else "-",
                        )
                    )
    for cache in caches:
        for c in args.conc:
            for mode in ("issue", "validate"):
                k = ks.get((f"token_{mode}", c, cache))
                if k and mode == "validate":
                    summary.append((f"keystone token validate c={c} cache={cache} (rps)", k["rps"], "-", "-"))
        k = ks.get(("token_issue", max(args.conc), cache))
        if k:
            summary.append((f"keystone token issue c={max(args.conc)} cache={cache} (rps)", k["rps"], "-", "-"))
    for kind in ("cold", "warm"):
        v = st[kind]
        summary.append(
            (
                f"litestack up ready, {kind} (s, median of {args.startup_runs})",
                f"{v:.2f}",
                f"< {TARGETS['ready_s']:g}",
                met(st[kind + "_max"] < TARGETS["ready_s"]),
            )
        )
    for when, r in (("after startup", rss_start), ("after load", rss_after)):
        if r:
            summary.append(
                (
                    f"litestack idle RSS {when} (MB)",
                    f"{r['rss_mb']:.1f}",
                    f"< {TARGETS['idle_rss_mb']:g}",
                    met(r["rss_mb"] < TARGETS["idle_rss_mb"]),
                )
            )
    for ln in ks_lines:
        if ln.startswith("keystone rss_mb") and rss_after:
            kv = parse_kv(ln[len("keystone rss_mb") :])
            try:
                krss = float(kv["worker_total"]) + float(kv.get("master", 0))
            except (KeyError, ValueError):
                continue
            cache = kv.get("cache", "?")
            emit(
                f"ratio rss_vs_keystone cache={cache} value={rss_after['rss_mb'] / krss:.2f} "
                f"litestack_rss_mb={rss_after['rss_mb']:.1f} keystone_rss_mb={krss:g} "
                f"keystone_processes={int(kv.get('workers', 0)) + 1}"
            )
            summary.append((f"keystone RSS after load, cache={cache} (MB, all processes)", f"{krss:g}", "-", "-"))
    total_err = sum(r["errors_all_attempts"] for r in results.values())
    summary.append(("litestack errors (all load runs)", str(total_err), "0", met(total_err == 0)))
    ks_ver = next(
        (parse_kv(ln[len("keystone versions") :]) for ln in ks_lines if ln.startswith("keystone versions")), {}
    )
    emit(f"litestack done wall_s={time.monotonic() - t_start:.0f} keystone={ks_ver.get('keystone', 'skipped')}")

    w = max(len(s[0]) for s in summary)
    print()
    print(f"{'figure':<{w}} | {'value':>9} | {'target':<8} | met?")
    print(f"{'-' * w}-|-{'-' * 9}-|-{'-' * 8}-|-----")
    for f, v, t, m in summary:
        print(f"{f:<{w}} | {v:>9} | {t:<8} | {m}")
    sys.stdout.flush()
    if not args.keep:
        shutil.rmtree(root / "load", ignore_errors=True)
        for i in range(args.startup_runs):
            shutil.rmtree(root / f"startup-{i}", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
