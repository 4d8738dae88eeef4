"""The network service's logic, one part per resource over one database. Parts that need
another take it explicitly (ports use networks and security groups), never through mixins."""

from __future__ import annotations

from typing import Any

from litestack.common.db import Database
from litestack.common.notify import Notifier
from litestack.network.manager.address_groups import AddressGroups
from litestack.network.manager.address_scopes import AddressScopes
from litestack.network.manager.agents import Agents
from litestack.network.manager.auto_allocate import AutoAllocator
from litestack.network.manager.availability import Availability
from litestack.network.manager.base import Part
from litestack.network.manager.floatingips import FloatingIPs
from litestack.network.manager.networks import Networks
from litestack.network.manager.ports import Ports
from litestack.network.manager.qos import QosPolicies
from litestack.network.manager.quotas import RESOURCES, Quotas
from litestack.network.manager.rbac import RBACPolicies
from litestack.network.manager.routers import Routers
from litestack.network.manager.security_groups import SecurityGroups
from litestack.network.manager.segments import Segments
from litestack.network.manager.subnetpools import SubnetPools
from litestack.network.manager.subnets import Subnets
from litestack.network.manager.tags import Tags
from litestack.network.segments import TypeConfig


class Manager:
    """Every part, wired once from the ``[network]`` options."""

    def __init__(self, db: Database, conf: Any, notifier: Notifier) -> None:
        get = lambda name: conf.get("network", name)  # noqa: E731
        self.db = db
        self.notifier = notifier
        self.types = TypeConfig.from_conf(conf)
        self.networks = Networks(db, notifier, types=self.types, default_azs=get("default_availability_zones"))
        self.segments = Segments(db, notifier, networks=self.networks)
        self.subnetpools = SubnetPools(db, notifier)
        self.subnets = Subnets(db, notifier, networks=self.networks, pools=self.subnetpools,
                               max_dns=get("max_dns_nameservers"),
                               max_routes=get("max_subnet_host_routes"))
        self.security_groups = SecurityGroups(db, notifier)
        self.ports = Ports(db, notifier, networks=self.networks, groups=self.security_groups,
                           base_mac=get("base_mac"), dns_domain=get("dns_domain"),
                           max_pairs=get("max_allowed_address_pair"))
        self.routers = Routers(db, notifier, networks=self.networks, subnets=self.subnets, ports=self.ports,
                               max_routes=get("max_routes"))
        self.floatingips = FloatingIPs(db, notifier, networks=self.networks, ports=self.ports, routers=self.routers)
        self.quotas = Quotas(db, notifier, defaults={name: conf.get("network", f"quota_{name}") for name in RESOURCES})
        self.agents = Agents(db, notifier, down_time=get("agent_down_time"))
        self.agents.ports = self.ports
        self.rbac = RBACPolicies(db, notifier)
        self.auto_allocator = AutoAllocator(db, notifier, networks=self.networks, subnets=self.subnets,
                                            pools=self.subnetpools, routers=self.routers)
        self.availability = Availability(db, notifier, down_time=get("agent_down_time"))
        self.parts: tuple[Part, ...] = (self.networks, self.subnets, self.subnetpools, self.security_groups,
                                        self.ports, self.routers, self.floatingips)
        self.qos = QosPolicies(db, notifier)
        self.address_scopes = AddressScopes(db, notifier)
        self.address_groups = AddressGroups(db, notifier)
        self.security_groups.address_groups = self.address_groups
        self.parts = (*self.parts, self.address_groups)
        self.subnetpools.scopes = self.networks.scopes = self.address_scopes
        self.parts = (*self.parts, self.qos)
        for part in self.parts:
            part.quotas, part.agents, part.qos = self.quotas, self.agents, self.qos
        self.tags = Tags(db, notifier, rows={"networks": self.networks.row, "subnets": self.subnets.row,
                                             "ports": self.ports.row, "subnetpools": self.subnetpools.row,
                                             "security-groups": self.security_groups.row,
                                             "routers": self.routers.row, "floatingips": self.floatingips.row,
                                             "qos/policies": self.qos.row,
                                             "address-scopes": self.address_scopes.row,
                                             "address-groups": self.address_groups.row})
