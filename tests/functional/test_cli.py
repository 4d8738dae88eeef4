"""The litestack command: help, version, policy dump, config sample, status, key rotation."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest
import yaml

from litestack import __version__
from tests.conftest import RunningCloud

pytestmark = pytest.mark.functional


def ls(*args: str, data_dir: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "litestack.cli.main", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_version_and_help() -> None:
    assert ls("--version").stdout.strip() == f"litestack {__version__}"
    out = ls("--help").stdout
    for sub in ("up", "serve", "status", "verify", "policy", "identity", "config"):
        assert sub in out
    assert "--data-dir" in ls("up", "--help").stdout


def test_policy_dump_lists_scoped_identity_rules() -> None:
    out = ls("policy", "dump", "identity").stdout
    rules = yaml.safe_load(out)
    assert "role:admin" in rules["admin_required"]
    assert "identity:create_user" in rules
    assert "# scope_types:" in out


def test_config_sample_documents_options() -> None:
    out = ls("config", "sample").stdout
    assert "#token_expiration = 3600" in out and "[identity]" in out


def test_bad_config_is_refused_clearly(tmp_path: object) -> None:
    import pathlib

    cfg = pathlib.Path(str(tmp_path)) / "bad.toml"
    cfg.write_text("[identity]\ntoken_expiration = 'never'\n")
    r = ls("up", "--config", str(cfg), "--data-dir", str(pathlib.Path(str(tmp_path)) / "d"))
    assert r.returncode == 2 and "token_expiration" in r.stderr


def test_status_and_key_rotation_on_a_running_cloud(cloud_factory: Callable[..., RunningCloud]) -> None:
    cloud = cloud_factory(env={"LITESTACK_IDENTITY_PASSWORD_HASH_ROUNDS": "4"})
    st = ls("status", "--data-dir", str(cloud.data_dir))
    assert st.returncode == 0 and f"endpoint:  {cloud.url}" in st.stdout and "health:    ok" in st.stdout

    before = cloud.openstack("token", "issue", "-f", "value", "-c", "id").stdout.strip()
    r = ls("identity", "rotate-keys", "--data-dir", str(cloud.data_dir))
    assert r.returncode == 0 and "now primary" in r.stdout
    # The running server picked up the rotation without a restart: a token from before it (its key is now
    # a secondary) still validates, and new tokens are made with the new primary.
    after = cloud.openstack("token", "issue", "-f", "value", "-c", "id").stdout.strip()
    v = httpx.get(f"{cloud.auth_url}/v3/auth/tokens", headers={"X-Auth-Token": after, "X-Subject-Token": before})
    assert v.status_code == 200
    # With max_active_keys = 3 a second rotation prunes the key that made `before`.
    ls("identity", "rotate-keys", "--data-dir", str(cloud.data_dir))
    v = httpx.get(f"{cloud.auth_url}/v3/auth/tokens", headers={"X-Auth-Token": after, "X-Subject-Token": before})
    assert v.status_code == 404
    v = httpx.get(f"{cloud.auth_url}/v3/auth/tokens", headers={"X-Auth-Token": after, "X-Subject-Token": after})
    assert v.status_code == 200

    cloud.stop()
    st = ls("status", "--data-dir", str(cloud.data_dir))
    assert st.returncode == 3 and "not running" in st.stdout


def test_credential_key_rotation_keeps_every_secret(cloud_factory: Callable[..., RunningCloud]) -> None:
    """Three rotations on a running cloud (more than max_active_keys): every stored secret stays
    readable, through the running server and after a restart, and is re-encrypted with the primary."""
    import json
    import sqlite3

    from cryptography.fernet import Fernet

    cloud = cloud_factory(env={"LITESTACK_IDENTITY_PASSWORD_HASH_ROUNDS": "4"})
    admin = cloud.sdk("litestack-admin")
    demo = admin.identity.find_user("demo", domain_id="default")
    blob = json.dumps({"access": "rot-access", "secret": "rot-secret"})
    project = admin.identity.find_project("demo", domain_id="default")
    cred = admin.identity.create_credential(type="ec2", user_id=demo.id, project_id=project.id, blob=blob)

    for round_ in range(3):
        r = ls("identity", "rotate-credential-keys", "--data-dir", str(cloud.data_dir))
        assert r.returncode == 0 and "re-encrypted" in r.stdout, r.stderr
        assert admin.identity.get_credential(cred.id).blob == blob, f"round {round_}"
    # The blob is encrypted with today's primary key (the highest-numbered key file).
    keys_dir = cloud.data_dir / "credential-keys"
    primary = max(int(p.name) for p in keys_dir.iterdir() if p.name.isdigit())
    with sqlite3.connect(cloud.data_dir / "identity.db") as db:
        (stored,) = db.execute("SELECT encrypted_blob FROM credential WHERE id = ?", (cred.id,)).fetchone()
    assert json.loads(Fernet((keys_dir / str(primary)).read_bytes()).decrypt(stored.encode())) == json.loads(blob)
    cloud.restart()
    assert cloud.sdk("litestack-admin").identity.get_credential(cred.id).blob == blob
