"""Fifty servers booted at once across the ten fake hosts of a fresh project: all ACTIVE with
unique addresses, the project's placement usages equal to the sum of their flavors, an
anti-affinity group of ten on ten different hosts; deleting them all returns the usages to zero
and removes their ports."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import until
from tests.functional.compute.conftest import HOSTS, Nova, unique

pytestmark = pytest.mark.functional


def test_fifty_concurrent_boots_over_ten_hosts(nova: Nova) -> None:
    project, user, password = nova.keystone.new_member("compute-scale")
    token = nova.keystone.token(user["name"], password, project=project["name"])
    net = nova.request("POST", "/networking/v2.0/networks", token, json={"network": {"name": unique("n")}})
    nid = net.json()["network"]["id"]
    r = nova.request("POST", "/networking/v2.0/subnets", token, json={"subnet": {
        "network_id": nid, "cidr": "10.60.0.0/24", "ip_version": 4}})
    assert r.status_code == 201, r.text
    image = nova.request("POST", "/image/v2/images", token, json={"name": "scale", "disk_format": "raw",
                                                                  "container_format": "bare"}).json()["id"]
    nova.request("PUT", f"/image/v2/images/{image}/file", token, content=b"\0" * 64,
                 headers={"Content-Type": "application/octet-stream"})
    group = nova.compute("POST", "/os-server-groups", token, json={"server_group": {
        "name": "spread", "policies": ["anti-affinity"]}}).json()["server_group"]["id"]

    def boot(n: int) -> str:
        body: dict[str, Any] = {"server": {"name": f"scale-{n}", "flavorRef": "1" if n % 2 else "c1",
                                           "imageRef": image}}
        if n < HOSTS:
            body["os:scheduler_hints"] = {"group": group}
        r = nova.compute("POST", "/servers", token, json=body)
        assert r.status_code == 202, r.text
        return str(r.json()["server"]["id"])

    with ThreadPoolExecutor(50) as pool:
        ids = list(pool.map(boot, range(50)))

    def servers() -> list[dict[str, Any]]:
        return list(nova.compute("GET", "/servers/detail", token).json()["servers"])
    assert until(lambda: [s["status"] for s in servers()] == ["ACTIVE"] * 50, 90), \
        {s["status"] for s in servers()}
    shown = servers()
    ips = [a["addr"] for s in shown for addrs in s["addresses"].values() for a in addrs]
    assert len(ips) == 50 and len(set(ips)) == 50
    admin_view = {s["id"]: s for s in nova.compute("GET", f"/servers/detail?all_tenants=1&project_id={project['id']}",
                                                   nova.admin).json()["servers"]}
    grouped = [admin_view[i]["OS-EXT-SRV-ATTR:host"] for i in ids[:HOSTS]]
    assert len(set(grouped)) == HOSTS  # anti-affinity: one member per host
    usages = nova.placement(f"/usages?project_id={project['id']}").json()["usages"]
    tiny, cirros = 25, 25  # odd n: m1.tiny (1 VCPU, 512 MiB, 1 GiB); even n: cirros256 (1, 256, 1)
    assert usages == {"VCPU": tiny + cirros, "MEMORY_MB": 512 * tiny + 256 * cirros, "DISK_GB": 50}

    with ThreadPoolExecutor(25) as pool:
        codes = list(pool.map(lambda i: nova.compute("DELETE", f"/servers/{i}", token).status_code, ids))
    assert set(codes) == {204}
    assert until(lambda: servers() == [], 60)
    assert until(lambda: nova.placement(f"/usages?project_id={project['id']}").json()["usages"] in (
        {}, {"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0}), 10)
    ports = nova.request("GET", "/networking/v2.0/ports", token, params={"network_id": nid}).json()["ports"]
    assert [p for p in ports if p["device_owner"].startswith("compute:")] == []
