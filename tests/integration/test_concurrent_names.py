"""Concurrent creates of one name on PostgreSQL and MariaDB: one 201, the rest 409, never a 500
(issue 7 §4: on MariaDB an uncaught IntegrityError in create_user was a 500)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.databases import database

pytestmark = pytest.mark.integration


@pytest.fixture(params=["postgresql", "mariadb"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    with database(request.param) as url:
        yield url


@pytest.mark.parametrize("kind", ["users", "groups"])
def test_concurrent_creates_of_one_name_are_one_201_and_409s(cloud_factory: Callable[..., RunningCloud],
                                                            db_url: str, kind: str) -> None:
    cloud = cloud_factory(env={"LITESTACK_DEFAULT_DATABASE_URL": db_url,
                               "LITESTACK_IDENTITY_PASSWORD_HASH_ROUNDS": "4"})
    token = cloud.sdk("litestack-admin").auth_token
    member = kind[:-1]

    def create(i: int) -> int:
        body = {member: {"name": "same-name", "domain_id": "default"}}
        return httpx.post(f"{cloud.auth_url}/v3/{kind}", json=body, headers={"X-Auth-Token": token},
                          timeout=60).status_code

    for _ in range(3):  # a race is not certain on one try
        with ThreadPoolExecutor(16) as pool:
            codes = list(pool.map(create, range(16)))
        assert set(codes) <= {201, 409}, codes
        listed = httpx.get(f"{cloud.auth_url}/v3/{kind}?name=same-name", headers={"X-Auth-Token": token}).json()
        assert len(listed[kind]) == 1
        assert codes.count(201) == 1
        httpx.delete(f"{cloud.auth_url}/v3/{kind}/{listed[kind][0]['id']}", headers={"X-Auth-Token": token})
