"""RBAC policies of networks: ``access_as_shared`` (the target project sees the network, shown to
it as shared, and puts ports on it) and ``access_as_external`` (the target project sees it as an
external network: router gateways and floating IPs). The target is a project or ``*``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from litestack.common.api.pagination import Listing
from litestack.network import exceptions as exc
from litestack.network.manager.base import Caller, Filter, Part, Query, list_rows, new_id, retrying
from litestack.network.models import Network, NetworkRBAC, Port

ACTIONS = ("access_as_shared", "access_as_external")
LISTING = Listing(NetworkRBAC, sort_keys={"id": NetworkRBAC.id, "action": NetworkRBAC.action,
                                          "object_id": NetworkRBAC.object_id, "project_id": NetworkRBAC.project_id,
                                          "tenant_id": NetworkRBAC.project_id,
                                          "target_tenant": NetworkRBAC.target_project})
FILTERS: dict[str, Filter] = {
    "id": (NetworkRBAC.id, None), "object_id": (NetworkRBAC.object_id, None), "action": (NetworkRBAC.action, None),
    "project_id": (NetworkRBAC.project_id, None), "tenant_id": (NetworkRBAC.project_id, None),
    "target_tenant": (NetworkRBAC.target_project, None), "target_project": (NetworkRBAC.target_project, None),
    "object_type": ((lambda vals: NetworkRBAC.id.is_not(None) if "network" in vals else NetworkRBAC.id.is_(None)),
                    None),
}


def granted(project_id: str | None, action: str) -> Any:
    """The ids of the networks ``action`` is granted on to the project (or to every project)."""
    return select(NetworkRBAC.object_id).where(NetworkRBAC.action == action,
                                               NetworkRBAC.target_project.in_([project_id or "", "*"]))


def visible(caller: Caller) -> Any:
    """A project sees the policies it made and those that target it (or everyone)."""
    if caller.is_admin:
        return None
    return or_(NetworkRBAC.project_id == caller.project_id,
               NetworkRBAC.target_project.in_([caller.project_id or "", "*"]))


class RBACPolicies(Part):
    def views(self, rows: Sequence[Any]) -> list[dict[str, Any]]:
        return [{"id": r.id, "project_id": r.project_id, "tenant_id": r.project_id, "object_type": "network",
                 "object_id": r.object_id, "action": r.action, "target_tenant": r.target_project,
                 "target_project": r.target_project} for r in rows]

    def find(self, caller: Caller, q: Query) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            return self.views(list_rows(s, LISTING, FILTERS, q, visible(caller)))

    def row(self, s: Session, caller: Caller, policy_id: str) -> NetworkRBAC:
        r = s.get(NetworkRBAC, policy_id) if len(policy_id) <= 36 else None
        if r is None or not (caller.is_admin or r.project_id == caller.project_id
                             or r.target_project in (caller.project_id, "*")):
            raise exc.RbacPolicyNotFound(policy_id)
        return r

    def get(self, caller: Caller, policy_id: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return self.views([self.row(s, caller, policy_id)])[0]

    @retrying
    def create(self, caller: Caller, data: dict[str, Any]) -> dict[str, Any]:
        for name in ("object_type", "object_id", "action", "target_tenant"):
            if not data.get(name) and not (name == "target_tenant" and data.get("target_project")):
                raise exc.HTTPBadRequest.missing(name)
        if data["object_type"] != "network":
            raise exc.HTTPBadRequest.attr("object_type", f"{data['object_type']} is not in ['network']")
        if data["action"] not in ACTIONS:
            raise exc.HTTPBadRequest.attr("action", f"{data['action']} is not in {list(ACTIONS)}")
        target = data.get("target_tenant") or data.get("target_project")
        with self.db.writer() as s:
            net = s.get(Network, data["object_id"]) if len(data["object_id"]) <= 36 else None
            if net is None or not (caller.is_admin or net.project_id == caller.project_id):
                raise exc.NetworkNotFound(data["object_id"])
            if data["action"] == "access_as_external" and target == "*" and not caller.is_admin:
                raise exc.HTTPBadRequest("Only the admin can make a network external for every project")
            if s.scalar(select(NetworkRBAC.id).where(NetworkRBAC.object_id == net.id,
                                                     NetworkRBAC.action == data["action"],
                                                     NetworkRBAC.target_project == target)):
                raise exc.DuplicateRbacPolicy()
            r = NetworkRBAC(id=new_id(), project_id=data["project_id"], object_id=net.id, action=data["action"],
                            target_project=target)
            s.add(r)
            s.flush()
            view = self.views([r])[0]
        self.notify("rbac_policy.create.end", {"rbac_policy": view})
        return view

    def _in_use(self, s: Session, r: NetworkRBAC, new_target: str | None) -> None:
        """Ports of the projects that would lose access (other than the network's owner) keep it."""
        if r.action != "access_as_shared":
            return
        net = s.get(Network, r.object_id)
        if net is None or net.shared:
            return
        others = select(NetworkRBAC.target_project).where(
            NetworkRBAC.object_id == r.object_id, NetworkRBAC.action == r.action, NetworkRBAC.id != r.id)
        remaining = set(s.scalars(others)) | ({new_target} if new_target else set())
        if "*" in remaining:
            return
        stmt = select(func.count()).select_from(Port).where(Port.network_id == r.object_id,
                                                            Port.project_id != net.project_id,
                                                            Port.project_id != "",
                                                            Port.project_id.not_in(remaining or {""}))
        if r.target_project != "*":
            stmt = stmt.where(Port.project_id == r.target_project)
        if s.scalar(stmt):
            raise exc.RbacPolicyInUse(r.object_id, "ports of the target project are on the network")

    @retrying
    def update(self, caller: Caller, policy_id: str, data: dict[str, Any], if_match: int | None) -> dict[str, Any]:
        target = data.get("target_tenant") or data.get("target_project")
        with self.db.writer() as s:
            r = self.row(s, caller, policy_id)
            if not caller.is_admin and r.project_id != caller.project_id:
                raise exc.RbacPolicyNotFound(policy_id)
            if target and target != r.target_project:
                self._in_use(s, r, target)
                r.target_project = target
            s.flush()
            view = self.views([r])[0]
        self.notify("rbac_policy.update.end", {"rbac_policy": view})
        return view

    def delete(self, caller: Caller, policy_id: str) -> None:
        with self.db.writer() as s:
            r = self.row(s, caller, policy_id)
            if not caller.is_admin and r.project_id != caller.project_id:
                raise exc.RbacPolicyNotFound(policy_id)
            self._in_use(s, r, None)
            s.delete(r)
        self.notify("rbac_policy.delete.end", {"rbac_policy_id": policy_id})
