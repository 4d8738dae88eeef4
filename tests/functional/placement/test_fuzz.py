"""Schemathesis fuzzing of the placement API, driven by the OpenAPI document it publishes, at the
latest microversion: no 5xx, declared status codes only, successful bodies as published. Path
parameters also get a real provider, consumer, resource class and trait."""

from __future__ import annotations

import pytest

from tests.conftest import RunningCloud
from tests.databases import on_real_server
from tests.functional.placement.conftest import Placement, new_uuid
from tests.fuzz import admin_token, fuzz, openapi

pytestmark = pytest.mark.functional


def test_placement_api_conforms_to_its_openapi_document(cloud: RunningCloud, placement: Placement) -> None:
    rp = placement.provider(VCPU=4, MEMORY_MB=1024)
    consumer = new_uuid()
    assert placement.claim(consumer, {rp: {"VCPU": 1}}).status_code == 204
    token = admin_token(cloud)
    schema = openapi(f"{cloud.url}/placement", token)
    schema.config.update(headers={"X-Auth-Token": token, "OpenStack-API-Version": "placement latest"})
    ids = {"uuid": rp, "consumer": consumer, "rc": "VCPU", "name": "CUSTOM_FUZZ"}
    result = fuzz(schema, ids, 8 if on_real_server(cloud) else 20)
    assert result.ran >= 30, f"only {result.ran} operations were fuzzed"
    assert result.statuses[2] >= 10, result.statuses
    assert not result.failures, "\n\n".join(result.failures)
