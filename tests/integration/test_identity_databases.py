"""The identity service on PostgreSQL and MariaDB instead of SQLite: the same flows, real servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.databases import database

pytestmark = pytest.mark.integration


@pytest.fixture(params=["postgresql", "mariadb"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    with database(request.param) as url:
        yield url


def test_identity_flows_on_a_real_database(cloud_factory: Callable[..., RunningCloud], db_url: str) -> None:
    cloud = cloud_factory(env={"LITESTACK_DEFAULT_DATABASE_URL": db_url,
                               "LITESTACK_IDENTITY_PASSWORD_HASH_ROUNDS": "4"})
    admin = cloud.sdk("litestack-admin")
    project = admin.identity.create_project(name="it-proj", domain_id="default")
    user = admin.identity.create_user(name="it-user", password="it-secret-1", domain_id="default",
                                      default_project_id=project.id)
    member = admin.identity.find_role("member")
    admin.identity.assign_project_role_to_user(project, user, member)
    with pytest.raises(Exception, match=r"409|Conflict"):
        admin.identity.create_project(name="it-proj", domain_id="default")

    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "it-user", "domain": {"id": "default"}, "password": "it-secret-1"}}},
        "scope": {"project": {"id": project.id}}}}
    r = httpx.post(f"{cloud.auth_url}/v3/auth/tokens", json=body)
    assert r.status_code == 201
    token = r.headers["x-subject-token"]
    assert {x["name"] for x in r.json()["token"]["roles"]} == {"member", "reader"}

    cloud.restart()
    admin_token = cloud.sdk("litestack-admin").session.get_token()
    v = httpx.get(f"{cloud.auth_url}/v3/auth/tokens", headers={"X-Auth-Token": admin_token,
                                                                "X-Subject-Token": token})
    assert v.status_code == 200 and v.json()["token"]["project"]["id"] == project.id

    admin = cloud.sdk("litestack-admin")
    admin.identity.unassign_project_role_from_user(project, user, member)
    v = httpx.get(f"{cloud.auth_url}/v3/auth/tokens", headers={"X-Auth-Token": admin_token,
                                                                "X-Subject-Token": token})
    assert v.status_code == 404

