#!/usr/bin/env python3
"""What one API request costs: the framework's overhead against a bare Starlette floor (issue 6 §8).

    .venv/bin/python bench/api_overhead.py [--seconds S] [--repeats N] [--concurrency C] [--profile]

One run, on this machine, one server process per figure, keep-alive load at concurrency 32 (by
default) from a load generator in its own process (``bench/identity_tokens.py _loadgen``:
asyncio + uvloop on raw sockets, pre-built requests, one keep-alive connection per slot). It
measures, one after the other:

- ``floor``: a bare Starlette app on litestack's own uvicorn settings (``uvicorn_config`` of
  ``litestack/common/server.py``: httptools with the header-timeout guard, uvloop, no access
  log), answering a 1 KB JSON body;
- ``version``: litestack's unauthenticated identity v3 version document (``GET /identity/v3``);
- ``validate``: a token validation (``GET /identity/v3/auth/tokens``), for comparison with the
  figures in the issue;
- one authenticated ``GET`` of one resource by id per service (``CASES``: identity's
  ``/v3/domains/{id}`` today; a new service adds one row);
- ``list100``: an authenticated list of exactly 100 resources (100 projects created in a domain
  of their own, listed with ``?domain_id=``).

For each it prints requests/s and the server's CPU milliseconds per request (utime + stime of
the server process from ``/proc/<pid>/stat``, read at the start and the end of the window), the
ratio to the floor, and the targets beside the figures, both as set (absolute milliseconds) and as
a multiple of the floor (the target divided by the floor of the host where it was set, 0.032 ms:
what to read on a slower or busier host). Each figure is measured ``--repeats``
times (cases interleaved, so slow drift on the host hits all of them) and printed as the median
with the spread. ``other_cpu_pct`` is how much of a core other processes on the host used during
the window: the machine is shared, so trust a figure only when it is low. The CPU per request
holds up against that noise much better than requests/s.

``--profile`` (needs py-spy: ``pip install py-spy``; ``--py-spy EXE`` when it is not on PATH)
adds one profiled run of each authenticated case and prints the top frames by self and
inclusive share of the GIL holder's samples. Profiled runs are not used in the figures.

It prints; it never asserts. Loopback only; only processes this script started are signalled.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the shared /proc helpers, litestack runner and load generator
import identity_tokens as it

HOST = it.HOST
LOADGEN = Path(__file__).resolve().parent / "identity_tokens.py"

# issue 6 §8: an authenticated GET by id at <= 0.3 ms of server CPU (>= 3,000 req/s on one
# process) and a list of 100 at <= 2 ms
TARGET_GET_CPU_MS = 0.3
TARGET_GET_RPS = 3000.0
TARGET_LIST_CPU_MS = 2.0
# the floor's CPU per request on the host where the targets were set (issue text)
ISSUE_FLOOR_CPU_MS = 0.032

# Figures measured before issue 6, at concurrency 32 on one process (from the issue text).
ISSUE_BEFORE = {
    "floor": (31_600, 0.032),
    "version": (10_300, 0.097),
    "validate": (6_700, 0.15),
    "get identity": (1_250, 0.91),
}


@dataclass(frozen=True)
class GetCase:
    """One authenticated GET of a resource by id, for one service.

    ``create`` is the request (path under the all-in-one front, JSON body) that makes the
    resource; ``show`` is the path of one resource, with ``{id}`` taken from ``key`` of the
    created body. A new service adds one row to ``CASES``.
    """

    service: str
    create_path: str
    create_body: dict[str, Any]
    key: str
    show: str


CASES: list[GetCase] = [
    GetCase(
        "identity",
        "/identity/v3/domains",
        {"domain": {"name": "bench-overhead", "description": "api_overhead.py"}},
        "domain",
        "/identity/v3/domains/{id}",
    ),
]


# ------------------------------------------------------------------------------ the floor
FLOOR_BODY: dict[str, Any] = {
    "item": {
        "id": "8d0b2e1c9f6a4b7e8a3d5c2f1e0b9a87",
        "name": "floor",
        "description": "x" * 860,
        "enabled": True,
        "links": {"self": "http://127.0.0.1/floor"},
    }
}


def floor_main(port: int) -> int:
    """The bare Starlette app, served with litestack's uvicorn settings (its own process)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from litestack.common import config

    async def item(request: Any) -> Response:
        return JSONResponse(FLOOR_BODY)

    app = Starlette(routes=[Route("/floor", item)])
    conf = config.load(None, environ={}, overrides={"DEFAULT": {"host": HOST, "port": port}})
    try:  # where the settings live now (the header-timeout guard and connection cap included)
        from litestack.common.server import uvicorn_config
    except ImportError:  # older trees (--src): the settings were in the CLI
        from litestack.cli.cloud import _uvicorn_config as uvicorn_config
    uvicorn.Server(uvicorn_config(app, conf)).run()
    return 0


