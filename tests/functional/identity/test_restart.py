"""What survives a restart: resources, grants, tokens (fernet keys on disk), passwords."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest

from tests.conftest import RunningCloud
from tests.functional.identity.keystone import Keystone, password_auth

pytestmark = pytest.mark.functional


def test_state_tokens_and_passwords_survive_a_restart(cloud_factory: Callable[..., RunningCloud]) -> None:
    # The default configuration on purpose: it also shows passwords get bcrypt's default cost.
    cloud = cloud_factory()
    keystone = Keystone(cloud)
    try:
        project, user, password = keystone.new_member("persist")
        member = keystone.role_id("member")
        user_token = keystone.token(user["name"], password, project=project["name"])
        revoked = keystone.token(user["name"], password, project=project["name"])
        assert keystone.request("DELETE", "/auth/tokens", headers={"X-Subject-Token": revoked}).status_code == 204
        admin_token = keystone.admin
        clouds_before = cloud.clouds()

        cloud.restart()

        # Tokens issued before the restart still validate and still work (the keys are on disk) ...
        ok = keystone.get("/auth/tokens", admin_token, headers={"X-Subject-Token": user_token})
        assert ok.status_code == 200 and ok.json()["token"]["project"]["id"] == project["id"]
        assert keystone.get("/auth/projects", user_token).json()["projects"][0]["id"] == project["id"]
        # ... and a revoked one stays revoked.
        assert keystone.request("HEAD", "/auth/tokens", headers={"X-Subject-Token": revoked}).status_code == 404

        assert keystone.get(f"/projects/{project['id']}").json()["project"]["name"] == project["name"]
        assert keystone.get(f"/users/{user['id']}").json()["user"]["name"] == user["name"]
        grant = f"/projects/{project['id']}/users/{user['id']}/roles/{member}"
        assert keystone.request("HEAD", grant).status_code == 204
        keystone.token(user["name"], password, project=project["name"])

        # The admin password is unchanged, so the clouds.yaml written at first start still works.
        assert cloud.clouds() == clouds_before
        assert cloud.openstack("token", "issue", "-f", "value", "-c", "id", cloud="litestack-admin").stdout
        assert keystone.authenticate(password_auth("demo", str(clouds_before["litestack"]["auth"]["password"]),  # type: ignore[index]
                                                   project="demo")).status_code == 201
    finally:
        keystone.close()

    with sqlite3.connect(cloud.data_dir / "identity.db") as db:
        hashes = [h for (h,) in db.execute("SELECT hash FROM password")]
    assert hashes and all(h.startswith("$2b$12$") for h in hashes)
