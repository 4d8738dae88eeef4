"""The network service is wired through the registry alone: served at /networking by
``litestack up``, in the catalog with its service user, in ``status``, ``policy dump`` and
``config sample``, and alone with ``litestack serve network`` against a running identity."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import REPO, RunningCloud, free_port
from tests.functional.network.neutron import Neutron

pytestmark = pytest.mark.functional


def ls(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "litestack.cli.main", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)


def test_catalog_status_policy_and_options(cloud: RunningCloud, neutron: Neutron) -> None:
    catalog = yaml.safe_load(cloud.openstack("catalog", "list", "-f", "yaml", cloud="litestack-admin").stdout)
    (entry,) = [c for c in catalog if c["Type"] == "network"]
    assert entry["Name"] == "neutron" and f"{cloud.url}/networking" in str(entry["Endpoints"])
    users = cloud.openstack("user", "list", "-f", "value", "-c", "Name", cloud="litestack-admin").stdout.split()
    assert "neutron" in users
    args = ["--data-dir", str(cloud.data_dir)] + (["--config", str(cloud.config_file)] if cloud.config_file else [])
    st = ls("status", *args)
    assert f"network: {cloud.url}/networking" in st.stdout and "  network: ok" in st.stdout, st.stdout
    rules = yaml.safe_load(ls("policy", "dump", "network").stdout)
    assert rules["get_network:provider:network_type"] == "rule:admin_only"
    assert rules["create_network:shared"] == "rule:admin_only"
    sample = ls("config", "sample").stdout
    assert "[network]" in sample and '#base_mac = "fa:16:3e:00:00:00"' in sample


def test_serve_network_alone_against_a_running_identity(cloud: RunningCloud, neutron: Neutron,
                                                        tmp_path: Path) -> None:
    data_dir = tmp_path / "alone"
    data_dir.mkdir()
    shutil.copy(cloud.data_dir / "secrets.json", data_dir / "secrets.json")
    cfg = tmp_path / "alone.toml"
    cfg.write_text(f'[auth]\nidentity_url = "{cloud.auth_url}"\n')
    env = {k: v for k, v in cloud.env.items() if k != "LITESTACK_DEFAULT_DATABASE_URL"}
    server = RunningCloud(data_dir, free_port(), env, config_file=cfg, command=["serve", "network"])
    server.start()
    try:
        assert httpx.get(f"{server.url}/").json()["versions"][0]["id"] == "v2.0"
        r = httpx.post(f"{server.url}/v2.0/networks", json={"network": {"name": "alone"}},
                       headers={"X-Auth-Token": neutron.demo})
        assert r.status_code == 201, r.text
        assert r.json()["network"]["project_id"] == neutron.demo_project
        assert httpx.get(f"{server.url}/v2.0/networks").status_code == 401
    finally:
        server.stop()