class Floor:
    """The floor server: a subprocess that this script started (and alone stops)."""

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "_floor", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"floor server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if it.http_call(self.port, "GET", "/floor")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"floor server not ready within {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


# ------------------------------------------------------------------------------ set-up
@dataclass
class Request:
    """One figure: a pre-built HTTP/1.1 request, the status it must answer, the server it hits."""

    name: str
    label: str
    raw: bytes
    want: int
    port: int
    pids: list[int]


def raw_get(port: int, path: str, token: str | None = None, extra: dict[str, str] | None = None) -> bytes:
    head = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAccept: application/json\r\n"
    if token:
        head += f"X-Auth-Token: {token}\r\n"
    for k, v in (extra or {}).items():
        head += f"{k}: {v}\r\n"
    return (head + "\r\n").encode()


def call(port: int, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    s, _, d = it.http_call(port, method, path, json.dumps(body).encode() if body is not None else None,
                           {"X-Auth-Token": token})
    return s, json.loads(d) if d else None


def setup_litestack(ls: it.Litestack) -> list[Request]:
    """Tokens, one resource per GET case and a domain holding exactly 100 projects."""
    sec = ls.secrets()
    port = ls.port
    tokens = "/identity/v3/auth/tokens"
    s, h, d = it.http_call(port, "POST", tokens, it.auth_body("admin", sec["admin_password"], "admin"))
    if s != 201:
        raise RuntimeError(f"admin token: HTTP {s}: {d[:300]!r}")
    admin = h["X-Subject-Token"]
    s, h, d = it.http_call(port, "POST", tokens, it.auth_body("demo", sec["demo_password"], "demo"))
    if s != 201:
        raise RuntimeError(f"demo token: HTTP {s}: {d[:300]!r}")
    demo = h["X-Subject-Token"]
    pids = [ls.pid, *it.descendants(ls.pid)]
    reqs = [
        Request("version", "litestack GET /identity/v3 (version document, no token)",
                raw_get(port, "/identity/v3"), 200, port, pids),
        Request("validate", "litestack GET /identity/v3/auth/tokens (token validate)",
                raw_get(port, "/identity/v3/auth/tokens", admin, {"X-Subject-Token": demo}), 200, port, pids),
    ]
    for case in CASES:
        s, body = call(port, "POST", case.create_path, admin, case.create_body)
        if s != 201:
            raise RuntimeError(f"{case.service}: create {case.create_path}: HTTP {s}: {body}")
        path = case.show.format(id=body[case.key]["id"])
        reqs.append(Request(f"get {case.service}", f"litestack GET {case.show} with a token",
                            raw_get(port, path, admin), 200, port, pids))
    s, body = call(port, "POST", "/identity/v3/domains", admin, {"domain": {"name": "bench-list100"}})
    if s != 201:
        raise RuntimeError(f"list domain: HTTP {s}: {body}")
    dom = body["domain"]["id"]
    for i in range(100):
        s, body = call(port, "POST", "/identity/v3/projects", admin,
                       {"project": {"name": f"bench-{i:03d}", "domain_id": dom, "description": f"project {i}"}})
        if s != 201:
            raise RuntimeError(f"project {i}: HTTP {s}: {body}")
    path = f"/identity/v3/projects?domain_id={dom}"
    s, body = call(port, "GET", path, admin)
    if s != 200 or len(body["projects"]) != 100:
        raise RuntimeError(f"list: HTTP {s}, {len(body.get('projects', [])) if body else 0} projects, want 100")
    reqs.append(Request("list100", "litestack GET /identity/v3/projects?domain_id=... (100 projects) with a token",
                        raw_get(port, path, admin), 200, port, pids))
    for r in reqs:  # every request answers as expected before it is measured
        s, _, d = it.http_call(port, "GET", r.raw.split(b" ")[1].decode(),
                               headers=dict(_headers(r.raw)))
        if s != r.want:
            raise RuntimeError(f"{r.name}: HTTP {s}, want {r.want}: {d[:300]!r}")
        it.emit(f"overhead request name={r.name.replace(' ', '_')} bytes={len(d)}")
    return reqs


def _headers(raw: bytes) -> list[tuple[str, str]]:
    out = []
    for line in raw.decode().split("\r\n")[1:]:
        if ":" in line and not line.lower().startswith("host:"):
            k, v = line.split(":", 1)
            out.append((k.strip(), v.strip()))
    return out


# ------------------------------------------------------------------------------ measuring
def measure(args: argparse.Namespace, r: Request, tmp: Path, profile: Path | None = None) -> dict[str, Any]:
    """One window of load on ``r`` from the load generator process; optionally under py-spy."""
    it.wait_for_quiet(args.quiet_wait, "overhead")
    cfg = {
        "request": r.raw.decode("latin-1"),
        "want": r.want,
        "concurrency": args.concurrency,
        "port": r.port,
        "server_pids": r.pids,
        "duration": args.seconds,
        "warmup": args.warmup,
        "drain": 30,
    }
    cfg_path = tmp / "loadgen.json"
    cfg_path.write_text(json.dumps(cfg))
    spy: subprocess.Popen[bytes] | None = None
    if profile is not None:
        # sample only the thread holding the GIL: that is where the Python CPU goes
        spy = subprocess.Popen(
            [args.py_spy, "record", "--pid", str(r.pids[0]), "--rate", "200", "--duration",
             str(int(args.seconds + args.warmup)), "--format", "raw", "--gil", "--nonblocking",
             "--output", str(profile)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    p = subprocess.run([sys.executable, str(LOADGEN), "_loadgen", str(cfg_path)], capture_output=True, text=True,
                       timeout=args.warmup + args.seconds + 150)
    out = it.loadgen_result(p, spy, args.seconds + args.warmup + 60)
    it.emit(
        f"overhead run name={r.name.replace(' ', '_')} c={args.concurrency} rps={it.fmt(out['rps'])} "
        f"server_cpu_ms_per_req={it.fmt(out['server_cpu_ms_per_req'], 3)} server_cpu_pct={out['server_cpu_pct']:.0f} "
        f"client_cpu_pct={out['client_cpu_pct']:.0f} other_cpu_pct={out['other_cpu_pct']:.0f} "
        f"p50_ms={it.fmt(out['p50_ms'], 2)} p99_ms={it.fmt(out['p99_ms'], 2)} errors={out['errors']} n={out['n']}"
        + (" profiled=py-spy" if profile else "")
    )
    if out["first_error"]:
        print(f"overhead {r.name} first_error={out['first_error']!r}", file=sys.stderr, flush=True)
    return out


def spread(vals: list[float], nd: int) -> str:
    """``median (min-max)``, or the one value."""
    if len(vals) == 1:
        return f"{vals[0]:,.{nd}f}"
    return f"{statistics.median(vals):,.{nd}f} ({min(vals):,.{nd}f}-{max(vals):,.{nd}f})"


def main() -> int:
    if len(sys.argv) >= 3 and sys.argv[1] == "_floor":
        return floor_main(int(sys.argv[2]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10, help="measured seconds per window (default 10)")
    ap.add_argument("--warmup", type=float, default=2, help="warm-up seconds before each window (default 2)")
    ap.add_argument("--repeats", type=int, default=2, help="windows per figure (default 2)")
    ap.add_argument("--concurrency", type=int, default=32, help="keep-alive connections (default 32)")
    ap.add_argument("--quiet-wait", type=float, default=15,
                    help="wait up to S s for the host to go idle before each window (default 15)")
    ap.add_argument("--only", default="", help="comma-separated figure names to run (default: all)")
    ap.add_argument("--profile", action="store_true", help="one extra py-spy run of each authenticated case")
    ap.add_argument("--py-spy", metavar="EXE", default=shutil.which("py-spy"), help="py-spy executable")
    ap.add_argument("--profile-top", type=int, default=15)
    ap.add_argument("--workdir", default="/tmp/litestack-bench-overhead")
    ap.add_argument("--src", metavar="DIR",
                    help="run the litestack package found in DIR (e.g. an unpacked `git archive` of another "
                    "commit) instead of this checkout's; it goes first on PYTHONPATH of both servers")
    args = ap.parse_args()
    if args.src:
        src = str(Path(args.src).resolve())
        if not (Path(src) / "litestack" / "__init__.py").exists():
            ap.error(f"--src {src}: no litestack package there")
        os.environ["PYTHONPATH"] = src + os.pathsep + os.environ.get("PYTHONPATH", "")

    root = Path(args.workdir)
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    tmp = Path(tempfile.mkdtemp(prefix="run-", dir=root))
    try:
        git = subprocess.run(["git", "-C", str(it.REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10).stdout.strip() or "?"
        dirty = subprocess.run(["git", "-C", str(it.REPO), "status", "--porcelain", "--", "litestack"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        git, dirty = "?", ""
    it.emit(f"overhead versions git={git}{'+dirty' if dirty else ''} python={sys.version.split()[0]} "
            f"cores={it.CORES} loadavg_1m={os.getloadavg()[0]:.2f} seconds={args.seconds:g} "
            f"warmup={args.warmup:g} repeats={args.repeats} c={args.concurrency} src={args.src or it.REPO}")

    floor = Floor(it.free_port(), tmp / "floor.log")
    # bcrypt cost 4: only the set-up logins hash, and no figure here measures password checks
    ls = it.Litestack(tmp / "litestack", it.free_port(), 4)
    results: dict[str, list[dict[str, Any]]] = {}
    reqs: list[Request] = []
    try:
        floor.start()
        ls.start()
        reqs = [Request("floor", "bare Starlette, 1 KB JSON (the floor)", raw_get(floor.port, "/floor"), 200,
                        floor.port, [floor.pid]),
                *setup_litestack(ls)]
        if args.only:
            keep = {x.strip() for x in args.only.split(",")}
            reqs = [r for r in reqs if r.name in keep or r.name == "floor"]
        for _ in range(args.repeats):
            for r in reqs:
                results.setdefault(r.name, []).append(measure(args, r, tmp))
        if args.profile:
            if not args.py_spy:
                print("overhead note: py-spy not found (pip install py-spy); no profiles", file=sys.stderr)
            else:
                for r in reqs:
                    if r.name.startswith("get ") or r.name == "list100":
                        prof = tmp / f"py-spy-{r.name.replace(' ', '-')}.txt"
                        measure(args, r, tmp, profile=prof)
                        it.summarise_profile(prof, f"name={r.name.replace(' ', '_')}", args.profile_top)
    finally:
        ls.stop()
        floor.stop()

    # summary
    floor_cpu = statistics.median(x["server_cpu_ms_per_req"] for x in results["floor"])
    floor_rps = statistics.median(x["rps"] for x in results["floor"])
    rows: list[tuple[str, str, str, str, str, str, str, str]] = []
    for r in reqs:
        runs = results[r.name]
        rps = [x["rps"] for x in runs]
        cpu = [x["server_cpu_ms_per_req"] for x in runs]
        other = max(x["other_cpu_pct"] for x in runs)
        errs = sum(x["errors"] for x in runs)
        cpu_m, rps_m = statistics.median(cpu), statistics.median(rps)
        target, met, scaled = "-", "-", "-"
        # The targets are absolute, set on a host where the floor cost 0.032 ms. On a slower or busier
        # host every figure moves with the floor, so the target is also given as a multiple of it.
        x_floor = cpu_m / floor_cpu
        if r.name.startswith("get "):
            target = f"<= {TARGET_GET_CPU_MS} ms, >= {TARGET_GET_RPS:,.0f}/s"
            met = "yes" if cpu_m <= TARGET_GET_CPU_MS and rps_m >= TARGET_GET_RPS else "no"
            limit = TARGET_GET_CPU_MS / ISSUE_FLOOR_CPU_MS
            scaled = f"<= {limit:.1f}x: {'yes' if x_floor <= limit else 'no'}"
        elif r.name == "list100":
            target = f"<= {TARGET_LIST_CPU_MS} ms"
            met = "yes" if cpu_m <= TARGET_LIST_CPU_MS else "no"
            limit = TARGET_LIST_CPU_MS / ISSUE_FLOOR_CPU_MS
            scaled = f"<= {limit:.1f}x: {'yes' if x_floor <= limit else 'no'}"
        before = ISSUE_BEFORE.get(r.name)
        it.emit(
            f"overhead figure name={r.name.replace(' ', '_')} rps={rps_m:.0f} rps_min={min(rps):.0f} "
            f"rps_max={max(rps):.0f} cpu_ms_per_req={cpu_m:.3f} cpu_min={min(cpu):.3f} cpu_max={max(cpu):.3f} "
            f"cpu_x_floor={cpu_m / floor_cpu:.1f} rps_floor_over_this={floor_rps / rps_m:.1f} "
            f"other_cpu_pct_max={other:.0f} errors={errs} target={target.replace(' ', '')} met={met} "
            f"target_x_floor={scaled.replace(' ', '')}"
            + (f" issue_before_rps={before[0]} issue_before_cpu_ms={before[1]}" if before else "")
        )
        rows.append((r.label, spread(rps, 0), spread(cpu, 3), f"{x_floor:.1f}x", f"{other:.0f}",
                     target, met, scaled))
    heads = ("request", "requests/s", "CPU ms/request", "CPU / floor", "other CPU %", "target", "met?",
             "target / issue floor: met?")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(heads)]
    print()
    print(f"concurrency {args.concurrency}, one server process, {args.repeats} x {args.seconds:g} s windows; "
          "median (min-max); other CPU % is the worst window")
    print(" | ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)))
    print("-|-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    sys.stdout.flush()
    shutil.rmtree(tmp / "litestack", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
