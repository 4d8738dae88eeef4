#!/usr/bin/env python3
"""Backup and restore throughput of a volume full of data, next to a plain ``cp`` of its file.

    .venv/bin/python bench/volume_backup.py [--size-gib 1] [--repeats 3] [--stores directory,object]
                                            [--workdir DIR]

For each backup store it starts its own ``litestack up`` (data dir under ``--workdir``):
``directory`` is a cloud of identity, image and volume (no object-store in the catalog, so backups
go to the agent host's ``DATA_DIR/volume/backups``); ``object`` adds the object service, so backups
go to the project's ``volumebackups`` container in object storage. In each:

1. a ``--size-gib`` GiB volume is made from a raw image of random bytes (every chunk stored, nothing
   sparse or compressible to flatter either side);
2. ``POST /backups`` of it until the backup is ``available`` (MB/s of the volume's size), next to a
   plain ``cp`` of the volume's file to a new file on the same disk;
3. ``POST /backups/{id}/restore`` into an empty volume of the same size until that volume is
   ``available``, next to a plain ``cp`` of that copy back to a new file on the same disk;

median of ``--repeats`` each, and the ratio API/plain beside the issue's target (≥ 0.7). MB is
10^6 bytes. It prints ``volume_backup …`` lines and a table; it never asserts. Only the cloud
processes it started are signalled.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from volume_create import Cloud, random_file, timed

TARGET = 0.7


def wait_backup(cloud: Cloud, bid: str) -> None:
    while True:
        s = cloud.http.get(cloud.vol(f"backups/{bid}")).json()["backup"]["status"]
        if s == "available":
            return
        if s.startswith("error"):
            raise RuntimeError(f"backup {bid} went to {s}")
        time.sleep(0.05)


def wait_backup_gone(cloud: Cloud, bid: str) -> None:
    while cloud.http.get(cloud.vol(f"backups/{bid}")).status_code != 404:
        time.sleep(0.05)


def volume_file(cloud: Cloud, vid: str) -> Path:
    found = [p for p in (cloud.data_dir / "volume").rglob(f"*{vid}") if p.is_file()]
    if len(found) != 1:
        raise RuntimeError(f"volume {vid}: expected one file under the data dir, found {found}")
    return found[0]


def head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(1 << 20)


def run_store(store: str, workdir: Path, size_gib: int, repeats: int) -> list[tuple[str, str]]:
    services = ("identity", "image", "volume") + (("object",) if store == "object" else ())
    cloud = Cloud(workdir, services)
    size_mb = size_gib * (1 << 30) / 1e6
    try:
        src = workdir / "image.raw"
        random_file(src, size_gib << 10)
        img = cloud.http.post(f"{cloud.url}/image/v2/images", json={
            "name": "bench", "disk_format": "raw", "container_format": "bare"}).json()
        with src.open("rb") as f:
            cloud.http.put(f"{cloud.url}/image/v2/images/{img['id']}/file", content=f,
                           headers={"Content-Type": "application/octet-stream"})
        src.unlink()
        vid, _ = cloud.create({"size": size_gib, "imageRef": img["id"]})
        vfile = volume_file(cloud, vid)
        backup_s, restore_s, cp_out_s, cp_back_s = [], [], [], []
        for i in range(repeats):
            t0 = time.perf_counter()
            r = cloud.http.post(cloud.vol("backups"), json={"backup": {"volume_id": vid, "name": f"b{i}"}})
            if r.status_code != 202:
                raise RuntimeError(f"backup create: HTTP {r.status_code} {r.text[:300]}")
            bid = r.json()["backup"]["id"]
            wait_backup(cloud, bid)
            backup_s.append(time.perf_counter() - t0)
            container = cloud.http.get(cloud.vol(f"backups/{bid}")).json()["backup"].get("container")

            target, _ = cloud.create({"size": size_gib})
            t0 = time.perf_counter()
            r = cloud.http.post(cloud.vol(f"backups/{bid}/restore"), json={"restore": {"volume_id": target}})
            if r.status_code != 202:
                raise RuntimeError(f"restore: HTTP {r.status_code} {r.text[:300]}")
            cloud.wait(target, "available")
            restore_s.append(time.perf_counter() - t0)
            wait_backup(cloud, bid)
            if head(volume_file(cloud, target)) != head(vfile):
                raise RuntimeError("the restored volume does not start with the backed-up data")

            plain_out, plain_back = workdir / f"cp-out-{i}", workdir / f"cp-back-{i}"
            cp_out_s.append(timed(["cp", str(vfile), str(plain_out)]))
            cp_back_s.append(timed(["cp", str(plain_out), str(plain_back)]))
            plain_out.unlink()
            plain_back.unlink()
            cloud.delete(target)
            cloud.http.delete(cloud.vol(f"backups/{bid}"))
            wait_backup_gone(cloud, bid)
        cloud.delete(vid)
    finally:
        cloud.stop()
    b, rs = statistics.median(backup_s), statistics.median(restore_s)
    co, cb = statistics.median(cp_out_s), statistics.median(cp_back_s)
    print(f"volume_backup store={store} container={container} size_gib={size_gib} "
          f"backup_s={b:.2f} backup_mb_s={size_mb / b:.0f} cp_s={co:.2f} cp_mb_s={size_mb / co:.0f} "
          f"ratio={co / b:.2f} restore_s={rs:.2f} restore_mb_s={size_mb / rs:.0f} cp_back_s={cb:.2f} "
          f"cp_back_mb_s={size_mb / cb:.0f} ratio={cb / rs:.2f} target={TARGET}")
    what = f"{size_gib} GiB, {store} store"
    return [(f"backup {what}, create→available (median)", f"{b:.2f} s = {size_mb / b:.0f} MB/s"),
            (f"plain cp of the volume file, same disk ({store} run)", f"{co:.2f} s = {size_mb / co:.0f} MB/s"),
            (f"backup speed ratio API/plain (target ≥ {TARGET})", f"{co / b:.2f}"),
            (f"restore {what} into an empty volume, →available (median)", f"{rs:.2f} s = {size_mb / rs:.0f} MB/s"),
            (f"plain cp of that copy back, same disk ({store} run)", f"{cb:.2f} s = {size_mb / cb:.0f} MB/s"),
            (f"restore speed ratio API/plain (target ≥ {TARGET})", f"{cb / rs:.2f}")]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size-gib", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--stores", default="directory,object", help="comma-separated: directory, object")
    p.add_argument("--workdir", type=Path, default=None)
    args = p.parse_args()
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    if not stores or any(s not in ("directory", "object") for s in stores):
        p.error("--stores takes directory and/or object")
    rows: list[tuple[str, str]] = []
    for store in stores:
        workdir = Path(tempfile.mkdtemp(prefix=f"volume-backup-{store}-", dir=args.workdir))
        rows += run_store(store, workdir, args.size_gib, args.repeats)
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name.ljust(width)} | {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
