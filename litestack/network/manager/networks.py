"""Networks and their segments (provider attributes, ML2-like type drivers)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from litestack.common.api.pagination import Listing
from litestack.network import exceptions as exc
from litestack.network import segments
from litestack.network.manager.base import (
    Caller,
    Filter,
    Part,
    Query,
    big_integer,
    boolean,
    check_revision,
    integer,
    list_rows,
    new_id,
    now,
    retrying,
    set_tags,
    standard,
    tags_of,
    touch,
)
from litestack.network.models import (
    FloatingIP,
    IPAllocation,
    Network,
    Port,
    PortForwarding,
    RBACPolicy,
    Segment,
    SegmentAllocation,
    Subnet,
    Tag,
)

LISTING = Listing(Network, sort_keys={k: getattr(Network, k) for k in (
    "id", "name", "status", "admin_state_up", "shared", "mtu", "project_id", "created_at", "updated_at",
    "revision_number")} | {"tenant_id": Network.project_id, "router:external": Network.external},
    default_sort=())


PROVIDER = ("provider:network_type", "provider:physical_network", "provider:segmentation_id")


def provider_view(segs: Sequence[Segment]) -> dict[str, Any]:
    """A network's segments as Neutron shows them: one segment as the ``provider:*`` attributes,
    several as ``segments`` (the ``multi-provider`` extension) and no ``provider:*`` at all."""
    if len(segs) > 1:
        return {"segments": [{"provider:network_type": g.network_type, "provider:physical_network": g.physical_network,
                              "provider:segmentation_id": g.segmentation_id} for g in segs]}
    seg = segs[0] if segs else None
    return {"provider:network_type": seg.network_type if seg else None,
            "provider:physical_network": seg.physical_network if seg else None,
            "provider:segmentation_id": seg.segmentation_id if seg else None}


def _segment_filter(attr: str, coerce: Any) -> Filter:
    col = getattr(Segment, attr)
    return (lambda vals: Network.id.in_(select(Segment.network_id).where(col.in_(vals)))), coerce


FILTERS: dict[str, Filter] = {
    "id": (Network.id, None), "name": (Network.name, None), "status": (Network.status, None),
    "project_id": (Network.project_id, None), "tenant_id": (Network.project_id, None),
    "description": (Network.description, None), "admin_state_up": (Network.admin_state_up, boolean),
    "shared": (Network.shared, boolean), "router:external": (Network.external, boolean),
    "mtu": (Network.mtu, integer), "port_security_enabled": (Network.port_security_enabled, boolean),
    "is_default": (Network.is_default, boolean), "revision_number": (Network.revision_number, integer),
    "dns_domain": (Network.dns_domain, None),
    "provider:network_type": _segment_filter("network_type", None),
    "provider:physical_network": _segment_filter("physical_network", None),
    "provider:segmentation_id": _segment_filter("segmentation_id", big_integer),
}


def visible(caller: Caller) -> Any:
    """Networks a project sees: its own, shared ones, external ones and those an RBAC policy shares
    with it or makes external for it."""
    if caller.is_admin:
        return None
    return or_(Network.project_id == caller.project_id, Network.shared.is_(True), Network.external.is_(True),
               Network.id.in_(select(RBACPolicy.object_id).where(
                   RBACPolicy.object_type == "network", RBACPolicy.target_project.in_([caller.project_id or "", "*"]))))


def grants(s: Session, caller: Caller, ids: Sequence[str]) -> dict[str, set[str]]:
    """The RBAC actions granted to the caller's project on each of ``ids``."""
    out: dict[str, set[str]] = {}
    if ids and caller.project_id:
        for nid, action in s.execute(select(RBACPolicy.object_id, RBACPolicy.action).where(
                RBACPolicy.object_type == "network", RBACPolicy.object_id.in_(list(ids)),
                RBACPolicy.target_project.in_([caller.project_id, "*"]))):
            out.setdefault(nid, set()).add(action)
    return out


