"""Fixtures of the placement functional tests: one cloud (identity and placement) per test module,
on SQLite (functional) and on PostgreSQL and MariaDB with RabbitMQ (integration), and raw-HTTP
helpers that speak placement's microversions."""

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
from tests.fuzz import admin_token

PLACEMENT_CLOUD = '[DEFAULT]\nservices = ["identity", "placement"]\n' + FAST_HASH


@pytest.fixture(scope="module", params=DATABASES)
def cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    with cloud_on(request.param, tmp_path_factory.mktemp(f"placement-{request.param}"), PLACEMENT_CLOUD) as c:
        yield c


@dataclass
class Placement:
    """Raw HTTP to the cloud's placement API with one token, at one microversion by default."""

    url: str
    token: str
    version: str = "1.35"

    def __call__(self, method: str, path: str, json: Any = None, version: str | None = None,
                 **kw: Any) -> httpx.Response:
        headers = {"X-Auth-Token": self.token, "OpenStack-API-Version": f"placement {version or self.version}",
                   **kw.pop("headers", {})}
        return httpx.request(method, self.url + path, json=json, headers=headers, timeout=60, **kw)

    def provider(self, name: str | None = None, parent: str | None = None, inventory: dict[str, int] | None = None,
                 **totals: int) -> str:
        """A new provider (its uuid) with ``inventory`` and ``totals`` (resource class → total)."""
        inventory = {**(inventory or {}), **totals}
        body: dict[str, Any] = {"name": name or f"rp-{uuid.uuid4().hex[:10]}"}
        if parent:
            body["parent_provider_uuid"] = parent
        r = self("POST", "/resource_providers", body)
        assert r.status_code == 200, r.text
        rp: str = r.json()["uuid"]
        if inventory:
            r = self("PUT", f"/resource_providers/{rp}/inventories", {
                "resource_provider_generation": 0,
                "inventories": {rc: {"total": n} for rc, n in inventory.items()}})
            assert r.status_code == 200, r.text
        return rp

    def claim(self, consumer: str, allocations: dict[str, dict[str, int]], generation: int | None = None,
              project: str = "p", user: str = "u") -> httpx.Response:
        return self("PUT", f"/allocations/{consumer}", {
            "allocations": {rp: {"resources": res} for rp, res in allocations.items()},
            "project_id": project, "user_id": user, "consumer_generation": generation})


@pytest.fixture(scope="module")
def placement(cloud: RunningCloud) -> Placement:
    return Placement(f"{cloud.url}/placement", admin_token(cloud))


def new_uuid() -> str:
    return str(uuid.uuid4())


def service_token(cloud: RunningCloud) -> str:
    """A token of the ``placement`` service user (roles admin and service in project service)."""
    from litestack.common.secrets import service_password

    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "placement", "password": service_password(cloud.data_dir, "placement"),
        "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": "service", "domain": {"name": "Default"}}}}}
    r = httpx.post(f"{cloud.auth_url}/v3/auth/tokens?nocatalog", json=body, timeout=30)
    assert r.status_code == 201, r.text
    return r.headers["x-subject-token"]
