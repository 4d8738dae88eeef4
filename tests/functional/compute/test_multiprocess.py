"""A compute agent in its own process (``litestack agent compute --host NAME``) beside the cloud,
on RabbitMQ and PostgreSQL or MariaDB (the integration runs of the package cloud): it registers
its service and provider, builds a server forced onto it, answers console output over the bus,
deletes it; killed with SIGKILL, its service is reported down within ``service_down_time``."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.conftest import RunningCloud, until
from tests.functional.compute.conftest import HOSTS, Nova

pytestmark = pytest.mark.functional


def test_separate_agent_process_builds_and_goes_down_when_killed(cloud: RunningCloud, nova: Nova) -> None:
    if "LITESTACK_DEFAULT_TRANSPORT_URL" not in cloud.env:
        pytest.skip("an agent in another process needs the AMQP bus (the integration runs)")
    env = {**cloud.env, "LITESTACK_AUTH_IDENTITY_URL": cloud.auth_url}
    log = open(cloud.data_dir.parent / "agent-ext.out", "ab")
    cmd = [sys.executable, "-m", "litestack.cli.main", "agent", "compute", "--host", "ext-1",
           "--data-dir", str(cloud.data_dir)]
    if cloud.config_file is not None:
        cmd += ["--config", str(cloud.config_file)]
    agent = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        def hosts() -> dict[str, str]:
            found = nova.compute("GET", "/os-hypervisors", nova.admin).json()["hypervisors"]
            return {h["hypervisor_hostname"]: h["state"] for h in found}
        assert until(lambda: hosts().get("ext-1") == "up", 30), hosts()
        assert len(hosts()) == HOSTS + 1
        srv = nova.boot(availability_zone="nova:ext-1")
        admin_view = nova.server(srv["id"], nova.admin)
        assert admin_view["OS-EXT-SRV-ATTR:host"] == "ext-1"
        r = nova.compute("POST", f"/servers/{srv['id']}/action", json={"os-getConsoleOutput": {"length": 50}})
        assert r.status_code == 200 and srv["name"] in r.json()["output"]
        assert nova.compute("DELETE", f"/servers/{srv['id']}").status_code == 204
        assert nova.gone(srv["id"])
        assert nova.ports(srv["id"]) == []
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        assert until(lambda: hosts().get("ext-1") == "down", 15), hosts()
        services = nova.compute("GET", "/os-services?host=ext-1", nova.admin).json()["services"]
        assert [s["state"] for s in services] == ["down"]
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait(10)
        log.close()
        # the module's other tests share this cloud: never leave the extra host registered
        for s in nova.compute("GET", "/os-services?host=ext-1", nova.admin).json().get("services", []):
            nova.compute("DELETE", f"/os-services/{s['id']}", nova.admin)