def as_seen(s: Session, caller: Caller, views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Views as the caller sees them: shared / external where an RBAC policy grants it that."""
    granted = grants(s, caller, [v["id"] for v in views])
    for v in views:
        actions = granted.get(v["id"], set())
        if "access_as_shared" in actions:
            v["shared"] = True
        if "access_as_external" in actions:
            v["router:external"] = True
    return views


class Networks(Part):
    #: The address scopes part (set by the manager).
    scopes: Any = None

    def __init__(self, *args: Any, types: segments.TypeConfig, default_azs: Sequence[str]) -> None:
        super().__init__(*args)
        self.types = types
        self.default_azs = list(default_azs)

    # --- views ---------------------------------------------------------------------------

    def views(self, s: Session, rows: Sequence[Network]) -> list[dict[str, Any]]:
        ids = [r.id for r in rows]
        segs: dict[str, list[Segment]] = {i: [] for i in ids}
        subnets: dict[str, list[str]] = {i: [] for i in ids}
        routed: set[str] = set()
        if ids:
            for found in s.scalars(select(Segment).where(Segment.network_id.in_(ids))
                                   .order_by(Segment.segment_index, Segment.id)):
                segs[found.network_id].append(found)
            for nid, sid, seg_id in s.execute(select(Subnet.network_id, Subnet.id, Subnet.segment_id)
                                              .where(Subnet.network_id.in_(ids))
                                              .order_by(Subnet.created_at, Subnet.id)):
                subnets[nid].append(sid)
                if seg_id is not None:
                    routed.add(nid)
        tags = tags_of(s, ids)
        scopes = self.scopes.of_networks(s, ids) if self.scopes is not None else {}
        out = []
        for n in rows:
            view = {
                "id": n.id, "name": n.name, "tenant_id": n.project_id, "project_id": n.project_id,
                "status": n.status, "admin_state_up": n.admin_state_up, "shared": n.shared,
                "router:external": n.external, "mtu": n.mtu, "port_security_enabled": n.port_security_enabled,
                "subnets": subnets[n.id], "availability_zone_hints": list(n.availability_zone_hints or []),
                "availability_zones": list(n.availability_zone_hints or self.default_azs),
                "ipv4_address_scope": scopes.get(n.id, {}).get(4), "ipv6_address_scope": scopes.get(n.id, {}).get(6),
                # Subnets on segments (a routed network) are not one L2 domain.
                "l2_adjacency": n.id not in routed,
                "dns_domain": n.dns_domain, "is_default": n.is_default, "qos_policy_id": n.qos_policy_id,
                **standard(n, tags[n.id]),
            }
            view.update(provider_view(segs[n.id]))
            out.append(view)
        return out

    def natural_mtu(self, types: Sequence[str]) -> int:
        """The largest MTU of a network with segments of these types: the smallest of theirs."""
        return min((self.types.mtu(t) for t in types), default=self.types.physnet_mtu)

    # --- reads ---------------------------------------------------------------------------

    def find(self, caller: Caller, q: Query) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            return as_seen(s, caller, self.views(s, list_rows(s, LISTING, FILTERS, q, visible(caller))))

    def row(self, s: Session, caller: Caller, network_id: str) -> Network:
        """The network if the caller may see it, else ``NetworkNotFound`` (never 403: its
        existence is not the caller's business)."""
        n = s.get(Network, network_id) if len(network_id) <= 36 else None
        if n is None or not (caller.is_admin or n.project_id == caller.project_id or n.shared or n.external
                             or grants(s, caller, [n.id])):
            raise exc.NetworkNotFound(network_id)
        return n

    def external_for(self, s: Session, caller: Caller, n: Network) -> bool:
        """Whether the network is external for the caller (itself, or by an RBAC policy)."""
        return bool(n.external or "access_as_external" in grants(s, caller, [n.id]).get(n.id, set()))

    def get(self, caller: Caller, network_id: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return as_seen(s, caller, self.views(s, [self.row(s, caller, network_id)]))[0]

    # --- writes --------------------------------------------------------------------------

    def requested(self, data: dict[str, Any]) -> list[segments.SegmentRequest]:
        """The segments a create asks for (``provider:*`` or ``segments``), each validated by its
        type driver; empty when the project's default applies."""
        provider = {k.split(":", 1)[1]: data[k] for k in PROVIDER if data.get(k) is not None}
        multi = data.get("segments")
        if provider:
            if multi:
                raise exc.SegmentsSetInConjunctionWithProviders()
            reqs = [provider]
        else:
            reqs = multi or []
        out = []
        for raw in reqs:
            if raw.get("network_type") is None:
                raise exc.InvalidInput("network_type required")
            req = segments.SegmentRequest(raw["network_type"], raw.get("physical_network"),
                                          raw.get("segmentation_id"))
            segments.validate(self.types, req)
            out.append(req)
        segments.check_duplicates(out)
        return out

    @retrying
    def create(self, caller: Caller, data: dict[str, Any]) -> dict[str, Any]:
        reqs = self.requested(data)
        t = now()
        nid = new_id()
        with self.db.writer() as s:
            self.charge(s, data["project_id"], "network")
            net = Network(id=nid, project_id=data["project_id"], name=data.get("name") or "",
                          description=data.get("description") or "", status="ACTIVE",
                          admin_state_up=data.get("admin_state_up", True), shared=data.get("shared", False),
                          external=data.get("router:external", False), is_default=data.get("is_default", False),
                          port_security_enabled=data.get("port_security_enabled", True),
                          dns_domain=data.get("dns_domain") or "",
                          availability_zone_hints=list(data.get("availability_zone_hints") or []),
                          mtu=0, revision_number=0, created_at=t, updated_at=t)
            if self.qos is not None:
                net.qos_policy_id = (self.qos.bindable(s, caller, data["qos_policy_id"]) if "qos_policy_id" in data
                                     else self.qos.default_for(s, data["project_id"]))
            s.add(net)
            s.flush()
            self._check_default(s, net)
            got = ([segments.reserve(s, self.types, nid, req) for req in reqs] if reqs
                   else [segments.allocate(s, self.types, nid)])
            natural = self.natural_mtu([g.network_type for g in got])
            mtu = data.get("mtu")
            if mtu is not None and mtu > natural:
                raise exc.InvalidInput(f"Requested MTU is too big, maximum is {natural}")
            net.mtu = mtu if mtu is not None else natural
            for index, seg in enumerate(got):
                s.add(Segment(id=new_id(), network_id=nid, name=None, description="", network_type=seg.network_type,
                              physical_network=seg.physical_network, segmentation_id=seg.segmentation_id,
                              segment_index=index, revision_number=0, created_at=t, updated_at=t))
            set_tags(s, "networks", nid, data.get("tags") or [])
            s.flush()
            view = self.views(s, [net])[0]
        self.notify("network.create.end", {"network": view})
        return view

    UPDATABLE = ("name", "description", "admin_state_up", "shared", "router:external", "port_security_enabled",
                 "dns_domain", "mtu", "is_default")

    @retrying
    def update(self, caller: Caller, network_id: str, data: dict[str, Any], if_match: int | None) -> dict[str, Any]:
        for key in (*PROVIDER, "segments"):
            if key in data:
                raise exc.InvalidInput("Plugin does not support updating provider attributes")
        with self.db.writer() as s:
            net = self.row(s, caller, network_id)
            check_revision(net, if_match)
            if "mtu" in data and data["mtu"] is not None:
                natural = self.natural_mtu(list(s.scalars(select(Segment.network_type)
                                                          .where(Segment.network_id == net.id))))
                if data["mtu"] > natural:
                    raise exc.InvalidInput(f"Requested MTU is too big, maximum is {natural}")
            for key in self.UPDATABLE:
                if key in data:
                    attr = {"router:external": "external"}.get(key, key)
                    setattr(net, attr, data[key] if data[key] is not None or attr == "dns_domain" else
                            getattr(net, attr))
            if net.dns_domain is None:
                net.dns_domain = ""
            if "qos_policy_id" in data and self.qos is not None:
                net.qos_policy_id = self.qos.bindable(s, caller, data["qos_policy_id"])
            self._check_default(s, net)
            touch(net)
            s.flush()
            view = self.views(s, [net])[0]
        self.notify("network.update.end", {"network": view})
        return view

    @staticmethod
    def _check_default(s: Session, net: Network) -> None:
        """``is_default`` (the auto-allocated topology's external network): external only, and one."""
        if not net.is_default:
            return
        if not net.external:
            raise exc.InvalidInput("Only an external network can be the default one")
        other = s.scalar(select(Network.id).where(Network.is_default.is_(True), Network.id != net.id))
        if other:
            raise exc.DefaultExternalNetworkExists(other)

    def delete(self, caller: Caller, network_id: str) -> None:
        with self.db.writer() as s:
            net = self.row(s, caller, network_id)
            in_use = s.scalar(select(func.count()).select_from(Port).where(
                Port.network_id == net.id, Port.device_owner.not_in(("network:dhcp", "network:floatingip"))))
            if in_use:
                raise exc.NetworkInUse(net.id)
            # Neutron deletes the floating IPs of an external network with it.
            fips = list(s.scalars(select(FloatingIP.id).where(FloatingIP.floating_network_id == net.id)))
            s.execute(delete(PortForwarding).where(PortForwarding.floatingip_id.in_(fips)))
            s.execute(delete(Tag).where(Tag.resource_id.in_(fips)))
            s.execute(delete(FloatingIP).where(FloatingIP.id.in_(fips)))
            s.flush()
            s.execute(delete(IPAllocation).where(IPAllocation.network_id == net.id))
            s.execute(delete(Port).where(Port.network_id == net.id))
            subnet_ids = list(s.scalars(select(Subnet.id).where(Subnet.network_id == net.id)))
            s.execute(delete(Tag).where(Tag.resource_id.in_([net.id, *subnet_ids])))
            s.execute(delete(Subnet).where(Subnet.network_id == net.id))
            s.execute(delete(SegmentAllocation).where(SegmentAllocation.network_id == net.id))
            s.execute(delete(Segment).where(Segment.network_id == net.id))
            s.execute(delete(RBACPolicy).where(RBACPolicy.object_type == "network", RBACPolicy.object_id == net.id))
            s.delete(net)
        for fid in fips:
            self.notify("floatingip.delete.end", {"floatingip_id": fid})
        for sid in subnet_ids:
            self.notify("subnet.delete.end", {"subnet_id": sid})
        self.notify("network.delete.end", {"network_id": network_id})
