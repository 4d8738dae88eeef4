"""Fixtures of the image functional tests: one cloud per test module, and a second project.

``litestack up`` runs every built-in service, so the cloud serves the image API at ``/image``.
``Project`` is a project with a member user, made through the real CLI as admin, used as the
other side of sharing and of "another project's image is 404".
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.databases import DATABASES, cloud_on
from tests.functional.identity.keystone import FAST_HASH

#: The image tests' clouds run identity and image (the other services have their own suites).
IMAGE_CLOUD = '[DEFAULT]\nservices = ["identity", "image"]\n' + FAST_HASH


@pytest.fixture(scope="module", params=DATABASES)
def cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    """On SQLite (functional), then on new PostgreSQL and MariaDB databases, one per service, with
    the RabbitMQ bus (integration: the same tests on the real servers)."""
    with cloud_on(request.param, tmp_path_factory.mktemp(f"image-{request.param}"), IMAGE_CLOUD) as c:
        yield c


@dataclass
class Project:
    """A project with a user holding ``member`` on it."""

    cloud: RunningCloud
    id: str
    name: str
    user: str
    password: str

    def cli_args(self) -> list[str]:
        """Global options that make the CLI act as this project's user (over the cloud's entry)."""
        return ["--os-username", self.user, "--os-password", self.password, "--os-project-name", self.name,
                "--os-user-domain-name", "Default", "--os-project-domain-name", "Default"]

    def openstack(self, *args: str, check: bool = True) -> Any:
        return self.cloud.openstack(*self.cli_args(), *args, check=check)

    def token(self) -> str:
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": self.user, "domain": {"id": "default"}, "password": self.password}}},
            "scope": {"project": {"id": self.id}}}}
        r = httpx.post(f"{self.cloud.auth_url}/v3/auth/tokens", json=body)
        assert r.status_code == 201, r.text
        return r.headers["X-Subject-Token"]


@pytest.fixture(scope="module")
def other_project(cloud: RunningCloud) -> Project:
    name = f"p-{uuid.uuid4().hex[:8]}"
    user, password = f"u-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = "litestack-admin"
    pid = cloud.openstack("project", "create", name, "-f", "value", "-c", "id", cloud=admin).stdout.strip()
    cloud.openstack("user", "create", user, "--password", password, "--project", name, cloud=admin)
    cloud.openstack("role", "add", "--user", user, "--project", name, "member", cloud=admin)
    return Project(cloud, pid, name, user, password)


def token(cloud: RunningCloud, name: str = "litestack") -> str:
    token: str = cloud.sdk(name).auth_token
    return token


def image_url(cloud: RunningCloud, path: str = "") -> str:
    return f"{cloud.url}/image/v2/images{path}"
