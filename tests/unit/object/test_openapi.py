"""The object service's published OpenAPI document (what ``test_fuzz.py`` fuzzes)."""

from __future__ import annotations

import pytest

from litestack.common.api.app import build_openapi
from litestack.object.proxy import op_table

pytestmark = pytest.mark.unit


def test_object_paths_name_bare_parameters_and_every_success_status() -> None:
    doc = build_openapi("Object Storage API", op_table())
    paths = doc["paths"]
    assert "/v1/{account}/{container}/{obj}" in paths  # not Starlette's {obj:path}
    assert not [p for p in paths if ":" in p]
    assert set(paths["/v1/{account}/{container}"]["put"]["responses"]) >= {"201", "202"}
    assert set(paths["/v1/{account}/{container}/{obj}"]["get"]["responses"]) >= {"200", "206", "304", "416"}
    params = paths["/v1/{account}/{container}/{obj}"]["get"]["parameters"]
    assert {p["name"] for p in params if p["in"] == "path"} == {"account", "container", "obj"}
