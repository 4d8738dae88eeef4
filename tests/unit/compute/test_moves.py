"""The agent's periodic move tasks (auto-confirm after ``resize_confirm_window``, offload after
``shelved_offload_time``), the move states as the API shows them, the migrations records and
the scheduler's move filters. Time is moved by ageing rows, never by sleeping."""

from __future__ import annotations

import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import update

from litestack.compute import states
from litestack.compute.models import Migration
from litestack.compute.scheduler import HostState, Request, force_host_filter, retry_filter
from tests.unit.compute.test_agent import boot, make

pytestmark = pytest.mark.unit


class RecordingAgents:
    def __init__(self) -> None:
        self.casts: list[tuple[str, str, dict[str, Any]]] = []

    async def cast(self, host: str, method: str, **kwargs: Any) -> None:
        self.casts.append((host, method, kwargs))


def age(agent: Any, migration_id: int, seconds: float) -> None:
    with agent.migrations.db.writer() as s:
        s.execute(update(Migration).where(Migration.id == migration_id).values(
            updated_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=seconds)))


async def test_a_finished_resize_is_confirmed_after_the_window(tmp_path: Path) -> None:
    agent, instances, _ = make(tmp_path, resize_confirm_window=60)
    sid = await boot(agent, instances)
    await agent.build_and_run_instance(sid)
    inst = instances.get(sid)
    m = agent.migrations.create(inst, "resize", "finished", {**inst.flavor, "id": "2"}, "h1", inst.node)
    agent.migrations.save(m.id, source_compute="h0")
    recorder = RecordingAgents()
    agent.agents_api = recorder
    await agent.moves.poll_moves()
    assert recorder.casts == []  # younger than the window
    age(agent, m.id, 61)
    await agent.moves.poll_moves()
    assert recorder.casts == [("h0", "confirm_resize", {"instance_id": sid, "migration_id": m.id})]
    assert agent.migrations.get(m.id).status == "confirming"
    await agent.moves.poll_moves()
    assert len(recorder.casts) == 1  # confirmed once


async def test_no_window_means_no_automatic_confirm(tmp_path: Path) -> None:
    agent, instances, _ = make(tmp_path)
    sid = await boot(agent, instances)
    inst = instances.get(sid)
    m = agent.migrations.create(inst, "resize", "finished", inst.flavor, "h1")
    age(agent, m.id, 10 ** 6)
    agent.agents_api = RecordingAgents()
    await agent.moves.poll_moves()
    assert agent.agents_api.casts == [] and agent.migrations.get(m.id).status == "finished"


async def test_a_shelved_server_is_offloaded_after_shelved_offload_time(tmp_path: Path) -> None:
    agent, instances, events = make(tmp_path, shelved_offload_time=3600)
    sid = await boot(agent, instances)
    await agent.build_and_run_instance(sid)
    rebound: list[str] = []

    async def rebind(ports: list[dict[str, Any]], host: str) -> None:
        rebound.append(host)
    agent.network.rebind = rebind  # type: ignore[method-assign]
    instances.save(sid, vm_state=states.SHELVED)
    recent = datetime.datetime.now(datetime.UTC).isoformat()
    agent.migrations.set_sysmeta(sid, {"shelved_at": recent, "shelved_image_id": "img"})
    await agent.moves.poll_moves()
    assert instances.get(sid).vm_state == states.SHELVED
    old = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=2)).isoformat()
    agent.migrations.set_sysmeta(sid, {"shelved_at": old})
    await agent.moves.poll_moves()
    inst = instances.get(sid)
    assert (inst.vm_state, inst.task_state, inst.host, inst.node) == (states.SHELVED_OFFLOADED, None, None, None)
    assert rebound == [""] and sid not in await agent.driver.list_instances()
    assert "compute.instance.shelve_offload.end" in events
    assert agent.migrations.sysmeta(sid)["shelved_image_id"] == "img"  # kept for the unshelve


def test_move_states_as_the_api_shows_them() -> None:
    assert states.status(states.ACTIVE, states.RESIZE_MIGRATING) == "RESIZE"
    assert states.status(states.STOPPED, states.RESIZE_PREP) == "RESIZE"
    assert states.status(states.RESIZED, None) == "VERIFY_RESIZE"
    assert states.status(states.RESIZED, states.RESIZE_REVERTING) == "REVERT_RESIZE"
    assert states.status(states.ACTIVE, states.MIGRATING) == "MIGRATING"
    assert states.status(states.SHELVED_OFFLOADED, None) == "SHELVED_OFFLOADED"
    assert states.status(states.RESCUED, None) == "RESCUE"
    assert states.vm_states_of("VERIFY_RESIZE") == [states.RESIZED]


async def test_one_move_at_a_time_and_the_migrations_filters(tmp_path: Path) -> None:
    agent, instances, _ = make(tmp_path)
    sid = await boot(agent, instances)
    inst = instances.get(sid)
    m = agent.migrations.create(inst, "migration", "pre-migrating", inst.flavor)
    with pytest.raises(Exception, match="already being migrated"):
        agent.migrations.create(inst, "resize", "pre-migrating", inst.flavor)
    agent.migrations.save(m.id, status="confirmed", dest_compute="h2")
    m2 = agent.migrations.create(inst, "live-migration", "accepted", inst.flavor)
    mig = agent.migrations
    assert [x.id for x in mig.find({})] == [m2.id, m.id]  # newest first
    assert [x.id for x in mig.find({"host": "h2"})] == [m.id]
    assert [x.id for x in mig.find({"migration_type": "live-migration"})] == [m2.id]
    assert [x.id for x in mig.find({}, limit=1, marker=m2.id)] == [m.id]
    assert mig.get(m.uuid).id == m.id and mig.in_progress(sid).id == m2.id  # type: ignore[union-attr]


def test_move_filters_leave_the_source_and_take_the_asked_host() -> None:
    svc: Any = SimpleNamespace(host="h1", disabled=False, availability_zone="nova", hypervisor_type="fake")
    h = HostState(svc, True, {})
    inst: Any = SimpleNamespace(requested_az=None, tried_hosts=[], request={})
    req = Request(inst, None, {}, [], None, set(), ignore_hosts=("h1",))
    assert not retry_filter(h, req)
    req = Request(inst, None, {}, [], None, set(), force_host="h2")
    assert retry_filter(h, req) and not force_host_filter(h, req)
