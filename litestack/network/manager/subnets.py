"""Subnets: CIDRs, gateways, allocation pools, DNS servers, host routes, IPv6 modes."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from litestack.common.api.pagination import Listing
from litestack.network import exceptions as exc
from litestack.network import ipam
from litestack.network.manager.base import (
    Caller,
    Filter,
    Part,
    Query,
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
from litestack.network.manager.networks import Networks, grants
from litestack.network.manager.segments import Segments
from litestack.network.manager.subnetpools import SubnetPools
from litestack.network.models import IPAllocation, Network, Port, RBACPolicy, Subnet, Tag

LISTING = Listing(Subnet, sort_keys={k: getattr(Subnet, k) for k in (
    "id", "name", "network_id", "ip_version", "cidr", "gateway_ip", "enable_dhcp", "project_id", "created_at",
    "updated_at", "revision_number")} | {"tenant_id": Subnet.project_id})

FILTERS: dict[str, Filter] = {
    "id": (Subnet.id, None), "name": (Subnet.name, None), "network_id": (Subnet.network_id, None),
    "project_id": (Subnet.project_id, None), "tenant_id": (Subnet.project_id, None),
    "ip_version": (Subnet.ip_version, integer), "cidr": (Subnet.cidr, None),
    "gateway_ip": (Subnet.gateway_ip, None), "enable_dhcp": (Subnet.enable_dhcp, boolean),
    "ipv6_ra_mode": (Subnet.ipv6_ra_mode, None), "ipv6_address_mode": (Subnet.ipv6_address_mode, None),
    "description": (Subnet.description, None), "revision_number": (Subnet.revision_number, integer),
    "subnetpool_id": (Subnet.subnetpool_id, None), "segment_id": (Subnet.segment_id, None),
}


def visible(caller: Caller) -> Any:
    """A project sees its subnets and those of the networks it sees as shared or external."""
    if caller.is_admin:
        return None
    return or_(Subnet.project_id == caller.project_id, Subnet.network_id.in_(
        select(Network.id).where(or_(Network.shared.is_(True), Network.external.is_(True)))),
        Subnet.network_id.in_(select(RBACPolicy.object_id).where(
            RBACPolicy.object_type == "network", RBACPolicy.target_project.in_([caller.project_id or "", "*"]))))


def _routes(raw: Any, version: int) -> list[dict[str, str]]:
    out = []
    for r in raw or []:
        if not isinstance(r, dict) or set(r) != {"destination", "nexthop"}:
            raise exc.HTTPBadRequest.attr("host_routes", f"Invalid data format for hostroute: '{r}'")
        try:
            dest = ipaddress.ip_network(r["destination"])
            hop = ipaddress.ip_address(r["nexthop"])
        except (ValueError, TypeError):
            raise exc.InvalidInput(f"Invalid route: {r}") from None
        if dest.version != version or hop.version != version:
            raise exc.InvalidInput(f"Invalid route: {r}")
        out.append({"destination": str(dest), "nexthop": str(hop)})
    return out


def _nameservers(raw: Any, version: int) -> list[str]:
    out: list[str] = []
    for ns in raw or []:
        addr = ipam.parse_ip(ns, "dns_nameservers")
        if str(addr) in out:
            raise exc.HTTPBadRequest.attr("dns_nameservers", f"Duplicate nameserver '{ns}'")
        out.append(str(addr))
    return out


class Subnets(Part):
    def __init__(self, *args: Any, networks: Networks, pools: SubnetPools, max_dns: int, max_routes: int) -> None:
        super().__init__(*args)
        self.networks, self.pools = networks, pools
        self.max_dns, self.max_routes = max_dns, max_routes

    def views(self, s: Session, rows: Sequence[Subnet]) -> list[dict[str, Any]]:
        tags = tags_of(s, [r.id for r in rows])
        nets = list({r.network_id for r in rows})
        external = set(s.scalars(select(Network.id).where(Network.id.in_(nets), Network.external.is_(True))))
        return [{
            "id": r.id, "name": r.name, "tenant_id": r.project_id, "project_id": r.project_id,
            "network_id": r.network_id, "ip_version": r.ip_version, "cidr": r.cidr, "gateway_ip": r.gateway_ip,
            "enable_dhcp": r.enable_dhcp, "ipv6_ra_mode": r.ipv6_ra_mode, "ipv6_address_mode": r.ipv6_address_mode,
            "allocation_pools": list(r.allocation_pools), "dns_nameservers": list(r.dns_nameservers),
            "host_routes": list(r.host_routes), "subnetpool_id": r.subnetpool_id, "service_types": [],
            "segment_id": r.segment_id, "router:external": r.network_id in external,
            "dns_publish_fixed_ip": r.dns_publish_fixed_ip, **standard(r, tags[r.id]),
        } for r in rows]

    def find(self, caller: Caller, q: Query) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            return self.views(s, list_rows(s, LISTING, FILTERS, q, visible(caller)))

    def row(self, s: Session, caller: Caller, subnet_id: str) -> Subnet:
        sub = s.get(Subnet, subnet_id) if len(subnet_id) <= 36 else None
        if sub is None:
            raise exc.SubnetNotFound(subnet_id)
        if not caller.is_admin and sub.project_id != caller.project_id:
            net = s.get(Network, sub.network_id)
            if net is None or not (net.shared or net.external or grants(s, caller, [net.id])):
                raise exc.SubnetNotFound(subnet_id)
        return sub

    def get(self, caller: Caller, subnet_id: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return self.views(s, [self.row(s, caller, subnet_id)])[0]

    def network_owner(self, caller: Caller, network_id: str) -> str:
        """The project owning the network a subnet is created on (404 if the caller cannot see it)."""
        with self.db.reader() as s:
            return self.networks.row(s, caller, network_id).project_id

    # --- writes --------------------------------------------------------------------------

    @retrying
    def create(self, caller: Caller, data: dict[str, Any]) -> dict[str, Any]:
        version = data.get("ip_version")
        pool_id, use_default = data.get("subnetpool_id"), data.get("use_default_subnetpool")
        if version is not None and version not in (4, 6):
            raise exc.HTTPBadRequest.attr("ip_version", f"{version} is not in [4, 6]")
        if pool_id and use_default:
            raise exc.BadRequest("subnets", "subnetpool_id and use_default_subnetpool cannot both be specified")
        if data.get("cidr") is not None and data.get("prefixlen") is not None:
            raise exc.BadRequest("subnets", "cidr and prefixlen must not be supplied together")
        if data.get("cidr") is None and not (pool_id or use_default):
            raise exc.BadRequest("subnets", "a subnetpool must be specified in the absence of a cidr")
        if version is None and not pool_id:
            raise exc.HTTPBadRequest.missing("ip_version")
        requested = ipam.parse_cidr(data["cidr"]) if data.get("cidr") is not None else None
        sid = new_id()
        t = now()
        with self.db.writer() as s:
            network = self.networks.row(s, caller, data["network_id"])
            self.charge(s, data["project_id"], "subnet")
            # The network's row is written first: concurrent subnet creates on it take turns (a row
            # lock on PostgreSQL/MariaDB), and the locking read below sees every committed subnet.
            touch(network)
            s.flush()
            pool = None
            if use_default:
                pool = self.pools.default(s, version or 4)
                if pool is None:
                    raise exc.BadRequest("subnets", f"No default subnetpool found for IPv{version or 4}")
            elif pool_id:
                pool = self.pools.row(s, caller, pool_id)
            if pool is not None:
                if version is not None and version != pool.ip_version:
                    raise exc.BadRequest("subnets", f"Cannot allocate IPv{version} subnet from IPv{pool.ip_version} "
                                                    "subnet pool")
                version = pool.ip_version
                net = self.pools.allocate(s, pool, requested, data.get("prefixlen"))
            else:
                assert requested is not None
                net = requested
            if net.version != version:
                raise exc.InvalidInput(f"cidr '{data['cidr']}' does not match the ip_version '{version}'")
            gateway, pools, dns, routes, modes = self._validated(sid, net, data)
            Segments.check_subnet(s, network.id, data.get("segment_id"))
            for other in s.scalars(select(Subnet.cidr).where(Subnet.network_id == network.id).with_for_update()):
                other_net = ipaddress.ip_network(other)
                if other_net.version == version and other_net.overlaps(net):
                    raise exc.InvalidInput(f"Requested subnet with cidr: {net} for network: {network.id} "
                                           "overlaps with another subnet")
            sub = Subnet(id=sid, project_id=data["project_id"], network_id=network.id, name=data.get("name") or "",
                         description=data.get("description") or "", ip_version=version, cidr=str(net),
                         gateway_ip=str(gateway) if gateway is not None else None,
                         enable_dhcp=data.get("enable_dhcp", True), ipv6_ra_mode=modes[0], ipv6_address_mode=modes[1],
                         allocation_pools=ipam.pools_json(pools), dns_nameservers=dns, host_routes=routes,
                         dns_publish_fixed_ip=data.get("dns_publish_fixed_ip", False),
                         subnetpool_id=pool.id if pool is not None else None, segment_id=data.get("segment_id"),
                         revision_number=0, created_at=t, updated_at=t)
            s.add(sub)
            s.flush()
            Segments.check_network_subnets(s, network.id)
            set_tags(s, "subnets", sid, data.get("tags") or [])
            s.flush()
            view = self.views(s, [sub])[0]
        self.notify("subnet.create.end", {"subnet": view})
        return view

    def _validated(self, sid: str, net: ipam.Net, data: dict[str, Any]) -> tuple[
            ipam.Addr | None, list[tuple[ipam.Addr, ipam.Addr]], list[str], list[dict[str, str]],
            tuple[str | None, str | None]]:
        """A new subnet's gateway, pools, DNS servers, routes and IPv6 modes, checked as Neutron
        checks them."""
        version = net.version
        enable_dhcp = data.get("enable_dhcp", True)
        ra, am = data.get("ipv6_ra_mode"), data.get("ipv6_address_mode")
        if version == 4:
            if ra is not None:
                raise exc.InvalidInput("ipv6_ra_mode is not valid when ip_version is 4")
            if am is not None:
                raise exc.InvalidInput("ipv6_address_mode is not valid when ip_version is 4")
        for name, mode in (("ipv6_ra_mode", ra), ("ipv6_address_mode", am)):
            if mode is not None and mode not in ipam.IPV6_MODES:
                raise exc.HTTPBadRequest.attr(name, f"{mode} is not in {list(ipam.IPV6_MODES)}")
        if ra is not None and am is not None and ra != am:
            raise exc.InvalidInput(f"ipv6_ra_mode set to '{ra}' with ipv6_address_mode set to '{am}' is not valid. "
                                   "If both attributes are set, they must be the same value")
        if (ra is not None or am is not None) and not enable_dhcp:
            raise exc.InvalidInput("ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False")
        if (am or ra) in ("slaac", "dhcpv6-stateless") and net.prefixlen != 64:
            raise exc.InvalidInput(f"Invalid CIDR {net} for IPv6 address mode. OpenStack uses the EUI-64 "
                                   "address format, which requires the prefix to be /64")
        if enable_dhcp:
            if (version == 4 and net.prefixlen > 30) or (version == 6 and net.prefixlen > 126):
                raise exc.InvalidInput("Subnet has a prefix length that is incompatible with DHCP service enabled")
            if net.is_multicast:
                raise exc.InvalidInput("Multicast IP subnet is not supported if enable_dhcp is True")
            if net.is_loopback:
                raise exc.InvalidInput("Loopback IP subnet is not supported if enable_dhcp is True")
            if version == 4 and int(net.network_address) == 0:
                raise exc.InvalidInput("First IP '0.0.0.0' of network is not supported if enable_dhcp is True.")
        if version == 6 and int(net.network_address) == 0:
            raise exc.InvalidInput("IPv6 subnet '::' is not supported")
        gateway = self._gateway(net, data)
        pools = (ipam.check_pools(net, data["allocation_pools"], gateway) if data.get("allocation_pools")
                 else ipam.default_pools(net, gateway))
        dns = _nameservers(data.get("dns_nameservers"), version)
        routes = _routes(data.get("host_routes"), version)
        if len(dns) > self.max_dns:
            raise exc.DNSNameServersExhausted(sid, self.max_dns)
        if len(routes) > self.max_routes:
            raise exc.HostRoutesExhausted(sid, self.max_routes)
        return gateway, pools, dns, routes, (ra, am)

    @staticmethod
    def _gateway(net: ipam.Net, data: dict[str, Any]) -> ipam.Addr | None:
        if "gateway_ip" not in data:
            return ipam.first_host(net)
        if data["gateway_ip"] is None:
            return None
        gw = ipam.parse_ip(data["gateway_ip"], "gateway_ip")
        if gw.version != net.version:
            raise exc.InvalidInput(f"gateway_ip '{data['gateway_ip']}' does not match the ip_version "
                                   f"'{net.version}'")
        if gw == net.network_address or (net.version == 4 and net.prefixlen < 31 and gw == net.broadcast_address):
            raise exc.InvalidInput("Gateway is not valid on subnet")
        return gw

    @retrying
    def update(self, caller: Caller, subnet_id: str, data: dict[str, Any], if_match: int | None) -> dict[str, Any]:
        for key in ("cidr", "ip_version", "network_id", "ipv6_ra_mode", "ipv6_address_mode"):
            if key in data:
                raise exc.HTTPBadRequest(f"Cannot update read-only attribute {key}")
        with self.db.writer() as s:
            sub = self.row(s, caller, subnet_id)
            check_revision(sub, if_match)
            net = ipaddress.ip_network(sub.cidr)
            if "gateway_ip" in data or "allocation_pools" in data:
                gateway = (self._gateway(net, data) if "gateway_ip" in data else
                           ipaddress.ip_address(sub.gateway_ip) if sub.gateway_ip else None)
                pools = (ipam.check_pools(net, data["allocation_pools"], gateway) if data.get("allocation_pools")
                         else [(ipaddress.ip_address(p["start"]), ipaddress.ip_address(p["end"]))
                               for p in sub.allocation_pools])
                if "allocation_pools" not in data and gateway is not None:
                    for p in pools:
                        if int(p[0]) <= int(gateway) <= int(p[1]):
                            raise exc.GatewayConflictWithAllocationPools(str(gateway), f"{p[0]}-{p[1]}")
                sub.gateway_ip = str(gateway) if gateway is not None else None
                sub.allocation_pools = ipam.pools_json(pools)
            if "dns_nameservers" in data:
                sub.dns_nameservers = _nameservers(data["dns_nameservers"], sub.ip_version)
                if len(sub.dns_nameservers) > self.max_dns:
                    raise exc.DNSNameServersExhausted(sub.id, self.max_dns)
            if "host_routes" in data:
                sub.host_routes = _routes(data["host_routes"], sub.ip_version)
                if len(sub.host_routes) > self.max_routes:
                    raise exc.HostRoutesExhausted(sub.id, self.max_routes)
            if "segment_id" in data:
                Segments.check_subnet_move(s, sub.network_id, sub.segment_id, data["segment_id"])
                sub.segment_id = data["segment_id"]
            for key in ("name", "description", "enable_dhcp", "dns_publish_fixed_ip"):
                if key in data and data[key] is not None:
                    setattr(sub, key, data[key])
            if sub.ip_version == 6 and not sub.enable_dhcp and (sub.ipv6_ra_mode or sub.ipv6_address_mode):
                raise exc.InvalidInput("Cannot disable enable_dhcp with ipv6 attributes set")
            touch(sub)
            s.flush()
            view = self.views(s, [sub])[0]
        self.notify("subnet.update.end", {"subnet": view})
        return view

    def delete(self, caller: Caller, subnet_id: str) -> None:
        with self.db.writer() as s:
            sub = self.row(s, caller, subnet_id)
            # SLAAC addresses are computed, not handed out: Neutron lets such a subnet go and takes
            # them off the ports.
            used = 0 if ipam.is_auto_address(sub) else s.scalar(
                select(func.count()).select_from(IPAllocation).join(Port, Port.id == IPAllocation.port_id)
                .where(IPAllocation.subnet_id == sub.id, Port.device_owner != "network:dhcp"))
            if used:
                raise exc.SubnetInUse(sub.id)
            s.execute(delete(IPAllocation).where(IPAllocation.subnet_id == sub.id))
            s.execute(delete(Tag).where(Tag.resource_id == sub.id))
            s.delete(sub)
        self.notify("subnet.delete.end", {"subnet_id": subnet_id})
