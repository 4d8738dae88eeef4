"""Probe tests, Swift's way: real storage servers and files; a device or a whole storage server
goes away, writes and reads go on through the other replicas and handoffs, nothing acknowledged
is lost."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from litestack.object.ring import Ring
from tests.conftest import RunningCloud, free_port, until
from tests.functional.object.helpers import swift_connection

pytestmark = pytest.mark.functional


def _data_files(devices: Path, device: str) -> int:
    return sum(1 for _ in (devices / device / "objects").rglob("*.data")) if (devices / device).is_dir() else 0


def test_a_missing_device_is_replaced_by_a_handoff_and_nothing_is_lost(
        cloud_factory: Callable[..., RunningCloud]) -> None:
    cloud = cloud_factory(config="[object]\naio_devices = 4\n")
    devices = cloud.data_dir / "object" / "devices"
    ring = Ring.load(cloud.data_dir / "object" / "object.ring.gz")
    assert ring.replicas == 3 and len(ring.live_devices()) == 4
    conn = swift_connection(cloud)
    conn.put_container("probe")
    before = {f"before-{i}": os.urandom(1000 + i) for i in range(20)}
    for name, data in before.items():
        conn.put_object("probe", name, data)
    # Three replicas of every object, on disk.
    assert sum(_data_files(devices, f"d{n}") for n in range(1, 5)) == 3 * len(before)

    # Device d1 "fails" (as an unmounted disk: the storage server answers 507 for it).
    os.rename(devices / "d1", devices / "d1.away")
    after = {f"after-{i}": os.urandom(2000 + i) for i in range(20)}
    for name, data in after.items():
        conn.put_object("probe", name, data)
    for name, data in {**before, **after}.items():
        assert conn.get_object("probe", name)[1] == data, name
    # Every new object has its three replicas on the devices left: those with a primary on d1
    # got the third one on the handoff; the old objects lost only their d1 copies.
    account = conn.get_auth()[0].rsplit("/", 1)[1]

    def on_d1(name: str) -> bool:
        return any(d.device == "d1" for d in ring.get_nodes(account, "probe", name)[1])

    assert any(on_d1(n) for n in after), "with 4 devices some objects have a replica on d1"
    present = sum(_data_files(devices, f"d{n}") for n in range(2, 5))
    assert present == 3 * len(after) + sum(2 if on_d1(n) else 3 for n in before)
    # The container listing was kept up to date through the failure.
    _, rows = conn.get_container("probe", full_listing=True)
    assert {r["name"] for r in rows} == set(before) | set(after)

    # The device comes back: everything reads, old and new.
    os.rename(devices / "d1.away", devices / "d1")
    for name, data in {**before, **after}.items():
        assert conn.get_object("probe", name)[1] == data, name


def test_three_devices_one_gone_writes_reach_quorum(cloud_factory: Callable[..., RunningCloud]) -> None:
    cloud = cloud_factory()
    devices = cloud.data_dir / "object" / "devices"
    conn = swift_connection(cloud)
    conn.put_container("quorum")
    os.rename(devices / "d2", devices / "d2.away")
    for i in range(10):
        conn.put_object("quorum", f"o{i}", f"data {i}".encode())
    # Two replicas of each (a majority of 3): on the devices that remain.
    assert _data_files(devices, "d1") == 10 and _data_files(devices, "d3") == 10
    for i in range(10):
        assert conn.get_object("quorum", f"o{i}")[1] == f"data {i}".encode()
    # A second device gone: no quorum, the write is refused (503), never acknowledged.
    os.rename(devices / "d3", devices / "d3.away")
    with pytest.raises(Exception) as exc:
        conn.put_object("quorum", "lost", b"x")
    assert getattr(exc.value, "http_status", None) == 503
    os.rename(devices / "d3.away", devices / "d3")
    os.rename(devices / "d2.away", devices / "d2")
    for i in range(10):
        assert conn.get_object("quorum", f"o{i}")[1] == f"data {i}".encode()


@pytest.fixture
def agents_cloud(tmp_path: Path) -> Iterator[tuple[RunningCloud, list[subprocess.Popen[bytes]],
                                                   Callable[[int], subprocess.Popen[bytes]]]]:
    """A proxy (``litestack up`` with no storage server of its own) and three storage agents,
    separate processes each with its own devices, in one ring built with ``litestack object ring``."""
    data_dir = tmp_path / "cloud"
    data_dir.mkdir()
    env = {**os.environ}
    env.pop("OS_CLOUD", None)
    cli = [sys.executable, "-m", "litestack.cli.main"]

    def run(*args: str) -> None:
        subprocess.run([*cli, *args, "--data-dir", str(data_dir)], check=True, env=env, capture_output=True,
                       timeout=60)

    run("object", "ring", "create", "--part-power", "6", "--replicas", "3")
    run("object", "ring", "create", "--part-power", "6", "--replicas", "1", "--policy", "1")
    agent_cfg = tmp_path / "agent.toml"
    agent_cfg.write_text("[object]\nupdater_interval = 0.5\nreplicator_interval = 1\n")

    def start_agent(n: int, port: int) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"agent{n}.log", "ab")
        return subprocess.Popen([*cli, "agent", "object-storage", "--host", f"host{n}", "--devices",
                                 str(tmp_path / f"host{n}"), "--port", str(port), "--data-dir", str(data_dir),
                                 "--config", str(agent_cfg)], env=env, stdout=log, stderr=subprocess.STDOUT)

    agents: list[subprocess.Popen[bytes]] = []
    ports: list[int] = []
    for n in range(1, 4):
        port = free_port()
        ports.append(port)
        host_devices = tmp_path / f"host{n}"
        (host_devices / f"disk{n}").mkdir(parents=True)
        for policy in ("0", "1"):
            run("object", "ring", "add", "--zone", str(n), "--ip", "127.0.0.1", "--port", str(port),
                "--device", f"disk{n}", "--policy", policy)
        agents.append(start_agent(n, port))
    run("object", "ring", "rebalance")
    run("object", "ring", "rebalance", "--policy", "1")
    cfg = tmp_path / "cloud.toml"
    cfg.write_text("[object]\nstorage_servers = false\n")
    cloud = RunningCloud(data_dir, free_port(), env, config_file=cfg)
    cloud.start()
    yield cloud, agents, lambda n: start_agent(n, ports[n - 1])
    cloud.stop()
    for a in agents:
        if a.poll() is None:
            a.send_signal(signal.SIGTERM)
            a.wait(10)


def test_storage_agents_as_separate_processes_survive_a_sigkill(
        agents_cloud: tuple[RunningCloud, list[subprocess.Popen[bytes]], Callable[[int], subprocess.Popen[bytes]]],
        tmp_path: Path) -> None:
    cloud, agents, restart = agents_cloud
    conn = swift_connection(cloud)
    assert until(lambda: _try(lambda: conn.put_container("multi")), 20)
    acked: dict[str, bytes] = {}
    for i in range(15):
        data = os.urandom(500 + i)
        conn.put_object("multi", f"o{i}", data)
        acked[f"o{i}"] = data
    agents[0].send_signal(signal.SIGKILL)
    agents[0].wait(10)
    for i in range(15, 30):
        data = os.urandom(500 + i)
        conn.put_object("multi", f"o{i}", data)
        acked[f"o{i}"] = data
    for name, data in acked.items():
        assert conn.get_object("multi", name)[1] == data, name
    _, rows = conn.get_container("multi", full_listing=True)
    assert {r["name"] for r in rows} == set(acked)
    # Each host's devices hold real replicas.
    for n in (2, 3):
        assert _data_files(tmp_path / f"host{n}", f"disk{n}") == len(acked)
    # The container updates host 1 missed wait as async-pending files on the others...
    pending = [p for n in (2, 3) for p in (tmp_path / f"host{n}" / f"disk{n}" / "async_pending").glob("*.json")]
    assert pending
    # ... until host 1 is back: the updater sends them, and its container replica lists everything.
    agents[0] = restart(1)
    assert until(lambda: not any(p for n in (2, 3)
                                 for p in (tmp_path / f"host{n}" / f"disk{n}" / "async_pending").glob("*.json")), 30)
    dbs = list((tmp_path / "host1" / "disk1" / "containers").rglob("*.db"))
    assert len(dbs) == 1
    with sqlite3.connect(dbs[0]) as db:
        names = {r[0] for r in db.execute("SELECT name FROM objects WHERE deleted = 0")}
    assert names == set(acked)


def _try(f: Callable[[], object]) -> bool:
    try:
        f()
    except Exception:
        return False
    return True
