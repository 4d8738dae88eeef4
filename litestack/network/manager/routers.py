"""Routers: the gateway on an external network (``external_gateway_info``), interfaces added by
subnet or by port, static routes (``extraroute``). Router ports are ordinary ports owned by the
router (``network:router_gateway``, ``network:router_interface``), made and removed in the
router's transaction."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from litestack.common.api.pagination import Listing
from litestack.network import exceptions as exc
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
from litestack.network.manager.networks import Networks
from litestack.network.manager.ports import Ports
from litestack.network.manager.subnets import Subnets
from litestack.network.models import FloatingIP, IPAllocation, Network, Port, Router, RouterPort, Subnet, Tag

GATEWAY = "network:router_gateway"
INTERFACE = "network:router_interface"
SYSTEM = Caller(None, True)

LISTING = Listing(Router, sort_keys={k: getattr(Router, k) for k in (
    "id", "name", "status", "admin_state_up", "project_id", "created_at", "updated_at", "revision_number")}
    | {"tenant_id": Router.project_id})

FILTERS: dict[str, Filter] = {
    "id": (Router.id, None), "name": (Router.name, None), "status": (Router.status, None),
    "project_id": (Router.project_id, None), "tenant_id": (Router.project_id, None),
    "description": (Router.description, None), "admin_state_up": (Router.admin_state_up, boolean),
    "revision_number": (Router.revision_number, integer),
}


def visible(caller: Caller) -> Any:
    return None if caller.is_admin else Router.project_id == caller.project_id


def _routes(raw: Any, limit: int, router_id: str) -> list[dict[str, str]]:
    """Static routes as Neutron normalizes them: each a destination CIDR and a nexthop address."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise exc.InvalidRoutes(raw, "the routes must be a list")
    out: list[dict[str, str]] = []
    for r in raw:
        if not isinstance(r, dict) or set(r) != {"destination", "nexthop"}:
            given = sorted(r) if isinstance(r, dict) else r
            raise exc.HTTPBadRequest.attr("routes", "Validation of dictionary's keys failed. Expected keys: "
                                          f"['destination', 'nexthop'] Provided keys: {given}")
        try:
            dest = ipaddress.ip_network(str(r["destination"]), strict=False)
            hop = ipaddress.ip_address(str(r["nexthop"]))
        except ValueError:
            raise exc.InvalidRoutes(r, "the destination or the nexthop is not a valid address") from None
        if dest.version != hop.version:
            raise exc.InvalidRoutes(r, "the nexthop and the destination are of different IP versions")
        item = {"destination": str(dest), "nexthop": str(hop)}
        if item not in out:
            out.append(item)
    if len(out) > limit:
        raise exc.RoutesExhausted(router_id, limit)
    return out


