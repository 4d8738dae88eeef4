"""Roles, implied roles, grants on project/domain/system, and effective role resolution."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from litestack.common import errors
from litestack.identity import models as m
from litestack.identity.manager import listing
from litestack.identity.manager.base import get_or_404, new_id
from litestack.identity.manager.users import UserManager

SYSTEM = "system"
ACTOR_TARGET_TYPES = {
    ("user", "project"): "UserProject", ("group", "project"): "GroupProject",
    ("user", "domain"): "UserDomain", ("group", "domain"): "GroupDomain",
    ("user", "system"): "UserSystem", ("group", "system"): "GroupSystem",
}


@dataclass(frozen=True)
class Grant:
    """One row of a role-assignment listing (direct, or derived when listing effective ones)."""

    role_id: str
    actor_type: str  # user | group
    actor_id: str
    target_type: str  # project | domain | system
    target_id: str
    inherited: bool = False
    via_group: str | None = None
    via_prior_role: str | None = None
    via_scope: tuple[str, str] | None = None  # (project|domain, id) an inherited grant came from


def implied_walk(rules: dict[str, list[str]], start: list[str]) -> list[tuple[str, str]]:
    """(implied role, the role implying it) for every role reachable from ``start``, each once."""
    out: list[tuple[str, str]] = []
    seen = set(start)
    frontier = list(start)
    while frontier:
        prior = frontier.pop()
        for nxt in rules.get(prior, []):
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
                out.append((nxt, prior))
    return out


class AssignmentManager(UserManager):
    # --- roles --------------------------------------------------------------------------

    def create_role(self, data: dict[str, Any]) -> m.Role:
        with self.write() as s:
            domain_id = data.get("domain_id") or m.NULL_DOMAIN
            if domain_id != m.NULL_DOMAIN and s.get(m.Domain, domain_id) is None:
                raise errors.NotFound.of("domain", domain_id)
            if s.scalar(select(m.Role.id).where(m.Role.name == data["name"], m.Role.domain_id == domain_id)):
                raise errors.Conflict.duplicate("role", "name", data['name'])
            if data.get("id") and s.get(m.Role, data["id"]) is not None:
                raise errors.Conflict.duplicate("role", "id", data['id'])
            role = m.Role(id=data.get("id") or new_id(), name=data["name"], domain_id=domain_id,
                          description=data.get("description"), options=data.get("options", {}),
                          extra={k: v for k, v in data.items()
                                 if k not in ("id", "name", "domain_id", "description", "options", "links")})
            s.add(role)
            return role

    def get_role(self, role_id: str) -> m.Role:
        # Memoized until the next identity write, as ``get_domain``: shared, read-only.
        role: m.Role = self.memo(("role", role_id), lambda: self._load_role(role_id))
        return role

    def _load_role(self, role_id: str) -> m.Role:
        with self.db.reader() as s:
            role: m.Role = get_or_404(s, m.Role, role_id, "role")
            return role

    def list_roles(self, filters: dict[str, Any], limit: int | None = None) -> list[m.Role]:
        """Global roles, or a domain's with ``domain_id``; at most ``limit + 1`` (``manager.listing``)."""
        with self.db.reader() as s:
            return listing.rows(s, listing.ROLES, {**filters, "domain_id": filters.get("domain_id") or m.NULL_DOMAIN},
                                limit)

    def update_role(self, role_id: str, data: dict[str, Any]) -> m.Role:
        with self.write() as s:
            role: m.Role = get_or_404(s, m.Role, role_id, "role")
            if role.options.get("immutable") and not (set(data) <= {"options"}):
                raise errors.Forbidden(f"Role {role_id} is immutable.")
            if "domain_id" in data and (data["domain_id"] or m.NULL_DOMAIN) != role.domain_id:
                raise errors.ValidationError("Cannot change the domain of a role.")
            if "name" in data and data["name"] != role.name:
                if s.scalar(select(m.Role.id).where(m.Role.name == data["name"],
                                                    m.Role.domain_id == role.domain_id)):
                    raise errors.Conflict.duplicate("role", "name", data['name'], update=True)
                role.name = data["name"]
            if "description" in data:
                role.description = data["description"]
            if "options" in data:
                role.options = {k: v for k, v in {**role.options, **data["options"]}.items() if v is not None}
            return role

    def delete_role(self, role_id: str) -> None:
        with self.write() as s:
            role: m.Role = get_or_404(s, m.Role, role_id, "role")
            if role.options.get("immutable"):
                raise errors.Forbidden(f"Role {role_id} is immutable.")
            # Tokens carry no role ids (they are looked up live), so revoke the tokens of everyone who
            # held the role, directly or through a group, as Keystone's role event would.
            rows = list(s.execute(select(m.Assignment.type, m.Assignment.actor_id)
                                  .where(m.Assignment.role_id == role_id)))
            groups = {actor for kind, actor in rows if kind.startswith("Group")}
            holders = {actor for kind, actor in rows if kind.startswith("User")}
            holders |= set(s.scalars(select(m.Membership.user_id).where(m.Membership.group_id.in_(groups))))
            s.execute(delete(m.Assignment).where(m.Assignment.role_id == role_id))
            s.execute(delete(m.ImpliedRole).where(or_(
                m.ImpliedRole.prior_role_id == role_id, m.ImpliedRole.implied_role_id == role_id)))
            s.delete(role)
        for user_id in sorted(holders):
            self.revoke(user_id=user_id)

    # --- cascades (subscribed in ``Manager``) ---------------------------------------------

    def _grants_to_actor_deleted(self, s: Session, user_id: str | None = None, group_id: str | None = None) -> None:
        s.execute(delete(m.Assignment).where(m.Assignment.actor_id == (user_id or group_id)))

    def _grants_on_target_deleted(self, s: Session, project_id: str | None = None,
                                  domain_id: str | None = None) -> None:
        s.execute(delete(m.Assignment).where(m.Assignment.target_id == (project_id or domain_id)))

    def _roles_of_domain_deleted(self, s: Session, domain_id: str) -> None:
        for role in s.scalars(select(m.Role).where(m.Role.domain_id == domain_id)):
            s.delete(role)

    def roles_by_id(self, role_ids: list[str]) -> list[m.Role]:
        """The roles with these ids, in that order; ids of deleted roles are skipped."""
        with self.db.reader() as s:
            roles = [s.get(m.Role, rid) for rid in role_ids]
            return [r for r in roles if r is not None]

    def find_role_by_name(self, name: str) -> m.Role | None:
        with self.db.reader() as s:
            return s.scalar(select(m.Role).where(m.Role.name == name, m.Role.domain_id == m.NULL_DOMAIN))

    # --- implied roles ------------------------------------------------------------------

    def create_implied_role(self, prior_id: str, implied_id: str) -> tuple[m.Role, m.Role]:
        with self.write() as s:
            prior: m.Role = get_or_404(s, m.Role, prior_id, "role")
            implied: m.Role = get_or_404(s, m.Role, implied_id, "role")
            if prior_id == implied_id or prior_id in self._implied_closure(s, [implied_id]):
                raise errors.Forbidden(f"Cannot create the implied role {implied_id} from {prior_id}: "
                                       f"it would form a loop.")
            if prior.domain_id == m.NULL_DOMAIN and implied.domain_id != m.NULL_DOMAIN:
                raise errors.Forbidden("A global role cannot imply a domain-specific role.")
            if s.get(m.ImpliedRole, (prior_id, implied_id)) is None:
                s.add(m.ImpliedRole(prior_role_id=prior_id, implied_role_id=implied_id))
            return prior, implied

    def get_implied_role(self, prior_id: str, implied_id: str) -> tuple[m.Role, m.Role]:
        with self.db.reader() as s:
            prior = get_or_404(s, m.Role, prior_id, "role")
            implied = get_or_404(s, m.Role, implied_id, "role")
            if s.get(m.ImpliedRole, (prior_id, implied_id)) is None:
                raise errors.NotFound(f"{prior_id} does not imply {implied_id}.")
            return prior, implied

    def delete_implied_role(self, prior_id: str, implied_id: str) -> None:
        with self.write() as s:
            row = s.get(m.ImpliedRole, (prior_id, implied_id))
            if row is None:
                raise errors.NotFound(f"{prior_id} does not imply {implied_id}.")
            s.delete(row)

    def list_implied_roles(self, prior_id: str | None = None) -> list[tuple[m.Role, list[m.Role]]]:
        with self.db.reader() as s:
            q = select(m.ImpliedRole)
            if prior_id is not None:
                get_or_404(s, m.Role, prior_id, "role")
                q = q.where(m.ImpliedRole.prior_role_id == prior_id)
            rows = list(s.scalars(q))
            out: dict[str, tuple[m.Role, list[m.Role]]] = {}
            for r in rows:
                prior = s.get(m.Role, r.prior_role_id)
                implied = s.get(m.Role, r.implied_role_id)
                if prior is None or implied is None:
                    continue
                out.setdefault(prior.id, (prior, []))[1].append(implied)
            if prior_id is not None and prior_id not in out:
                prior = s.get(m.Role, prior_id)
                assert prior is not None
                out[prior_id] = (prior, [])
            return list(out.values())

    def _implied_closure(self, s: Session, role_ids: list[str]) -> set[str]:
        """Every role implied (transitively) by ``role_ids``, other than ``role_ids`` themselves."""
        return {implied for implied, _ in implied_walk(self._implied_map(s), role_ids)}

    def _implied_map(self, s: Session) -> dict[str, list[str]]:
        rules: dict[str, list[str]] = {}
        for r in s.scalars(select(m.ImpliedRole)):
            rules.setdefault(r.prior_role_id, []).append(r.implied_role_id)
        return rules

    # --- grants -------------------------------------------------------------------------

    def _check_actor_target(self, s: Session, actor_type: str, actor_id: str, target_type: str,
                            target_id: str, role_id: str) -> m.Role:
        get_or_404(s, m.User if actor_type == "user" else m.Group, actor_id, actor_type)
        if target_type == "project":
            get_or_404(s, m.Project, target_id, "project")
        elif target_type == "domain":
            get_or_404(s, m.Domain, target_id, "domain")
        role: m.Role = get_or_404(s, m.Role, role_id, "role")
        if role.domain_id != m.NULL_DOMAIN and target_type != "system":
            target_domain = target_id if target_type == "domain" else s.get(m.Project, target_id).domain_id  # type: ignore[union-attr]
            if target_domain != role.domain_id:
                raise errors.Forbidden("Domain-specific roles may only be granted within their own domain.")
        return role

    def create_grant(self, role_id: str, actor_type: str, actor_id: str, target_type: str,
                     target_id: str, inherited: bool = False) -> None:
        with self.write() as s:
            self._check_actor_target(s, actor_type, actor_id, target_type, target_id, role_id)
            key = (ACTOR_TARGET_TYPES[(actor_type, target_type)], actor_id, target_id, role_id, inherited)
            if s.get(m.Assignment, key) is None:
                s.add(m.Assignment(type=key[0], actor_id=actor_id, target_id=target_id, role_id=role_id,
                                   inherited=inherited))

    def check_grant(self, role_id: str, actor_type: str, actor_id: str, target_type: str,
                    target_id: str, inherited: bool = False) -> None:
        with self.db.reader() as s:
            self._check_actor_target(s, actor_type, actor_id, target_type, target_id, role_id)
            key = (ACTOR_TARGET_TYPES[(actor_type, target_type)], actor_id, target_id, role_id, inherited)
            if s.get(m.Assignment, key) is None:
                raise errors.NotFound(f"Could not find role assignment with role: {role_id}, "
                                      f"{actor_type}: {actor_id}, {target_type}: {target_id}.")

    def delete_grant(self, role_id: str, actor_type: str, actor_id: str, target_type: str,
                     target_id: str, inherited: bool = False) -> None:
        members: list[str] = []
        with self.write() as s:
            self._check_actor_target(s, actor_type, actor_id, target_type, target_id, role_id)
            key = (ACTOR_TARGET_TYPES[(actor_type, target_type)], actor_id, target_id, role_id, inherited)
            row = s.get(m.Assignment, key)
            if row is None:
                raise errors.NotFound(f"Could not find role assignment with role: {role_id}, "
                                      f"{actor_type}: {actor_id}, {target_type}: {target_id}.")
            s.delete(row)
            if actor_type == "group":
                members = list(s.scalars(select(m.Membership.user_id).where(m.Membership.group_id == actor_id)))
        users = [actor_id] if actor_type == "user" else members
        for uid in users:
            if target_type == "project" and not inherited:
                self.revoke(user_id=uid, project_id=target_id)
            elif target_type == "domain" and not inherited:
                self.revoke(user_id=uid, domain_id=target_id)
            else:
                self.revoke(user_id=uid)

    def list_grants(self, actor_type: str, actor_id: str, target_type: str, target_id: str,
                    inherited: bool = False) -> list[m.Role]:
        with self.db.reader() as s:
            get_or_404(s, m.User if actor_type == "user" else m.Group, actor_id, actor_type)
            if target_type == "project":
                get_or_404(s, m.Project, target_id, "project")
            elif target_type == "domain":
                get_or_404(s, m.Domain, target_id, "domain")
            q = select(m.Role).join(m.Assignment, m.Assignment.role_id == m.Role.id).where(
                m.Assignment.type == ACTOR_TARGET_TYPES[(actor_type, target_type)],
                m.Assignment.actor_id == actor_id, m.Assignment.target_id == target_id,
                m.Assignment.inherited == inherited)
            return list(s.scalars(q))

    # --- effective roles ----------------------------------------------------------------

    def effective_role_ids(self, user_id: str, scope: tuple[str, str | None]) -> list[str]:
        """Role ids a user holds on a scope: direct, via groups, inherited, then implied."""
        return list(self.memo(("roles", user_id, scope), lambda: self._effective_role_ids(user_id, scope)))

    def _effective_role_ids(self, user_id: str, scope: tuple[str, str | None]) -> list[str]:
        kind, target = scope
        with self.db.reader() as s:
            actors = [user_id, *self.group_ids_of(s, user_id)]
            direct: set[str] = set()
            if kind == "project" and target:
                proj = s.get(m.Project, target)
                if proj is None:
                    return []
                parents = [p.id for p in self.ancestors(s, proj)]
                q = select(m.Assignment.role_id).where(m.Assignment.actor_id.in_(actors), or_(
                    (m.Assignment.target_id == target) & (m.Assignment.inherited.is_(False))
                    & m.Assignment.type.in_(("UserProject", "GroupProject")),
                    m.Assignment.target_id.in_([*parents, proj.domain_id])
                    & m.Assignment.inherited.is_(True)))
                direct = set(s.scalars(q))
            elif kind == "domain" and target:
                q = select(m.Assignment.role_id).where(
                    m.Assignment.actor_id.in_(actors), m.Assignment.target_id == target,
                    m.Assignment.type.in_(("UserDomain", "GroupDomain")), m.Assignment.inherited.is_(False))
                direct = set(s.scalars(q))
            elif kind == "system":
                q = select(m.Assignment.role_id).where(
                    m.Assignment.actor_id.in_(actors), m.Assignment.target_id == SYSTEM,
                    m.Assignment.type.in_(("UserSystem", "GroupSystem")))
                direct = set(s.scalars(q))
            if not direct:
                return []
            closure = direct | self._implied_closure(s, list(direct))
            # Domain-specific roles never appear in tokens; only the global roles they imply do.
            roles = s.scalars(select(m.Role).where(m.Role.id.in_(closure)))
            return sorted(r.id for r in roles if r.domain_id == m.NULL_DOMAIN)

    def role_refs(self, role_ids: list[str]) -> list[dict[str, Any]]:
        def compute() -> list[dict[str, Any]]:
            with self.db.reader() as s:
                roles = s.scalars(select(m.Role).where(m.Role.id.in_(role_ids)))
                return sorted(({"id": r.id, "name": r.name} for r in roles), key=lambda r: r["name"])
        return list(self.memo(("rolerefs", tuple(role_ids)), compute))

    def user_projects(self, user_id: str) -> list[m.Project]:
        """Projects the user has any role on (for /v3/auth/projects and /v3/users/{id}/projects)."""
        with self.db.reader() as s:
            projects = list(s.scalars(select(m.Project).order_by(m.Project.name)))
        return [p for p in projects if self.effective_role_ids(user_id, ("project", p.id))]

    def user_domains(self, user_id: str) -> list[m.Domain]:
        with self.db.reader() as s:
            domains = list(s.scalars(select(m.Domain).order_by(m.Domain.name)))
        return [d for d in domains if self.effective_role_ids(user_id, ("domain", d.id))]

    def list_role_assignments(self, filters: dict[str, Any], effective: bool,
                              include_subtree: bool = False) -> list[Grant]:
        with self.db.reader() as s:
            rows = [Grant(a.role_id, "user" if a.type.startswith("User") else "group", a.actor_id,
                          a.type[4:].lower() if a.type.startswith("User") else a.type[5:].lower(),
                          a.target_id, a.inherited) for a in s.scalars(select(m.Assignment))]
            if effective:
                rows = self._expand(s, rows)
                # As in tokens, domain-specific roles are not effective themselves, only what they imply.
                domain_roles = set(s.scalars(select(m.Role.id).where(m.Role.domain_id != m.NULL_DOMAIN)))
                rows = [g for g in rows if g.role_id not in domain_roles]
            return [g for g in rows if self._grant_matches(s, g, filters, include_subtree)]

    def _expand(self, s: Session, rows: list[Grant]) -> list[Grant]:
        out: list[Grant] = []
        members: dict[str, list[str]] = {}
        for mb in s.scalars(select(m.Membership)):
            members.setdefault(mb.group_id, []).append(mb.user_id)
        implied = self._implied_map(s)
        for g in rows:
            users = [(g.actor_id, None)] if g.actor_type == "user" else [
                (u, g.actor_id) for u in members.get(g.actor_id, [])]
            targets: list[tuple[str, str, tuple[str, str] | None]]
            if g.inherited:
                projs: list[str]
                if g.target_type == "domain":
                    projs = list(s.scalars(select(m.Project.id).where(m.Project.domain_id == g.target_id)))
                else:
                    projs = [p.id for p in self.subtree(s, g.target_id)]
                targets = [("project", pid, (g.target_type, g.target_id)) for pid in projs]
            else:
                targets = [(g.target_type, g.target_id, None)]
            for uid, via_group in users:
                for ttype, tid, via_scope in targets:
                    out.append(Grant(g.role_id, "user", uid, ttype, tid, False, via_group, None, via_scope))
                    out.extend(Grant(nxt, "user", uid, ttype, tid, False, via_group, prior, via_scope)
                               for nxt, prior in implied_walk(implied, [g.role_id]))
        uniq: dict[tuple[Any, ...], Grant] = {}
        for g in out:
            uniq.setdefault((g.role_id, g.actor_id, g.target_type, g.target_id), g)
        return list(uniq.values())

    def _grant_matches(self, s: Session, g: Grant, f: dict[str, Any], include_subtree: bool) -> bool:
        if f.get("user.id") and not (g.actor_type == "user" and g.actor_id == f["user.id"]):
            return False
        if f.get("group.id") and not (g.actor_type == "group" and g.actor_id == f["group.id"]):
            return False
        if f.get("role.id") and g.role_id != f["role.id"]:
            return False
        if f.get("scope.project.id"):
            wanted = {f["scope.project.id"]}
            if include_subtree:
                wanted |= {p.id for p in self.subtree(s, f["scope.project.id"])}
            if not (g.target_type == "project" and g.target_id in wanted):
                return False
        if f.get("scope.domain.id") and not (g.target_type == "domain" and g.target_id == f["scope.domain.id"]):
            return False
        if f.get("scope.system") and g.target_type != "system":
            return False
        if "scope.OS-INHERIT:inherited_to" in f and not g.inherited:
            return False
        return True
