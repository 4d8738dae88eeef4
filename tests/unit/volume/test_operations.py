"""The logic behind microversions 3.3 to 3.60 on a real (SQLite) database: user messages (event
ids, texts, expiry, visibility), SQL filters, services frozen/disabled/clustered as the scheduler
sees them, the workers cleanup, manageable storage and Cinder's logger names."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from litestack.common import errors, log
from litestack.common.db import Database, upgrade
from litestack.volume.api.services import logger_prefix
from litestack.volume.manager import Caller, filters, now
from litestack.volume.manager.manage import classify
from litestack.volume.manager.messages import Messages, user_message
from litestack.volume.manager.quotas import Quotas
from litestack.volume.manager.services import Services
from litestack.volume.manager.types import Types
from litestack.volume.manager.volumes import Volumes
from litestack.volume.models import BackendService, Base, Message, Volume

pytestmark = pytest.mark.unit

ME = Caller("p1", "u1")
ADMIN = Caller(None, is_admin=True)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'volume.db'}")
    upgrade(database, "litestack.volume.migrations", Base, "volume")
    return database


def test_messages_carry_cinders_event_ids_and_expire(db: Database) -> None:
    messages = Messages(db, ttl=60)
    m = messages.create("p1", "VOLUME", "v-1", "SCHEDULE_ALLOCATE_VOLUME", "NO_BACKEND_AVAILABLE", "req-1")
    assert m is not None and m.event_id == "VOLUME_VOLUME_001_003"
    assert user_message(m) == "schedule allocate volume: Could not find any available weighted backend."
    b = messages.create("p1", "VOLUME_BACKUP", "b-1", "BACKUP_CREATE", "BACKUP_CREATE_DRIVER_ERROR")
    assert b is not None and b.event_id == "VOLUME_VOLUME_BACKUP_013_020" and (b.request_id or "").startswith("req-")
    assert messages.create(None, "VOLUME", "v", "EXTEND_VOLUME", "DRIVER_FAILED_EXTEND") is None
    rows, _ = messages.listed(ME, {}, paged=True)
    assert {r.id for r in rows} == {m.id, b.id}
    assert messages.listed(Caller("p2"), {}, paged=True)[0] == []
    with pytest.raises(errors.NotFound):
        messages.get(m.id, Caller("p2"))
    assert [r.id for r in messages.listed(ME, {"event_id": "VOLUME_VOLUME_001_003"}, paged=True)[0]] == [m.id]
    # past its expiry a message is gone from every read, and the reaper deletes it
    with db.writer() as s:
        row = s.get(Message, m.id)
        assert row is not None
        row.expires_at = now() - timedelta(seconds=1)
    with pytest.raises(errors.NotFound):
        messages.get(m.id, ME)
    assert messages.reap() == 1
    with db.reader() as s:
        assert s.scalar(select(Message.id).where(Message.id == m.id)) is None


def test_time_filters_and_like_escaping() -> None:
    assert filters.timestamp("2026-01-02T03:04:05Z").isoformat() == "2026-01-02T03:04:05"
    assert filters.timestamp("2026-01-02T05:04:05+02:00").isoformat() == "2026-01-02T03:04:05"
    for bad in ("yesterday", "between:2026-01-01", "gte:", "gte:2026-13-01", "gt:9999-12-31T23:59:59-01:00"):
        with pytest.raises(errors.BadRequest):
            filters.time_compare(select(Volume), Volume.created_at, bad, "created_at")
    assert filters.dict_param("{'a': 1}") == {"a": "1"}
    with pytest.raises(errors.BadRequest):
        filters.dict_param("[1, 2]")


def test_sql_filters_on_metadata_names_and_times(db: Database) -> None:
    quotas = Quotas(db, {"volumes": 10, "snapshots": 10, "gigabytes": 100, "backups": 1, "backup_gigabytes": 1})
    types = Types(db)
    types.ensure_default()
    vols = Volumes(db, quotas)
    vols.report("h@b", "b", "nova", 100)
    made = []
    for name, meta in (("100%_a", {"k": "1"}), ("100x_b", {"k": "2"})):
        made.append(vols.create(ME, {"size": 1, "availability_zone": "nova", "name": name, "description": None,
                                     "metadata_": meta}, types.default(), types.names(), 60))

    def names(params: dict[str, str]) -> set[str | None]:
        return {v.name for v in vols.list_volumes(ME, params, False, types.names())[0]}

    assert names({"metadata": '{"k": "2"}'}) == {"100x_b"}
    assert names({"name~": "100%_"}) == {"100%_a"}  # % and _ are literal
    assert names({"name~": "100"}) == {"100%_a", "100x_b"}
    first = made[0].created_at.isoformat()
    assert "100%_a" in names({"created_at": f"gte:{first}"})
    assert names({"created_at": f"lt:{first}"}) == set()


def test_frozen_disabled_and_disabled_clusters_get_no_volumes(db: Database) -> None:
    quotas = Quotas(db, {"volumes": 10, "snapshots": 10, "gigabytes": 100, "backups": 1, "backup_gigabytes": 1})
    types = Types(db)
    types.ensure_default()
    vols, services = Volumes(db, quotas), Services(db, 60)
    vols.report("h@b", "b", "nova", 100, cluster="c1", backend_state="up", started_at=now())

    def placed() -> str:
        v = vols.create(ME, {"size": 1, "availability_zone": "nova", "name": None, "description": None},
                        types.default(), types.names(), 60)
        return v.status

    assert placed() == "creating"
    services.set_frozen("h", True)
    assert placed() == "error"
    with pytest.raises(errors.BadRequest):
        services.set_frozen("h", True)
    services.set_frozen("h@b", False)
    services.set_cluster_disabled("c1", "cinder-volume", True, "maintenance")
    assert placed() == "error"
    c = services.cluster("c1")
    assert c.disabled and c.disabled_reason == "maintenance" and c.num_hosts == 1 and c.state == "up"
    services.set_cluster_disabled("c1", "cinder-volume", False, None)
    services.set_disabled("h@b", "cinder-volume", True, "swap")
    assert placed() == "error"
    with pytest.raises(errors.NotFound):
        services.set_disabled("h@b", "cinder-nothing", True, None)
    with pytest.raises(errors.BadRequest):
        services.set_disabled("h", "cinder-scheduler", True, None)


def test_cleanup_touches_only_what_an_earlier_agent_left(db: Database) -> None:
    quotas = Quotas(db, {"volumes": 10, "snapshots": 10, "gigabytes": 100, "backups": 1, "backup_gigabytes": 1})
    types = Types(db)
    types.ensure_default()
    vols, services = Volumes(db, quotas), Services(db, 60)
    vols.report("h@b", "b", "nova", 100, started_at=now() - timedelta(hours=1))
    old = vols.create(ME, {"size": 1, "availability_zone": "nova", "name": None, "description": None},
                      types.default(), types.names(), 60)
    vols.report("h@b", "b", "nova", 100, started_at=now())  # the agent restarted
    new = vols.create(ME, {"size": 1, "availability_zone": "nova", "name": None, "description": None},
                      types.default(), types.names(), 60)
    cleaning, unavailable, cleaned = services.cleanup({"host": "h"})
    assert [r.host for r in cleaning] == ["h@b"] and unavailable == [] and cleaned == [old.id]
    assert vols.get(old.id, ADMIN).status == "error" and vols.get(new.id, ADMIN).status == "creating"
    # a service that stopped reporting is unavailable, nothing of it is touched
    with db.writer() as s:
        svc = s.get(BackendService, "h@b")
        assert svc is not None
        svc.updated_at = now() - timedelta(hours=1)
    cleaning, unavailable, cleaned = services.cleanup({})
    assert cleaning == [] and [r.host for r in unavailable] == ["h@b"] and cleaned == []
    assert vols.get(new.id, ADMIN).status == "creating"


def test_manageable_storage_is_marked_as_cinder_does() -> None:
    entries = [{"name": "volume-v1", "size": 1, "kind": "volume"}, {"name": "legacy.img", "size": 2, "kind": "volume"},
               {"name": "broken", "size": 0, "kind": "volume", "extra_info": "not an image"},
               {"name": "snapshot-s1", "size": 1, "kind": "snapshot"}]
    vols = {m["reference"]["source-name"]: m for m in classify(entries, {"v1"}, set(), snapshots=False)}
    assert vols["volume-v1"]["safe_to_manage"] is False and vols["volume-v1"]["cinder_id"] == "v1"
    assert vols["legacy.img"]["safe_to_manage"] is True and vols["legacy.img"]["size"] == 2
    assert vols["broken"]["safe_to_manage"] is False and "snapshot-s1" not in vols
    snaps = classify(entries, {"v1"}, set(), snapshots=True)
    assert [s["reference"]["source-name"] for s in snaps] == ["snapshot-s1"] and snaps[0]["safe_to_manage"]


def test_cinder_logger_names_and_runtime_levels() -> None:
    assert logger_prefix("cinder.volume.agent") == "litestack.volume.agent"
    assert logger_prefix("cinder.api") == "litestack.volume.api"
    assert logger_prefix("cinder") == "litestack.volume"
    assert logger_prefix("sqlalchemy") == "sqlalchemy" and logger_prefix(None) == "litestack"
    name = "litestack.test_operations.probe"
    try:
        assert name in log.set_levels(name, "debug")
        assert log.levels(name)[name] == "DEBUG"
        with pytest.raises(ValueError):
            log.set_levels(name, "LOUD")
    finally:
        import logging

        logging.getLogger(name).setLevel(logging.NOTSET)


def test_cleanup_keeps_the_files_of_operations_in_flight(tmp_path: Path) -> None:
    import os
    import time

    from litestack.volume.drivers.file import FileDriver

    driver = FileDriver("f", tmp_path)
    old, new = tmp_path / ".tmp-aaaa-volume-old", tmp_path / ".tmp-bbbb-volume-new"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    started = time.time()
    os.utime(old, (started - 60, started - 60))
    assert driver.remove_temporary(older_than=started - 1) == 1
    assert not old.exists() and new.exists()
    assert driver.remove_temporary() == 1 and not new.exists()
