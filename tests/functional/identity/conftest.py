"""Fixtures of the identity functional tests: one fast-hashing cloud for the whole package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import RunningCloud
from tests.databases import DATABASES, cloud_on
from tests.functional.identity.keystone import IDENTITY_ONLY, Keystone


@pytest.fixture(scope="package", params=DATABASES)
def cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    """A cloud shared by the identity tests, with cheap password hashing.

    Tests on it create their own uniquely named projects and users, so they do not interfere;
    tests that need their own configuration or restart the cloud use ``cloud_factory``. The
    whole suite runs three times: on SQLite (functional), then on a new PostgreSQL database and
    on a new MariaDB database, both with the RabbitMQ bus (integration: the same tests on the
    real servers).
    """
    with cloud_on(request.param, tmp_path_factory.mktemp(f"identity-{request.param}"), IDENTITY_ONLY) as c:
        yield c


@pytest.fixture(scope="package")
def keystone(cloud: RunningCloud) -> Iterator[Keystone]:
    ks = Keystone(cloud)
    yield ks
    ks.close()
