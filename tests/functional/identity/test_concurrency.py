"""Concurrent writers on the default SQLite database: queued, never refused."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.functional.identity.keystone import IDENTITY_ONLY, Keystone

pytestmark = pytest.mark.functional

WRITERS = 32


def test_32_concurrent_writers_all_succeed_on_sqlite(cloud_factory: Callable[..., RunningCloud]) -> None:
    cloud = cloud_factory(IDENTITY_ONLY)
    keystone = Keystone(cloud)
    token, member = keystone.admin, keystone.role_id("member")
    start = threading.Barrier(WRITERS)

    def writer(i: int) -> list[tuple[str, int]]:
        with httpx.Client(base_url=f"{cloud.auth_url}/v3", headers={"X-Auth-Token": token},
                          timeout=120) as http:
            start.wait()
            p = http.post("/projects", json={"project": {"name": f"conc-{i}"}})
            u = http.post("/users", json={"user": {"name": f"conc-{i}", "password": f"pw-{i}"}})
            if p.status_code != 201 or u.status_code != 201:
                return [("project", p.status_code), ("user", u.status_code)]
            g = http.put(f"/projects/{p.json()['project']['id']}/users/{u.json()['user']['id']}/roles/{member}")
            return [("project", p.status_code), ("user", u.status_code), ("grant", g.status_code)]

    try:
        with ThreadPoolExecutor(WRITERS) as pool:
            results = list(pool.map(writer, range(WRITERS)))
        expected = [("project", 201), ("user", 201), ("grant", 204)]
        assert all(r == expected for r in results), results

        projects = keystone.get("/projects").json()["projects"]
        assert {f"conc-{i}" for i in range(WRITERS)} <= {p["name"] for p in projects}
        grants = keystone.get("/role_assignments", params={"role.id": member}).json()["role_assignments"]
        conc_ids = {p["id"] for p in projects if p["name"].startswith("conc-")}
        assert len([g for g in grants if g["scope"].get("project", {}).get("id") in conc_ids]) == WRITERS
        # Every new user can log in to their project.
        keystone.token("conc-7", "pw-7", project="conc-7")
    finally:
        keystone.close()
    log = (cloud.data_dir / "logs" / "litestack.log").read_text()
    assert "database is locked" not in log
    assert " 500 " not in log and " 503 " not in log
