"""Schemathesis fuzzing of the object storage API (proxy and middlewares), driven by the OpenAPI
document it publishes (``/object-store/openapi.json``), with an admin token of the admin project
and that project's real account, container and object as path parameters: never a 5xx, and only
the status codes the document declares."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.fuzz import admin_token, fuzz, openapi

pytestmark = pytest.mark.functional

EXAMPLES = 8


def test_object_api_conforms_to_its_openapi_document(shared_cloud: RunningCloud) -> None:
    token = admin_token(shared_cloud)
    base = f"{shared_cloud.url}/object-store"
    r = httpx.get(f"{shared_cloud.auth_url}/v3/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token})
    account = "AUTH_" + r.json()["token"]["project"]["id"]
    with httpx.Client(base_url=f"{base}/v1/{account}", headers={"X-Auth-Token": token}, timeout=30) as c:
        assert c.put("/fuzz").status_code in (201, 202)
        assert c.put("/fuzz/thing", content=b"fuzz data").status_code == 201
    result = fuzz(openapi(base, token), {"account": account, "container": "fuzz", "obj": "thing"}, EXAMPLES)
    assert result.ran >= 11, f"only {result.ran} operations were fuzzed"  # COPY is no OpenAPI method
    assert result.statuses[2] >= 5, result.statuses  # the real names got requests through
    assert not result.failures, "\n\n".join(result.failures)
