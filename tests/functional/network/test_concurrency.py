"""Race-freedom of the allocations, over real HTTP with many requests in flight at once: every
address and MAC given once, exactly the free addresses handed out and the rest 409, and every
project network its own VNI. On PostgreSQL and MariaDB (the integration runs) the database's
unique keys decide between concurrent transactions, not a lock in one process."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.functional.network.neutron import Neutron

pytestmark = pytest.mark.functional


async def burst(neutron: Neutron, path: str, bodies: list[dict[str, Any]], token: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=str(neutron.http.base_url), timeout=300, limits=limits) as client:
        return await asyncio.gather(*(client.post(path, json=b, headers={"X-Auth-Token": token}) for b in bodies))


def test_200_parallel_ports_on_a_24_get_unique_addresses_and_macs(neutron: Neutron) -> None:
    net = neutron.network()
    neutron.subnet(net["id"], "10.90.0.0/24")
    token = neutron.demo
    got = asyncio.run(burst(neutron, "ports", [{"port": {"network_id": net["id"]}}] * 200, token))
    assert Counter(r.status_code for r in got) == {201: 200}, [r.text for r in got if r.status_code != 201][:3]
    ports = [r.json()["port"] for r in got]
    ips = [p["fixed_ips"][0]["ip_address"] for p in ports]
    assert len(set(ips)) == 200 and "10.90.0.1" not in ips
    assert len({p["mac_address"] for p in ports}) == 200
    listed = neutron.get("/ports", params={"network_id": net["id"]}).json()["ports"]
    assert sorted(p["fixed_ips"][0]["ip_address"] for p in listed) == sorted(ips)


def test_200_parallel_ports_on_a_26_take_exactly_the_free_addresses_and_the_rest_are_409(neutron: Neutron) -> None:
    net = neutron.network()
    neutron.subnet(net["id"], "10.91.0.0/26")  # pool .2-.62: 61 addresses
    got = asyncio.run(burst(neutron, "ports", [{"port": {"network_id": net["id"]}}] * 200, neutron.demo))
    codes = Counter(r.status_code for r in got)
    assert codes == {201: 61, 409: 139}, codes
    assert {r.json()["NeutronError"]["type"] for r in got if r.status_code == 409} == {"IpAddressGenerationFailure"}
    ips = {r.json()["port"]["fixed_ips"][0]["ip_address"] for r in got if r.status_code == 201}
    assert ips == {f"10.91.0.{i}" for i in range(2, 63)}


def test_50_parallel_project_networks_get_unique_segmentation_ids(neutron: Neutron) -> None:
    got = asyncio.run(burst(neutron, "networks", [{"network": {"name": f"race-{i}"}} for i in range(50)],
                            neutron.demo))
    assert Counter(r.status_code for r in got) == {201: 50}, [r.text for r in got if r.status_code != 201][:3]
    ids = [r.json()["network"]["id"] for r in got]
    segs = [neutron.get(f"/networks/{i}", neutron.admin).json()["network"]["provider:segmentation_id"] for i in ids]
    assert len(set(segs)) == 50 and all(1000 <= s <= 1999 for s in segs)
