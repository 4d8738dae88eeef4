"""ML2-like type drivers: validating provider segments, allocating segmentation ids, MTUs.

Each type validates a requested provider segment with Neutron's messages (400 ``InvalidInput``).
Allocation is race-free: every taken id is one row of ``segment_allocation`` whose unique key
the database checks in the transaction that creates the network (a concurrent winner makes the
insert fail and the next free id is tried, inside a savepoint), on SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from litestack.common.errors import ConfigError
from litestack.network import exceptions as exc
from litestack.network.models import SegmentAllocation

TYPES = ("local", "flat", "vlan", "vxlan", "gre")
TUNNELS = {"vxlan": (1, 2**24 - 1), "gre": (1, 2**32 - 1)}
VLAN_MIN, VLAN_MAX = 1, 4094
#: Bytes the encapsulation takes off the underlay MTU (Neutron's, for IPv4/IPv6 tunnel endpoints).
OVERHEAD = {"vxlan": 30, "gre": 22}
IP_HEADER = {4: 20, 6: 40}
FLAT_ID = 0  # the segmentation id of a flat physnet's allocation row


@dataclass(frozen=True)
class TypeConfig:
    """The ``[network]`` options the type drivers use, parsed and checked once at start."""

    tenant_types: tuple[str, ...]
    tunnel_ranges: Mapping[str, tuple[tuple[int, int], ...]]
    vlan_ranges: Mapping[str, tuple[tuple[int, int], ...]]
    flat_networks: tuple[str, ...] | None  # None: any physnet ("*")
    physnet_mtu: int
    path_mtu: int
    overlay_ip_version: int
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_conf(cls, conf: Any) -> TypeConfig:
        get = lambda name: conf.get("network", name)  # noqa: E731
        tenant = tuple(get("tenant_network_types"))
        for t in tenant:
            if t not in TYPES or t == "flat":
                raise ConfigError(f"[network] tenant_network_types: {t!r} is not a project network type")
        tunnels = {"vxlan": _ranges("vni_ranges", get("vni_ranges"), *TUNNELS["vxlan"]),
                   "gre": _ranges("tunnel_id_ranges", get("tunnel_id_ranges"), *TUNNELS["gre"])}
        vlans: dict[str, tuple[tuple[int, int], ...]] = {}
        for entry in get("network_vlan_ranges"):
            physnet, _, rng = entry.partition(":")
            if not physnet:
                raise ConfigError(f"[network] network_vlan_ranges: empty physical network name in {entry!r}")
            vlans.setdefault(physnet, ())
            if rng:
                vlans[physnet] += _ranges("network_vlan_ranges", [rng], VLAN_MIN, VLAN_MAX)
        flats = get("flat_networks")
        return cls(tenant, tunnels, vlans, None if "*" in flats else tuple(flats), get("global_physnet_mtu"),
                   get("path_mtu"), get("overlay_ip_version"))

    def mtu(self, network_type: str) -> int:
        """The largest MTU a network of this type offers its ports."""
        if network_type in OVERHEAD:
            under = min(m for m in (self.physnet_mtu, self.path_mtu) if m > 0)
            return under - OVERHEAD[network_type] - IP_HEADER[self.overlay_ip_version]
        return self.physnet_mtu


def _ranges(option: str, values: Sequence[str], low: int, high: int) -> tuple[tuple[int, int], ...]:
    out = []
    for v in values:
        a, sep, b = v.partition(":")
        try:
            lo, hi = int(a), int(b)
        except ValueError:
            raise ConfigError(f"[network] {option}: {v!r} is not MIN:MAX") from None
        if not sep or not low <= lo <= hi <= high:
            raise ConfigError(f"[network] {option}: {v!r} is not a range within {low}:{high}")
        out.append((lo, hi))
    return tuple(out)


@dataclass
class SegmentRequest:
    network_type: str
    physical_network: str | None = None
    segmentation_id: int | None = None

    def __post_init__(self) -> None:
        if self.physical_network == "":  # Neutron's type drivers read an empty physnet as none given
            self.physical_network = None


def validate(cfg: TypeConfig, req: SegmentRequest) -> None:
    """Check a provider segment as the type driver of its type does; raise ``InvalidInput``."""
    t, physnet, seg_id = req.network_type, req.physical_network, req.segmentation_id
    if t not in TYPES:
        raise exc.InvalidInput(f"network_type value '{t}' not supported")
    if t == "local":
        for key, value in (("physical_network", physnet), ("segmentation_id", seg_id)):
            if value:
                raise exc.InvalidInput(f"{key} prohibited for local provider network")
    elif t == "flat":
        if not physnet:
            raise exc.InvalidInput("physical_network required for flat provider network")
        if cfg.flat_networks is not None and not cfg.flat_networks:
            raise exc.InvalidInput("Flat provider networks are disabled")
        if cfg.flat_networks is not None and physnet not in cfg.flat_networks:
            raise exc.InvalidInput(f"physical_network '{physnet}' unknown for flat provider network")
        if seg_id:
            raise exc.InvalidInput("segmentation_id prohibited for flat provider network")
    elif t == "vlan":
        if physnet:
            if physnet not in cfg.vlan_ranges:
                raise exc.InvalidInput(f"physical_network '{physnet}' unknown for VLAN provider network")
            if seg_id is not None and not VLAN_MIN <= seg_id <= VLAN_MAX:
                raise exc.InvalidInput(f"segmentation_id out of range ({VLAN_MIN} through {VLAN_MAX})")
        elif seg_id is not None:
            raise exc.InvalidInput("segmentation_id requires physical_network for VLAN provider network")
    else:  # vxlan, gre
        if physnet:
            raise exc.InvalidInput(f"provider:physical_network specified for {t} network")
        low, high = TUNNELS[t]
        if seg_id is not None and not low <= seg_id <= high:
            raise exc.InvalidInput(f"segmentation_id out of range ({low} through {high})")


def is_partial(req: SegmentRequest) -> bool:
    """Whether the server completes the segment (a VLAN, VXLAN or GRE segment without an id, or a
    VLAN without a physnet), as the type drivers' ``is_partial_segment`` says."""
    if req.network_type == "vlan":
        return req.physical_network is None or req.segmentation_id is None
    return req.network_type in TUNNELS and req.segmentation_id is None


