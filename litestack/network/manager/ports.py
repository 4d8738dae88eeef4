"""Ports: MACs, fixed IPs (race-free IPAM), security groups, address pairs, bindings, DNS."""

from __future__ import annotations

import ipaddress
import random
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
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
from litestack.network.manager.networks import Networks
from litestack.network.manager.security_groups import SecurityGroups
from litestack.network.models import (
    FloatingIP,
    IPAllocation,
    Network,
    Port,
    PortForwarding,
    PortSecurityGroup,
    RouterPort,
    Subnet,
    Tag,
)

LISTING = Listing(Port, sort_keys={k: getattr(Port, k) for k in (
    "id", "name", "network_id", "mac_address", "status", "device_id", "device_owner", "admin_state_up",
    "project_id", "created_at", "updated_at", "revision_number")} | {"tenant_id": Port.project_id})


def _fixed_ips_filter(vals: list[str]) -> Any:
    """``fixed_ips=ip_address=10.0.0.3`` / ``fixed_ips=subnet_id=…`` (each value one condition)."""
    clauses = []
    for v in vals:
        key, _, value = v.partition("=")
        col = {"ip_address": IPAllocation.ip_address, "subnet_id": IPAllocation.subnet_id}.get(key)
        if col is None:
            raise exc.HTTPBadRequest(f"Invalid fixed_ips filter {v[:64]}")
        clauses.append(Port.id.in_(select(IPAllocation.port_id).where(col == value)))
    return or_(*clauses)


