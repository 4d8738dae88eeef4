"""Subnet pools through the real CLI, openstacksdk and raw HTTP: prefix allocation (the default
length, a given length, a given CIDR), the bounds, exhaustion, default pools, and race-free
allocation under concurrent subnet creates."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.functional.network.neutron import Neutron, neutron_error, unique

pytestmark = pytest.mark.functional


def cli_json(cloud: RunningCloud, *args: str, cloud_name: str = "litestack") -> Any:
    return json.loads(cloud.openstack(*args, "-f", "json", cloud=cloud_name).stdout)


def test_cli_subnet_from_a_pool(cloud: RunningCloud) -> None:
    pool = cli_json(cloud, "subnet", "pool", "create", "--pool-prefix", "10.100.0.0/16", "--default-prefix-length",
                    "24", "--min-prefix-length", "20", "--max-prefix-length", "28", unique("pool"))
    assert (pool["ip_version"], pool["default_prefixlen"], pool["min_prefixlen"], pool["max_prefixlen"]) == (
        4, 24, 20, 28)
    net = unique("net")
    cloud.openstack("network", "create", net)
    first = cli_json(cloud, "subnet", "create", "--network", net, "--subnet-pool", pool["id"], unique("s"))
    assert first["cidr"] == "10.100.0.0/24" and first["subnetpool_id"] == pool["id"]
    assert first["gateway_ip"] == "10.100.0.1"
    second = cli_json(cloud, "subnet", "create", "--network", net, "--subnet-pool", pool["id"],
                      "--prefix-length", "28", unique("s"))
    assert second["cidr"] == "10.100.1.0/28"
    # Another network allocates from the same pool: no overlap across networks.
    other = unique("net")
    cloud.openstack("network", "create", other)
    third = cli_json(cloud, "subnet", "create", "--network", other, "--subnet-pool", pool["id"], unique("s"))
    assert third["cidr"] == "10.100.2.0/24"
    res = cloud.openstack("subnet", "pool", "delete", pool["id"], check=False)
    assert res.returncode != 0 and "Subnet pool has existing allocations" in res.stderr


def test_pool_bounds_and_requests_get_neutrons_errors(neutron: Neutron) -> None:
    r = neutron.post("/subnetpools", {"subnetpool": {"name": "x", "prefixes": ["10.0.0.0/8", "fd00::/8"]}})
    neutron_error(r, 400, "PrefixVersionMismatch")
    r = neutron.post("/subnetpools", {"subnetpool": {"name": "x", "prefixes": ["10.0.0.0/8"], "min_prefixlen": 24,
                                                      "default_prefixlen": 16}})
    neutron_error(r, 400, "IllegalSubnetPoolPrefixBounds",
                  "Illegal prefix bounds: default_prefixlen=16, min_prefixlen=24.")
    pool = neutron.create("subnetpools", "subnetpool", {"name": unique("p"), "prefixes": ["10.110.0.0/24"],
                                                          "default_prefixlen": 26, "min_prefixlen": 25})
    net = neutron.network()

    def subnet(**body: Any) -> httpx.Response:
        return neutron.post("/subnets", {"subnet": {"network_id": net["id"], "subnetpool_id": pool["id"], **body}})

    neutron_error(subnet(prefixlen=24), 400, "MinPrefixSubnetAllocationError",
                  "Unable to allocate subnet with prefix length 24, minimum allowed prefix is 25.")
    neutron_error(subnet(cidr="10.200.0.0/26"), 409, "SubnetAllocationError",
                  "Cannot allocate requested subnet from the available set of prefixes")
    neutron_error(subnet(cidr="10.110.0.0/26", prefixlen=26), 400, "BadRequest",
                  "cidr and prefixlen must not be supplied together")
    neutron_error(subnet(ip_version=6), 400, "BadRequest", "Cannot allocate IPv6 subnet from IPv4 subnet pool")
    assert subnet(cidr="10.110.0.64/26").status_code == 201
    got = [subnet().json()["subnet"]["cidr"] for _ in range(3)]
    assert got == ["10.110.0.0/26", "10.110.0.128/26", "10.110.0.192/26"]
    neutron_error(subnet(), 409, "SubnetAllocationError", "Insufficient prefix space to allocate subnet size /26")
    r = neutron.post("/subnets", {"subnet": {"network_id": net["id"], "ip_version": 4}})
    neutron_error(r, 400, "BadRequest", "a subnetpool must be specified in the absence of a cidr")


def test_default_pools_are_admin_set_and_used_on_request(neutron: Neutron, cloud: RunningCloud) -> None:
    r = neutron.post("/subnetpools", {"subnetpool": {"name": "d", "prefixes": ["fd10::/48"], "is_default": True}})
    neutron_error(r, 403, "PolicyNotAuthorized")
    pool = neutron.create("subnetpools", "subnetpool", {"name": unique("default6"), "prefixes": ["fd10::/48"],
                                                          "is_default": True, "shared": True}, neutron.admin)
    assert pool["ip_version"] == 6 and pool["default_prefixlen"] == 64 and pool["is_default"] is True
    r = neutron.post("/subnetpools", {"subnetpool": {"name": "d2", "prefixes": ["fd20::/48"], "is_default": True}},
                     neutron.admin)
    neutron_error(r, 400, "InvalidInput", "Only one default may exist per IP family")
    net = neutron.network()
    sub = neutron.create("subnets", "subnet", {"network_id": net["id"], "ip_version": 6,
                                               "use_default_subnetpool": True, "ipv6_address_mode": "slaac",
                                               "ipv6_ra_mode": "slaac"})
    assert ipaddress.IPv6Network(sub["cidr"]).subnet_of(ipaddress.IPv6Network("fd10::/48"))
    assert sub["subnetpool_id"] == pool["id"]
    conn = cloud.sdk("litestack")
    assert pool["id"] in {p.id for p in conn.network.subnet_pools()}  # shared: every project sees it


def test_parallel_subnets_from_one_pool_never_overlap(neutron: Neutron) -> None:
    pool = neutron.create("subnetpools", "subnetpool", {"name": unique("race"), "prefixes": ["10.120.0.0/22"],
                                                          "default_prefixlen": 26})
    nets = [neutron.network()["id"] for _ in range(5)]
    bodies = [{"subnet": {"network_id": nets[i % 5], "subnetpool_id": pool["id"]}} for i in range(20)]

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=str(neutron.http.base_url), timeout=300) as c:
            return await asyncio.gather(*(c.post("subnets", json=b, headers={"X-Auth-Token": neutron.demo})
                                          for b in bodies))

    got = asyncio.run(burst())
    assert Counter(r.status_code for r in got) == {201: 16, 409: 4}, [r.text for r in got][:3]
    cidrs = [ipaddress.ip_network(r.json()["subnet"]["cidr"]) for r in got if r.status_code == 201]
    assert sorted(cidrs) == list(ipaddress.ip_network("10.120.0.0/22").subnets(new_prefix=26))
