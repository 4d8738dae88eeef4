"""Address management: subnet validation, allocation pools, MAC and IP allocation.

Validation is pure (``ipaddress``). Allocation happens in the transaction that creates the port:
the candidate address is inserted into ``ip_allocation`` inside a savepoint, and the unique key
(network, address) refuses a concurrent winner, after which the next free address is tried.
"""

from __future__ import annotations

import ipaddress
import itertools
import random
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from litestack.network import exceptions as exc
from litestack.network.models import IPAllocation, Subnet

Net = ipaddress.IPv4Network | ipaddress.IPv6Network
Addr = ipaddress.IPv4Address | ipaddress.IPv6Address
IPV6_MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")
#: Candidates drawn from when allocating: concurrent requests rarely pick the same one.
WINDOW = 16


def parse_cidr(cidr: Any, ip_version: int | None = None) -> Net:
    """A subnet's CIDR: an address with a prefix (400 ``HTTPBadRequest`` otherwise), the network
    address itself (host bits set is ``InvalidCIDR``), of the subnet's IP version."""
    try:
        if not isinstance(cidr, str) or "/" not in cidr or cidr.strip() != cidr:
            raise ValueError(cidr)
        iface = ipaddress.ip_interface(cidr)
    except ValueError:
        raise exc.HTTPBadRequest.attr("cidr", f"'{cidr}' is not a valid IP subnet") from None
    net = iface.network
    if iface.ip != net.network_address:
        raise exc.InvalidCIDR(cidr)
    if ip_version is not None and net.version != ip_version:
        raise exc.InvalidInput(f"cidr '{cidr}' does not match the ip_version '{ip_version}'")
    if net.prefixlen == 0:
        raise exc.InvalidInput("0 is not allowed as CIDR prefix length")
    return net


def parse_ip(value: Any, name: str) -> Addr:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise exc.HTTPBadRequest.attr(name, f"'{value}' is not a valid IP address") from None


def first_host(net: Net) -> Addr:
    return net.network_address + 1


def last_host(net: Net) -> Addr:
    # IPv4: the broadcast address is no host; IPv6 has no broadcast (Neutron keeps the last one).
    return net.broadcast_address - 1 if net.version == 4 else net.broadcast_address


def default_pools(net: Net, gateway: Addr | None) -> list[tuple[Addr, Addr]]:
    """Every host address but the gateway, as one or two ranges."""
    lo, hi = first_host(net), last_host(net)
    if net.num_addresses <= 2 and net.version == 4:
        return [(net.network_address, net.broadcast_address)] if net.prefixlen == 32 else []
    if gateway is None or not int(lo) <= int(gateway) <= int(hi):
        return [(lo, hi)]
    pools = []
    if int(gateway) > int(lo):
        pools.append((lo, gateway - 1))
    if int(gateway) < int(hi):
        pools.append((gateway + 1, hi))
    return pools


def check_pools(net: Net, raw: Sequence[dict[str, Any]], gateway: Addr | None) -> list[tuple[Addr, Addr]]:
    """Requested allocation pools: each a valid range inside the CIDR, none overlapping, none
    holding the gateway (Neutron's errors)."""
    pools: list[tuple[Addr, Addr]] = []
    for p in raw:
        if not isinstance(p, dict) or set(p) != {"start", "end"}:
            raise exc.HTTPBadRequest.attr("allocation_pools", f"Invalid data format for IP pool: '{p}'")
        start, end = parse_ip(p["start"], "allocation_pools"), parse_ip(p["end"], "allocation_pools")
        text = f"{{'start': '{start}', 'end': '{end}'}}"
        if start.version != net.version or end.version != net.version or int(start) > int(end):
            raise exc.InvalidAllocationPool(text)
        if start not in net or end not in net or start == net.network_address or (
                net.version == 4 and end == net.broadcast_address and net.prefixlen < 31):
            raise exc.OutOfBoundsAllocationPool(text, str(net))
        pools.append((start, end))
    ordered = sorted(pools)
    for a, b in itertools.pairwise(ordered):
        if int(b[0]) <= int(a[1]):
            raise exc.OverlappingAllocationPools(_pool_text(a), _pool_text(b), str(net))
    if gateway is not None:
        for pool in pools:
            if int(pool[0]) <= int(gateway) <= int(pool[1]):
                raise exc.GatewayConflictWithAllocationPools(str(gateway), _pool_text(pool))
    return pools


def _pool_text(p: tuple[Addr, Addr]) -> str:
    return f"{p[0]}-{p[1]}"


def pools_json(pools: Sequence[tuple[Addr, Addr]]) -> list[dict[str, str]]:
    return [{"start": str(a), "end": str(b)} for a, b in pools]


def eui64(net: Net, mac: str) -> Addr:
    """The SLAAC address of a MAC in a /64: the prefix plus the modified EUI-64 interface id."""
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    iid = bytes([*octets[:3], 255, 254, *octets[3:]])
    return ipaddress.ip_address(int(net.network_address) | int.from_bytes(iid, "big"))


def is_auto_address(subnet: Subnet) -> bool:
    return subnet.ip_version == 6 and subnet.ipv6_address_mode in ("slaac", "dhcpv6-stateless")


def _candidates(subnet: Subnet, taken: set[str]) -> Iterator[Addr]:
    for p in subnet.allocation_pools:
        a, end = ipaddress.ip_address(p["start"]), ipaddress.ip_address(p["end"])
        while int(a) <= int(end):
            if str(a) not in taken:
                yield a
            a += 1


def insert(s: Session, port_id: str, subnet: Subnet, ip: str) -> bool:
    """Hold ``ip`` for the port in a savepoint; False when it is held already (by anyone)."""
    try:
        with s.begin_nested():
            s.add(IPAllocation(port_id=port_id, subnet_id=subnet.id, network_id=subnet.network_id, ip_address=ip))
            s.flush()
    except IntegrityError:
        return False
    return True


def allocate_any(s: Session, port_id: str, subnet: Subnet) -> str:
    """The next free address of the subnet's pools, held for the port; 409
    ``IpAddressGenerationFailure`` when none is left."""
    lost: set[str] = set()
    while True:
        taken = set(s.scalars(select(IPAllocation.ip_address).where(IPAllocation.network_id == subnet.network_id)))
        taken |= lost
        window = []
        for a in _candidates(subnet, taken):
            window.append(a)
            if len(window) >= WINDOW:
                break
        if not window:
            raise exc.IpAddressGenerationFailure(subnet.network_id)
        ip = str(random.choice(window))
        if insert(s, port_id, subnet, ip):
            return ip
        lost.add(ip)  # a concurrent port took it: its row may be invisible to this snapshot


def in_subnet(subnet: Subnet, ip: Addr) -> bool:
    net = ipaddress.ip_network(subnet.cidr)
    if ip not in net:
        return False
    if net.version == 4 and net.prefixlen < 31 and ip in (net.network_address, net.broadcast_address):
        return False
    return True
