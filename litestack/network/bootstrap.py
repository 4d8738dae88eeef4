"""DevStack's networks on a fresh all-in-one cloud: the external flat network ``public`` (physnet
``public``, subnet ``public-subnet`` 172.24.4.0/24, owned by project ``admin``) and, for project
``demo``, network ``private`` with ``private-subnet`` 10.0.0.0/26 and ``router1`` whose gateway is
on ``public`` and which has an interface on ``private-subnet``.

Idempotent: each is made only when no resource of its name exists for its project; a cloud whose
operator removed them gets them back on the next start (as DevStack's stack.sh would).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from litestack.network.manager import Manager
from litestack.network.manager.base import Caller
from litestack.network.models import Network, Router, RouterPort, Subnet

LOG = logging.getLogger(__name__)
ADMIN = Caller(None, True)
PUBLIC_CIDR = "172.24.4.0/24"
PRIVATE_CIDR = "10.0.0.0/26"


def _find(mgr: Manager, model: Any, name: str, project_id: str, **where: Any) -> str | None:
    with mgr.db.reader() as s:
        stmt = select(model.id).where(model.name == name, model.project_id == project_id)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return s.scalar(stmt.limit(1))


def devstack_networks(mgr: Manager, admin_project: str, demo_project: str | None) -> list[str]:
    """Make what is missing; the names of what was made."""
    made: list[str] = []
    public = _find(mgr, Network, "public", admin_project)
    if public is None:
        flats = mgr.types.flat_networks
        if flats is not None and "public" not in flats:
            LOG.warning("network bootstrap: physnet public is not in [network] flat_networks; no network public")
            return made
        public = mgr.networks.create(ADMIN, {
            "project_id": admin_project, "name": "public", "router:external": True,
            "provider:network_type": "flat", "provider:physical_network": "public"})["id"]
        made.append("public")
    if _find(mgr, Subnet, "public-subnet", admin_project, network_id=public) is None:
        mgr.subnets.create(ADMIN, {"project_id": admin_project, "network_id": public, "name": "public-subnet",
                                   "ip_version": 4, "cidr": PUBLIC_CIDR, "enable_dhcp": False})
        made.append("public-subnet")
    if demo_project is None:
        return made
    private = _find(mgr, Network, "private", demo_project)
    if private is None:
        private = mgr.networks.create(ADMIN, {"project_id": demo_project, "name": "private"})["id"]
        made.append("private")
    subnet = _find(mgr, Subnet, "private-subnet", demo_project, network_id=private)
    if subnet is None:
        subnet = mgr.subnets.create(ADMIN, {"project_id": demo_project, "network_id": private,
                                            "name": "private-subnet", "ip_version": 4, "cidr": PRIVATE_CIDR})["id"]
        made.append("private-subnet")
    router = _find(mgr, Router, "router1", demo_project)
    if router is None:
        router = mgr.routers.create(ADMIN, {"project_id": demo_project, "name": "router1",
                                            "external_gateway_info": {"network_id": public}})["id"]
        made.append("router1")
    with mgr.db.reader() as s:
        attached = s.scalar(select(RouterPort.port_id).where(RouterPort.router_id == router,
                                                              RouterPort.port_type == "network:router_interface"))
    if attached is None:
        mgr.routers.add_interface(ADMIN, router, {"subnet_id": subnet})
        made.append("router1 interface on private-subnet")
    return made
