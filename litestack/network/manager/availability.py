"""Network IP availability (how many addresses each network's subnets hold in their pools and how
many are taken) and availability zones (those the agents report, per resource)."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import func, select

from litestack.network import exceptions as exc
from litestack.network.manager.base import Caller, Part, Query, integer
from litestack.network.models import Agent, IPAllocation, Network, Subnet

#: The resource each agent type serves availability zones for.
AZ_RESOURCES = {"DHCP agent": "network", "L3 agent": "router"}


def _pool_size(pools: list[dict[str, str]]) -> int:
    return sum(int(ipaddress.ip_address(p["end"])) - int(ipaddress.ip_address(p["start"])) + 1 for p in pools)


class Availability(Part):
    def __init__(self, *args: Any, down_time: int) -> None:
        super().__init__(*args)
        self.down_time = down_time

    def ip_availabilities(self, caller: Caller, q: Query) -> list[dict[str, Any]]:
        f = q.filters
        with self.db.reader() as s:
            stmt = select(Network)
            if "network_id" in f:
                stmt = stmt.where(Network.id.in_(f["network_id"]))
            if "network_name" in f:
                stmt = stmt.where(Network.name.in_(f["network_name"]))
            for key in ("project_id", "tenant_id"):
                if key in f:
                    stmt = stmt.where(Network.project_id.in_(f[key]))
            nets = list(s.scalars(stmt.order_by(Network.id)))
            ids = [n.id for n in nets]
            sub_stmt = select(Subnet).where(Subnet.network_id.in_(ids))
            if "ip_version" in f:
                sub_stmt = sub_stmt.where(Subnet.ip_version.in_([integer(v) for v in f["ip_version"]]))
            subnets = list(s.scalars(sub_stmt.order_by(Subnet.created_at, Subnet.id)))
            used = {sid: n for sid, n in s.execute(select(IPAllocation.subnet_id, func.count())
                                                   .where(IPAllocation.network_id.in_(ids))
                                                   .group_by(IPAllocation.subnet_id))}
        out = []
        for n in nets:
            mine: list[dict[str, Any]] = [
                {"subnet_id": sub.id, "subnet_name": sub.name, "cidr": sub.cidr, "ip_version": sub.ip_version,
                 "total_ips": _pool_size(sub.allocation_pools or []), "used_ips": int(used.get(sub.id, 0))}
                for sub in subnets if sub.network_id == n.id]
            if "ip_version" in f and not mine:
                continue
            out.append({"network_id": n.id, "network_name": n.name, "project_id": n.project_id,
                        "tenant_id": n.project_id, "subnet_ip_availability": mine,
                        "total_ips": sum(m["total_ips"] for m in mine), "used_ips": sum(m["used_ips"] for m in mine)})
        return out

    def ip_availability(self, caller: Caller, network_id: str) -> dict[str, Any]:
        found = self.ip_availabilities(caller, Query(filters={"network_id": [network_id]}))
        if not found:
            raise exc.NetworkNotFound(network_id)
        return found[0]

    def zones(self, caller: Caller, q: Query) -> list[dict[str, Any]]:
        """Neutron's ``availability_zones``: each zone an agent reports, per resource it serves;
        ``available`` while one of its agents is up and alive."""
        from litestack.network.manager.base import now

        cutoff = now().timestamp() - self.down_time
        zones: dict[tuple[str, str], bool] = {}
        with self.db.reader() as s:
            for a in s.scalars(select(Agent).where(Agent.agent_type.in_(list(AZ_RESOURCES)),
                                                   Agent.availability_zone.is_not(None))):
                key = (str(a.availability_zone), AZ_RESOURCES[a.agent_type])
                up = a.admin_state_up and a.heartbeat_timestamp.timestamp() >= cutoff
                zones[key] = zones.get(key, False) or up
        out = [{"name": name, "resource": resource, "state": "available" if up else "unavailable"}
               for (name, resource), up in sorted(zones.items())]
        for attr in ("name", "resource", "state"):
            if attr in q.filters:
                out = [z for z in out if z[attr] in q.filters[attr]]
        return out
