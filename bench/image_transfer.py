#!/usr/bin/env python3
"""Image upload and download throughput through the image API, next to ``cp`` (issue 8 §4).

    .venv/bin/python bench/image_transfer.py [--size-mib 1024] [--repeats 2] [--workdir DIR]
    .venv/bin/python bench/image_transfer.py --auth-url URL --username U --password P --project P \
        [--server-pid PID]                                           # against a running cloud

By default it starts its own ``litestack up`` (``identity_tokens.Litestack``; data dir under
``--workdir``) and authenticates as its admin. With ``--auth-url`` it uses a running cloud instead
(``--server-pid`` names the process whose RSS to sample; without it there is no RSS figure).

One run, on this machine:

1. a source file of ``--size-mib`` MiB of random bytes in ``--workdir`` (the same disk as the
   cloud's data dir when the script starts the cloud: ``df`` of both is printed);
2. ``cp`` of that file to the same directory, ``--repeats`` times, before and after the API
   transfers (median; ``cp`` then ``sync`` is printed too, since an upload ends with an fsync);
3. per repeat: ``POST /v2/images`` (raw, bare), ``PUT /v2/images/{id}/file`` streamed from the file
   with its Content-Length (httpx, 1 MiB chunks), ``GET /v2/images/{id}/file`` streamed into a file
   in the same directory, then a check of size, md5 (``checksum``) and sha512 (``os_hash_value``)
   outside the timed windows, and ``DELETE``. The image endpoint comes from the token's catalog
   (type ``image``, public interface);
4. the server's RSS (VmRSS of it and its children, psutil when installed, else ``/proc``) sampled
   every 50 ms: idle before the transfers, peak during each.

It prints ``image_transfer …`` lines of ``key=value``, then a table "figure | value | target |
met?". Targets: MB/s at least 0.5 of ``cp`` both ways; RSS within 50 MB of idle. It prints; it
never asserts. Loopback only unless ``--auth-url`` says otherwise; only processes this script
started are signalled.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the shared /proc helpers and litestack runner
import identity_tokens as it

MB = 1_000_000
MIB = 1024 * 1024
CHUNK = MIB
TARGET_RATIO = 0.5
TARGET_RSS_GROWTH_MB = 50.0


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children, in MB (MiB, as VmRSS counts)."""
    try:
        import psutil

        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total / MIB
    except ImportError:
        return sum(it.status_kb(p, "VmRSS") for p in [pid, *it.descendants(pid)]) / 1024
    except Exception:  # the process went away
        return 0.0


