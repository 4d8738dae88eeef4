"""Floating IPs (an address of an external network, held by its own ``network:floatingip`` port)
and their port forwardings. A floating IP maps to a port's fixed IP only when that fixed IP's
subnet is on a router whose gateway is on the floating IP's network (Neutron's rule)."""

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
from litestack.network.manager.routers import SYSTEM, Routers
from litestack.network.models import FloatingIP, IPAllocation, Port, PortForwarding, Subnet, Tag

OWNER = "network:floatingip"
PROTOCOLS = ("tcp", "udp", "udplite", "sctp")

LISTING = Listing(FloatingIP, sort_keys={k: getattr(FloatingIP, k) for k in (
    "id", "floating_ip_address", "floating_network_id", "fixed_ip_address", "router_id", "status", "project_id",
    "created_at", "updated_at", "revision_number")} | {"tenant_id": FloatingIP.project_id,
                                                       "port_id": FloatingIP.fixed_port_id})

FILTERS: dict[str, Filter] = {
    "id": (FloatingIP.id, None), "project_id": (FloatingIP.project_id, None),
    "tenant_id": (FloatingIP.project_id, None), "floating_ip_address": (FloatingIP.floating_ip_address, None),
    "floating_network_id": (FloatingIP.floating_network_id, None), "router_id": (FloatingIP.router_id, None),
    "port_id": (FloatingIP.fixed_port_id, None), "fixed_ip_address": (FloatingIP.fixed_ip_address, None),
    "status": (FloatingIP.status, None), "description": (FloatingIP.description, None),
    "revision_number": (FloatingIP.revision_number, integer),
}


def visible(caller: Caller) -> Any:
    return None if caller.is_admin else FloatingIP.project_id == caller.project_id


def _pf_view(pf: Any) -> dict[str, Any]:
    return {"id": pf.id, "internal_port_id": pf.internal_port_id, "internal_ip_address": pf.internal_ip_address,
            "internal_port": pf.internal_port, "external_port": pf.external_port, "protocol": pf.protocol,
            "description": pf.description}


