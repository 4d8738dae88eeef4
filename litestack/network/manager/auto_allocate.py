"""The auto-allocated topology (``openstack network auto allocated topology create``): on a
project's first request, a network with a subnet from each default subnet pool and a router
between it and the default external network; the same topology on every later request."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from litestack.common import errors
from litestack.network import exceptions as exc
from litestack.network.manager.base import Caller, Part
from litestack.network.manager.networks import Networks
from litestack.network.manager.routers import Routers
from litestack.network.manager.subnetpools import SubnetPools
from litestack.network.manager.subnets import Subnets
from litestack.network.models import AutoAllocatedTopology, Network, SubnetPool

SYSTEM = Caller(None, True)


class AutoAllocator(Part):
    def __init__(self, *args: Any, networks: Networks, subnets: Subnets, pools: SubnetPools,
                 routers: Routers) -> None:
        super().__init__(*args)
        self.networks, self.subnets, self.pools, self.routers = networks, subnets, pools, routers

    @staticmethod
    def _view(project_id: str, network_id: str) -> dict[str, Any]:
        return {"id": network_id, "project_id": project_id, "tenant_id": project_id}

    def _requirements(self) -> tuple[str, list[int]]:
        """The default external network and the IP versions with a default subnet pool."""
        with self.db.reader() as s:
            external = s.scalar(select(Network.id).where(Network.is_default.is_(True), Network.external.is_(True)))
            versions = sorted(set(s.scalars(select(SubnetPool.ip_version).where(SubnetPool.is_default.is_(True)))))
        if external is None:
            raise exc.AutoAllocationFailure("No default router:external network")
        if not versions:
            raise exc.AutoAllocationFailure("No default subnetpools defined")
        return external, versions

    def get(self, caller: Caller, project_id: str, dry_run: bool) -> dict[str, Any]:
        with self.db.reader() as s:
            made = s.get(AutoAllocatedTopology, project_id)
            if made is not None:
                return {"dry-run": "pass"} if dry_run else self._view(project_id, made.network_id)
        external, versions = self._requirements()
        if dry_run:
            return {"dry-run": "pass"}
        return self._make(project_id, external, versions)

    def _make(self, project_id: str, external: str, versions: list[int]) -> dict[str, Any]:
        net = self.networks.create(SYSTEM, {"project_id": project_id, "name": "auto_allocated_network"})
        router: dict[str, Any] | None = None
        try:
            subnets = [self.subnets.create(SYSTEM, {
                "project_id": project_id, "network_id": net["id"], "name": f"auto_allocated_subnet_v{v}",
                "ip_version": v, "use_default_subnetpool": True}) for v in versions]
            router = self.routers.create(SYSTEM, {"project_id": project_id, "name": "auto_allocated_router",
                                                  "external_gateway_info": {"network_id": external}})
            for sub in subnets:
                self.routers.add_interface(SYSTEM, router["id"], {"subnet_id": sub["id"]})
            with self.db.writer() as s:
                s.add(AutoAllocatedTopology(project_id=project_id, network_id=net["id"], router_id=router["id"]))
        except errors.Conflict as e:
            # Another request made the project's topology first (or the pools are full): undo ours.
            self._remove(router["id"] if router else None, net["id"])
            with self.db.reader() as s:
                made = s.get(AutoAllocatedTopology, project_id)
            if made is not None:
                return self._view(project_id, made.network_id)
            raise exc.AutoAllocationFailure(f"Unable to provide a topology: {e}") from e
        self.notify("auto_allocated_topology.create.end", {"auto_allocated_topology": self._view(project_id,
                                                                                                 net["id"])})
        return self._view(project_id, net["id"])

    def _remove(self, router_id: str | None, network_id: str) -> None:
        if router_id is not None:
            with self.db.reader() as s:
                subnets = [sub.id for sub in self.routers.interface_subnets(s, router_id)]
            for sid in subnets:
                self.routers.remove_interface(SYSTEM, router_id, {"subnet_id": sid})
            self.routers.delete(SYSTEM, router_id)
        for sid in self.networks.get(SYSTEM, network_id)["subnets"]:
            self.subnets.delete(SYSTEM, sid)
        self.networks.delete(SYSTEM, network_id)

    def delete(self, caller: Caller, project_id: str) -> None:
        with self.db.writer() as s:
            made = s.get(AutoAllocatedTopology, project_id)
            if made is None:
                raise exc.AutoAllocatedTopologyNotFound(project_id)
            router_id, network_id = made.router_id, made.network_id
            s.delete(made)
        self._remove(router_id, network_id)
        self.notify("auto_allocated_topology.delete.end", {"project_id": project_id})