class RssSampler:
    """Samples ``rss_mb(pid)`` every ``interval`` s in a thread, between ``start`` and ``stop``."""

    def __init__(self, pid: int | None, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        if self.pid is not None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        assert self.pid is not None
        while not self._stop.is_set():
            self.samples.append(rss_mb(self.pid))
            self._stop.wait(self.interval)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    @property
    def peak(self) -> float | None:
        return max(self.samples) if self.samples else None


class CpuWindow:
    """CPU seconds used by the server (with its children), by this client, and by the whole host
    between ``__enter__`` and ``__exit__``."""

    def __init__(self, pid: int | None) -> None:
        self.pids = [pid, *it.descendants(pid)] if pid else []
        self.server = self.client = self.host = 0.0

    def __enter__(self) -> CpuWindow:
        self._s, self._c, self._h = it.proc_cpu(self.pids), it.self_cpu(), it.host_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server = it.proc_cpu(self.pids) - self._s
        self.client = it.self_cpu() - self._c
        self.host = it.host_cpu() - self._h

    def line(self, prefix: str) -> str:
        other = max(0.0, self.host - self.server - self.client)
        server = f"{self.server:.2f}" if self.pids else "nan"
        return (f"{prefix}_server_cpu_s={server} {prefix}_client_cpu_s={self.client:.2f} "
                f"{prefix}_other_cpu_s={other:.2f}")


def make_source(path: Path, size: int) -> None:
    with path.open("wb") as f:
        left = size
        while left:
            n = min(left, 16 * MIB)
            f.write(os.urandom(n))
            left -= n
        f.flush()
        os.fsync(f.fileno())


def file_digests(path: Path) -> tuple[str, str]:
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha512()
    with path.open("rb", buffering=0) as f:
        while chunk := f.read(4 * MIB):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


def time_cp(src: Path, repeats: int) -> tuple[list[float], list[float]]:
    """Seconds of ``cp src dst`` in the same directory, and of ``cp`` + ``sync dst``."""
    plain, synced = [], []
    dst = src.with_name("cp-copy.bin")
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(["cp", str(src), str(dst)], check=True)
        t1 = time.perf_counter()
        subprocess.run(["sync", str(dst)], check=True)
        t2 = time.perf_counter()
        plain.append(t1 - t0)
        synced.append(t2 - t0)
        dst.unlink()
    return plain, synced


class ImageAPI:
    """A token and the image endpoint, from the identity API."""

    def __init__(self, auth_url: str, username: str, password: str, project: str, domain: str = "default",
                 stdlib: bool = False) -> None:
        self.stdlib = stdlib
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": username, "domain": {"id": domain}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"id": domain}}}}}
        r = httpx.post(auth_url.rstrip("/") + "/auth/tokens", json=body, timeout=60)
        if r.status_code != 201:
            raise RuntimeError(f"token: HTTP {r.status_code}: {r.text[:300]}")
        self.token = r.headers["X-Subject-Token"]
        endpoints = [e["url"] for s in r.json()["token"].get("catalog", []) if s["type"] == "image"
                     for e in s["endpoints"] if e["interface"] == "public"]
        if not endpoints:
            raise RuntimeError("the catalog has no public image endpoint (is the image service enabled?)")
        self.url = endpoints[0].rstrip("/")
        self.client = httpx.Client(headers={"X-Auth-Token": self.token}, timeout=httpx.Timeout(600, connect=30))

    def create(self, name: str) -> dict[str, Any]:
        r = self.client.post(f"{self.url}/v2/images", json={"name": name, "disk_format": "raw",
                                                           "container_format": "bare"})
        if r.status_code != 201:
            raise RuntimeError(f"create image: HTTP {r.status_code}: {r.text[:300]}")
        return dict(r.json())

    def show(self, image_id: str) -> dict[str, Any]:
        r = self.client.get(f"{self.url}/v2/images/{image_id}")
        r.raise_for_status()
        return dict(r.json())

    def upload(self, image_id: str, src: Path) -> float:
        size = src.stat().st_size

        def body() -> Iterator[bytes]:
            with src.open("rb", buffering=0) as f:
                while chunk := f.read(CHUNK):
                    yield chunk

        t0 = time.perf_counter()
        r = self.client.put(f"{self.url}/v2/images/{image_id}/file", content=body(), headers={
            "Content-Type": "application/octet-stream", "Content-Length": str(size)})
        elapsed = time.perf_counter() - t0
        if r.status_code != 204:
            raise RuntimeError(f"upload: HTTP {r.status_code}: {r.text[:300]}")
        return elapsed

    def download(self, image_id: str, dst: Path) -> tuple[float, str | None]:
        if self.stdlib:
            return self._download_stdlib(image_id, dst)
        t0 = time.perf_counter()
        with self.client.stream("GET", f"{self.url}/v2/images/{image_id}/file") as r, \
                dst.open("wb", buffering=0) as f:
            if r.status_code != 200:
                raise RuntimeError(f"download: HTTP {r.status_code}: {r.read()[:300]!r}")
            for chunk in r.iter_raw(CHUNK):
                f.write(chunk)
            md5 = r.headers.get("Content-MD5")
        return time.perf_counter() - t0, md5

    def _download_stdlib(self, image_id: str, dst: Path) -> tuple[float, str | None]:
        # http.client reads the body with readinto on a buffered socket: no per-byte Python work.
        url = httpx.URL(f"{self.url}/v2/images/{image_id}/file")
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection(url.host, url.port, timeout=600)
        try:
            conn.request("GET", url.raw_path.decode(), headers={"X-Auth-Token": self.token})
            r = conn.getresponse()
            if r.status != 200:
                raise RuntimeError(f"download: HTTP {r.status}: {r.read()[:300]!r}")
            buf = bytearray(CHUNK)
            view = memoryview(buf)
            with dst.open("wb", buffering=0) as f:
                while n := r.readinto(view):
                    f.write(view[:n])
            md5 = r.headers.get("Content-MD5")
        finally:
            conn.close()
        return time.perf_counter() - t0, md5

    def delete(self, image_id: str) -> None:
        self.client.delete(f"{self.url}/v2/images/{image_id}")


def df_line(path: Path) -> str:
    out = subprocess.run(["df", "--output=source,fstype,target", str(path)], capture_output=True, text=True,
                         timeout=10).stdout.splitlines()
    return out[-1].split()[0] + ":" + out[-1].split()[-1] if out else "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=1024, help="image size in MiB (default 1024)")
    ap.add_argument("--repeats", type=int, default=2, help="uploads and downloads, and cp runs per side (default 2)")
    ap.add_argument("--workdir", default="/tmp/litestack-bench-image",
                    help="scratch dir: the source file, the copies, the cloud's data dir (default %(default)s)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch dir")
    ap.add_argument("--quiet-wait", type=float, default=30,
                    help="wait up to S s for the host to go idle before each transfer (default 30)")
    ap.add_argument("--auth-url", help="identity v3 URL of a running cloud (default: start one)")
    ap.add_argument("--username", default=os.environ.get("OS_USERNAME", "admin"))
    ap.add_argument("--password", default=os.environ.get("OS_PASSWORD"))
    ap.add_argument("--project", default=os.environ.get("OS_PROJECT_NAME", "admin"))
    ap.add_argument("--client", choices=("httpx", "stdlib"), default="httpx",
                    help="download client: httpx streaming (default), or http.client reading into a buffer "
                    "(h11, under httpx, parses in Python and can be the slower end)")
    ap.add_argument("--server-pid", type=int, help="with --auth-url: the server process to sample RSS of")
    args = ap.parse_args()
    size = args.size_mib * MIB

    root = Path(args.workdir)
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    tmp = Path(tempfile.mkdtemp(prefix="run-", dir=root))
    ls: it.Litestack | None = None
    rows: list[tuple[str, str, str, str]] = []
    try:
        if args.auth_url:
            if not args.password:
                ap.error("--auth-url needs --password (or OS_PASSWORD)")
            auth_url, username, password, project, pid = (args.auth_url, args.username, args.password,
                                                          args.project, args.server_pid)
        else:
            # bcrypt cost 4: only the one login hashes, and no figure here measures it
            ls = it.Litestack(tmp / "litestack", it.free_port(), 4)
            ls.start(timeout=120)
            auth_url = f"http://{it.HOST}:{ls.port}/identity/v3"
            username, password, project, pid = "admin", ls.secrets()["admin_password"], "admin", ls.pid
        api = ImageAPI(auth_url, username, password, project, stdlib=args.client == "stdlib")
        src = tmp / "source.bin"
        make_source(src, size)
        it.emit(f"image_transfer setup size_mib={args.size_mib} repeats={args.repeats} cores={it.CORES} "
                f"loadavg_1m={os.getloadavg()[0]:.2f} workdir_disk={df_line(tmp)} "
                f"data_disk={df_line(ls.data_dir) if ls else 'remote'} image_url={api.url}")

        it.wait_for_quiet(args.quiet_wait, "image_transfer")
        cp_plain, cp_synced = time_cp(src, args.repeats)
        want_md5, want_sha = file_digests(src)
        ups: list[float] = []
        downs: list[float] = []
        time.sleep(1)
        idle = rss_mb(pid) if pid else None
        peaks_up: list[float] = []
        peaks_down: list[float] = []
        for i in range(args.repeats):
            image = api.create(f"bench-{args.size_mib}m-{i}")
            try:
                it.wait_for_quiet(args.quiet_wait, "image_transfer")
                with RssSampler(pid) as sampler, CpuWindow(pid) as cpu_up:
                    ups.append(api.upload(image["id"], src))
                if sampler.peak is not None:
                    peaks_up.append(sampler.peak)
                shown = api.show(image["id"])
                it.wait_for_quiet(args.quiet_wait, "image_transfer")
                dst = tmp / "download.bin"
                with RssSampler(pid) as sampler, CpuWindow(pid) as cpu_down:
                    elapsed, content_md5 = api.download(image["id"], dst)
                downs.append(elapsed)
                if sampler.peak is not None:
                    peaks_down.append(sampler.peak)
                got_md5, got_sha = file_digests(dst)
                dst.unlink()
                ok = (shown.get("status") == "active" and shown.get("size") == size
                      and shown.get("checksum") == want_md5 and shown.get("os_hash_value") == want_sha
                      and got_md5 == want_md5 and got_sha == want_sha)
                it.emit(f"image_transfer run={i} upload_s={ups[-1]:.2f} upload_mb_s={size / MB / ups[-1]:.0f} "
                        f"download_s={downs[-1]:.2f} download_mb_s={size / MB / downs[-1]:.0f} "
                        f"status={shown.get('status')} size_ok={shown.get('size') == size} "
                        f"checksum_ok={shown.get('checksum') == want_md5} "
                        f"sha512_ok={shown.get('os_hash_value') == want_sha} "
                        f"download_ok={got_sha == want_sha} content_md5={content_md5 or '-'} "
                        f"upload_peak_rss_mb={it.fmt(peaks_up[-1] if peaks_up else None)} "
                        f"download_peak_rss_mb={it.fmt(peaks_down[-1] if peaks_down else None)} all_ok={ok}")
                it.emit(f"image_transfer run={i} {cpu_up.line('upload')} {cpu_down.line('download')}")
            finally:
                api.delete(image["id"])
        more_plain, more_synced = time_cp(src, args.repeats)
        cp_plain += more_plain
        cp_synced += more_synced

        cp_s, cp_sync_s = statistics.median(cp_plain), statistics.median(cp_synced)
        up_s, down_s = statistics.median(ups), statistics.median(downs)
        cp_mb_s, up_mb_s, down_mb_s = size / MB / cp_s, size / MB / up_s, size / MB / down_s
        it.emit(f"image_transfer cp_s={cp_s:.2f} cp_min_s={min(cp_plain):.2f} cp_max_s={max(cp_plain):.2f} "
                f"cp_mb_s={cp_mb_s:.0f} cp_sync_s={cp_sync_s:.2f} cp_sync_mb_s={size / MB / cp_sync_s:.0f}")
        it.emit(f"image_transfer figure name=upload mb_s={up_mb_s:.0f} ratio_to_cp={up_mb_s / cp_mb_s:.2f} "
                f"ratio_to_cp_sync={up_mb_s / (size / MB / cp_sync_s):.2f} target=>={TARGET_RATIO}")
        it.emit(f"image_transfer figure name=download mb_s={down_mb_s:.0f} ratio_to_cp={down_mb_s / cp_mb_s:.2f} "
                f"target=>={TARGET_RATIO}")
        rows += [
            ("upload MB/s (ratio to cp)", f"{up_mb_s:.0f} ({up_mb_s / cp_mb_s:.2f})", f">= {TARGET_RATIO} x cp",
             "yes" if up_mb_s / cp_mb_s >= TARGET_RATIO else "no"),
            ("download MB/s (ratio to cp)", f"{down_mb_s:.0f} ({down_mb_s / cp_mb_s:.2f})",
             f">= {TARGET_RATIO} x cp", "yes" if down_mb_s / cp_mb_s >= TARGET_RATIO else "no"),
            ("cp MB/s (cp + sync)", f"{cp_mb_s:.0f} ({size / MB / cp_sync_s:.0f})", "-", "-"),
        ]
        if idle is not None and (peaks_up or peaks_down):
            peak = max(peaks_up + peaks_down)
            it.emit(f"image_transfer rss idle_mb={idle:.1f} upload_peak_mb={it.fmt(max(peaks_up, default=None))} "
                    f"download_peak_mb={it.fmt(max(peaks_down, default=None))} growth_mb={peak - idle:.1f} "
                    f"target=<={TARGET_RSS_GROWTH_MB:.0f}")
            rows.append(("server RSS growth MB (idle -> peak)", f"{peak - idle:.1f} ({idle:.0f} -> {peak:.0f})",
                         f"<= {TARGET_RSS_GROWTH_MB:.0f}", "yes" if peak - idle <= TARGET_RSS_GROWTH_MB else "no"))
    finally:
        if ls is not None:
            ls.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    width = max(len(r[0]) for r in rows) if rows else 10
    print()
    print(f"{'figure'.ljust(width)} | value | target | met?")
    for name, value, target, met in rows:
        print(f"{name.ljust(width)} | {value} | {target} | {met}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