class FloatingIPs(Part):
    def __init__(self, *args: Any, networks: Networks, ports: Ports, routers: Routers) -> None:
        super().__init__(*args)
        self.networks, self.ports, self.routers = networks, ports, routers

    # --- views ---------------------------------------------------------------------------

    def views(self, s: Session, rows: Sequence[Any]) -> list[dict[str, Any]]:
        ids = [r.id for r in rows]
        port_ids = [r.fixed_port_id for r in rows if r.fixed_port_id]
        ports = {p.id: p for p in s.scalars(select(Port).where(Port.id.in_(port_ids)))} if port_ids else {}
        pfs: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        if ids:
            for pf in s.scalars(select(PortForwarding).where(PortForwarding.floatingip_id.in_(ids))
                                .order_by(PortForwarding.external_port)):
                pfs[pf.floatingip_id].append(_pf_view(pf))
        tags = tags_of(s, ids)
        out = []
        for f in rows:
            port = ports.get(f.fixed_port_id or "")
            details = None if port is None else {
                "name": port.name, "network_id": port.network_id, "mac_address": port.mac_address,
                "admin_state_up": port.admin_state_up, "status": port.status, "device_id": port.device_id,
                "device_owner": port.device_owner}
            out.append({
                "id": f.id, "tenant_id": f.project_id, "project_id": f.project_id,
                "floating_ip_address": f.floating_ip_address, "floating_network_id": f.floating_network_id,
                "router_id": f.router_id, "port_id": f.fixed_port_id, "fixed_ip_address": f.fixed_ip_address,
                "status": f.status, "port_details": details, "port_forwardings": pfs[f.id],
                **standard(f, tags[f.id]),
            })
        return out

    # --- reads ---------------------------------------------------------------------------

    def find(self, caller: Caller, q: Query) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            return self.views(s, list_rows(s, LISTING, FILTERS, q, visible(caller)))

    def row(self, s: Session, caller: Caller, fip_id: str) -> FloatingIP:
        f = s.get(FloatingIP, fip_id) if len(fip_id) <= 36 else None
        if f is None or not (caller.is_admin or f.project_id == caller.project_id):
            raise exc.FloatingIPNotFound(fip_id)
        return f

    def get(self, caller: Caller, fip_id: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return self.views(s, [self.row(s, caller, fip_id)])[0]

    # --- writes --------------------------------------------------------------------------

    @retrying
    def create(self, caller: Caller, data: dict[str, Any]) -> dict[str, Any]:
        net_id = data.get("floating_network_id")
        if not net_id:
            raise exc.HTTPBadRequest.missing("floating_network_id")
        t = now()
        fid = new_id()
        with self.db.writer() as s:
            self.charge(s, data["project_id"], "floatingip")
            net = self.networks.row(s, caller, net_id)
            if not self.networks.external_for(s, caller, net):
                raise exc.BadRequest("floatingip", f"Network {net_id} is not a valid external network")
            v4 = list(s.scalars(select(Subnet).where(Subnet.network_id == net.id, Subnet.ip_version == 4)
                                .order_by(Subnet.created_at, Subnet.id)))
            if not v4:
                raise exc.BadRequest("floatingip", f"Network {net_id} does not contain any IPv4 subnet")
            address, subnet_id = data.get("floating_ip_address"), data.get("subnet_id")
            if subnet_id is not None and subnet_id not in {sub.id for sub in v4}:
                raise exc.BadRequest("floatingip", f"Subnet {subnet_id} is not an IPv4 subnet of network "
                                     f"{net_id}")
            if address is not None:
                try:
                    if ipaddress.ip_address(address).version != 4:
                        raise ValueError(address)
                except ValueError:
                    raise exc.HTTPBadRequest.attr("floating_ip_address", f"'{address}' is not a valid IP "
                                                  "address") from None
                fixed = [{"ip_address": address, **({"subnet_id": subnet_id} if subnet_id else {})}]
            else:
                fixed = [{"subnet_id": subnet_id or v4[0].id}]
            port = self.ports.insert(s, SYSTEM, {"network_id": net.id, "project_id": "", "device_owner": OWNER,
                                                 "device_id": fid, "fixed_ips": fixed})
            ip = s.scalar(select(IPAllocation.ip_address).where(IPAllocation.port_id == port.id))
            f = FloatingIP(id=fid, project_id=data["project_id"], floating_network_id=net.id,
                           floating_port_id=port.id, floating_ip_address=ip, status="DOWN",
                           description=data.get("description") or "", revision_number=0, created_at=t, updated_at=t)
            s.add(f)
            s.flush()
            if data.get("port_id"):
                self._associate(s, caller, f, data["port_id"], data.get("fixed_ip_address"))
            set_tags(s, "floatingips", fid, data.get("tags") or [])
            s.flush()
            view = self.views(s, [f])[0]
        self.notify("floatingip.create.end", {"floatingip": view})
        if view["port_id"]:
            self._changed_ports([view["port_id"]])
        return view

    def _associate(self, s: Session, caller: Caller, f: FloatingIP, port_id: str, fixed_ip: str | None) -> None:
        port = self.ports.row(s, caller, port_id)
        if not caller.is_admin and port.project_id != f.project_id:
            raise exc.BadRequest("floatingip", f"Cannot create floating IP and bind it to Port {port.id}, since "
                                 "that port is owned by a different tenant")
        if port.device_owner.startswith("network:"):
            raise exc.BadRequest("floatingip", f"Port {port.id} has owner {port.device_owner} and therefore "
                                 "cannot be assigned a floating IP")
        if s.scalar(select(func.count()).select_from(PortForwarding).where(PortForwarding.floatingip_id == f.id)):
            raise exc.FipInUseByPortForwarding(f.id)
        allocs = [(sid, ip) for sid, ip in s.execute(
            select(IPAllocation.subnet_id, IPAllocation.ip_address).where(IPAllocation.port_id == port.id))
            if ipaddress.ip_address(ip).version == 4]
        if fixed_ip is not None:
            chosen = next(((sid, ip) for sid, ip in allocs if ip == fixed_ip), None)
            if chosen is None:
                raise exc.BadRequest("floatingip", f"Port {port.id} does not have fixed ip {fixed_ip}")
        elif not allocs:
            raise exc.BadRequest("floatingip", f"Cannot add floating IP to port {port.id} that has no fixed "
                                 "IPv4 addresses")
        elif len(allocs) > 1:
            raise exc.BadRequest("floatingip", f"Port {port.id} has multiple fixed IPv4 addresses. Must provide "
                                 "a specific IPv4 address when assigning a floating IP")
        else:
            chosen = allocs[0]
        subnet_id, ip = chosen
        subnet = s.get(Subnet, subnet_id)
        assert subnet is not None
        router_id = self.routers.router_for(s, subnet, f.floating_network_id)
        if router_id is None:
            raise exc.ExternalGatewayForFloatingIPNotFound(f.floating_network_id, subnet_id, port.id)
        other = s.scalar(select(FloatingIP).where(
            FloatingIP.floating_network_id == f.floating_network_id, FloatingIP.fixed_port_id == port.id,
            FloatingIP.fixed_ip_address == ip, FloatingIP.id != f.id))
        if other is not None:
            raise exc.FloatingIPPortAlreadyAssociated(f.floating_ip_address, f.id, port.id, ip,
                                                      f.floating_network_id)
        f.fixed_port_id, f.fixed_ip_address, f.router_id = port.id, ip, router_id

    def _changed_ports(self, port_ids: list[str | None]) -> None:
        """``network-changed`` to compute for the servers' ports a floating IP left or joined."""
        if self.network_changed is None:
            return
        with self.db.reader() as s:
            for p in s.scalars(select(Port).where(Port.id.in_([i for i in port_ids if i]))):
                self.network_changed({"id": p.id, "device_id": p.device_id, "device_owner": p.device_owner})

    @retrying
    def update(self, caller: Caller, fip_id: str, data: dict[str, Any], if_match: int | None) -> dict[str, Any]:
        with self.db.writer() as s:
            f = self.row(s, caller, fip_id)
            before = f.fixed_port_id
            check_revision(f, if_match)
            if "port_id" in data:
                if data["port_id"]:
                    self._associate(s, caller, f, data["port_id"], data.get("fixed_ip_address"))
                else:
                    f.fixed_port_id, f.fixed_ip_address = None, None
                    has_pf = s.scalar(select(func.count()).select_from(PortForwarding)
                                      .where(PortForwarding.floatingip_id == f.id))
                    if not has_pf:
                        f.router_id = None
            elif data.get("fixed_ip_address") is not None:
                raise exc.BadRequest("floatingip", "fixed_ip_address cannot be specified without a port_id")
            if data.get("description") is not None:
                f.description = data["description"]
            touch(f)
            s.flush()
            view = self.views(s, [f])[0]
        self.notify("floatingip.update.end", {"floatingip": view})
        if before != view["port_id"]:
            self._changed_ports([before, view["port_id"]])
        return view

    def delete(self, caller: Caller, fip_id: str) -> None:
        with self.db.writer() as s:
            f = self.row(s, caller, fip_id)
            port = s.get(Port, f.floating_port_id)
            s.execute(delete(PortForwarding).where(PortForwarding.floatingip_id == f.id))
            s.execute(delete(Tag).where(Tag.resource_id == f.id))
            s.delete(f)
            s.flush()
            if port is not None:
                self.ports.remove(s, port)
        self.notify("floatingip.delete.end", {"floatingip_id": fip_id})

    # --- port forwardings ----------------------------------------------------------------

    def list_pf(self, caller: Caller, fip_id: str, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            f = self.row(s, caller, fip_id)
            stmt = select(PortForwarding).where(PortForwarding.floatingip_id == f.id)
            cols = {"id": PortForwarding.id, "internal_port_id": PortForwarding.internal_port_id,
                    "protocol": PortForwarding.protocol, "internal_ip_address": PortForwarding.internal_ip_address}
            for name, values in filters.items():
                if name in cols:
                    stmt = stmt.where(cols[name].in_(values))
                elif name in ("external_port", "internal_port"):
                    stmt = stmt.where(getattr(PortForwarding, name).in_([integer(v) for v in values]))
            return [_pf_view(pf) for pf in s.scalars(stmt.order_by(PortForwarding.external_port, PortForwarding.id))]

    def _pf_row(self, s: Session, caller: Caller, fip_id: str, pf_id: str) -> tuple[FloatingIP, PortForwarding]:
        f = self.row(s, caller, fip_id)
        pf = s.get(PortForwarding, pf_id) if len(pf_id) <= 36 else None
        if pf is None or pf.floatingip_id != f.id:
            raise exc.PortForwardingNotFound(pf_id)
        return f, pf

    def get_pf(self, caller: Caller, fip_id: str, pf_id: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return _pf_view(self._pf_row(s, caller, fip_id, pf_id)[1])

    @staticmethod
    def _pf_values(data: Any, update: bool) -> dict[str, Any]:
        allowed = {"internal_port_id", "internal_ip_address", "internal_port", "external_port", "protocol",
                   "description"}
        if not isinstance(data, dict):
            raise exc.HTTPBadRequest("Resource body required for port_forwarding")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise exc.HTTPBadRequest(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
        if not update:
            for name in ("internal_port_id", "internal_ip_address", "internal_port", "external_port", "protocol"):
                if data.get(name) is None:
                    raise exc.HTTPBadRequest.missing(name)
        out = dict(data)
        for name in ("internal_port", "external_port"):
            if name in out:
                v = out[name]
                if isinstance(v, bool) or not isinstance(v, int | str) or not str(v).isdigit() \
                        or not 1 <= int(v) <= 65535:
                    raise exc.HTTPBadRequest.attr(name, f"'{v}' is not in range 1 through 65535")
                out[name] = int(v)
        if "protocol" in out and out["protocol"] not in PROTOCOLS:
            raise exc.HTTPBadRequest.attr("protocol", f"{out['protocol']} is not in {list(PROTOCOLS)}")
        if "internal_ip_address" in out:
            try:
                if ipaddress.ip_address(str(out["internal_ip_address"])).version != 4:
                    raise ValueError(out["internal_ip_address"])
            except ValueError:
                raise exc.HTTPBadRequest.attr("internal_ip_address", f"'{out['internal_ip_address']}' is not a "
                                              "valid IPv4 address") from None
        if "description" in out and (not isinstance(out["description"], str) or len(out["description"]) > 255):
            raise exc.HTTPBadRequest.attr("description", "not a string of at most 255 characters")
        return out

    def _pf_check(self, s: Session, caller: Caller, f: FloatingIP, pf: PortForwarding) -> None:
        if f.fixed_port_id is not None:
            raise exc.BadRequest("port_forwarding", f"The floating IP {f.id} is associated with port "
                                 f"{f.fixed_port_id}; it cannot have port forwardings")
        port = self.ports.row(s, caller, pf.internal_port_id)
        if not caller.is_admin and port.project_id != f.project_id:
            raise exc.PortNotFound(pf.internal_port_id)
        subnet_id = s.scalar(select(IPAllocation.subnet_id).where(
            IPAllocation.port_id == port.id, IPAllocation.ip_address == pf.internal_ip_address))
        if subnet_id is None:
            raise exc.BadRequest("port_forwarding", f"The internal IP address {pf.internal_ip_address} is not "
                                 f"a fixed IP of port {port.id}")
        subnet = s.get(Subnet, subnet_id)
        assert subnet is not None
        router_id = self.routers.router_for(s, subnet, f.floating_network_id)
        if router_id is None:
            raise exc.ExternalGatewayForFloatingIPNotFound(f.floating_network_id, subnet_id, port.id)
        if f.router_id not in (None, router_id):
            raise exc.BadRequest("port_forwarding", f"The internal port {port.id} is behind router {router_id}, "
                                 f"not the floating IP's router {f.router_id}")
        clash = s.scalar(select(PortForwarding.id).where(
            PortForwarding.id != pf.id, PortForwarding.protocol == pf.protocol, (
                (PortForwarding.floatingip_id == f.id) & (PortForwarding.external_port == pf.external_port)) | (
                (PortForwarding.internal_port_id == pf.internal_port_id)
                & (PortForwarding.internal_ip_address == pf.internal_ip_address)
                & (PortForwarding.internal_port == pf.internal_port))))
        if clash:
            raise exc.DuplicatePortForwarding(
                f"{{'floatingip_id': '{f.id}', 'external_port': {pf.external_port}, 'protocol': '{pf.protocol}'}}")
        f.router_id = router_id

    @retrying
    def create_pf(self, caller: Caller, fip_id: str, data: Any) -> dict[str, Any]:
        values = self._pf_values(data, update=False)
        with self.db.writer() as s:
            f = self.row(s, caller, fip_id)
            pf = PortForwarding(id=new_id(), floatingip_id=f.id, description=values.get("description") or "",
                                **{k: values[k] for k in ("internal_port_id", "internal_ip_address",
                                                          "internal_port", "external_port", "protocol")})
            self._pf_check(s, caller, f, pf)
            s.add(pf)
            touch(f)
            s.flush()
            view = _pf_view(pf)
        self.notify("port_forwarding.create.end", {"port_forwarding": {**view, "floatingip_id": fip_id}})
        return view

    @retrying
    def update_pf(self, caller: Caller, fip_id: str, pf_id: str, data: Any) -> dict[str, Any]:
        values = self._pf_values(data, update=True)
        with self.db.writer() as s:
            f, pf = self._pf_row(s, caller, fip_id, pf_id)
            for key, value in values.items():
                setattr(pf, key, value)
            self._pf_check(s, caller, f, pf)
            touch(f)
            s.flush()
            view = _pf_view(pf)
        self.notify("port_forwarding.update.end", {"port_forwarding": {**view, "floatingip_id": fip_id}})
        return view

    def delete_pf(self, caller: Caller, fip_id: str, pf_id: str) -> None:
        with self.db.writer() as s:
            f, pf = self._pf_row(s, caller, fip_id, pf_id)
            s.delete(pf)
            s.flush()
            left = s.scalar(select(func.count()).select_from(PortForwarding)
                            .where(PortForwarding.floatingip_id == f.id))
            if not left and f.fixed_port_id is None:
                f.router_id = None
            touch(f)
        self.notify("port_forwarding.delete.end", {"port_forwarding_id": pf_id, "floatingip_id": fip_id})
