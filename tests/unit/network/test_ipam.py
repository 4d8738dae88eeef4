"""Subnet address arithmetic: default pools, pool checks, SLAAC addresses, CIDR parsing."""

from __future__ import annotations

import ipaddress

import pytest

from litestack.network import exceptions as exc
from litestack.network import ipam

pytestmark = pytest.mark.unit


def test_default_pools_leave_out_the_gateway_network_and_broadcast() -> None:
    net = ipaddress.ip_network("10.0.0.0/24")
    assert ipam.pools_json(ipam.default_pools(net, ipaddress.ip_address("10.0.0.1"))) == [
        {"start": "10.0.0.2", "end": "10.0.0.254"}]
    assert ipam.pools_json(ipam.default_pools(net, ipaddress.ip_address("10.0.0.100"))) == [
        {"start": "10.0.0.1", "end": "10.0.0.99"}, {"start": "10.0.0.101", "end": "10.0.0.254"}]
    assert ipam.pools_json(ipam.default_pools(net, None)) == [{"start": "10.0.0.1", "end": "10.0.0.254"}]
    v6 = ipaddress.ip_network("fd00::/64")
    assert ipam.pools_json(ipam.default_pools(v6, ipaddress.ip_address("fd00::1"))) == [
        {"start": "fd00::2", "end": "fd00::ffff:ffff:ffff:ffff"}]


def test_slaac_address_is_the_modified_eui64_of_the_mac() -> None:
    # The example of RFC 4291 appendix A with the U/L bit flipped: 00:aa:bb -> 02aa:bbff:fe..
    got = ipam.eui64(ipaddress.ip_network("2001:db8::/64"), "00:aa:bb:cc:dd:ee")
    assert str(got) == "2001:db8::2aa:bbff:fecc:ddee"


@pytest.mark.parametrize("cidr, error", [("10.0.0.0/33", exc.HTTPBadRequest), ("10.0.0.0", exc.HTTPBadRequest),
                                         (" 10.0.0.0/8", exc.HTTPBadRequest), ("10.0.0.1/8", exc.InvalidCIDR),
                                         ("0.0.0.0/0", exc.InvalidInput), (5, exc.HTTPBadRequest)])
def test_bad_cidrs(cidr: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        ipam.parse_cidr(cidr)


def test_pools_are_checked_against_each_other_the_cidr_and_the_gateway() -> None:
    net = ipaddress.ip_network("10.0.0.0/24")
    gw = ipaddress.ip_address("10.0.0.1")
    ok = ipam.check_pools(net, [{"start": "10.0.0.10", "end": "10.0.0.20"}, {"start": "10.0.0.30", "end": "10.0.0.40"}],
                          gw)
    assert len(ok) == 2
    with pytest.raises(exc.OutOfBoundsAllocationPool):
        ipam.check_pools(net, [{"start": "10.0.0.10", "end": "10.0.0.255"}], gw)
    with pytest.raises(exc.OverlappingAllocationPools):
        ipam.check_pools(net, [{"start": "10.0.0.10", "end": "10.0.0.20"}, {"start": "10.0.0.20", "end": "10.0.0.30"}],
                         gw)
    with pytest.raises(exc.GatewayConflictWithAllocationPools):
        ipam.check_pools(net, [{"start": "10.0.0.1", "end": "10.0.0.5"}], gw)
    with pytest.raises(exc.HTTPBadRequest):
        ipam.check_pools(net, [{"start": "10.0.0.1"}], gw)
