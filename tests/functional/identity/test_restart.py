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
    # bcrypt at the default cost, of the password's HMAC-SHA256 when marked so (passwords over 72 bytes).
    assert hashes and all(h.removeprefix("$ls-hmac-sha256$").startswith("$2b$12$") for h in hashes)


def test_a_crash_under_concurrent_writes_leaves_a_consistent_state(
        cloud_factory: Callable[..., RunningCloud]) -> None:
    """SIGKILL the server while 8 clients create users (each with a password and a role grant):
    after a restart every user the API lists is whole, the database passes its integrity check,
    and the cloud serves again. Nothing is half-written: each write is one transaction."""
    import signal
    import threading
    import uuid

    import httpx

    from tests.functional.identity.keystone import IDENTITY_ONLY

    cloud = cloud_factory(IDENTITY_ONLY)
    keystone = Keystone(cloud)
    admin = keystone.admin
    project = keystone.create("/projects", "project", {"name": f"crash-{uuid.uuid4().hex[:6]}"})
    member = keystone.role_id("member")
    stop = threading.Event()
    # Kill only once the writers are in full swing: this many users acknowledged.
    acknowledged, enough, lock = [0], threading.Event(), threading.Lock()

    def writer() -> None:
        with httpx.Client(base_url=f"{cloud.auth_url}/v3", headers={"X-Auth-Token": admin}, timeout=5) as c:
            while not stop.is_set():
                try:
                    r = c.post("/users", json={"user": {"name": f"crash-{uuid.uuid4().hex}", "password": "pw-1",
                                                        "default_project_id": project["id"]}})
                    if r.status_code == 201:
                        c.put(f"/projects/{project['id']}/users/{r.json()['user']['id']}/roles/{member}")
                        with lock:
                            acknowledged[0] += 1
                            if acknowledged[0] >= 40:
                                enough.set()
                except httpx.HTTPError:
                    pass  # the server is gone

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for t in threads:
        t.start()
    assert enough.wait(60), f"only {acknowledged[0]} users were written in 60 s"
    assert cloud.proc is not None
    cloud.proc.send_signal(signal.SIGKILL)
    cloud.proc.wait(10)
    stop.set()
    for t in threads:
        t.join(10)
    cloud.proc = None

    with sqlite3.connect(cloud.data_dir / "identity.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        orphans = db.execute("SELECT COUNT(*) FROM user u WHERE u.name LIKE 'crash-%' AND NOT EXISTS "
                             "(SELECT 1 FROM password p WHERE p.user_id = u.id)").fetchone()
        assert orphans == (0,)  # no user without its password

    cloud.start()
    keystone = Keystone(cloud)
    users = keystone.get("/users").json()["users"]
    crashed = [u for u in users if u["name"].startswith("crash-")]
    assert crashed, "no user was written before the kill"
    for u in crashed[:20]:
        r = keystone.authenticate({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "id": u["id"], "password": "pw-1"}}}}})
        assert r.status_code == 201, r.text
    # Writes work again after the crash.
    assert keystone.create("/projects", "project", {"name": f"after-{uuid.uuid4().hex[:6]}"})["id"]
