#!/usr/bin/env python3
"""``litestack up`` start-up and idle memory, and each service's share of them.

    .venv/bin/python bench/startup.py [--runs 3] [--settle 2]

SERVICE-CHECKLIST's budget: with every service, ``litestack up`` is ready in under 3 s warm and
holds under 300 MB of idle RSS in one process; each service added prints its share. For the
identity service alone, then identity plus each other built-in service, then all of them, this
runs ``litestack up`` on a new data directory (cold: migrations, keys, bootstrap) and again on
the same one (warm), ``--runs`` times each, and prints the median time from spawn to the first
``/healthcheck`` 200 and the idle VmRSS after ``--settle`` seconds. A service's share is the
difference from identity alone. It also times, in a fresh interpreter that has imported identity's
modules, the import of each service's modules (factory, Op table, models, policy, options).

It prints ``key=value`` lines and a summary table; it never asserts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import identity_tokens as it  # the benchmarks' shared process handling

REPO = Path(__file__).resolve().parent.parent

IMPORT_PROBE = """
import sys, time
from litestack.common.service import registry, resolve

def load(spec):
    for ref in (spec.factory, spec.ops, spec.models, spec.policy, spec.options):
        if ref:
            resolve(ref.partition(":")[0])

load(registry()["identity"])  # loaded in every cloud anyway (with SQLAlchemy, Starlette, ...)
t0 = time.perf_counter()
load(registry()[sys.argv[1]])
print(f"{time.perf_counter() - t0:.4f}")
"""


def import_time(name: str, runs: int) -> float:
    """Median seconds to import a service's modules in an interpreter that has identity's already."""
    py = REPO / ".venv" / "bin" / "python"
    exe = str(py) if py.exists() else sys.executable
    vals = []
    for _ in range(runs):
        out = subprocess.run([exe, "-c", IMPORT_PROBE, name], capture_output=True, text=True, check=True,
                             cwd=REPO, timeout=120)
        vals.append(float(out.stdout.strip()))
    return statistics.median(vals)


def measure(services: list[str], root: Path, runs: int, settle: float) -> dict[str, float]:
    os.environ["LITESTACK_DEFAULT_SERVICES"] = ",".join(services)
    cold, warm, rss = [], [], []
    it.wait_for_quiet(30)
    for i in range(runs):
        d = root / f"{'-'.join(services)}-{i}"
        shutil.rmtree(d, ignore_errors=True)
        ls = it.Litestack(d, it.free_port(), rounds=4)
        cold.append(ls.start()["ready_s"])
        ls.stop()
        warm.append(ls.start()["ready_s"])
        time.sleep(settle)
        rss.append(ls.rss()["rss_mb"])
        ls.stop()
    return {"cold_s": statistics.median(cold), "warm_s": statistics.median(warm), "rss_mb": statistics.median(rss),
            "warm_max_s": max(warm)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="starts per configuration (median reported)")
    ap.add_argument("--settle", type=float, default=2.0, help="idle seconds before RSS is read")
    args = ap.parse_args()

    from litestack.common.service import registry

    names = registry().default_names()
    sets = [["identity"], *[["identity", n] for n in names if n != "identity"]]
    if len(names) > 2:
        sets.append(names)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="ls-startup-") as tmp:
        for services in sets:
            key = "+".join(services)
            r = measure(services, Path(tmp), args.runs, args.settle)
            results[key] = r
            it.emit(f"litestack startup services={key} cold_s={r['cold_s']:.2f} warm_s={r['warm_s']:.2f} "
                    f"warm_max_s={r['warm_max_s']:.2f} idle_rss_mb={r['rss_mb']:.1f} runs={args.runs}")
    base = results["identity"]
    rows: list[tuple[str, dict[str, Any], float | None]] = [("identity alone", base, None)]
    for name in names:
        if name == "identity":
            continue
        r = results[f"identity+{name}"]
        imp = import_time(name, args.runs)
        it.emit(f"share service={name} warm_s={r['warm_s'] - base['warm_s']:+.2f} "
                f"cold_s={r['cold_s'] - base['cold_s']:+.2f} idle_rss_mb={r['rss_mb'] - base['rss_mb']:+.1f} "
                f"import_s={imp:.3f}")
        rows.append((f"+ {name}", r, imp))
    every = results.get("+".join(names), results[f"identity+{names[-1]}"] if len(names) > 1 else base)
    print()
    print("| services | cold ready | warm ready | idle RSS | share: warm / RSS / import |")
    print("|---|---|---|---|---|")
    for label, row, took in rows:
        share = "" if took is None else (f"{row['warm_s'] - base['warm_s']:+.2f} s / "
                                          f"{row['rss_mb'] - base['rss_mb']:+.1f} MB / {took * 1000:.0f} ms")
        print(f"| {label} | {row['cold_s']:.2f} s | {row['warm_s']:.2f} s | {row['rss_mb']:.1f} MB | {share} |")
    print(f"| every service ({', '.join(names)}) | {every['cold_s']:.2f} s | {every['warm_s']:.2f} s | "
          f"{every['rss_mb']:.1f} MB | budget: warm < 3 s ({'met' if every['warm_s'] < 3 else 'NOT met'}), "
          f"RSS < 300 MB ({'met' if every['rss_mb'] < 300 else 'NOT met'}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
