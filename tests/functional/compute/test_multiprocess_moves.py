"""The issue's multi-process scenario, on RabbitMQ and PostgreSQL or MariaDB (the integration runs
of the package cloud): two compute agents in processes of their own beside the cloud (whose
process runs the API, conductor, scheduler, placement and its own fake hosts); a server built on
one is live-migrated to the other over the bus; that agent is killed with SIGKILL, its service
goes down within ``service_down_time`` and evacuate moves the server to a live host."""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import RunningCloud, until
from tests.functional.compute.conftest import Nova

pytestmark = pytest.mark.functional


def agent_process(cloud: RunningCloud, host: str) -> subprocess.Popen[bytes]:
    env = {**cloud.env, "LITESTACK_AUTH_IDENTITY_URL": cloud.auth_url}
    log = open(cloud.data_dir.parent / f"agent-{host}.out", "ab")
    cmd = [sys.executable, "-m", "litestack.cli.main", "agent", "compute", "--host", host,
           "--data-dir", str(cloud.data_dir)]
    if cloud.config_file is not None:
        cmd += ["--config", str(cloud.config_file)]
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)


def test_two_agent_processes_migrate_then_evacuate_after_a_kill(cloud: RunningCloud, nova: Nova) -> None:
    if "LITESTACK_DEFAULT_TRANSPORT_URL" not in cloud.env:
        pytest.skip("agents in other processes need the AMQP bus (the integration runs)")
    agents = {h: agent_process(cloud, h) for h in ("mv-a", "mv-b")}

    def hosts() -> dict[str, str]:
        found = nova.compute("GET", "/os-hypervisors", nova.admin).json()["hypervisors"]
        return {h["hypervisor_hostname"]: h["state"] for h in found}

    def host_of(sid: str) -> Any:
        return nova.server(sid, nova.admin)["OS-EXT-SRV-ATTR:host"]

    try:
        assert until(lambda: hosts().get("mv-a") == "up" and hosts().get("mv-b") == "up", 30), hosts()
        srv = nova.boot(availability_zone="nova:mv-a")
        sid = srv["id"]
        assert host_of(sid) == "mv-a"
        r = nova.compute("POST", f"/servers/{sid}/action", nova.admin, json={"os-migrateLive": {
            "host": "mv-b", "block_migration": False, "disk_over_commit": False}})
        assert r.status_code == 202, r.text
        assert until(lambda: host_of(sid) == "mv-b" and nova.server(sid)["OS-EXT-STS:task_state"] is None, 30)
        assert nova.server(sid)["status"] == "ACTIVE"
        assert [p["binding:host_id"] for p in nova.ports(sid)] == ["mv-b"]
        r = nova.compute("POST", f"/servers/{sid}/action", json={"os-getConsoleOutput": {"length": 5}})
        assert "live migration to mv-b completed" in r.json()["output"]  # answered by the mv-b process
        agents["mv-b"].send_signal(signal.SIGKILL)
        agents["mv-b"].wait(10)
        assert until(lambda: hosts().get("mv-b") == "down", 15), hosts()
        r = nova.compute("POST", f"/servers/{sid}/action", nova.admin, json={"evacuate": {"onSharedStorage": False}})
        assert r.status_code == 200, r.text
        assert until(lambda: nova.server(sid)["OS-EXT-STS:task_state"] is None, 30)
        assert nova.server(sid)["status"] == "ACTIVE" and host_of(sid) not in ("mv-b",)
        assert [p["binding:host_id"] for p in nova.ports(sid)] == [host_of(sid)]
        assert nova.compute("DELETE", f"/servers/{sid}").status_code == 204
        assert nova.gone(sid) and nova.placement(f"/allocations/{sid}").json()["allocations"] == {}
    finally:
        for proc in agents.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        for h in agents:
            for s in nova.compute("GET", f"/os-services?host={h}", nova.admin).json().get("services", []):
                nova.compute("DELETE", f"/os-services/{s['id']}", nova.admin)
