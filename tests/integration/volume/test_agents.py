"""The block storage service as separate processes: the API (with its scheduler) and two volume
agents (``litestack agent volume --host NAME``), each with its own ``file`` backend directory, on
RabbitMQ and PostgreSQL. Placement follows reported capacity, the data lands on the chosen host's
disk, delete removes it there, and an agent that stops reporting is no longer chosen."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningCloud, free_port
from tests.databases import integration_env
from tests.functional.identity.keystone import FAST_HASH
from tests.functional.volume.conftest import Api, user_token

pytestmark = pytest.mark.integration

CONFIG = ('[DEFAULT]\nservices = ["identity", "image", "volume"]\n' + FAST_HASH +
          '[volume]\nlocal_agent = false\nreport_interval = 1\nservice_down_time = 4\n')


class Agent:
    def __init__(self, host: str, data_dir: Path, env: dict[str, str], capacity: int, config: Path) -> None:
        self.host, self.data_dir, self.config = host, data_dir, config
        data_dir.mkdir()
        self.env = {**env, "LITESTACK_VOLUME_CAPACITY_GB": str(capacity)}
        self.log = data_dir.parent / f"{host}.out"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "litestack.cli.main", "agent", "volume", "--host",
                                      self.host, "--data-dir", str(self.data_dir), "--config", str(self.config)],
                                     env=self.env,
                                     stdout=self.log.open("ab"), stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def files(self) -> set[str]:
        d = self.data_dir / "volume" / "file-1"
        return {p.name for p in d.iterdir()} if d.exists() else set()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningCloud, Agent, Agent]]:
    base = tmp_path_factory.mktemp("volume-agents")
    (base / "cloud").mkdir()
    cfg = base / "cloud.toml"
    cfg.write_text(CONFIG)
    with integration_env("postgresql") as extra:
        env = {**os.environ, **extra}
        env.pop("OS_CLOUD", None)
        cloud = RunningCloud(base / "cloud", free_port(), env, config_file=cfg)
        cloud.start()
        agents = (Agent("host-a", base / "host-a", env, 5, cfg), Agent("host-b", base / "host-b", env, 50, cfg))
        try:
            for a in agents:
                a.start()
            yield cloud, agents[0], agents[1]
        finally:
            for a in agents:
                a.stop()
            cloud.stop()


def services(cloud: RunningCloud, api: Api) -> dict[str, str]:
    adm = Api(cloud, cloud.sdk("litestack-admin").auth_token)
    return {s["host"]: s["state"] for s in adm("GET", "os-services?binary=cinder-volume").json()["services"]}


def wait_for(check: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.3)
    raise AssertionError("condition not met in time")


def test_two_agents_placement_data_and_down_host(deployment: tuple[RunningCloud, Agent, Agent]) -> None:
    cloud, a, b = deployment
    api = Api(cloud, user_token(cloud))
    wait_for(lambda: services(cloud, api) == {"host-a@file-1": "up", "host-b@file-1": "up"})

    r = api("POST", "volumes", {"volume": {"size": 10, "name": "big"}})
    assert r.status_code == 202, r.text
    vol = api.wait("volume", r.json()["volume"]["id"], "available")
    assert f"volume-{vol['id']}" in b.files() and not a.files()  # only host-b has room

    small = api.wait("volume", api("POST", "volumes", {"volume": {"size": 1}}).json()["volume"]["id"],
                     "available")
    assert f"volume-{small['id']}" in b.files()  # the most free capacity wins (45 > 5)

    # a clone stays on its source's host
    clone = api.wait("volume", api("POST", "volumes", {"volume": {"source_volid": small["id"]}}).json()["volume"]["id"],
                     "available")
    assert f"volume-{clone['id']}" in b.files()

    # attached to a (fake) server on host-a: host-b exports the volume over NBD; what host-a writes
    # through the export is in the file on host-b
    r = api("POST", "attachments", {"attachment": {"volume_uuid": small["id"], "instance_uuid": str(uuid.uuid4()),
                                                   "connector": {"host": "host-a"}}}, version="3.44")
    assert r.status_code == 200, r.text
    att = r.json()["attachment"]
    info = att["connection_info"]
    assert info["driver_volume_type"] == "nbd", info
    subprocess.run(["qemu-io", "-f", "raw", "-c", "write -P 0x42 2M 128k", info["data"]["uri"]], check=True,
                   capture_output=True)
    assert api("POST", f"attachments/{att['id']}/action", {"os-complete": {}}).status_code == 204
    assert api("DELETE", f"attachments/{att['id']}").status_code == 200  # the export stops
    path = b.data_dir / "volume" / "file-1" / f"volume-{small['id']}"
    deadline = time.monotonic() + 10
    while True:
        try:
            with path.open("rb") as f:
                f.seek(2 << 20)
                assert f.read(128 << 10) == b"\x42" * (128 << 10)
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)

    for v in (vol, small, clone):
        assert api("DELETE", f"volumes/{v['id']}").status_code == 202
        api.wait("volume", v["id"], "deleted")
    assert b.files() == set()

    # host-b stops: it is reported down, and new volumes go to host-a
    b.stop()
    wait_for(lambda: services(cloud, api).get("host-b@file-1") == "down")
    on_a = api.wait("volume", api("POST", "volumes", {"volume": {"size": 1}}).json()["volume"]["id"], "available")
    assert f"volume-{on_a['id']}" in a.files()
    too_big = api("POST", "volumes", {"volume": {"size": 10}}).json()["volume"]
    assert api("GET", f"volumes/{too_big['id']}").json()["volume"]["status"] == "error"  # no host fits
    b.start()
    wait_for(lambda: services(cloud, api).get("host-b@file-1") == "up")
    httpx.delete(api.url(f"volumes/{on_a['id']}"), headers={"X-Auth-Token": api.token})
    api.wait("volume", on_a["id"], "deleted")
    assert a.files() == set()
