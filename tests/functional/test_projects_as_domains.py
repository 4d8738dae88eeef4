"""Projects acting as domains: a domain seen through the projects API, as tempest expects."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.databases import DATABASES, clouds_on

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module", params=DATABASES)
def shared_cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    """One cloud for the module, on each database in turn."""
    with clouds_on(request.param, tmp_path_factory.mktemp("pad")) as make:
        yield make()


def test_is_domain_project_is_a_domain(shared_cloud: RunningCloud) -> None:
    conn = shared_cloud.sdk("litestack-admin")
    h = {"X-Auth-Token": conn.session.get_token()}
    url = f"{shared_cloud.auth_url}/v3"
    r = httpx.post(f"{url}/projects", headers=h, json={"project": {"name": "pad-1", "is_domain": True}})
    assert r.status_code == 201
    proj = r.json()["project"]
    assert proj["is_domain"] is True and proj["domain_id"] is None
    listed = httpx.get(f"{url}/projects", headers=h, params={"is_domain": "true"}).json()["projects"]
    assert proj["id"] in {p["id"] for p in listed}
    assert proj["id"] in {d["id"] for d in httpx.get(f"{url}/domains", headers=h).json()["domains"]}
    # Ordinary project listings do not include it; deleting needs it disabled first, as for domains.
    assert proj["id"] not in {p["id"] for p in httpx.get(f"{url}/projects", headers=h).json()["projects"]}
    assert httpx.delete(f"{url}/projects/{proj['id']}", headers=h).status_code == 403
    r = httpx.patch(f"{url}/projects/{proj['id']}", headers=h, json={"project": {"enabled": False}})
    assert r.status_code == 200 and r.json()["project"]["enabled"] is False
    assert httpx.delete(f"{url}/projects/{proj['id']}", headers=h).status_code == 204
    assert httpx.get(f"{url}/domains/{proj['id']}", headers=h).status_code == 404
