"""The volume state machine, scheduler and quotas on a real (SQLite) database: compare-and-set
transitions, the reaper that ends stuck operations, capacity-aware backend choice."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from litestack.common import errors
from litestack.common.db import Database, upgrade
from litestack.volume.manager import Caller, now
from litestack.volume.manager.quotas import QuotaExceeded, Quotas
from litestack.volume.manager.types import Types
from litestack.volume.manager.volumes import InvalidStatus, Volumes
from litestack.volume.models import Base, Volume

pytestmark = pytest.mark.unit

ME = Caller("p1", "u1")


@pytest.fixture
def parts(tmp_path: Path) -> tuple[Volumes, Types]:
    db = Database(f"sqlite:///{tmp_path / 'volume.db'}")
    upgrade(db, "litestack.volume.migrations", Base, "volume")
    quotas = Quotas(db, {"volumes": 3, "snapshots": 2, "gigabytes": 10, "backups": 1, "backup_gigabytes": 1})
    types = Types(db)
    types.ensure_default()
    return Volumes(db, quotas), types


def fields(size: int = 1) -> dict[str, object]:
    return {"size": size, "availability_zone": "nova", "name": None, "description": None}


def test_scheduler_picks_a_fresh_backend_with_room(parts: tuple[Volumes, Types]) -> None:
    vols, types = parts
    default = types.default()
    names = types.names()
    # no backend has reported: the volume goes to error at once
    v = vols.create(ME, fields(), default, names, 60)
    assert v.status == "error" and v.host is None
    vols.report("h1@small", "small", "nova", 2)
    vols.report("h2@big", "big", "nova", 5)
    v = vols.create(ME, fields(), default, names, 60)
    assert v.host == "h2@big#big" and v.status == "creating"  # most free capacity
    fast = types.create("fast", None, True, {"volume_backend_name": "small"})
    v = vols.create(ME, fields(2), fast, types.names(), 60)
    assert v.host == "h1@small#small"
    v = vols.create(Caller("p2"), fields(1), fast, types.names(), 60)
    assert v.status == "error"  # small is full: 2 of 2 GiB allocated


def test_transitions_are_compare_and_set_and_the_reaper_ends_stuck_ones(parts: tuple[Volumes, Types]) -> None:
    vols, types = parts
    vols.report("h1@b", "b", "nova", 100)
    v = vols.create(ME, fields(), types.default(), types.names(), 60)
    with pytest.raises(InvalidStatus):
        vols.transition(v.id, ME, ("available",), "extending")
    vols.finish(v.id, "available", {})
    vols.transition(v.id, ME, ("available",), "extending")
    with pytest.raises(InvalidStatus):
        vols.transition(v.id, ME, ("available",), "extending")  # a second extend is refused
    with pytest.raises(errors.NotFound):
        vols.get(v.id, Caller("p2"))  # another project's volume
    assert vols.reap(600) == []
    with vols.db.writer() as s:
        row = s.get(Volume, v.id)
        assert row is not None
        row.task_started_at = now() - timedelta(seconds=700)
    assert vols.reap(600) == [v.id]
    stuck = vols.get(v.id, ME)
    assert stuck.status == "error_extending" and "did not finish" in (stuck.error or "")


def test_quota_counts_real_rows(parts: tuple[Volumes, Types]) -> None:
    vols, types = parts
    vols.report("h1@b", "b", "nova", 100)
    for _ in range(3):
        vols.create(ME, fields(), types.default(), types.names(), 60)
    with pytest.raises(QuotaExceeded, match="VolumeLimitExceeded"):
        vols.create(ME, fields(), types.default(), types.names(), 60)
    with pytest.raises(QuotaExceeded, match="gigabytes"):
        vols.create(Caller("p3"), fields(11), types.default(), types.names(), 60)
    shown = vols.quotas.show("p1", types.names(), usage=True)
    assert shown["volumes"] == {"limit": 3, "in_use": 3, "reserved": 0, "allocated": 0}
    assert shown["volumes___DEFAULT__"]["in_use"] == 3


def test_capabilities_filter_matches_extra_specs() -> None:
    from litestack.volume.manager.volumes import satisfies

    caps = {"volume_backend_name": "b", "vendor_name": "litestack", "multiattach": "True"}
    assert satisfies(caps, {"volume_backend_name": "b", "multiattach": "<is> True", "qos:iops": "100"})
    assert satisfies(caps, {"capabilities:vendor_name": "litestack", "unknown_cap": "x"})
    assert not satisfies(caps, {"vendor_name": "other"})
    assert not satisfies(caps, {"capabilities:volume_backend_name": "c"})
    assert not satisfies(caps, {"multiattach": "<is> False"})
