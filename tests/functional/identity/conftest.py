"""Fixtures of the identity functional tests: one fast-hashing cloud for the whole package."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import RunningCloud, free_port
from tests.functional.identity.keystone import FAST_HASH, Keystone


@pytest.fixture(scope="package")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    """A cloud shared by the identity tests, with cheap password hashing.

    Tests on it create their own uniquely named projects and users, so they do not interfere;
    tests that need their own configuration or restart the cloud use ``cloud_factory``.
    """
    base = tmp_path_factory.mktemp("identity")
    data_dir = base / "cloud"
    data_dir.mkdir()
    config = base / "cloud.toml"
    config.write_text(FAST_HASH)
    env = {**os.environ}
    env.pop("OS_CLOUD", None)
    c = RunningCloud(data_dir, free_port(), env, config_file=config)
    c.start()
    yield c
    c.stop()


@pytest.fixture(scope="package")
def keystone(cloud: RunningCloud) -> Iterator[Keystone]:
    ks = Keystone(cloud)
    yield ks
    ks.close()
