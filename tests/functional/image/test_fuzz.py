"""Schemathesis fuzzing of the image API, driven by the OpenAPI document it publishes: no 5xx,
declared status codes only. Path parameters also get the ids of a real image and member."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.functional.image.conftest import image_url
from tests.fuzz import admin_token, fuzz, openapi

pytestmark = pytest.mark.functional

EXAMPLES = 25


def test_image_api_conforms_to_its_openapi_document(cloud: RunningCloud) -> None:
    token = admin_token(cloud)
    h = {"X-Auth-Token": token}
    img = httpx.post(image_url(cloud), json={"name": "fuzz", "disk_format": "raw", "container_format": "bare"},
                     headers=h).json()
    project = httpx.get(f"{cloud.auth_url}/v3/auth/projects", headers=h).json()["projects"][0]["id"]
    httpx.post(image_url(cloud, f"/{img['id']}/members"), json={"member": project}, headers=h)
    schema = openapi(f"{cloud.url}/image", token)
    ids = {"image_id": img["id"], "member_id": project, "tag": "fuzz", "name": "image", "task_id": img["id"]}
    result = fuzz(schema, ids, EXAMPLES)
    assert result.ran >= 20, f"only {result.ran} operations were fuzzed"
    assert result.statuses[2] >= 5, result.statuses
    assert not result.failures, "\n\n".join(result.failures)