class Routers(Part):
    def __init__(self, *args: Any, networks: Networks, subnets: Subnets, ports: Ports, max_routes: int) -> None:
        super().__init__(*args)
        self.networks, self.subnets, self.ports = networks, subnets, ports
        self.max_routes = max_routes

    # --- views ---------------------------------------------------------------------------

    def views(self, s: Session, rows: Sequence[Any]) -> list[dict[str, Any]]:
        ids = [r.id for r in rows]
        gw_ips: dict[str, list[dict[str, str]]] = {}
        gw_ports = [r.gw_port_id for r in rows if r.gw_port_id]
        if gw_ports:
            for port_id, subnet_id, address in s.execute(
                    select(IPAllocation.port_id, IPAllocation.subnet_id, IPAllocation.ip_address)
                    .where(IPAllocation.port_id.in_(gw_ports)).order_by(IPAllocation.id)):
                gw_ips.setdefault(port_id, []).append({"subnet_id": subnet_id, "ip_address": address})
        tags = tags_of(s, ids)
        out = []
        for r in rows:
            gateway = None
            if r.gw_network_id:
                gateway = {"network_id": r.gw_network_id, "enable_snat": r.enable_snat,
                           "external_fixed_ips": gw_ips.get(r.gw_port_id or "", [])}
            out.append({
                "id": r.id, "name": r.name, "tenant_id": r.project_id, "project_id": r.project_id,
                "status": r.status, "admin_state_up": r.admin_state_up, "external_gateway_info": gateway,
                "routes": list(r.routes or []), "distributed": False, "ha": False, "flavor_id": None,
                "availability_zone_hints": [], "availability_zones": [],
                **standard(r, tags[r.id]),
            })
        return out

    # --- reads ---------------------------------------------------------------------------

    def find(self, caller: Caller, q: Query) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            return self.views(s, list_rows(s, LISTING, FILTERS, q, visible(caller)))

    def row(self, s: Session, caller: Caller, router_id: str) -> Router:
        r = s.get(Router, router_id) if len(router_id) <= 36 else None
        if r is None or not (caller.is_admin or r.project_id == caller.project_id):
            raise exc.RouterNotFound(router_id)
        return r

    def get(self, caller: Caller, router_id: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return self.views(s, [self.row(s, caller, router_id)])[0]

    def interface_subnets(self, s: Session, router_id: str, kind: str = INTERFACE) -> list[Subnet]:
        """The subnets the router's interfaces (or its gateway) have addresses on."""
        return list(s.scalars(select(Subnet).join(IPAllocation, IPAllocation.subnet_id == Subnet.id)
                              .join(RouterPort, RouterPort.port_id == IPAllocation.port_id)
                              .where(RouterPort.router_id == router_id, RouterPort.port_type == kind)))

    # --- writes --------------------------------------------------------------------------

    @retrying
    def create(self, caller: Caller, data: dict[str, Any]) -> dict[str, Any]:
        self._flags(data)
        t = now()
        rid = new_id()
        bound: list[tuple[str, str]] = []
        with self.db.writer() as s:
            self.charge(s, data["project_id"], "router")
            r = Router(id=rid, project_id=data["project_id"], name=data.get("name") or "",
                       description=data.get("description") or "", status="ACTIVE",
                       admin_state_up=data.get("admin_state_up", True), enable_snat=True, routes=[],
                       revision_number=0, created_at=t, updated_at=t)
            s.add(r)
            s.flush()
            if data.get("external_gateway_info"):
                self._set_gateway(s, caller, r, data["external_gateway_info"], bound)
            set_tags(s, "routers", rid, data.get("tags") or [])
            s.flush()
            view = self.views(s, [r])[0]
        self.notify("router.create.end", {"router": view})
        self._announce_bound(bound)
        return view

    @staticmethod
    def _flags(data: dict[str, Any]) -> None:
        for flag in ("distributed", "ha"):
            if data.get(flag):
                raise exc.BadRequest("router", f"{flag} routers are not supported by this deployment")

    @retrying
    def update(self, caller: Caller, router_id: str, data: dict[str, Any], if_match: int | None) -> dict[str, Any]:
        self._flags(data)
        bound: list[tuple[str, str]] = []
        with self.db.writer() as s:
            r = self.row(s, caller, router_id)
            check_revision(r, if_match)
            if "external_gateway_info" in data:
                info = data["external_gateway_info"]
                if info:
                    self._set_gateway(s, caller, r, info, bound)
                else:
                    self._clear_gateway(s, r)
            if "routes" in data:
                r.routes = self._check_routes(s, r, _routes(data["routes"], self.max_routes, r.id))
            for key in ("name", "description", "admin_state_up"):
                if key in data and data[key] is not None:
                    setattr(r, key, data[key])
            touch(r)
            s.flush()
            view = self.views(s, [r])[0]
        self.notify("router.update.end", {"router": view})
        self._announce_bound(bound)
        return view

    def _check_routes(self, s: Session, r: Router, routes: list[dict[str, str]]) -> list[dict[str, str]]:
        """Every nexthop on a subnet the router is connected to, and none of the router's own addresses."""
        subnets = self.interface_subnets(s, r.id) + self.interface_subnets(s, r.id, GATEWAY)
        own = set(s.scalars(select(IPAllocation.ip_address).join(RouterPort, RouterPort.port_id ==
                                                                IPAllocation.port_id)
                            .where(RouterPort.router_id == r.id)))
        for route in routes:
            hop = ipaddress.ip_address(route["nexthop"])
            if not any(hop in ipaddress.ip_network(sub.cidr) for sub in subnets):
                raise exc.InvalidRoutes(route, "the nexthop is not connected with router")
            if route["nexthop"] in own:
                raise exc.InvalidRoutes(route, "the nexthop is used by router")
        return routes

    def _set_gateway(self, s: Session, caller: Caller, r: Router, info: Any,
                     bound: list[tuple[str, str]]) -> None:
        if not isinstance(info, dict) or not set(info) <= {"network_id", "enable_snat", "external_fixed_ips"}:
            raise exc.HTTPBadRequest.attr("external_gateway_info", f"Invalid data format for external gateway: "
                                          f"'{info}'")
        net_id = info.get("network_id")
        if not isinstance(net_id, str):
            raise exc.HTTPBadRequest.attr("external_gateway_info", "network_id is required")
        net = self.networks.row(s, caller, net_id)
        if not self.networks.external_for(s, caller, net):
            raise exc.BadRequest("router", f"Network {net_id} is not an external network")
        snat = info.get("enable_snat", True)
        if not isinstance(snat, bool):
            raise exc.HTTPBadRequest.attr("enable_snat", f"'{snat}' cannot be converted to boolean")
        fixed = info.get("external_fixed_ips")
        if fixed is not None and not isinstance(fixed, list):
            raise exc.HTTPBadRequest.attr("external_fixed_ips", f"'{fixed}' is not a list")
        if r.gw_network_id == net_id and fixed is None:
            r.enable_snat = snat
            return
        if r.gw_port_id is not None:
            if r.gw_network_id != net_id:
                self._gateway_free(s, r)
            self._drop_port(s, r.gw_port_id)
            r.gw_port_id = None
            s.flush()
        if s.scalar(select(func.count()).select_from(Subnet).where(Subnet.network_id == net_id)) == 0:
            raise exc.BadRequest("router", f"No subnets defined on network {net_id}")
        port = self.ports.insert(s, SYSTEM, {
            "network_id": net_id, "project_id": "", "device_owner": GATEWAY, "device_id": r.id,
            "fixed_ips": [dict(x) for x in fixed] if fixed else None, "binding:host_id": self._host(s)})
        bound.append((port.id, port.binding_host_id))
        s.add(RouterPort(port_id=port.id, router_id=r.id, port_type=GATEWAY))
        r.gw_port_id, r.gw_network_id, r.enable_snat = port.id, net_id, snat
        s.flush()

    def _gateway_free(self, s: Session, r: Router) -> None:
        used = s.scalar(select(func.count()).select_from(FloatingIP).where(FloatingIP.router_id == r.id))
        if used:
            raise exc.RouterExternalGatewayInUseByFloatingIp(r.id, r.gw_network_id or "")

    def _clear_gateway(self, s: Session, r: Router) -> None:
        if r.gw_port_id is None:
            return
        self._gateway_free(s, r)
        gw_subnets = {sub.cidr for sub in self.interface_subnets(s, r.id, GATEWAY)}
        if any(any(ipaddress.ip_address(rt["nexthop"]) in ipaddress.ip_network(c) for c in gw_subnets)
               for rt in r.routes or []):
            raise exc.RouterInUse(r.id, "has routes through its gateway")
        port_id = r.gw_port_id
        r.gw_port_id, r.gw_network_id, r.enable_snat = None, None, True
        s.flush()
        self._drop_port(s, port_id)

    def _drop_port(self, s: Session, port_id: str) -> None:
        port = s.get(Port, port_id)
        if port is not None:
            self.ports.remove(s, port)

    def delete(self, caller: Caller, router_id: str) -> None:
        with self.db.writer() as s:
            r = self.row(s, caller, router_id)
            if s.scalar(select(func.count()).select_from(RouterPort).where(
                    RouterPort.router_id == r.id, RouterPort.port_type == INTERFACE)):
                raise exc.RouterInUse(r.id)
            self._clear_gateway(s, r)
            s.execute(delete(Tag).where(Tag.resource_id == r.id))
            s.delete(r)
        self.notify("router.delete.end", {"router_id": router_id})

    # --- interfaces ----------------------------------------------------------------------

    def _info(self, r: Router, port: Port, subnet_ids: list[str]) -> dict[str, Any]:
        return {"id": r.id, "tenant_id": r.project_id, "project_id": r.project_id, "port_id": port.id,
                "network_id": port.network_id, "subnet_id": subnet_ids[0] if subnet_ids else None,
                "subnet_ids": subnet_ids}

    def _check_overlap(self, s: Session, r: Router, new: Sequence[Subnet]) -> None:
        current = self.interface_subnets(s, r.id)
        for sub in new:
            cidr = ipaddress.ip_network(sub.cidr)
            for other in current:
                if other.id == sub.id:
                    raise exc.BadRequest("router", f"Router already has a port on subnet {sub.id}")
                if cidr.overlaps(ipaddress.ip_network(other.cidr)):
                    raise exc.BadRequest("router", f"Cidr {sub.cidr} of subnet {sub.id} overlaps with cidr "
                                         f"{other.cidr} of subnet {other.id}")

    @retrying
    def add_interface(self, caller: Caller, router_id: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise exc.BadRequest("router", "Either subnet_id or port_id must be specified")
        unknown = set(body) - {"subnet_id", "port_id"}
        if unknown:
            raise exc.BadRequest("router", f"Unrecognized attribute(s) '{', '.join(sorted(unknown))}'")
        subnet_id, port_id = body.get("subnet_id"), body.get("port_id")
        if subnet_id and port_id:
            raise exc.BadRequest("router", "Cannot specify both subnet-id and port-id")
        if not subnet_id and not port_id:
            raise exc.BadRequest("router", "Either subnet_id or port_id must be specified")
        with self.db.writer() as s:
            r = self.row(s, caller, router_id)
            if port_id:
                port = self.ports.row(s, caller, str(port_id))
                if port.device_id or port.device_owner:
                    raise exc.PortInUse(port.network_id, port.id, port.device_id or port.device_owner)
                subnets = list(s.scalars(select(Subnet).join(IPAllocation, IPAllocation.subnet_id == Subnet.id)
                                         .where(IPAllocation.port_id == port.id)))
                if not subnets:
                    raise exc.BadRequest("router", "Router port must have at least one fixed IP")
                if sum(1 for sub in subnets if sub.ip_version == 4) > 1:
                    raise exc.BadRequest("router", "Cannot have multiple IPv4 subnets on router port")
                self._check_overlap(s, r, subnets)
                port.device_id, port.device_owner = r.id, INTERFACE
                host = self._host(s)
                if host and host != port.binding_host_id:
                    port.binding_host_id = host
                    port.binding_vif_type, port.binding_vif_details = self.ports.binding(s, host, port.network_id)
                    port.status = "DOWN"
                touch(port)
            else:
                sub = self.subnets.row(s, caller, str(subnet_id))
                net = s.get(Network, sub.network_id)
                if not caller.is_admin and net is not None and net.project_id != caller.project_id \
                        and not net.shared:
                    raise exc.SubnetNotFound(sub.id)
                if not sub.gateway_ip:
                    raise exc.BadRequest("router", "Subnet for router interface must have a gateway IP")
                self._check_overlap(s, r, [sub])
                gateway_used = s.scalar(select(IPAllocation.port_id).where(
                    IPAllocation.network_id == sub.network_id, IPAllocation.ip_address == sub.gateway_ip))
                if gateway_used:
                    raise exc.IpAddressInUse(sub.network_id, sub.gateway_ip)
                port = self.ports.insert(s, SYSTEM, {
                    "network_id": sub.network_id, "project_id": r.project_id, "device_owner": INTERFACE,
                    "device_id": r.id, "fixed_ips": [{"subnet_id": sub.id, "ip_address": sub.gateway_ip}],
                    "binding:host_id": self._host(s)})
                subnets = [sub]
            s.add(RouterPort(port_id=port.id, router_id=r.id, port_type=INTERFACE))
            touch(r)
            s.flush()
            info = self._info(r, port, [sub.id for sub in subnets])
            port_view = self.ports.views(s, [port])[0]
        self.notify("port.create.end" if not port_id else "port.update.end", {"port": port_view})
        self.notify("router.interface.create", {"router_interface": info})
        if port_view["binding:host_id"]:
            self.tell_agents("port_update", {"port_id": port_view["id"], "host": port_view["binding:host_id"]})
        return info

    def _host(self, s: Session) -> str:
        """Where router ports are bound: a live L3 agent's host ('' without one)."""
        return (self.agents.l3_host(s) if self.agents is not None else None) or ""

    def _announce_bound(self, bound: list[tuple[str, str]]) -> None:
        """After the commit: the agents of the hosts new gateway ports were bound to wire them."""
        for port_id, host in bound:
            if host:
                self.tell_agents("port_update", {"port_id": port_id, "host": host})

    @retrying
    def remove_interface(self, caller: Caller, router_id: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not (body.get("subnet_id") or body.get("port_id")):
            raise exc.BadRequest("router", "Either subnet_id or port_id must be specified")
        subnet_id, port_id = body.get("subnet_id"), body.get("port_id")
        with self.db.writer() as s:
            r = self.row(s, caller, router_id)
            ports = list(s.scalars(select(Port).join(RouterPort, RouterPort.port_id == Port.id).where(
                RouterPort.router_id == r.id, RouterPort.port_type == INTERFACE)))
            if port_id:
                port = next((p for p in ports if p.id == port_id), None)
                if port is None:
                    raise exc.RouterInterfaceNotFound(r.id, str(port_id))
                if subnet_id and not s.scalar(select(IPAllocation.id).where(
                        IPAllocation.port_id == port.id, IPAllocation.subnet_id == subnet_id)):
                    raise exc.SubnetMismatchForPort(port.id, str(subnet_id))
            else:
                self.subnets.row(s, caller, str(subnet_id))
                port = next((p for p in ports if s.scalar(select(IPAllocation.id).where(
                    IPAllocation.port_id == p.id, IPAllocation.subnet_id == subnet_id))), None)
                if port is None:
                    raise exc.RouterInterfaceNotFoundForSubnet(r.id, str(subnet_id))
            subnets = list(s.scalars(select(Subnet).join(IPAllocation, IPAllocation.subnet_id == Subnet.id)
                                     .where(IPAllocation.port_id == port.id)))
            for sub in subnets:
                cidr = ipaddress.ip_network(sub.cidr)
                if any(ipaddress.ip_address(rt["nexthop"]) in cidr for rt in r.routes or []):
                    raise exc.RouterInterfaceInUseByRoute(r.id, sub.id)
                fips = s.scalar(select(func.count()).select_from(FloatingIP).join(
                    IPAllocation, (IPAllocation.port_id == FloatingIP.fixed_port_id)
                    & (IPAllocation.ip_address == FloatingIP.fixed_ip_address))
                    .where(FloatingIP.router_id == r.id, IPAllocation.subnet_id == sub.id))
                if fips:
                    raise exc.RouterInterfaceInUseByFloatingIP(r.id, sub.id)
            info = self._info(r, port, [sub.id for sub in subnets])
            self.ports.remove(s, port)
            touch(r)
        self.notify("port.delete.end", {"port_id": info["port_id"]})
        self.notify("router.interface.delete", {"router_interface": info})
        return info

    @retrying
    def change_routes(self, caller: Caller, router_id: str, body: Any, add: bool) -> dict[str, Any]:
        """``add_extraroutes`` / ``remove_extraroutes``: routes added to or taken from the current set."""
        routes = body.get("routes") if isinstance(body, dict) else None
        if routes is None:
            raise exc.HTTPBadRequest.missing("routes")
        with self.db.writer() as s:
            r = self.row(s, caller, router_id)
            given = _routes(routes, 2**31, r.id)
            current = list(r.routes or [])
            new = current + [x for x in given if x not in current] if add else [x for x in current if x not in given]
            if len(new) > self.max_routes:
                raise exc.RoutesExhausted(r.id, self.max_routes)
            r.routes = self._check_routes(s, r, new) if add else new
            touch(r)
            s.flush()
            view = self.views(s, [r])[0]
        self.notify("router.update.end", {"router": view})
        return view

    # --- for floating IPs ----------------------------------------------------------------

    def router_for(self, s: Session, subnet: Subnet, external_network_id: str) -> str | None:
        """The router with an interface on the subnet and its gateway on the external network."""
        return s.scalar(select(Router.id).join(RouterPort, RouterPort.router_id == Router.id)
                        .join(IPAllocation, IPAllocation.port_id == RouterPort.port_id)
                        .where(Router.gw_network_id == external_network_id, RouterPort.port_type == INTERFACE,
                               IPAllocation.subnet_id == subnet.id).order_by(Router.created_at).limit(1))

