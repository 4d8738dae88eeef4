"""Keystone's error format, request IDs, and answers that give nothing away."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.functional.identity.keystone import Keystone, password_auth, unique

pytestmark = pytest.mark.functional

REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _is_keystone_error(r: httpx.Response, code: int, title: str) -> str:
    assert r.status_code == code, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "title", "message"}
    assert body["error"]["code"] == code and body["error"]["title"] == title
    message: str = body["error"]["message"]
    assert message
    return message


def test_malformed_json_is_a_bad_request(keystone: Keystone) -> None:
    r = keystone.request("POST", "/projects", content=b'{"project": {"name": ', headers={
        "Content-Type": "application/json"})
    assert "JSON" in _is_keystone_error(r, 400, "Bad Request")
    r = keystone.http.post("/v3/auth/tokens", content=b"not json", headers={"Content-Type": "application/json"})
    _is_keystone_error(r, 400, "Bad Request")
    schema = keystone.request("POST", "/projects", json={"project": {"name": 42}})
    assert "name" in _is_keystone_error(schema, 400, "Bad Request")


def test_unknown_user_is_not_found(keystone: Keystone) -> None:
    missing = uuid.uuid4().hex
    assert missing in _is_keystone_error(keystone.get(f"/users/{missing}"), 404, "Not Found")
    _is_keystone_error(keystone.request("PATCH", f"/users/{missing}", json={"user": {"enabled": False}}),
                       404, "Not Found")


def test_duplicate_project_name_is_a_conflict(keystone: Keystone) -> None:
    name = unique("dup")
    keystone.create("/projects", "project", {"name": name})
    r = keystone.request("POST", "/projects", json={"project": {"name": name}})
    assert name in _is_keystone_error(r, 409, "Conflict")
    # The same name in another domain is fine.
    domain = keystone.create("/domains", "domain", {"name": unique("dupdom")})
    keystone.create("/projects", "project", {"name": name, "domain_id": domain["id"]})


def test_missing_or_bad_token_is_unauthorized_with_www_authenticate(cloud: RunningCloud) -> None:
    for headers in ({}, {"X-Auth-Token": "gAAAAAnot-a-token"}):
        r = httpx.get(f"{cloud.auth_url}/v3/users", headers=headers)
        _is_keystone_error(r, 401, "Unauthorized")
        assert r.headers["www-authenticate"] == f'Keystone uri="{cloud.auth_url}"'


def test_unknown_user_and_wrong_password_get_the_same_answer(keystone: Keystone) -> None:
    _, user, _ = keystone.new_member("same")
    wrong_password = keystone.authenticate(password_auth(user["name"], "wrong"))
    unknown_user = keystone.authenticate(password_auth(unique("nobody"), "wrong"))
    unknown_id = keystone.authenticate({"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"id": uuid.uuid4().hex, "password": "wrong"}}}}})
    _is_keystone_error(wrong_password, 401, "Unauthorized")
    assert wrong_password.content == unknown_user.content == unknown_id.content
    assert user["id"] not in wrong_password.text


def test_method_not_allowed_lists_the_allowed_ones(keystone: Keystone) -> None:
    r = keystone.request("PUT", "/users")
    _is_keystone_error(r, 405, "Method Not Allowed")
    assert set(r.headers["allow"].split(", ")) >= {"GET", "POST"}


def test_every_response_carries_a_request_id(cloud: RunningCloud, keystone: Keystone) -> None:
    responses = [
        httpx.get(cloud.auth_url),
        httpx.get(f"{cloud.auth_url}/v3"),
        httpx.get(f"{cloud.auth_url}/openapi.json"),
        keystone.authenticate(password_auth("admin", keystone.admin_password(), project="admin")),
        keystone.authenticate(password_auth("admin", "wrong")),
        keystone.get("/users"),
        keystone.request("HEAD", "/auth/tokens", headers={"X-Subject-Token": keystone.admin}),
        keystone.get(f"/projects/{uuid.uuid4().hex}"),
        keystone.request("POST", "/projects", content=b"{"),
        keystone.request("DELETE", "/users"),
        httpx.get(f"{cloud.auth_url}/v3/users"),
        httpx.get(f"{cloud.auth_url}/v3/no-such-thing"),
    ]
    statuses = {r.status_code for r in responses}
    assert statuses == {200, 201, 300, 400, 401, 404, 405}
    ids = [r.headers.get("x-openstack-request-id", "") for r in responses]
    assert all(REQUEST_ID.match(i) for i in ids), ids
    assert len(set(ids)) == len(ids)
    # The server log names each request by the id the client saw.
    log = (cloud.data_dir / "logs" / "litestack.log").read_text()
    assert ids[5] in log
