"""RBAC policies. Networks: ``access_as_shared`` (the target project sees the network, shown to
it as shared, and puts ports on it) and ``access_as_external`` (the target project sees it as an
external network: router gateways and floating IPs). QoS policies: ``access_as_shared`` (the
target project sees the policy and binds its ports and networks to it). Security groups:
``access_as_shared`` (the target project sees the group and puts its ports in it; it cannot
change it). The target is a project or ``*``. A policy whose removal would strip a project of an
object its ports or networks use is refused (409)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from litestack.common.api.pagination import Listing
from litestack.network import exceptions as exc
from litestack.network.manager.base import Caller, Filter, Part, Query, list_rows, new_id, retrying
from litestack.network.models import Network, Port, PortSecurityGroup, QosPolicy, RBACPolicy, SecurityGroup

#: The actions each object type takes.
ACTIONS = {"network": ("access_as_shared", "access_as_external"), "qos_policy": ("access_as_shared",),
           "security_group": ("access_as_shared",)}
MODELS: dict[str, Any] = {"network": Network, "qos_policy": QosPolicy, "security_group": SecurityGroup}
LISTING = Listing(RBACPolicy, sort_keys={"id": RBACPolicy.id, "action": RBACPolicy.action,
                                          "object_id": RBACPolicy.object_id, "project_id": RBACPolicy.project_id,
                                          "tenant_id": RBACPolicy.project_id,
                                          "target_tenant": RBACPolicy.target_project})
FILTERS: dict[str, Filter] = {
    "id": (RBACPolicy.id, None), "object_id": (RBACPolicy.object_id, None), "action": (RBACPolicy.action, None),
    "project_id": (RBACPolicy.project_id, None), "tenant_id": (RBACPolicy.project_id, None),
    "target_tenant": (RBACPolicy.target_project, None), "target_project": (RBACPolicy.target_project, None),
    "object_type": (RBACPolicy.object_type, None),
}


def granted(object_type: str, project_id: str | None, action: str = "access_as_shared") -> Any:
    """The ids of the objects ``action`` is granted on to the project (or to every project)."""
    return select(RBACPolicy.object_id).where(RBACPolicy.object_type == object_type, RBACPolicy.action == action,
                                              RBACPolicy.target_project.in_([project_id or "", "*"]))


def visible(caller: Caller) -> Any:
    """A project sees the policies it made and those that target it (or everyone)."""
    if caller.is_admin:
        return None
    return or_(RBACPolicy.project_id == caller.project_id,
               RBACPolicy.target_project.in_([caller.project_id or "", "*"]))


class RBACPolicies(Part):
    def views(self, rows: Sequence[Any]) -> list[dict[str, Any]]:
        return [{"id": r.id, "project_id": r.project_id, "tenant_id": r.project_id, "object_type": r.object_type,
                 "object_id": r.object_id, "action": r.action, "target_tenant": r.target_project,
                 "target_project": r.target_project} for r in rows]

    def find(self, caller: Caller, q: Query) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            return self.views(list_rows(s, LISTING, FILTERS, q, visible(caller)))

    def row(self, s: Session, caller: Caller, policy_id: str) -> RBACPolicy:
        r = s.get(RBACPolicy, policy_id) if len(policy_id) <= 36 else None
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
        otype = data["object_type"]
        if otype not in ACTIONS:
            raise exc.HTTPBadRequest.attr("object_type", f"{otype} is not in {list(ACTIONS)}")
        if data["action"] not in ACTIONS[otype]:
            raise exc.HTTPBadRequest.attr("action", f"{data['action']} is not in {list(ACTIONS[otype])}")
        target = data.get("target_tenant") or data.get("target_project")
        with self.db.writer() as s:
            model = MODELS[otype]
            obj = s.get(model, data["object_id"]) if len(data["object_id"]) <= 36 else None
            if obj is None or not (caller.is_admin or obj.project_id == caller.project_id):
                raise {"network": exc.NetworkNotFound, "qos_policy": exc.QosPolicyNotFound,
                       "security_group": exc.SecurityGroupNotFound}[otype](data["object_id"])
            if data["action"] == "access_as_external" and target == "*" and not caller.is_admin:
                raise exc.HTTPBadRequest("Only the admin can make a network external for every project")
            if s.scalar(select(RBACPolicy.id).where(RBACPolicy.object_type == otype, RBACPolicy.object_id == obj.id,
                                                    RBACPolicy.action == data["action"],
                                                    RBACPolicy.target_project == target)):
                raise exc.DuplicateRbacPolicy()
            r = RBACPolicy(id=new_id(), project_id=data["project_id"], object_type=otype, object_id=obj.id,
                           action=data["action"], target_project=target)
            s.add(r)
            s.flush()
            view = self.views([r])[0]
        self.notify("rbac_policy.create.end", {"rbac_policy": view})
        return view

    def _in_use(self, s: Session, r: RBACPolicy, new_target: str | None) -> None:
        """Projects that would lose access (other than the object's owner) keep it while their ports
        (or, for QoS policies, networks) use the object."""
        if r.action != "access_as_shared":
            return
        obj = s.get(MODELS[r.object_type], r.object_id)
        if obj is None or getattr(obj, "shared", False):
            return
        others = select(RBACPolicy.target_project).where(
            RBACPolicy.object_type == r.object_type, RBACPolicy.object_id == r.object_id,
            RBACPolicy.action == r.action, RBACPolicy.id != r.id)
        remaining = set(s.scalars(others)) | ({new_target} if new_target else set())
        if "*" in remaining:
            return
        uses: dict[str, list[tuple[Any, Any, str]]] = {
            "network": [(Port, Port.network_id == r.object_id, "ports of the target project are on the network")],
            "qos_policy": [(Port, Port.qos_policy_id == r.object_id, "ports of the target project use the policy"),
                           (Network, Network.qos_policy_id == r.object_id,
                            "networks of the target project use the policy")],
            "security_group": [(Port, Port.id.in_(select(PortSecurityGroup.port_id).where(
                PortSecurityGroup.security_group_id == r.object_id)), "ports of the target project use the group")],
        }
        for model, clause, details in uses[r.object_type]:
            stmt = select(func.count()).select_from(model).where(clause, model.project_id != obj.project_id,
                                                                 model.project_id != "",
                                                                 model.project_id.not_in(remaining or {""}))
            if r.target_project != "*":
                stmt = stmt.where(model.project_id == r.target_project)
            if s.scalar(stmt):
                raise exc.RbacPolicyInUse(r.object_id, details)

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
