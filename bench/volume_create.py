#!/usr/bin/env python3
"""Volume create-to-available latency on the ``file`` backend, next to a plain ``qemu-img``.

    .venv/bin/python bench/volume_create.py [--image-mib 64] [--repeats 5] [--workdir DIR]

Starts its own ``litestack up`` (identity, image and volume; data dir under ``--workdir``), then:

1. empty 1 GiB volumes: ``POST /volumes`` until ``available`` (median and max of ``--repeats``),
   next to ``qemu-img create`` of the same size on the same disk;
2. volumes from a ``--image-mib`` MiB raw image of random bytes (``--image-mib 1024`` for the issue's
   1 GiB figure; the volumes are as large as the image, rounded up to whole GiB): ``POST /volumes`` with
   ``imageRef`` until ``available`` (download from the image service, ``qemu-img convert``), next to
   a plain ``qemu-img convert`` of the same file on the same disk, and the ratio;
3. create-plus-delete of empty volumes per second, sequential.

It prints ``volume_create …`` lines and a table; it never asserts. Only the cloud process it
started is signalled.
"""

from __future__ import annotations

import argparse
import os
import signal
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cloud:
    def __init__(self, workdir: Path, services: tuple[str, ...] = ("identity", "image", "volume")) -> None:
        self.data_dir = workdir / "cloud"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = workdir / "cloud.toml"
        names = ", ".join(f'"{s}"' for s in services)
        cfg.write_text(f'[DEFAULT]\nservices = [{names}]\n[identity]\npassword_hash_rounds = 4\n')
        log = open(workdir / "cloud.out", "ab")
        env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout's litestack, whatever the venv points at
        self.proc = subprocess.Popen([sys.executable, "-m", "litestack.cli.main", "up", "--data-dir",
                                      str(self.data_dir), "--port", str(self.port), "--config", str(cfg)],
                                     stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthcheck", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        auth = yaml.safe_load((self.data_dir / "clouds.yaml").read_text())["clouds"]["litestack-admin"]["auth"]
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": auth["username"], "password": auth["password"], "domain": {"name": "Default"}}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
        r = httpx.post(f"{self.url}/identity/v3/auth/tokens", json=body)
        self.token = r.headers["X-Subject-Token"]
        self.project = r.json()["token"]["project"]["id"]
        self.h = {"X-Auth-Token": self.token}
        self.http = httpx.Client(timeout=120, headers=self.h)

    def vol(self, path: str) -> str:
        return f"{self.url}/volume/v3/{self.project}/{path}"

    def wait(self, vid: str, status: str) -> None:
        while True:
            r = self.http.get(self.vol(f"volumes/{vid}"))
            if r.status_code == 404 and status == "deleted":
                return
            s = r.json()["volume"]["status"]
            if s == status:
                return
            if s.startswith("error"):
                raise RuntimeError(f"volume {vid} went to {s}")
            time.sleep(0.01)

    def create(self, body: dict[str, Any]) -> tuple[str, float]:
        t0 = time.perf_counter()
        vid = self.http.post(self.vol("volumes"), json={"volume": body}).json()["volume"]["id"]
        self.wait(vid, "available")
        return vid, time.perf_counter() - t0

    def delete(self, vid: str) -> None:
        self.http.delete(self.vol(f"volumes/{vid}"))
        self.wait(vid, "deleted")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def random_file(path: Path, mib: int) -> None:
    """``mib`` MiB of random bytes (nothing sparse or compressible to flatter either side)."""
    with path.open("wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image-mib", type=int, default=64)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--workdir", type=Path, default=None)
    args = p.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="volume-bench-", dir=args.workdir))
    cloud = Cloud(workdir)
    rows: list[tuple[str, str]] = []
    try:
        # 1. empty volumes
        empty = []
        for _ in range(args.repeats):
            vid, t = cloud.create({"size": 1})
            empty.append(t)
            cloud.delete(vid)
        plain_create = statistics.median(timed(["qemu-img", "create", "-f", "raw", str(workdir / f"p{i}"), "1G"])
                                          for i in range(args.repeats))
        print(f"volume_create empty_median_s={statistics.median(empty):.3f} empty_max_s={max(empty):.3f} "
              f"qemu_img_create_s={plain_create:.3f}")
        rows += [("empty 1 GiB volume, create→available (median)", f"{statistics.median(empty) * 1000:.0f} ms"),
                 ("plain qemu-img create 1G (median)", f"{plain_create * 1000:.0f} ms")]

        # 2. from an image
        src = workdir / "image.raw"
        random_file(src, args.image_mib)
        img = cloud.http.post(f"{cloud.url}/image/v2/images", json={"name": "bench", "disk_format": "raw",
                                                                    "container_format": "bare"}).json()
        with src.open("rb") as f:
            cloud.http.put(f"{cloud.url}/image/v2/images/{img['id']}/file", content=f,
                           headers={"Content-Type": "application/octet-stream"})
        from_image = []
        for _ in range(args.repeats):
            vid, t = cloud.create({"size": -(-args.image_mib // 1024), "imageRef": img["id"]})
            from_image.append(t)
            cloud.delete(vid)
        plain = statistics.median(timed(["qemu-img", "convert", "-f", "raw", "-O", "raw", str(src),
                                         str(workdir / f"c{i}")]) for i in range(args.repeats))
        med = statistics.median(from_image)
        print(f"volume_create from_image_mib={args.image_mib} from_image_median_s={med:.3f} "
              f"from_image_max_s={max(from_image):.3f} qemu_img_convert_s={plain:.3f} ratio={plain / med:.2f}")
        rows += [(f"from a {args.image_mib} MiB image, create→available (median)", f"{med * 1000:.0f} ms"),
                 (f"plain qemu-img convert of {args.image_mib} MiB (median)", f"{plain * 1000:.0f} ms"),
                 ("plain / API speed ratio (target ≥ 0.7)", f"{plain / med:.2f}")]

        # 3. create + delete per second
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 10:
            vid, _ = cloud.create({"size": 1})
            cloud.delete(vid)
            n += 1
        rate = n / (time.perf_counter() - t0)
        print(f"volume_create create_delete_per_s={rate:.1f}")
        rows.append(("empty volume create+delete per second (sequential)", f"{rate:.1f}"))
    finally:
        cloud.stop()
        for big in [workdir / "image.raw", *workdir.glob("c[0-9]*"), *workdir.glob("p[0-9]*")]:
            big.unlink(missing_ok=True)  # the plain copies; the cloud's data dir stays for a look
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name.ljust(width)} | {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