def check_duplicates(reqs: Sequence[SegmentRequest]) -> None:
    """Neutron's ``check_duplicate_segments``: two equal complete segments in one request are a 400
    (partial ones get distinct ids anyway)."""
    full = [(r.network_type, r.physical_network, r.segmentation_id) for r in reqs if not is_partial(r)]
    if len(set(full)) != len(full):
        raise exc.SegmentsContainDuplicateEntry()


def release(s: Session, network_id: str, req: SegmentRequest) -> None:
    """Give a segment's id (or flat physnet) back, in the transaction that deletes the segment."""
    if req.network_type == "local":
        return
    seg_id = FLAT_ID if req.network_type == "flat" else req.segmentation_id
    if seg_id is None:
        return
    s.execute(delete(SegmentAllocation).where(
        SegmentAllocation.network_id == network_id, SegmentAllocation.network_type == req.network_type,
        SegmentAllocation.physical_network == (req.physical_network or ""),
        SegmentAllocation.segmentation_id == seg_id))


def _take(s: Session, network_id: str, network_type: str, physnet: str, seg_id: int) -> bool:
    """Insert one allocation row in a savepoint; False when another network holds it."""
    try:
        with s.begin_nested():
            s.add(SegmentAllocation(network_type=network_type, physical_network=physnet,
                                    segmentation_id=seg_id, network_id=network_id))
            s.flush()
    except IntegrityError:
        return False
    return True


def reserve(s: Session, cfg: TypeConfig, network_id: str, req: SegmentRequest) -> SegmentRequest:
    """Reserve a provider segment (validated first); raise the type's in-use error when taken.

    A partial segment (a vlan physnet or a tunnel type without an id) gets the first free id of
    the configured ranges, as Neutron does."""
    t = req.network_type
    if t == "local":
        return req
    if t == "flat":
        assert req.physical_network is not None
        if not _take(s, network_id, "flat", req.physical_network, FLAT_ID):
            raise exc.FlatNetworkInUse(req.physical_network)
        return req
    if req.segmentation_id is None:
        if t == "vlan" and req.physical_network is None:
            return allocate(s, cfg, network_id, ("vlan",), any_physnet=True)
        got = _allocate_type(s, cfg, network_id, t, req.physical_network)
        if got is None:
            raise exc.NoNetworkAvailable()
        return got
    physnet = req.physical_network or ""
    if not _take(s, network_id, t, physnet, req.segmentation_id):
        if t == "vlan":
            raise exc.VlanIdInUse(req.segmentation_id, physnet)
        raise exc.TunnelIdInUse(req.segmentation_id)
    return req


def allocate(s: Session, cfg: TypeConfig, network_id: str, types: Sequence[str] | None = None,
             any_physnet: bool = False) -> SegmentRequest:
    """A project network's segment: the first type of ``tenant_network_types`` with a free id."""
    for t in types or cfg.tenant_types:
        if t == "local":
            return SegmentRequest("local")
        got = _allocate_type(s, cfg, network_id, t, None)
        if got is not None:
            return got
    raise exc.NoNetworkAvailable()


def _allocate_type(s: Session, cfg: TypeConfig, network_id: str, t: str, physnet: str | None
                   ) -> SegmentRequest | None:
    if t == "vlan":
        pools = [(p, r) for p, rs in cfg.vlan_ranges.items() if physnet in (None, p) for r in rs]
    else:
        pools = [("", r) for r in cfg.tunnel_ranges.get(t, ())]
    for pnet, (lo, hi) in pools:
        lost: set[int] = set()  # ids a concurrent transaction took (a snapshot may not show them)
        while True:
            taken = set(s.scalars(select(SegmentAllocation.segmentation_id).where(
                SegmentAllocation.network_type == t, SegmentAllocation.physical_network == pnet,
                SegmentAllocation.segmentation_id.between(lo, hi)))) | lost
            free = next((i for i in range(lo, hi + 1) if i not in taken), None)
            if free is None:
                break
            if _take(s, network_id, t, pnet, free):
                return SegmentRequest(t, pnet or None, free)
            lost.add(free)
    return None
