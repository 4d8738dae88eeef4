"""Adding a service is one package plus one registry line.

The throw-away ``toy`` service (``tests/functional/toyservice``: two routes, one table) lives in
the test suite only. It is registered the way an operator adds a service, by naming its spec in
``[DEFAULT] service_plugins``; no file of litestack changes. ``litestack up`` then serves it
under its path behind the shared auth middleware, lists it in the catalog and in ``status``,
dumps its policy, documents its options and runs its migrations.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest
import yaml

from tests.conftest import REPO, RunningCloud

pytestmark = pytest.mark.functional

TOY = "tests.functional.toyservice.service:SERVICE"
CONFIG = f'[DEFAULT]\nservices = ["identity", "toy"]\nservice_plugins = ["{TOY}"]\n'
ENV = {"PYTHONPATH": str(REPO), "LITESTACK_IDENTITY_PASSWORD_HASH_ROUNDS": "4"}


def ls(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **ENV}
    return subprocess.run([sys.executable, "-m", "litestack.cli.main", *args], capture_output=True, text=True,
                          timeout=60, env=env, cwd=REPO)


def test_a_plugin_service_is_served_listed_dumped_and_migrated(cloud_factory: Callable[..., RunningCloud]) -> None:
    cloud = cloud_factory(config=CONFIG, env=ENV)
    assert cloud.config_file is not None
    cfg = str(cloud.config_file)

    # Served under its path, behind the auth middleware every service shares.
    conn = cloud.sdk("litestack")  # demo, member of project demo
    token, project = conn.auth_token, conn.current_project_id
    url = f"{cloud.url}/toy/v1/notes"
    assert httpx.get(url).status_code == 401
    created = httpx.post(url, json={"note": {"text": "hello"}}, headers={"X-Auth-Token": token})
    assert created.status_code == 201, created.text
    assert created.json()["note"]["project_id"] == project
    listed = httpx.get(url, headers={"X-Auth-Token": token}).json()["notes"]
    assert [n["text"] for n in listed] == ["hello"]
    # Its policy is enforced: another project's notes are not shown to this one.
    admin = cloud.sdk("litestack-admin")
    other = httpx.get(url, headers={"X-Auth-Token": admin.auth_token}).json()["notes"]
    assert other == []
    # A bad body gets the service's error format, not a 500.
    bad = httpx.post(url, json={"note": {"text": 5}}, headers={"X-Auth-Token": token})
    assert bad.status_code == 400 and "error" in bad.json()

    # In the catalog, at its all-in-one path, with its service user.
    catalog = yaml.safe_load(cloud.openstack("catalog", "list", "-f", "yaml", cloud="litestack-admin").stdout)
    toy = [c for c in catalog if c["Type"] == "toy"]
    assert toy and f"{cloud.url}/toy" in str(toy[0]["Endpoints"])
    users = cloud.openstack("user", "list", "-f", "value", "-c", "Name", cloud="litestack-admin").stdout.split()
    assert "toy" in users

    # In status, with its health.
    st = ls("status", "--data-dir", str(cloud.data_dir), "--config", cfg)
    assert st.returncode == 0, st.stdout + st.stderr
    assert "services:  identity, toy" in st.stdout
    assert f"toy: {cloud.url}/toy" in st.stdout and "  toy: ok" in st.stdout

    # Its policy dumps, and its options are documented.
    rules = yaml.safe_load(ls("policy", "dump", "toy", "--config", cfg).stdout)
    assert rules["toy:create_note"] == "role:member and project_id:%(project_id)s"
    sample = ls("config", "sample", "--config", cfg).stdout
    assert "[toy]" in sample and "#max_text_length = 255" in sample

    # Its quota is a unified limit: bootstrap registered it in identity, the service reads it over
    # REST with its internal client (as its service user) and enforces it in the adding transaction.
    reg = yaml.safe_load(cloud.openstack("registered", "limit", "list", "--service", "toy", "-f", "yaml",
                                         cloud="litestack-admin").stdout)
    assert [(r["Resource Name"], r["Default Limit"]) for r in reg] == [("notes", 100)]
    cloud.openstack("limit", "create", "--service", "toy", "--project", project, "--resource-limit", "2",
                    "--region", "RegionOne", "notes", cloud="litestack-admin")
    second = httpx.post(url, json={"note": {"text": "two"}}, headers={"X-Auth-Token": token})
    assert second.status_code == 201, second.text
    third = httpx.post(url, json={"note": {"text": "three"}}, headers={"X-Auth-Token": token})
    assert third.status_code == 403
    assert ("Resource notes is over limit of 2 due to current usage 2 and delta 1"
            in third.json()["error"]["message"])
    too_long = httpx.post(url, json={"note": {"text": "x" * 256}}, headers={"X-Auth-Token": token})
    assert too_long.status_code == 400

    # Its migrations ran, in its own database.
    with sqlite3.connect(cloud.data_dir / "toy.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version_toy").fetchall() == [("0001",)]
        assert db.execute("SELECT text FROM note ORDER BY created_at").fetchall() == [("hello",), ("two",)]


def test_an_unknown_or_broken_plugin_is_a_clear_configuration_error(tmp_path: object) -> None:
    import pathlib

    d = pathlib.Path(str(tmp_path))
    cfg = d / "c.toml"
    cfg.write_text('[DEFAULT]\nservice_plugins = ["tests.functional.nosuchservice:SERVICE"]\n')
    r = ls("up", "--config", str(cfg), "--data-dir", str(d / "data"))
    assert r.returncode == 2 and "nosuchservice" in r.stderr and "Traceback" not in r.stderr
    cfg.write_text('[DEFAULT]\nservices = ["identity", "nosuch"]\n')
    r = ls("up", "--config", str(cfg), "--data-dir", str(d / "data"))
    assert r.returncode == 2 and "unknown service 'nosuch'" in r.stderr
