"""The network service's logic, one part per resource over one database. Parts that need
another take it explicitly (ports use networks and security groups), never through mixins."""

from __future__ import annotations

from typing import Any

from litestack.common.db import Database
from litestack.common.notify import Notifier
from litestack.network.manager.networks import Networks
from litestack.network.manager.ports import Ports
from litestack.network.manager.security_groups import SecurityGroups
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
        self.subnetpools = SubnetPools(db, notifier)
        self.subnets = Subnets(db, notifier, networks=self.networks, pools=self.subnetpools,
                               max_dns=get("max_dns_nameservers"),
                               max_routes=get("max_subnet_host_routes"))
        self.security_groups = SecurityGroups(db, notifier)
        self.ports = Ports(db, notifier, networks=self.networks, groups=self.security_groups,
                           base_mac=get("base_mac"), dns_domain=get("dns_domain"),
                           max_pairs=get("max_allowed_address_pair"))
        self.tags = Tags(db, notifier, rows={"networks": self.networks.row, "subnets": self.subnets.row,
                                             "ports": self.ports.row, "subnetpools": self.subnetpools.row,
                                             "security-groups": self.security_groups.row})