FILTERS: dict[str, Filter] = {
    "id": (Port.id, None), "name": (Port.name, None), "network_id": (Port.network_id, None),
    "project_id": (Port.project_id, None), "tenant_id": (Port.project_id, None),
    "mac_address": (Port.mac_address, None), "status": (Port.status, None), "device_id": (Port.device_id, None),
    "device_owner": (Port.device_owner, None), "admin_state_up": (Port.admin_state_up, boolean),
    "description": (Port.description, None), "binding:host_id": (Port.binding_host_id, None),
    "binding:vnic_type": (Port.binding_vnic_type, None), "dns_name": (Port.dns_name, None),
    "port_security_enabled": (Port.port_security_enabled, boolean),
    "revision_number": (Port.revision_number, integer), "fixed_ips": (_fixed_ips_filter, None),
    "security_groups": ((lambda vals: Port.id.in_(select(PortSecurityGroup.port_id).where(
        PortSecurityGroup.security_group_id.in_(vals)))), None),
}
MAC = re.compile(r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$")
#: Ports a router or floating IP owns: deleted with it, never through the port API.
SERVICE_OWNERS = ("network:router_interface", "network:router_gateway", "network:floatingip",
                  "network:router_interface_distributed", "network:ha_router_replicated_interface")
VNIC_TYPES = ("normal", "direct", "macvtap", "baremetal", "direct-physical", "virtio-forwarder", "smart-nic",
              "vdpa", "remote-managed")


def visible(caller: Caller) -> Any:
    """A project sees its ports and the ports on its own networks."""
    if caller.is_admin:
        return None
    return or_(Port.project_id == caller.project_id,
               Port.network_id.in_(select(Network.id).where(Network.project_id == caller.project_id)))


class Ports(Part):
    def __init__(self, *args: Any, networks: Networks, groups: SecurityGroups, base_mac: str,
                 dns_domain: str, max_pairs: int) -> None:
        super().__init__(*args)
        self.networks, self.groups = networks, groups
        self.base_mac = [int(x, 16) for x in base_mac.split(":")]
        if len(self.base_mac) != 6:
            raise ValueError(f"[network] base_mac {base_mac!r} is not a MAC address")
        self.dns_domain = dns_domain.strip(".")
        self.max_pairs = max_pairs

    def new_mac(self) -> str:
        """The base MAC with its zero bytes after the third chosen at random (Neutron's rule)."""
        return ":".join(f"{b if i < 3 or b else random.randint(0, 255):02x}" for i, b in enumerate(self.base_mac))

    # --- views ---------------------------------------------------------------------------

    def views(self, s: Session, rows: Sequence[Port]) -> list[dict[str, Any]]:
        ids = [p.id for p in rows]
        ips: dict[str, list[dict[str, str]]] = {i: [] for i in ids}
        groups: dict[str, list[str]] = {i: [] for i in ids}
        if ids:
            for port_id, subnet_id, address in s.execute(
                    select(IPAllocation.port_id, IPAllocation.subnet_id, IPAllocation.ip_address)
                    .where(IPAllocation.port_id.in_(ids)).order_by(IPAllocation.id)):
                ips[port_id].append({"subnet_id": subnet_id, "ip_address": address})
            for pid, gid in s.execute(select(PortSecurityGroup.port_id, PortSecurityGroup.security_group_id)
                                      .where(PortSecurityGroup.port_id.in_(ids))):
                groups[pid].append(gid)
        tags = tags_of(s, ids)
        net_ids = list({p.network_id for p in rows})
        net_qos = {nid: q for nid, q in s.execute(select(Network.id, Network.qos_policy_id)
                                                  .where(Network.id.in_(net_ids)))} if net_ids else {}
        out = []
        for p in rows:
            out.append({
                "id": p.id, "name": p.name, "network_id": p.network_id, "tenant_id": p.project_id,
                "project_id": p.project_id, "mac_address": p.mac_address, "admin_state_up": p.admin_state_up,
                "status": p.status, "device_id": p.device_id, "device_owner": p.device_owner,
                "fixed_ips": ips[p.id], "allowed_address_pairs": list(p.allowed_address_pairs),
                "extra_dhcp_opts": list(p.extra_dhcp_opts), "security_groups": sorted(groups[p.id]),
                "port_security_enabled": p.port_security_enabled, "binding:host_id": p.binding_host_id,
                "binding:vnic_type": p.binding_vnic_type, "binding:vif_type": p.binding_vif_type,
                "binding:vif_details": dict(p.binding_vif_details), "binding:profile": dict(p.binding_profile),
                "dns_name": p.dns_name, "dns_assignment": self._dns(p, ips[p.id]),
                "ip_allocation": "immediate", "propagate_uplink_status": False,
                "qos_policy_id": p.qos_policy_id, "qos_network_policy_id": net_qos.get(p.network_id),
                **standard(p, tags[p.id]),
            })
        return out

    def _dns(self, p: Port, ips: list[dict[str, str]]) -> list[dict[str, str]]:
        out = []
        for ip in ips:
            host = p.dns_name or "host-" + ip["ip_address"].replace(".", "-").replace(":", "-")
            out.append({"hostname": host, "ip_address": ip["ip_address"], "fqdn": f"{host}.{self.dns_domain}."})
        return out

    # --- reads ---------------------------------------------------------------------------

    def find(self, caller: Caller, q: Query) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            return self.views(s, list_rows(s, LISTING, FILTERS, q, visible(caller)))

    def row(self, s: Session, caller: Caller, port_id: str) -> Port:
        p = s.get(Port, port_id) if len(port_id) <= 36 else None
        if p is None:
            raise exc.PortNotFound(port_id)
        if not caller.is_admin and p.project_id != caller.project_id:
            net = s.get(Network, p.network_id)
            if net is None or net.project_id != caller.project_id:
                raise exc.PortNotFound(port_id)
        return p

    def get(self, caller: Caller, port_id: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return self.views(s, [self.row(s, caller, port_id)])[0]

    def network_of(self, caller: Caller, network_id: str) -> dict[str, Any]:
        """What the create rules check: the network's owner and whether it is shared (404 if unseen)."""
        with self.db.reader() as s:
            n = self.networks.row(s, caller, network_id)
            return {"network_owner": n.project_id, "network_shared": n.shared}

    # --- writes --------------------------------------------------------------------------

    @retrying
    def create(self, caller: Caller, data: dict[str, Any]) -> dict[str, Any]:
        with self.db.writer() as s:
            self.charge(s, data["project_id"], "port")
            port = self.insert(s, caller, data)
            view = self.views(s, [port])[0]
        self.notify("port.create.end", {"port": view})
        if port.binding_host_id:
            self.tell_agents("port_update", {"port_id": port.id, "host": port.binding_host_id})
        return view

    def binding(self, s: Session, host: str, network_id: str) -> tuple[str, dict[str, Any]]:
        """The VIF type and details for a port of the network bound to ``host`` (the host's live L2
        agent's, when it reaches one of the network's segments)."""
        if self.agents is None:
            return ("binding_failed" if host else "unbound"), {}
        vif_type, details = self.agents.binding(s, host, network_id)
        return vif_type, details

    def insert(self, s: Session, caller: Caller, data: dict[str, Any]) -> Port:
        """Create a port in the caller's transaction (routers and floating IPs make theirs here)."""
        pairs = self._pairs(data.get("allowed_address_pairs"))
        opts = self._dhcp_opts(data.get("extra_dhcp_opts"))
        mac = data.get("mac_address")
        if mac is not None and (not isinstance(mac, str) or not MAC.match(mac)):
            raise exc.HTTPBadRequest.attr("mac_address", f"'{mac}' is not a valid MAC address")
        vnic = data.get("binding:vnic_type", "normal")
        if vnic not in VNIC_TYPES:
            raise exc.HTTPBadRequest.attr("binding:vnic_type", f"{vnic} is not in {list(VNIC_TYPES)}")
        t = now()
        pid = new_id()
        net = self.networks.row(s, caller, data["network_id"])
        security = data.get("port_security_enabled")
        security = net.port_security_enabled if security is None else security
        groups = data.get("security_groups")
        owner = data.get("device_owner") or ""
        if not security:
            if groups:
                raise exc.PortSecurityAndIPRequiredForSecurityGroups()
            if pairs:
                raise exc.AddressPairAndPortSecurityRequired()
            groups = []
        elif groups is None:
            groups = [] if owner.startswith("network:") else [self.groups.ensure_default(s, data["project_id"])]
        else:
            for gid in dict.fromkeys(groups):
                g = self.groups.row(s, caller, gid)
                if not caller.is_admin and g.project_id != data["project_id"] \
                        and not self.groups.usable_by(s, g.id, data["project_id"]):
                    raise exc.SecurityGroupNotFound(gid)
        host = data.get("binding:host_id") or ""
        vif_type, vif_details = self.binding(s, host, net.id)
        port = Port(id=pid, project_id=data["project_id"], network_id=net.id, name=data.get("name") or "",
                    description=data.get("description") or "", admin_state_up=data.get("admin_state_up", True),
                    status="DOWN", device_id=data.get("device_id") or "", device_owner=owner,
                    binding_host_id=host, binding_vnic_type=vnic,
                    binding_vif_type=vif_type, binding_vif_details=vif_details,
                    binding_profile=dict(data.get("binding:profile") or {}), port_security_enabled=security,
                    allowed_address_pairs=pairs, extra_dhcp_opts=opts, dns_name=data.get("dns_name") or "",
                    mac_address="", revision_number=0, created_at=t, updated_at=t)
        if data.get("qos_policy_id") is not None and self.qos is not None:
            port.qos_policy_id = self.qos.bindable(s, caller, data["qos_policy_id"])
        self._insert_with_mac(s, port, mac)
        port.allowed_address_pairs = self.fill_mac(port, pairs)
        self._allocate(s, port, net.id, data.get("fixed_ips"))
        for gid in dict.fromkeys(groups):
            s.add(PortSecurityGroup(port_id=pid, security_group_id=gid))
        set_tags(s, "ports", pid, data.get("tags") or [])
        s.flush()
        return port

    def _insert_with_mac(self, s: Session, port: Port, mac: str | None) -> None:
        """Insert the port with its MAC, unique on its network (the unique key decides races)."""
        for _ in range(16):
            port.mac_address = (mac or self.new_mac()).lower()
            try:
                with s.begin_nested():
                    s.add(port)
                    s.flush()
                return
            except IntegrityError:
                s.expunge(port) if port in s else None
                if mac is not None:
                    raise exc.MacAddressInUse(port.network_id, mac) from None
        raise exc.MacAddressGenerationFailure(port.network_id)

    def _allocate(self, s: Session, port: Port, network_id: str, fixed_ips: list[dict[str, Any]] | None) -> None:
        subnets = list(s.scalars(select(Subnet).where(Subnet.network_id == network_id)
                                 .order_by(Subnet.created_at, Subnet.id)))
        if fixed_ips is None:
            # One address from the first IPv4 subnet with room, one per stateful IPv6 subnet kind,
            # and the SLAAC address of every auto-address IPv6 subnet.
            v4 = [sub for sub in subnets if sub.ip_version == 4]
            for sub in v4:
                try:
                    ipam.allocate_any(s, port.id, sub)
                    break
                except exc.IpAddressGenerationFailure:
                    if sub is v4[-1]:
                        raise
            v6_done = False
            for sub in subnets:
                if sub.ip_version != 6:
                    continue
                if ipam.is_auto_address(sub):
                    self._slaac(s, port, sub)
                elif not v6_done:
                    ipam.allocate_any(s, port.id, sub)
                    v6_done = True
            return
        by_id = {sub.id: sub for sub in subnets}
        for fip in fixed_ips:
            if not isinstance(fip, dict) or not set(fip) <= {"subnet_id", "ip_address"}:
                raise exc.HTTPBadRequest.attr("fixed_ips", f"Invalid data format for fixed IP: '{fip}'")
            sid, ip = fip.get("subnet_id"), fip.get("ip_address")
            if sid is None and ip is None:
                raise exc.InvalidInput("IP allocation requires subnet_id or ip_address")
            target: Subnet | None = None
            if sid is not None:
                target = by_id.get(sid)
                if target is None:
                    raise exc.InvalidInput(f"Failed to create port on network {network_id}, because fixed_ips "
                                           f"included invalid subnet {sid}")
            if ip is not None:
                addr = ipam.parse_ip(ip, "fixed_ips")
                if sid is None:
                    target = next((x for x in subnets if ipam.in_subnet(x, addr)), None)
                    if target is None:
                        raise exc.InvalidIpForNetwork(str(ip))
                elif target is None or not ipam.in_subnet(target, addr):
                    raise exc.InvalidIpForSubnet(str(ip))
                if not ipam.insert(s, port.id, target, str(addr)):
                    raise exc.IpAddressInUse(network_id, str(addr))
            elif target is not None and ipam.is_auto_address(target):
                self._slaac(s, port, target)
            elif target is not None:
                ipam.allocate_any(s, port.id, target)

    @staticmethod
    def _slaac(s: Session, port: Port, sub: Subnet) -> None:
        ip = str(ipam.eui64(ipaddress.ip_network(sub.cidr), port.mac_address))
        if not ipam.insert(s, port.id, sub, ip):
            raise exc.IpAddressInUse(sub.network_id, ip)

    def _pairs(self, raw: Any) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for p in raw or []:
            if not isinstance(p, dict) or "ip_address" not in p:
                raise exc.AllowedAddressPairsMissingIP()
            if set(p) - {"ip_address", "mac_address"}:
                raise exc.HTTPBadRequest.attr("allowed_address_pairs", f"Unrecognized attribute(s) "
                                              f"'{', '.join(sorted(set(p) - {'ip_address', 'mac_address'}))}'")
            try:
                net = ipaddress.ip_network(p["ip_address"], strict=False)
            except (ValueError, TypeError):
                raise exc.HTTPBadRequest.attr("allowed_address_pairs", f"'{p['ip_address']}' is not a valid IP "
                                              "address") from None
            mac = p.get("mac_address")
            if mac is not None and (not isinstance(mac, str) or not MAC.match(mac)):
                raise exc.HTTPBadRequest.attr("allowed_address_pairs", f"'{mac}' is not a valid MAC address")
            ip = str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)
            pair = {"ip_address": ip, **({"mac_address": mac.lower()} if mac else {})}
            if pair in out:
                raise exc.DuplicateAddressPairInRequest(mac or "None", ip)
            out.append(pair)
        if len(out) > self.max_pairs:
            raise exc.AllowedAddressPairExhausted(self.max_pairs)
        return out

    @staticmethod
    def _dhcp_opts(raw: Any) -> list[dict[str, Any]]:
        out = []
        for o in raw or []:
            if not isinstance(o, dict) or not o.get("opt_name"):
                raise exc.HTTPBadRequest.attr("extra_dhcp_opts", f"Invalid data format for extra-dhcp-opt: {o}")
            version = o.get("ip_version", 4)
            if version not in (4, 6):
                raise exc.HTTPBadRequest.attr("extra_dhcp_opts", f"{version} is not in [4, 6]")
            out.append({"opt_name": str(o["opt_name"]), "opt_value": o.get("opt_value"), "ip_version": version})
        return out

    def fill_mac(self, port: Port, pairs: list[dict[str, str]]) -> list[dict[str, str]]:
        """Address pairs without a MAC take the port's, as Neutron stores them."""
        return [{"ip_address": p["ip_address"], "mac_address": p.get("mac_address") or port.mac_address}
                for p in pairs]

    @retrying
    def update(self, caller: Caller, port_id: str, data: dict[str, Any], if_match: int | None) -> dict[str, Any]:
        with self.db.writer() as s:
            port = self.row(s, caller, port_id)
            check_revision(port, if_match)
            if "network_id" in data and data["network_id"] != port.network_id:
                raise exc.HTTPBadRequest("Cannot update read-only attribute network_id")
            if "mac_address" in data and data["mac_address"] != port.mac_address:
                mac = data["mac_address"]
                if not isinstance(mac, str) or not MAC.match(mac):
                    raise exc.HTTPBadRequest.attr("mac_address", f"'{mac}' is not a valid MAC address")
                if port.binding_host_id:
                    raise exc.PortBound(port.id, port.binding_vif_type, port.mac_address, mac)
                clash = s.scalar(select(Port.id).where(Port.network_id == port.network_id,
                                                       Port.mac_address == mac.lower()))
                if clash:
                    raise exc.MacAddressInUse(port.network_id, mac)
                port.mac_address = mac.lower()
            security = data.get("port_security_enabled", port.port_security_enabled)
            current = list(s.scalars(select(PortSecurityGroup.security_group_id).where(
                PortSecurityGroup.port_id == port.id)))
            groups = data.get("security_groups", current) or []
            pairs = self._pairs(data["allowed_address_pairs"]) if "allowed_address_pairs" in data \
                else list(port.allowed_address_pairs)
            if not security:
                if groups:
                    if "port_security_enabled" in data and "security_groups" not in data:
                        raise exc.PortSecurityPortHasSecurityGroup()
                    raise exc.PortSecurityAndIPRequiredForSecurityGroups()
                if pairs:
                    raise exc.AddressPairAndPortSecurityRequired()
            if "security_groups" in data:
                for gid in dict.fromkeys(groups):
                    self.groups.row(s, caller, gid)
                s.execute(delete(PortSecurityGroup).where(PortSecurityGroup.port_id == port.id))
                for gid in dict.fromkeys(groups):
                    s.add(PortSecurityGroup(port_id=port.id, security_group_id=gid))
            port.port_security_enabled = security
            port.allowed_address_pairs = self.fill_mac(port, pairs)
            if "qos_policy_id" in data and self.qos is not None:
                port.qos_policy_id = self.qos.bindable(s, caller, data["qos_policy_id"])
            if "extra_dhcp_opts" in data:
                port.extra_dhcp_opts = self._dhcp_opts(data["extra_dhcp_opts"])
            if "fixed_ips" in data:
                s.execute(delete(IPAllocation).where(IPAllocation.port_id == port.id))
                s.flush()
                self._allocate(s, port, port.network_id, data["fixed_ips"] or [])
            old_host = port.binding_host_id
            if "binding:host_id" in data and (data["binding:host_id"] or "") != old_host:
                port.binding_host_id = data["binding:host_id"] or ""
                port.binding_vif_type, port.binding_vif_details = self.binding(s, port.binding_host_id, port.network_id)
                port.status = "DOWN"  # wired again by the new host's agent, which reports it up
            if "binding:profile" in data:
                port.binding_profile = dict(data["binding:profile"] or {})
            if "binding:vnic_type" in data:
                if data["binding:vnic_type"] not in VNIC_TYPES:
                    raise exc.HTTPBadRequest.attr("binding:vnic_type",
                                                  f"{data['binding:vnic_type']} is not in {list(VNIC_TYPES)}")
                port.binding_vnic_type = data["binding:vnic_type"]
            for key in ("name", "description", "admin_state_up", "device_id", "device_owner", "dns_name"):
                if key in data and data[key] is not None:
                    setattr(port, key, data[key])
            touch(port)
            s.flush()
            view = self.views(s, [port])[0]
        self.notify("port.update.end", {"port": view})
        if "fixed_ips" in data and self.network_changed is not None:
            self.network_changed(view)
        for host in dict.fromkeys(h for h in (old_host, port.binding_host_id) if h):
            self.tell_agents("port_update", {"port_id": port_id, "host": host})
        return view

    def delete(self, caller: Caller, port_id: str) -> None:
        with self.db.writer() as s:
            port = self.row(s, caller, port_id)
            if port.device_owner in SERVICE_OWNERS:
                raise exc.ServicePortInUse(port.id, f"has device owner {port.device_owner}")
            host = port.binding_host_id
            self.remove(s, port)
        self.notify("port.delete.end", {"port_id": port_id})
        if host:
            self.tell_agents("port_delete", {"port_id": port_id, "host": host})

    def remove(self, s: Session, port: Port) -> None:
        """Delete a port in the caller's transaction: its floating IPs are disassociated (Neutron's
        behaviour), its port forwardings, addresses, groups and tags go with it."""
        s.execute(update(FloatingIP).where(FloatingIP.fixed_port_id == port.id).values(
            fixed_port_id=None, fixed_ip_address=None, router_id=None, status="DOWN"))
        s.execute(delete(PortForwarding).where(PortForwarding.internal_port_id == port.id))
        s.execute(delete(RouterPort).where(RouterPort.port_id == port.id))
        s.execute(delete(IPAllocation).where(IPAllocation.port_id == port.id))
        s.execute(delete(PortSecurityGroup).where(PortSecurityGroup.port_id == port.id))
        s.execute(delete(Tag).where(Tag.resource_id == port.id))
        s.delete(port)
        s.flush()
