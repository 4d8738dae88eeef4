"""Fixtures of the identity functional tests: one fast-hashing cloud for the whole package."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from tests.conftest import RunningCloud, free_port
from tests.databases import integration_env
from tests.functional.identity.keystone import IDENTITY_ONLY, Keystone


@pytest.fixture(scope="package", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration),
                                         pytest.param("mariadb", marks=pytest.mark.integration)])
def cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    """A cloud shared by the identity tests, with cheap password hashing.

    Tests on it create their own uniquely named projects and users, so they do not interfere;
    tests that need their own configuration or restart the cloud use ``cloud_factory``. The
    whole suite runs three times: on SQLite (functional), then on a new PostgreSQL database and
    on a new MariaDB database, both with the RabbitMQ bus (integration: the same tests on the
    real servers).
    """
    base = tmp_path_factory.mktemp(f"identity-{request.param}")
    data_dir = base / "cloud"
    data_dir.mkdir()
    config = base / "cloud.toml"
    config.write_text(IDENTITY_ONLY)
    env = {**os.environ}
    env.pop("OS_CLOUD", None)
    with contextlib.ExitStack() as stack:
        env.update(stack.enter_context(integration_env(request.param)))  # the database and the AMQP bus
        c = RunningCloud(data_dir, free_port(), env, config_file=config)
        c.start()
        yield c
        c.stop()


@pytest.fixture(scope="package")
def keystone(cloud: RunningCloud) -> Iterator[Keystone]:
    ks = Keystone(cloud)
    yield ks
    ks.close()
