"""Several API worker processes: one port, one database, and revocation seen by every worker at once.

Which worker answered a request is read from the shared log file: every line carries the
process id, and the access line the request ID the client got back.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import RunningCloud

pytestmark = pytest.mark.functional

ACCESS = re.compile(r"^\S+ \S+ (?P<pid>\d+) INFO litestack\.access \[(?P<rid>req-[0-9a-f-]+) ", re.M)
#: New connections sent at most, to see every worker answer (they share the listening socket,
#: so the kernel picks one per connection).
MAX_TRIES = 60


def served_by(cloud: RunningCloud, responses: list[httpx.Response], timeout: float = 10) -> list[int]:
    """The pid of the worker that answered each response (its access line may lag the response)."""
    wanted = [r.headers["x-openstack-request-id"] for r in responses]
    deadline = time.monotonic() + timeout
    while True:
        text = (cloud.data_dir / "logs" / "litestack.log").read_text(errors="replace")
        pids = {m["rid"]: int(m["pid"]) for m in ACCESS.finditer(text)}
        if all(rid in pids for rid in wanted):
            return [pids[rid] for rid in wanted]
        if time.monotonic() > deadline:
            raise AssertionError(f"no access line for {[rid for rid in wanted if rid not in pids]}")
        time.sleep(0.05)


def every_worker_answers(cloud: RunningCloud, workers: set[int], send: Callable[[], httpx.Response],
                         status: int) -> None:
    """Send ``send()`` on new connections until each worker has answered once; every answer, from
    whichever worker, must be ``status``."""
    seen: set[int] = set()
    for _ in range(MAX_TRIES):
        r = send()
        assert r.status_code == status, r.text
        seen.update(served_by(cloud, [r]))
        if seen == workers:
            return
    raise AssertionError(f"only workers {seen} of {workers} answered in {MAX_TRIES} connections")


def worker_pids(cloud: RunningCloud, timeout: float = 10) -> set[int]:
    """The workers ``state.json`` lists (the parent writes it once every worker is healthy, which
    may be just after the port first answered)."""
    state = cloud.data_dir / "state.json"
    deadline = time.monotonic() + timeout
    while True:
        try:
            return set(json.loads(state.read_text())["workers"])
        except (FileNotFoundError, json.JSONDecodeError):  # not yet written, or being written
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def test_revocation_applies_in_every_worker(cloud_factory: Callable[..., RunningCloud]) -> None:
    cloud = cloud_factory("[DEFAULT]\nworkers = 2\n[identity]\npassword_hash_rounds = 4\n")
    workers = worker_pids(cloud)
    assert len(workers) == 2
    admin = cloud.sdk("litestack-admin")
    admin_token = admin.session.get_token()
    demo = cloud.clouds()["litestack"]["auth"]
    assert isinstance(demo, dict)
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "demo", "domain": {"id": "default"}, "password": demo["password"]}}},
        "scope": {"project": {"name": "demo", "domain": {"id": "default"}}}}}
    url = f"{cloud.auth_url}/v3/auth/tokens"
    tokens = [httpx.post(url, json=body).headers["x-subject-token"] for _ in range(2)]
    h = {"X-Auth-Token": admin_token}

    def validate(n: int) -> Callable[[], httpx.Response]:
        # httpx.get opens a new connection each time, so the kernel may hand it to either worker.
        return lambda: httpx.get(url, headers={**h, "X-Subject-Token": tokens[n]})

    # Both workers serve, and both validate the tokens...
    every_worker_answers(cloud, workers, validate(0), 200)
    # ...and, right after one worker records a revocation, both refuse the token (no retry: the
    # first answer of the other worker is already a refusal).
    revoked = httpx.delete(url, headers={**h, "X-Subject-Token": tokens[0]})
    assert revoked.status_code == 204
    revoking_worker = served_by(cloud, [revoked])[0]
    every_worker_answers(cloud, workers, validate(0), 404)
    every_worker_answers(cloud, workers, validate(1), 200)
    assert revoking_worker in workers

    # A role change is a cache invalidation too: removing demo's role kills its other token everywhere.
    project = admin.identity.find_project("demo", domain_id="default")
    user = admin.identity.find_user("demo", domain_id="default")
    admin.identity.unassign_project_role_from_user(project, user, admin.identity.find_role("member"))
    every_worker_answers(cloud, workers, validate(1), 404)
