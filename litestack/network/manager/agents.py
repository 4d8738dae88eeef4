"""Agents: what per-host agents report of themselves (``report_state``), the agents API, port
bindings (a port bound to a host with a live L2 agent gets that agent's VIF type; otherwise the
binding fails), and what agents ask over RPC: the ports bound to their host with everything
needed to wire them (segment, addresses, security groups with their rules and remote-group
members, address pairs), port up/down, the networks a DHCP agent serves and the routers an L3
agent runs."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from litestack.common import errors
from litestack.common.api.pagination import Listing
from litestack.network import exceptions as exc
from litestack.network.manager.base import Caller, Filter, Part, Query, boolean, iso, list_rows, new_id, now
from litestack.network.models import (
    Agent,
    FloatingIP,
    IPAllocation,
    Network,
    Port,
    PortSecurityGroup,
    Router,
    RouterPort,
    SecurityGroupRule,
    Segment,
    Subnet,
)

L2 = "L2 agent"
LISTING = Listing(Agent, sort_keys={k: getattr(Agent, k) for k in (
    "id", "agent_type", "binary", "topic", "host", "admin_state_up", "availability_zone", "created_at")})
FILTERS: dict[str, Filter] = {
    "id": (Agent.id, None), "agent_type": (Agent.agent_type, None), "binary": (Agent.binary, None),
    "topic": (Agent.topic, None), "host": (Agent.host, None), "admin_state_up": (Agent.admin_state_up, boolean),
    "availability_zone": (Agent.availability_zone, None), "description": (Agent.description, None),
}
REPORTED = ("agent_type", "binary", "host", "topic")


class Agents(Part):
    def __init__(self, *args: Any, down_time: int) -> None:
        super().__init__(*args)
        self.down_time = down_time

    # --- the agents API ------------------------------------------------------------------

    def alive(self, row: Any) -> bool:
        return bool(row.heartbeat_timestamp >= now() - timedelta(seconds=self.down_time))

    def views(self, rows: Sequence[Any]) -> list[dict[str, Any]]:
        return [{
            "id": a.id, "agent_type": a.agent_type, "binary": a.binary, "topic": a.topic, "host": a.host,
            "admin_state_up": a.admin_state_up, "alive": self.alive(a), "availability_zone": a.availability_zone,
            "description": a.description, "configurations": dict(a.configurations or {}),
            "created_at": iso(a.created_at).replace("T", " ").rstrip("Z"),
            "started_at": iso(a.started_at).replace("T", " ").rstrip("Z"),
            "heartbeat_timestamp": iso(a.heartbeat_timestamp).replace("T", " ").rstrip("Z"),
            "resources_synced": None,
        } for a in rows]

    def find(self, caller: Caller, q: Query) -> list[dict[str, Any]]:
        if not caller.is_admin:
            return []  # Neutron filters every agent out for others: an empty list, not a 403
        with self.db.reader() as s:
            rows = list_rows(s, LISTING, FILTERS, q, None)
        views = self.views(rows)
        if "alive" in q.filters:
            wanted = {boolean(v) for v in q.filters["alive"]}
            views = [v for v in views if v["alive"] in wanted]
        return views

    def row(self, s: Session, caller: Caller, agent_id: str) -> Agent:
        a = s.get(Agent, agent_id) if len(agent_id) <= 36 else None
        if a is None or not caller.is_admin:
            raise exc.AgentNotFound(agent_id)
        return a

    def get(self, caller: Caller, agent_id: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return self.views([self.row(s, caller, agent_id)])[0]

    def update(self, caller: Caller, agent_id: str, data: dict[str, Any], if_match: int | None) -> dict[str, Any]:
        with self.db.writer() as s:
            a = self.row(s, caller, agent_id)
            for key in ("admin_state_up", "description"):
                if data.get(key) is not None:
                    setattr(a, key, data[key])
            s.flush()
            view = self.views([a])[0]
        self.notify("agent.update.end", {"agent": view})
        return view

    def delete(self, caller: Caller, agent_id: str) -> None:
        with self.db.writer() as s:
            s.delete(self.row(s, caller, agent_id))
        self.notify("agent.delete.end", {"agent_id": agent_id})

    # --- RPC: state reports --------------------------------------------------------------

    def report_state(self, state: Any) -> str:
        """Record an agent's report (made on its first report); ``"alive"`` (Neutron's answer)."""
        if not isinstance(state, dict) or any(not isinstance(state.get(k), str) or not state.get(k)
                                               for k in REPORTED):
            raise exc.HTTPBadRequest(f"An agent state needs {', '.join(REPORTED)}")
        t = now()
        config = state.get("configurations") or {}
        for _ in range(2):
            try:
                with self.db.writer() as s:
                    a = s.scalar(select(Agent).where(Agent.agent_type == state["agent_type"],
                                                     Agent.host == state["host"]))
                    if a is None:
                        s.add(Agent(id=new_id(), agent_type=state["agent_type"], binary=state["binary"],
                                    topic=state["topic"], host=state["host"], admin_state_up=True,
                                    availability_zone=state.get("availability_zone"), description="",
                                    configurations=config, created_at=t, started_at=t, heartbeat_timestamp=t))
                    else:
                        a.binary, a.topic, a.configurations = state["binary"], state["topic"], config
                        a.availability_zone = state.get("availability_zone")
                        a.heartbeat_timestamp = t
                        if state.get("start_flag"):
                            a.started_at = t
                return "alive"
            except errors.Conflict:
                continue  # two first reports at once: the second updates the row the first made
        return "alive"

    # --- bindings ------------------------------------------------------------------------

    def binding(self, s: Session, host: str, network_id: str | None = None) -> tuple[str, dict[str, Any]]:
        """The VIF type and details of a port bound to ``host``: the live L2 agent's when it reaches a
        segment of the port's network, else ``binding_failed`` (nothing there could wire the port)."""
        if not host:
            return "unbound", {}
        a = self.l2_agent(s, host)
        if a is None:
            return "binding_failed", {}
        config = a.configurations or {}
        if network_id is not None and self.bound_segment(config, self.segments_of(s, [network_id])[network_id]) is None:
            return "binding_failed", {}
        return str(config.get("vif_type") or "ovs"), dict(config.get("vif_details") or {})

    def l2_agent(self, s: Session, host: str) -> Agent | None:
        """The host's L2 agent, if it is alive and administratively up."""
        a = s.scalar(select(Agent).where(Agent.agent_type == L2, Agent.host == host))
        if a is None or not a.admin_state_up or not self.alive(a):
            return None
        return a

    @staticmethod
    def segments_of(s: Session, network_ids: Sequence[str]) -> dict[str, list[Segment]]:
        out: dict[str, list[Segment]] = {n: [] for n in network_ids}
        if network_ids:
            for g in s.scalars(select(Segment).where(Segment.network_id.in_(list(network_ids)))
                               .order_by(Segment.segment_index, Segment.id)):
                out[g.network_id].append(g)
        return out

    @staticmethod
    def bound_segment(config: dict[str, Any], segs: Sequence[Segment]) -> Segment | None:
        """The segment a port on a network with these segments is bound to on a host whose L2 agent
        reported ``config``: the first one it reaches, as ML2's agent mechanism drivers choose (a
        local segment always; flat and VLAN ones on a physnet of its ``bridge_mappings``; tunnels of
        its ``tunnel_types``). An agent that reports neither reaches every segment (the fake agent,
        standing in for any host)."""
        mappings, tunnels = config.get("bridge_mappings"), config.get("tunnel_types")
        for g in segs:
            if mappings is None and tunnels is None:
                return g
            if g.network_type == "local" or (g.network_type in ("flat", "vlan") and g.physical_network in
                                              (mappings or {})) or g.network_type in (tunnels or []):
                return g
        return None

    def l3_host(self, s: Session) -> str | None:
        """The host of a live L3 agent, where router ports are bound (None when there is none: the
        ports stay unbound and DOWN)."""
        for a in s.scalars(select(Agent).where(Agent.agent_type == "L3 agent", Agent.admin_state_up.is_(True))
                           .order_by(Agent.host)):
            if self.alive(a):
                return str(a.host)
        return None

    # --- RPC: what agents ask ------------------------------------------------------------

    def ports_on_host(self, host: str) -> list[str]:
        with self.db.reader() as s:
            return list(s.scalars(select(Port.id).where(Port.binding_host_id == host).order_by(Port.id)))

    def device_details(self, devices: Sequence[str], host: str) -> list[dict[str, Any]]:
        """Everything an L2 agent needs to wire each port; a port not bound to ``host`` (or gone)
        is ``{"device": id}`` alone, as Neutron answers."""
        with self.db.reader() as s:
            ports = {p.id: p for p in s.scalars(select(Port).where(Port.id.in_(list(devices))))}
            ids = list(ports)
            ips: dict[str, list[dict[str, str]]] = {i: [] for i in ids}
            for pid, sid, ip in s.execute(select(IPAllocation.port_id, IPAllocation.subnet_id,
                                                 IPAllocation.ip_address).where(IPAllocation.port_id.in_(ids))):
                ips[pid].append({"subnet_id": sid, "ip_address": ip})
            groups: dict[str, list[str]] = {i: [] for i in ids}
            for pid, gid in s.execute(select(PortSecurityGroup.port_id, PortSecurityGroup.security_group_id)
                                      .where(PortSecurityGroup.port_id.in_(ids))):
                groups[pid].append(gid)
            nets = {p.network_id for p in ports.values()}
            segs = self.segments_of(s, list(nets))
            agent = self.l2_agent(s, host)
            config = dict(agent.configurations or {}) if agent is not None else {}
            mtus, net_qos = {}, {}
            for nid, mtu, qos in s.execute(select(Network.id, Network.mtu, Network.qos_policy_id)
                                           .where(Network.id.in_(list(nets)))):
                mtus[nid], net_qos[nid] = mtu, qos
        out: list[dict[str, Any]] = []
        for device in devices:
            p = ports.get(device)
            seg = self.bound_segment(config, segs.get(p.network_id, [])) if p is not None else None
            # A port bound elsewhere, or whose binding failed (no segment its host reaches), is not
            # this agent's to wire: Neutron answers with the device alone.
            if p is None or p.binding_host_id != host or seg is None or p.binding_vif_type == "binding_failed":
                out.append({"device": device})
                continue
            out.append({
                "device": p.id, "port_id": p.id, "network_id": p.network_id, "mac_address": p.mac_address,
                "admin_state_up": p.admin_state_up, "status": p.status, "device_owner": p.device_owner,
                "device_id": p.device_id, "fixed_ips": ips[p.id], "security_groups": sorted(groups[p.id]),
                "port_security_enabled": p.port_security_enabled,
                "allowed_address_pairs": list(p.allowed_address_pairs or []),
                "network_type": seg.network_type if seg else None,
                "physical_network": seg.physical_network if seg else None,
                "segmentation_id": seg.segmentation_id if seg else None, "segment_id": seg.id if seg else None,
                "mtu": mtus.get(p.network_id), "vif_type": p.binding_vif_type,
                "profile": dict(p.binding_profile or {}),
                "qos_policy_id": p.qos_policy_id or net_qos.get(p.network_id),
            })
        return out

    def security_group_info(self, devices: Sequence[str]) -> dict[str, Any]:
        """Neutron's ``security_group_info_for_devices``: each port's groups, every group's rules and
        the addresses of the members of each group a rule names as its remote group."""
        with self.db.reader() as s:
            port_groups: dict[str, list[str]] = {}
            for pid, gid in s.execute(select(PortSecurityGroup.port_id, PortSecurityGroup.security_group_id)
                                      .where(PortSecurityGroup.port_id.in_(list(devices)))):
                port_groups.setdefault(pid, []).append(gid)
            gids = {g for gs in port_groups.values() for g in gs}
            rules: dict[str, list[dict[str, Any]]] = {g: [] for g in gids}
            remote: set[str] = set()
            address_groups: set[str] = set()
            for r in s.scalars(select(SecurityGroupRule).where(SecurityGroupRule.security_group_id.in_(gids))
                               .order_by(SecurityGroupRule.id)):
                rules[r.security_group_id].append({
                    "id": r.id, "direction": r.direction, "ethertype": r.ethertype, "protocol": r.protocol,
                    "port_range_min": r.port_range_min, "port_range_max": r.port_range_max,
                    "remote_ip_prefix": r.remote_ip_prefix, "remote_group_id": r.remote_group_id,
                    "remote_address_group_id": r.remote_address_group_id})
                if r.remote_group_id:
                    remote.add(r.remote_group_id)
                if r.remote_address_group_id:
                    address_groups.add(r.remote_address_group_id)
            members: dict[str, dict[str, list[str]]] = {g: {"IPv4": [], "IPv6": []} for g in remote}
            for gid, ip in s.execute(select(PortSecurityGroup.security_group_id, IPAllocation.ip_address)
                                     .join(IPAllocation, IPAllocation.port_id == PortSecurityGroup.port_id)
                                     .where(PortSecurityGroup.security_group_id.in_(remote))):
                members[gid]["IPv6" if ":" in ip else "IPv4"].append(ip)
            from litestack.network.models import AddressGroupAddress

            ag_members: dict[str, list[str]] = {g: [] for g in address_groups}
            for gid, address in s.execute(select(AddressGroupAddress.group_id, AddressGroupAddress.address)
                                          .where(AddressGroupAddress.group_id.in_(address_groups))):
                ag_members[gid].append(address)
        details = {d["device"]: d for d in self.device_details_any(devices)}
        return {"devices": {d: {**details.get(d, {"device": d}), "security_groups": sorted(port_groups.get(d, []))}
                            for d in devices},
                "security_groups": rules,
                "sg_member_ips": {g: {k: sorted(v, key=ipaddress.ip_address) for k, v in m.items()}
                                  for g, m in members.items()},
                "address_groups": {g: sorted(a) for g, a in ag_members.items()}}

    def device_details_any(self, devices: Sequence[str]) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            hosts = {pid: host for pid, host in s.execute(select(Port.id, Port.binding_host_id)
                                                           .where(Port.id.in_(list(devices))))}
        out = []
        for d in devices:
            out += self.device_details([d], hosts.get(d, ""))
        return out

    def set_status(self, device: str, host: str, up: bool) -> dict[str, Any] | None:
        """``update_device_up``/``_down`` from the agent of ``host``: the port's new view, or None
        when the port is gone or bound elsewhere (the report is ignored, as Neutron ignores it)."""
        from litestack.network.manager.ports import Ports

        with self.db.writer() as s:
            p = s.get(Port, device) if len(device) <= 36 else None
            if p is None or p.binding_host_id != host or p.binding_vif_type in ("binding_failed", "unbound"):
                return None
            status = "ACTIVE" if up and p.admin_state_up else "DOWN"
            if p.status == status:
                return None
            p.status = status
            p.updated_at = now()
            p.revision_number = (p.revision_number or 0) + 1
            s.flush()
            view = Ports.views(self.ports, s, [p]) if self.ports is not None else []
        if view:
            self.notify("port.update.end", {"port": view[0]})
            return view[0]
        return None

    #: The ports part (set by the manager): port views for notifications.
    ports: Any = None

    def networks_for_dhcp(self, host: str) -> list[dict[str, Any]]:
        """What a DHCP agent serves: every network with a DHCP-enabled subnet, its subnets and ports."""
        with self.db.reader() as s:
            subnets = list(s.scalars(select(Subnet).where(Subnet.enable_dhcp.is_(True)).order_by(Subnet.id)))
            by_net: dict[str, list[Subnet]] = {}
            for sub in subnets:
                by_net.setdefault(sub.network_id, []).append(sub)
            nets = {n.id: n for n in s.scalars(select(Network).where(Network.id.in_(list(by_net))))}
            segs = self.segments_of(s, list(nets))
            ports: dict[str, list[dict[str, Any]]] = {n: [] for n in by_net}
            for pid, nid, mac, ip in s.execute(select(Port.id, Port.network_id, Port.mac_address,
                                                      IPAllocation.ip_address)
                                               .join(IPAllocation, IPAllocation.port_id == Port.id)
                                               .where(Port.network_id.in_(list(by_net)))):
                ports[nid].append({"id": pid, "mac_address": mac, "ip_address": ip})
        return [{"id": nid, "mtu": nets[nid].mtu, "admin_state_up": nets[nid].admin_state_up,
                 "segments": [{"id": g.id, "network_type": g.network_type, "physical_network": g.physical_network,
                               "segmentation_id": g.segmentation_id} for g in segs[nid]],
                 "subnets": [{"id": sub.id, "cidr": sub.cidr, "segment_id": sub.segment_id,
                              "gateway_ip": sub.gateway_ip,
                              "ip_version": sub.ip_version, "dns_nameservers": list(sub.dns_nameservers or []),
                              "host_routes": list(sub.host_routes or []),
                              "allocation_pools": list(sub.allocation_pools or [])} for sub in by_net[nid]],
                 "ports": ports[nid]} for nid in sorted(by_net) if nid in nets]

    def routers_for_l3(self, host: str) -> list[dict[str, Any]]:
        """What an L3 agent runs: every router, its gateway and interfaces (addresses and subnets),
        static routes and floating IPs."""
        with self.db.reader() as s:
            routers = list(s.scalars(select(Router).order_by(Router.id)))
            rports: dict[str, list[dict[str, Any]]] = {r.id: [] for r in routers}
            for rid, kind, pid, mac, sid, ip, cidr in s.execute(
                    select(RouterPort.router_id, RouterPort.port_type, Port.id, Port.mac_address,
                           IPAllocation.subnet_id, IPAllocation.ip_address, Subnet.cidr)
                    .join(Port, Port.id == RouterPort.port_id)
                    .join(IPAllocation, IPAllocation.port_id == Port.id)
                    .join(Subnet, Subnet.id == IPAllocation.subnet_id)):
                rports[rid].append({"port_id": pid, "type": kind, "mac_address": mac, "subnet_id": sid,
                                    "ip_address": ip, "cidr": cidr})
            fips: dict[str, list[dict[str, Any]]] = {r.id: [] for r in routers}
            for f in s.scalars(select(FloatingIP).where(FloatingIP.router_id.is_not(None))):
                fips[f.router_id or ""].append({"id": f.id, "floating_ip_address": f.floating_ip_address,
                                                "fixed_ip_address": f.fixed_ip_address, "port_id": f.fixed_port_id})
        return [{"id": r.id, "admin_state_up": r.admin_state_up, "enable_snat": r.enable_snat,
                 "gw_network_id": r.gw_network_id, "routes": list(r.routes or []),
                 "gateway": [p for p in rports[r.id] if p["type"] == "network:router_gateway"],
                 "interfaces": [p for p in rports[r.id] if p["type"] == "network:router_interface"],
                 "floating_ips": fips[r.id]} for r in routers]

