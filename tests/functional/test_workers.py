"""Several API worker processes: one port, one database, and revocation seen by every worker at once."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import RunningCloud

pytestmark = pytest.mark.functional


def test_revocation_applies_in_every_worker(cloud_factory: Callable[..., RunningCloud]) -> None:
    cloud = cloud_factory("[DEFAULT]\nworkers = 2\n[identity]\npassword_hash_rounds = 4\n")
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

    # New connections land on either worker; every one of them validates the tokens...
    for _ in range(6):
        assert httpx.get(url, headers={**h, "X-Subject-Token": tokens[0]}).status_code == 200
    # ...and, right after one worker records a revocation, every one refuses the token.
    assert httpx.delete(url, headers={**h, "X-Subject-Token": tokens[0]}).status_code == 204
    for _ in range(6):
        assert httpx.get(url, headers={**h, "X-Subject-Token": tokens[0]}).status_code == 404
        assert httpx.get(url, headers={**h, "X-Subject-Token": tokens[1]}).status_code == 200

    # A role change is a cache invalidation too: removing demo's role kills its other token everywhere.
    project = admin.identity.find_project("demo", domain_id="default")
    user = admin.identity.find_user("demo", domain_id="default")
    admin.identity.unassign_project_role_from_user(project, user, admin.identity.find_role("member"))
    for _ in range(6):
        assert httpx.get(url, headers={**h, "X-Subject-Token": tokens[1]}).status_code == 404
    state = cloud.data_dir / "state.json"
    import json

    assert len(json.loads(state.read_text())["workers"]) == 2
