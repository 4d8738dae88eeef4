"""Raw HTTP access to one running cloud's network API, as the demo member, the admin and the
member of a second project."""

from __future__ import annotations

import uuid
from functools import cached_property
from typing import Any

import httpx

from tests.conftest import RunningCloud
from tests.functional.identity.keystone import Keystone


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def neutron_error(r: httpx.Response, status: int, etype: str, text: str | None = None) -> str:
    """Assert Neutron's error body (``NeutronError`` with type, message, detail); the message."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()["NeutronError"]
    assert body["type"] == etype, body
    assert set(body) == {"type", "message", "detail"}, body
    if text is not None:
        assert text in body["message"], body
    return str(body["message"])


class Neutron:
    def __init__(self, cloud: RunningCloud, keystone: Keystone) -> None:
        self.cloud = cloud
        self.keystone = keystone
        self.http = httpx.Client(base_url=f"{cloud.url}/networking/v2.0", timeout=120,
                                 limits=httpx.Limits(keepalive_expiry=2.0))  # under the servers' 5 s keep-alive

    def close(self) -> None:
        self.http.close()

    @cached_property
    def demo(self) -> str:
        """A token of the demo user (member of project demo)."""
        auth = self.cloud.clouds()["litestack"]["auth"]
        return self.keystone.token(auth["username"], auth["password"], project=auth["project_name"])  # type: ignore[index]

    @cached_property
    def demo_project(self) -> str:
        r = self.keystone.http.get("/v3/auth/tokens", headers={"X-Auth-Token": self.demo, "X-Subject-Token": self.demo})
        return str(r.json()["token"]["project"]["id"])

    @cached_property
    def admin(self) -> str:
        return self.keystone.admin

    @cached_property
    def other(self) -> tuple[str, str]:
        """(token, project id) of a member of a second project."""
        project, user, password = self.keystone.new_member("net-other")
        return self.keystone.token(user["name"], password, project=project["name"]), str(project["id"])

    @cached_property
    def reader(self) -> str:
        """A token of a reader (only) of the second project."""
        _, user, password = self.keystone.new_member("net-reader", role="reader")
        project_name = self.keystone.get(f"/users/{user['id']}").json()["user"]["default_project_id"]
        name = self.keystone.get(f"/projects/{project_name}").json()["project"]["name"]
        return self.keystone.token(user["name"], password, project=name)

    def request(self, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})
        headers.setdefault("X-Auth-Token", token or self.demo)
        return self.http.request(method, path, headers=headers, **kw)

    def get(self, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        return self.request("GET", path, token, **kw)

    def post(self, path: str, body: dict[str, Any], token: str | None = None) -> httpx.Response:
        return self.request("POST", path, token, json=body)

    def put(self, path: str, body: dict[str, Any], token: str | None = None, **kw: Any) -> httpx.Response:
        return self.request("PUT", path, token, json=body, **kw)

    def delete(self, path: str, token: str | None = None) -> httpx.Response:
        return self.request("DELETE", path, token)

    def create(self, collection: str, member: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        r = self.post(f"/{collection}", {member: body}, token)
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()[member]
        return created

    def network(self, token: str | None = None, **body: Any) -> dict[str, Any]:
        return self.create("networks", "network", {"name": unique("net"), **body}, token)

    def subnet(self, network_id: str, cidr: str, token: str | None = None, **body: Any) -> dict[str, Any]:
        return self.create("subnets", "subnet", {"network_id": network_id, "cidr": cidr,
                                                  "ip_version": 6 if ":" in cidr else 4, **body}, token)

    def port(self, network_id: str, token: str | None = None, **body: Any) -> dict[str, Any]:
        return self.create("ports", "port", {"network_id": network_id, **body}, token)
