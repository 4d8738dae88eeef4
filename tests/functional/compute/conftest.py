"""Fixtures of the compute functional tests: one cloud of ten fake hosts for the whole package
(identity, image, network, placement and compute), on SQLite (functional) and again on PostgreSQL
and MariaDB with RabbitMQ (integration); a network and an image the demo project boots from."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from functools import cached_property
from typing import Any

import httpx
import pytest

from tests.conftest import RunningCloud, until
from tests.databases import DATABASES, cloud_on
from tests.functional.identity.keystone import FAST_HASH, Keystone

HOSTS = 10
#: Ten small fake hosts (8 VCPU at 4x, 8 GiB): quotas high enough for the 50-server test.
CONFIG = FAST_HASH + f"""
[DEFAULT]
services = ["identity", "image", "network", "placement", "compute"]

[network]
# No DevStack topology: the tests make the demo project's one network (a boot without networks
# takes the project's only one) and, where they need it, an external network and a router.
bootstrap = false

[compute]
fake_hosts = {HOSTS}
fake_vcpus = 8
fake_memory_mb = 8192
fake_disk_gb = 100
quota_instances = 200
quota_cores = 400
quota_ram = 409600
report_interval = 1.0
service_down_time = 6.0
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def nova_error(r: httpx.Response, status: int, fault: str, text: str | None = None) -> str:
    """Check a Nova error body: ``{fault: {"code": status, "message": ...}}``; its message."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert list(body) == [fault], body
    assert body[fault]["code"] == status
    message = str(body[fault]["message"])
    if text is not None:
        assert text in message, message
    return message


class Nova:
    """Raw HTTP to the compute API (and the other services the tests look at), with tokens."""

    def __init__(self, cloud: RunningCloud, keystone: Keystone) -> None:
        self.cloud, self.keystone = cloud, keystone
        self.http = httpx.Client(base_url=cloud.url, timeout=120,
                                 limits=httpx.Limits(keepalive_expiry=2.0))  # under the servers' 5 s keep-alive

    def close(self) -> None:
        self.http.close()

    @cached_property
    def demo(self) -> str:
        auth: Any = self.cloud.clouds()["litestack"]["auth"]
        return self.keystone.token(auth["username"], auth["password"], project=auth["project_name"])

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
        project, user, password = self.keystone.new_member("compute-other")
        return self.keystone.token(user["name"], password, project=project["name"]), str(project["id"])

    def request(self, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"X-Auth-Token": token or self.demo, **(kw.pop("headers", {}) or {})}
        return self.http.request(method, path, headers=headers, **kw)

    def compute(self, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        return self.request(method, f"/compute/v2.1{path}", token, **kw)

    def server(self, server_id: str, token: str | None = None) -> dict[str, Any]:
        r = self.compute("GET", f"/servers/{server_id}", token)
        assert r.status_code == 200, r.text
        return dict(r.json()["server"])

    def wait(self, server_id: str, status: str, token: str | None = None, timeout: float = 30) -> dict[str, Any]:
        assert until(lambda: self.server(server_id, token)["status"] == status, timeout), self.server(server_id, token)
        return self.server(server_id, token)

    def gone(self, server_id: str, token: str | None = None, timeout: float = 30) -> bool:
        return until(lambda: self.compute("GET", f"/servers/{server_id}", token).status_code == 404, timeout)

    def boot(self, token: str | None = None, wait: str | None = "ACTIVE", **server: Any) -> dict[str, Any]:
        body = {"server": {"name": unique("srv"), "flavorRef": "1", "imageRef": self.image, **server}}
        hints = body["server"].pop("hints", None)
        if hints:
            body["os:scheduler_hints"] = hints
        r = self.compute("POST", "/servers", token, json=body)
        assert r.status_code == 202, r.text
        sid = r.json()["server"]["id"]
        return self.wait(sid, wait, token) if wait else {"id": sid}

    def placement(self, path: str) -> httpx.Response:
        return self.request("GET", f"/placement{path}", self.admin,
                            headers={"OpenStack-API-Version": "placement 1.28"})

    def ports(self, device_id: str) -> list[dict[str, Any]]:
        r = self.request("GET", "/networking/v2.0/ports", self.admin, params={"device_id": device_id})
        return list(r.json()["ports"])

    @cached_property
    def image(self) -> str:
        """An active image of the demo project."""
        return self.make_image(unique("img"))

    def make_image(self, name: str, **props: Any) -> str:
        r = self.request("POST", "/image/v2/images", json={"name": name, "disk_format": "raw",
                                                           "container_format": "bare", **props})
        assert r.status_code == 201, r.text
        iid = r.json()["id"]
        r = self.request("PUT", f"/image/v2/images/{iid}/file", content=b"\0" * 1024,
                         headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 204, r.text
        return str(iid)

    @cached_property
    def network(self) -> tuple[str, str]:
        """(network id, name) of the demo project's only network, with a /22 subnet."""
        name = unique("net")
        r = self.request("POST", "/networking/v2.0/networks", json={"network": {"name": name}})
        assert r.status_code == 201, r.text
        nid = r.json()["network"]["id"]
        r = self.request("POST", "/networking/v2.0/subnets", json={"subnet": {
            "network_id": nid, "cidr": "10.40.0.0/22", "ip_version": 4, "name": unique("sub")}})
        assert r.status_code == 201, r.text
        return str(nid), name


@pytest.fixture(scope="package", params=DATABASES)
def cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    with cloud_on(request.param, tmp_path_factory.mktemp(f"compute-{request.param}"), CONFIG) as c:
        yield c


@pytest.fixture(scope="package")
def nova(cloud: RunningCloud) -> Iterator[Nova]:
    ks = Keystone(cloud)
    n = Nova(cloud, ks)
    n.network  # noqa: B018 - the demo project's one network, made before any boot
    # The agents register once the cloud serves (they call placement and the network service).
    def all_up() -> bool:
        found = n.compute("GET", "/os-hypervisors", n.admin).json().get("hypervisors", [])
        return len(found) == HOSTS and all(h["state"] == "up" for h in found)
    assert until(all_up, 30)
    yield n
    n.close()
    ks.close()
