"""Multi-host: a proxy and three storage agents, separate processes each with its own devices, in
one ring. One agent is SIGKILLed while several clients write: every acknowledged object reads back
intact, and once the agent is back the replicator gives it the objects it missed."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import RunningCloud, until
from tests.functional.object.helpers import swift_connection
from tests.functional.object.test_probe import _data_files, _try, agents_cloud  # noqa: F401 (a fixture)

pytestmark = pytest.mark.functional

Agents = tuple[RunningCloud, list[subprocess.Popen[bytes]], Callable[[int], subprocess.Popen[bytes]]]


def test_sigkill_of_an_agent_under_a_write_load_loses_no_acknowledged_object(
        agents_cloud: Agents, tmp_path: Path) -> None:  # noqa: F811
    cloud, agents, restart = agents_cloud
    setup = swift_connection(cloud)
    assert until(lambda: _try(lambda: setup.put_container("load")), 20)
    acked: dict[str, bytes] = {}
    failed: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n: int) -> None:
        conn = swift_connection(cloud)
        i = 0
        while not stop.is_set():
            name, data = f"w{n}-{i}", os.urandom(200 + i % 5000)
            i += 1
            try:
                conn.put_object("load", name, data)
            except Exception:
                with lock:
                    failed.append(name)  # not acknowledged: may or may not exist
                continue
            with lock:
                acked[name] = data

    threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(4)]
    for t in threads:
        t.start()
    try:
        assert until(lambda: len(acked) >= 30, 60)
        agents[0].send_signal(signal.SIGKILL)  # in the middle of the writes
        agents[0].wait(10)
        before_kill = len(acked)
        assert until(lambda: len(acked) >= before_kill + 30, 60), "writes stopped after the kill"
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    conn = swift_connection(cloud)
    for name, data in acked.items():
        assert conn.get_object("load", name)[1] == data, name
    # Host 1 comes back: the replicators of hosts 2 and 3 push what it missed (every object has
    # a replica on each of the 3 hosts), and the updaters fill its container listing.
    agents[0] = restart(1)
    assert until(lambda: _data_files(tmp_path / "host1", "disk1") >= len(acked), 60), \
        (_data_files(tmp_path / "host1", "disk1"), len(acked))
    _, rows = conn.get_container("load", full_listing=True)
    assert set(acked) <= {r["name"] for r in rows}


def test_a_one_replica_policy_across_agents(agents_cloud: Agents, tmp_path: Path) -> None:  # noqa: F811
    cloud, _, _ = agents_cloud
    conn = swift_connection(cloud)
    assert until(lambda: _try(lambda: conn.put_container("single", headers={"X-Storage-Policy": "single"})), 20)
    assert conn.head_container("single")["x-storage-policy"] == "single"
    data = {f"s{i}": os.urandom(100 + i) for i in range(8)}
    for name, body in data.items():
        conn.put_object("single", name, body)
    for name, body in data.items():
        assert conn.get_object("single", name)[1] == body
    # One copy of each, on whichever host the policy's ring places it.
    copies = sum(1 for n in (1, 2, 3) for _ in (tmp_path / f"host{n}" / f"disk{n}" / "objects-1").rglob("*.data"))
    assert copies == len(data)
