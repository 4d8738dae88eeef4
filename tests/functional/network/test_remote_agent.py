"""The fake agent of another host as its own process (``litestack agent network-fake --host``), on
the cloud's shared bus (RabbitMQ): it registers, and a port bound to its host becomes ACTIVE."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import REPO, RunningCloud
from tests.databases import cloud_on
from tests.functional.identity.keystone import FAST_HASH, Keystone
from tests.functional.network.neutron import Neutron

pytestmark = pytest.mark.integration

# Its own RPC topics: the package's clouds use the same RabbitMQ, and their servers would answer
# this agent's calls otherwise.
CONFIG = FAST_HASH + f"""
[DEFAULT]
services = ["identity", "network"]

[network]
bootstrap = false
fake_agent_host = "local-1"
rpc_namespace = "t{uuid.uuid4().hex[:8]}"
"""


@pytest.fixture(scope="module")
def neutron(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningCloud, Neutron]]:
    with cloud_on("postgresql", tmp_path_factory.mktemp("network-remote"), CONFIG) as cloud:
        ks = Keystone(cloud)
        n = Neutron(cloud, ks)
        yield cloud, n
        n.close()
        ks.close()


def test_a_remote_fake_agent_wires_the_ports_of_its_host(neutron: tuple[RunningCloud, Neutron]) -> None:
    cloud, n = neutron
    args = [sys.executable, "-m", "litestack.cli.main", "agent", "network-fake", "--host", "remote-1",
            "--data-dir", str(cloud.data_dir), "--report-interval", "2"]
    if cloud.config_file:
        args += ["--config", str(cloud.config_file)]
    agent = subprocess.Popen(args, env={**cloud.env, "PYTHONPATH": str(REPO)}, cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        hosts: set[str] = set()
        while time.monotonic() < deadline and "remote-1" not in hosts:
            hosts = {a["host"] for a in n.get("/agents", n.admin).json()["agents"]}
            time.sleep(0.2)
        assert {"local-1", "remote-1"} <= hosts
        net = n.network(n.admin)
        n.subnet(net["id"], "10.66.0.0/24", n.admin)
        port = n.port(net["id"], n.admin, **{"binding:host_id": "remote-1"})
        assert port["binding:vif_type"] == "ovs"
        status = ""
        while time.monotonic() < deadline + 15 and status != "ACTIVE":
            status = n.get(f"/ports/{port['id']}", n.admin).json()["port"]["status"]
            time.sleep(0.2)
        assert status == "ACTIVE"
    finally:
        agent.terminate()
        out = agent.communicate(timeout=15)[0]
    assert "fake network agent of host remote-1 running" in out, out
    assert agent.returncode == 0, out
