#!/usr/bin/env python3
"""Generic volume groups on the ``file`` backend: a group snapshot of N volumes next to N
single snapshots, a group from that group snapshot, and a delete with ``delete-volumes``.

    .venv/bin/python bench/volume_groups.py [--volumes 5] [--repeats 3] [--workdir DIR]

Starts its own ``litestack up`` (the ``Cloud`` of ``bench/volume_create.py``), makes a group of
``--volumes`` empty 1 GiB volumes, then per repeat: ``POST /group_snapshots`` until the group
snapshot is ``available``; the same volumes snapshotted one by one (each ``POST /snapshots``
until ``available``); ``create-from-src`` of the group snapshot until the new group is
``available``; the new group deleted with ``delete-volumes`` until it is gone. It prints
``volume_groups …`` lines and a table; it never asserts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from volume_create import Cloud  # the sibling benchmark's cloud


def wait(cloud: Cloud, path: str, key: str, status: str) -> None:
    while True:
        r = cloud.http.get(cloud.vol(path))
        current = "deleted" if r.status_code == 404 else r.json()[key]["status"]
        if current == status:
            return
        if current.startswith("error"):
            raise RuntimeError(f"{path} went to {current}")
        time.sleep(0.01)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--volumes", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--workdir", type=Path, default=None)
    args = p.parse_args()
    cloud = Cloud(Path(tempfile.mkdtemp(prefix="volume-groups-bench-", dir=args.workdir)))
    n = args.volumes
    res: dict[str, list[float]] = {"group_snapshot": [], "single_snapshots": [], "from_group_snapshot": [],
                                   "delete_volumes": []}
    try:
        cloud.http.put(cloud.vol(f"os-quota-sets/{cloud.project}"), json={"quota_set": {
            "volumes": -1, "snapshots": -1, "gigabytes": -1, "groups": -1}})
        gt = cloud.http.post(cloud.vol("group_types"), json={"group_type": {"name": "bench"}},
                             headers={"OpenStack-API-Version": "volume 3.14"}).json()["group_type"]["id"]
        cloud.http.headers["OpenStack-API-Version"] = "volume 3.14"
        group = cloud.http.post(cloud.vol("groups"), json={"group": {
            "group_type": gt, "volume_types": ["__DEFAULT__"], "name": "bench"}}).json()["group"]["id"]
        vids = [cloud.create({"size": 1, "group_id": group, "volume_type": "__DEFAULT__"})[0] for _ in range(n)]
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            gs = cloud.http.post(cloud.vol("group_snapshots"), json={"group_snapshot": {"group_id": group}}
                                 ).json()["group_snapshot"]["id"]
            wait(cloud, f"group_snapshots/{gs}", "group_snapshot", "available")
            res["group_snapshot"].append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            singles = []
            for vid in vids:
                sid = cloud.http.post(cloud.vol("snapshots"), json={"snapshot": {"volume_id": vid}}
                                      ).json()["snapshot"]["id"]
                wait(cloud, f"snapshots/{sid}", "snapshot", "available")
                singles.append(sid)
            res["single_snapshots"].append(time.perf_counter() - t0)
            for sid in singles:
                cloud.http.delete(cloud.vol(f"snapshots/{sid}"))
                wait(cloud, f"snapshots/{sid}", "snapshot", "deleted")

            t0 = time.perf_counter()
            g2 = cloud.http.post(cloud.vol("groups/action"), json={"create-from-src": {"group_snapshot_id": gs}}
                                 ).json()["group"]["id"]
            wait(cloud, f"groups/{g2}", "group", "available")
            res["from_group_snapshot"].append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            cloud.http.post(cloud.vol(f"groups/{g2}/action"), json={"delete": {"delete-volumes": True}})
            wait(cloud, f"groups/{g2}", "group", "deleted")
            res["delete_volumes"].append(time.perf_counter() - t0)
            cloud.http.delete(cloud.vol(f"group_snapshots/{gs}"))
            wait(cloud, f"group_snapshots/{gs}", "group_snapshot", "deleted")
    finally:
        cloud.stop()
    labels = {"group_snapshot": f"group snapshot of {n} volumes, create→available",
              "single_snapshots": f"{n} single snapshots one after the other, each create→available",
              "from_group_snapshot": f"group of {n} volumes from it, create→available",
              "delete_volumes": "that group deleted with delete-volumes, until gone"}
    print("volume_groups " + " ".join(f"{k}_median_s={statistics.median(v):.3f}" for k, v in res.items()))
    width = max(len(x) for x in labels.values())
    for key, label in labels.items():
        print(f"{label.ljust(width)} | {statistics.median(res[key]) * 1000:.0f} ms (median of {args.repeats})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
