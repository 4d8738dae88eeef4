"""QoS policies with bandwidth-limit and DSCP-marking rules, bound to ports and networks
(``qos_policy_id``): stored and handed to the agents with the port details; the data plane
enforces them once it exists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from litestack.common.api.pagination import Listing
from litestack.network import exceptions as exc
from litestack.network.manager.base import (
    Caller,
    Filter,
    Part,
    Query,
    boolean,
    check_revision,
    list_rows,
    new_id,
    now,
    set_tags,
    standard,
    tags_of,
    touch,
)
from litestack.network.models import Network, Port, QosPolicy, QosRule, RBACPolicy, Tag

RULE_TYPES = ("bandwidth_limit", "dscp_marking")
#: The DSCP marks Neutron accepts.
DSCP_MARKS = (0, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 46, 48, 56)
LISTING = Listing(QosPolicy, sort_keys={k: getattr(QosPolicy, k) for k in (
    "id", "name", "shared", "is_default", "project_id", "created_at", "updated_at", "revision_number")}
    | {"tenant_id": QosPolicy.project_id})
FILTERS: dict[str, Filter] = {
    "id": (QosPolicy.id, None), "name": (QosPolicy.name, None), "project_id": (QosPolicy.project_id, None),
    "tenant_id": (QosPolicy.project_id, None), "shared": (QosPolicy.shared, boolean),
    "is_default": (QosPolicy.is_default, boolean), "description": (QosPolicy.description, None),
}


def visible(caller: Caller) -> Any:
    if caller.is_admin:
        return None
    return or_(QosPolicy.project_id == caller.project_id, QosPolicy.shared.is_(True),
               QosPolicy.id.in_(shared_with(caller.project_id)))


def shared_with(project_id: str | None) -> Any:
    """The QoS policies an RBAC policy shares with the project (or with every project)."""
    return select(RBACPolicy.object_id).where(RBACPolicy.object_type == "qos_policy",
                                              RBACPolicy.action == "access_as_shared",
                                              RBACPolicy.target_project.in_([project_id or "", "*"]))


def _int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).lstrip("-").isdigit():
        raise exc.HTTPBadRequest.attr(name, f"'{value}' is not an integer")
    n = int(value)
    if not low <= n <= high:
        raise exc.HTTPBadRequest.attr(name, f"'{n}' is not in range {low} through {high}")
    return n


def rule_view(r: QosRule) -> dict[str, Any]:
    out: dict[str, Any] = {"id": r.id, "qos_policy_id": r.policy_id, "type": r.type}
    if r.type == "bandwidth_limit":
        out.update(max_kbps=r.max_kbps, max_burst_kbps=r.max_burst_kbps, direction=r.direction)
    else:
        out.update(dscp_mark=r.dscp_mark)
    return out


class QosPolicies(Part):
    # --- views and reads -----------------------------------------------------------------

    def views(self, s: Session, rows: Sequence[Any], caller: Caller | None = None) -> list[dict[str, Any]]:
        """``shared`` is also true where an RBAC policy shares the policy with the caller's project."""
        ids = [r.id for r in rows]
        granted = set(s.scalars(shared_with(caller.project_id).where(RBACPolicy.object_id.in_(ids)))) \
            if ids and caller is not None and caller.project_id else set()
        rules: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        if ids:
            for rule in s.scalars(select(QosRule).where(QosRule.policy_id.in_(ids)).order_by(QosRule.type,
                                                                                              QosRule.id)):
                rules[rule.policy_id].append(rule_view(rule))
        tags = tags_of(s, ids)
        return [{"id": p.id, "name": p.name, "project_id": p.project_id, "tenant_id": p.project_id,
                 "shared": bool(p.shared or p.id in granted), "is_default": p.is_default, "rules": rules[p.id],
                 **standard(p, tags[p.id])} for p in rows]

    def find(self, caller: Caller, q: Query) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            return self.views(s, list_rows(s, LISTING, FILTERS, q, visible(caller)), caller)

    def row(self, s: Session, caller: Caller, policy_id: str) -> QosPolicy:
        p = s.get(QosPolicy, policy_id) if isinstance(policy_id, str) and len(policy_id) <= 36 else None
        if p is None or not (caller.is_admin or p.project_id == caller.project_id or p.shared
                             or s.scalar(shared_with(caller.project_id).where(RBACPolicy.object_id == p.id))):
            raise exc.QosPolicyNotFound(str(policy_id))
        return p

    def get(self, caller: Caller, policy_id: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return self.views(s, [self.row(s, caller, policy_id)], caller)[0]

    def bindable(self, s: Session, caller: Caller, policy_id: Any) -> str | None:
        """The policy a port or network may be bound to (404 when the caller cannot see it)."""
        if policy_id is None:
            return None
        return self.row(s, caller, policy_id).id

    def default_for(self, s: Session, project_id: str) -> str | None:
        return s.scalar(select(QosPolicy.id).where(QosPolicy.project_id == project_id,
                                                   QosPolicy.is_default.is_(True)))

    # --- policies ------------------------------------------------------------------------

    def _default_free(self, s: Session, p: QosPolicy) -> None:
        if p.is_default:
            other = s.scalar(select(QosPolicy.id).where(QosPolicy.project_id == p.project_id,
                                                        QosPolicy.is_default.is_(True), QosPolicy.id != p.id))
            if other:
                raise exc.InUse(f"A default QoS policy exists already for project {p.project_id}: {other}.")

    def create(self, caller: Caller, data: dict[str, Any]) -> dict[str, Any]:
        t = now()
        with self.db.writer() as s:
            p = QosPolicy(id=new_id(), project_id=data["project_id"], name=data.get("name") or "",
                          description=data.get("description") or "", shared=data.get("shared", False),
                          is_default=data.get("is_default", False), revision_number=0, created_at=t, updated_at=t)
            s.add(p)
            s.flush()
            self._default_free(s, p)
            set_tags(s, "policies", p.id, data.get("tags") or [])
            s.flush()
            view = self.views(s, [p])[0]
        self.notify("policy.create.end", {"policy": view})
        return view

    def update(self, caller: Caller, policy_id: str, data: dict[str, Any], if_match: int | None) -> dict[str, Any]:
        with self.db.writer() as s:
            p = self.row(s, caller, policy_id)
            check_revision(p, if_match)
            for key in ("name", "description", "shared", "is_default"):
                if data.get(key) is not None:
                    setattr(p, key, data[key])
            self._default_free(s, p)
            touch(p)
            s.flush()
            view = self.views(s, [p])[0]
        self.notify("policy.update.end", {"policy": view})
        return view

    def delete(self, caller: Caller, policy_id: str) -> None:
        with self.db.writer() as s:
            p = self.row(s, caller, policy_id)
            for model, kind in ((Network, "network"), (Port, "port")):
                user = s.scalar(select(model.id).where(model.qos_policy_id == p.id).limit(1))
                if user:
                    raise exc.QosPolicyInUse(p.id, kind, user)
            s.execute(delete(Tag).where(Tag.resource_id == p.id))
            s.execute(delete(RBACPolicy).where(RBACPolicy.object_type == "qos_policy", RBACPolicy.object_id == p.id))
            s.delete(p)
        self.notify("policy.delete.end", {"policy_id": policy_id})

    # --- rules ---------------------------------------------------------------------------

    def _rule_values(self, rule_type: str, data: Any, current: QosRule | None) -> dict[str, Any]:
        allowed = {"bandwidth_limit": {"max_kbps", "max_burst_kbps", "direction"},
                   "dscp_marking": {"dscp_mark"}}[rule_type]
        if not isinstance(data, dict):
            raise exc.HTTPBadRequest(f"Resource body required for {rule_type}_rule")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise exc.HTTPBadRequest(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
        out: dict[str, Any] = {}
        if rule_type == "bandwidth_limit":
            if "max_kbps" in data:
                out["max_kbps"] = _int("max_kbps", data["max_kbps"], 0, 2**31 - 1)
            elif current is None:
                raise exc.HTTPBadRequest.missing("max_kbps")
            if "max_burst_kbps" in data:
                out["max_burst_kbps"] = _int("max_burst_kbps", data["max_burst_kbps"], 0, 2**31 - 1)
            elif current is None:
                out["max_burst_kbps"] = 0
            if "direction" in data:
                if data["direction"] not in ("egress", "ingress"):
                    raise exc.HTTPBadRequest.attr("direction", f"{data['direction']} is not in "
                                                  "['egress', 'ingress']")
                out["direction"] = data["direction"]
            elif current is None:
                out["direction"] = "egress"
        else:
            if "dscp_mark" in data:
                mark = _int("dscp_mark", data["dscp_mark"], 0, 56)
                if mark not in DSCP_MARKS:
                    raise exc.HTTPBadRequest.attr("dscp_mark", f"{mark} is not in {list(DSCP_MARKS)}")
                out["dscp_mark"] = mark
            elif current is None:
                raise exc.HTTPBadRequest.missing("dscp_mark")
        return out

    def _rule(self, s: Session, p: QosPolicy, rule_type: str, rule_id: str) -> QosRule:
        r = s.get(QosRule, rule_id) if len(rule_id) <= 36 else None
        if r is None or r.policy_id != p.id or r.type != rule_type:
            raise exc.QosRuleNotFound(p.id, rule_id)
        return r

    def list_rules(self, caller: Caller, policy_id: str, rule_type: str) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            p = self.row(s, caller, policy_id)
            return [rule_view(r) for r in s.scalars(select(QosRule).where(QosRule.policy_id == p.id,
                                                                          QosRule.type == rule_type)
                                                   .order_by(QosRule.id))]

    def get_rule(self, caller: Caller, policy_id: str, rule_type: str, rule_id: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return rule_view(self._rule(s, self.row(s, caller, policy_id), rule_type, rule_id))

    def _check_key(self, s: Session, r: QosRule) -> None:
        r.rule_key = f"{r.type}:{r.direction or ''}"
        clash = s.scalar(select(QosRule.id).where(QosRule.policy_id == r.policy_id, QosRule.rule_key == r.rule_key,
                                                  QosRule.id != r.id))
        if clash:
            raise exc.QoSRulesConflict(r.policy_id, r.type, r.direction)

    def create_rule(self, caller: Caller, policy_id: str, rule_type: str, data: Any) -> dict[str, Any]:
        values = self._rule_values(rule_type, data, None)
        with self.db.writer() as s:
            p = self.row(s, caller, policy_id)
            r = QosRule(id=new_id(), policy_id=p.id, type=rule_type, **values)
            self._check_key(s, r)
            s.add(r)
            touch(p)
            s.flush()
            view = rule_view(r)
        self.notify(f"{rule_type}_rule.create.end", {f"{rule_type}_rule": view})
        self.tell_agents("qos_policy_updated", {"qos_policy_id": p.id})
        return view

    def update_rule(self, caller: Caller, policy_id: str, rule_type: str, rule_id: str, data: Any) -> dict[str, Any]:
        with self.db.writer() as s:
            p = self.row(s, caller, policy_id)
            r = self._rule(s, p, rule_type, rule_id)
            for key, value in self._rule_values(rule_type, data, r).items():
                setattr(r, key, value)
            self._check_key(s, r)
            touch(p)
            s.flush()
            view = rule_view(r)
        self.notify(f"{rule_type}_rule.update.end", {f"{rule_type}_rule": view})
        self.tell_agents("qos_policy_updated", {"qos_policy_id": p.id})
        return view

    def delete_rule(self, caller: Caller, policy_id: str, rule_type: str, rule_id: str) -> None:
        with self.db.writer() as s:
            p = self.row(s, caller, policy_id)
            s.delete(self._rule(s, p, rule_type, rule_id))
            touch(p)
        self.notify(f"{rule_type}_rule.delete.end", {f"{rule_type}_rule_id": rule_id})
        self.tell_agents("qos_policy_updated", {"qos_policy_id": policy_id})
