#!/usr/bin/env python3
"""Volume list filters in SQL over 10,000 volumes of one project (the manager on SQLite, no HTTP).

    .venv/bin/python bench/volume_filters.py [--volumes 10000] [--repeats 3]

Fills a fresh volume database under a temporary directory, then times ``Volumes.list_volumes``
(best of ``--repeats``) for a plain page of 1000, a ``metadata`` item, a ``glance_metadata`` item
(3.4), a like filter (``name~``, 3.34) and a time comparison with ``with_count`` (3.60, 3.45). It
prints one line per filter; it never asserts.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--volumes", type=int, default=10000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()

    from litestack.common.db import Database, upgrade
    from litestack.volume.manager import Caller, now
    from litestack.volume.manager.quotas import Quotas
    from litestack.volume.manager.types import Types
    from litestack.volume.manager.volumes import Volumes
    from litestack.volume.models import Base, Volume

    db = Database(f"sqlite:///{Path(tempfile.mkdtemp()) / 'volume.db'}")
    upgrade(db, "litestack.volume.migrations", Base, "volume")
    types = Types(db)
    types.ensure_default()
    vtype = types.default()
    vols = Volumes(db, Quotas(db, {"volumes": -1, "snapshots": -1, "gigabytes": -1, "backups": 1,
                                   "backup_gigabytes": 1}))
    with db.writer() as s:
        for i in range(args.volumes):
            s.add(Volume(id=str(uuid.uuid4()), project_id="p", size=1, status="available", availability_zone="nova",
                         volume_type_id=vtype.id, name=f"vol-{i}", metadata_={"k": str(i % 100)},
                         image_metadata={"os_distro": "debian" if i % 3 else "ubuntu"}, created_at=now(),
                         updated_at=now()))
    cases = [("plain page of 1000", {}), ("metadata k=7", {"metadata": '{"k": "7"}'}),
             ("glance_metadata os_distro=ubuntu", {"glance_metadata": '{"os_distro": "ubuntu"}'}),
             ("name~=vol-99", {"name~": "vol-99"}),
             ("created_at=gte:2000-01-01 with_count", {"created_at": "gte:2000-01-01T00:00:00", "with_count": "1"})]
    names = types.names()
    for label, params in cases:
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            rows, _, count = vols.list_volumes(Caller("p"), dict(params), False, names)
            best = min(best, time.perf_counter() - t0)
        print(f"volume_filters {label}: {len(rows)} rows, count {count}, best of {args.repeats}: {best * 1000:.0f} ms")


if __name__ == "__main__":
    main()
