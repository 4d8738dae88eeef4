"""Roles, implied roles, grants on project/domain/system, and effective role resolution."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, delete, or_, select
from sqlalchemy.orm import Session, aliased

from litestack.common import errors
from litestack.identity import models as m
from litestack.identity.manager import listing
from litestack.identity.manager.base import Part, Shared, announces, get_or_404, new_id

if TYPE_CHECKING:
    from litestack.identity.manager.resource import ResourceManager
    from litestack.identity.manager.revoke import RevokeManager
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


class AssignmentManager(Part):
    """Roles and implied roles, grants on projects, domains and the system, effective roles (direct,
    through groups, inherited down the project tree, implied) and role-assignment listings."""

    def __init__(self, shared: Shared, revocation: RevokeManager, resources: ResourceManager,
                 users: UserManager) -> None:
        super().__init__(shared)
        self.revocation = revocation
        self.resources = resources
        self.users = users

    # --- roles --------------------------------------------------------------------------

    @announces("role", "created")
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

    @announces("role", "updated")
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

    @announces("role", "deleted")
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
            self.revocation.revoke(user_id=user_id)

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

    def list_implied_roles(self, prior_id: str | None = None, limit: int | None = None
                           ) -> list[tuple[m.Role, m.Role]]:
        """Implication rules as (prior role, implied role), by prior then implied role id; at most
        ``limit + 1``; with ``prior_id`` only that role's (404 if it does not exist). One query for
        the rules and both their roles."""
        prior, implied = aliased(m.Role), aliased(m.Role)
        with self.db.reader() as s:
            if prior_id is not None:
                get_or_404(s, m.Role, prior_id, "role")
            stmt = (select(prior, implied).select_from(m.ImpliedRole)
                    .join(prior, prior.id == m.ImpliedRole.prior_role_id)
                    .join(implied, implied.id == m.ImpliedRole.implied_role_id))
            filters = {} if prior_id is None else {"prior_role_id": prior_id}
            q = listing.apply(stmt, listing.IMPLIED_ROLES, listing.list_query(listing.IMPLIED_ROLES, filters, limit))
            return [(p, i) for p, i in s.execute(q).tuples()]

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
        self.shared.changed("role_assignment", "created",
                            _assignment_payload(role_id, actor_type, actor_id, target_type, target_id, inherited))

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
        self.shared.changed("role_assignment", "deleted",
                            _assignment_payload(role_id, actor_type, actor_id, target_type, target_id, inherited))
        users = [actor_id] if actor_type == "user" else members
        for uid in users:
            if target_type == "project" and not inherited:
                self.revocation.revoke(user_id=uid, project_id=target_id)
            elif target_type == "domain" and not inherited:
                self.revocation.revoke(user_id=uid, domain_id=target_id)
            else:
                self.revocation.revoke(user_id=uid)

    def list_grants(self, actor_type: str, actor_id: str, target_type: str, target_id: str,
                    inherited: bool = False, limit: int | None = None) -> list[m.Role]:
        """The roles granted to the actor on the target, by name; at most ``limit + 1``."""
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
            return listing.rows(s, listing.ROLES, {}, limit, q)

    # --- effective roles ----------------------------------------------------------------

    def effective_role_ids(self, user_id: str, scope: tuple[str, str | None]) -> list[str]:
        """Role ids a user holds on a scope: direct, via groups, inherited, then implied."""
        return list(self.memo(("roles", user_id, scope), lambda: self._effective_role_ids(user_id, scope)))

    def _effective_role_ids(self, user_id: str, scope: tuple[str, str | None]) -> list[str]:
        kind, target = scope
        with self.db.reader() as s:
            actors = [user_id, *self.users.group_ids_of(s, user_id)]
            direct: set[str] = set()
            if kind == "project" and target:
                proj = s.get(m.Project, target)
                if proj is None:
                    return []
                parents = [p.id for p in self.resources.ancestors(s, proj)]
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

    def _roles_that_count(self, s: Session) -> list[str]:
        """Roles whose grant puts a role in a token: the global ones, and the domain-specific ones
        implying a global one (domain-specific roles never appear in tokens themselves)."""
        domains = dict(s.execute(select(m.Role.id, m.Role.domain_id)).tuples().all())
        implied = self._implied_map(s)
        return [r for r, d in domains.items() if d == m.NULL_DOMAIN or any(
            domains.get(i) == m.NULL_DOMAIN for i, _ in implied_walk(implied, [r]))]

    def _grants_of_user(self, s: Session, user_id: str) -> Select[Any]:
        """The target ids of the user's grants (their own and their groups') of roles that count."""
        actors = [user_id, *self.users.group_ids_of(s, user_id)]
        return select(m.Assignment.target_id).where(m.Assignment.actor_id.in_(actors),
                                                    m.Assignment.role_id.in_(self._roles_that_count(s)))

    def user_projects(self, user_id: str, limit: int | None = None,
                      filters: dict[str, Any] | None = None) -> list[m.Project]:
        """Projects the user has any role on (for /v3/auth/projects and /v3/users/{id}/projects),
        by name; at most ``limit + 1``. The same roles as ``effective_role_ids``: granted on the
        project, or inherited from its domain or a project above it; four queries."""
        with self.db.reader() as s:
            grants = self._grants_of_user(s, user_id)
            direct = grants.where(m.Assignment.type.in_(("UserProject", "GroupProject")),
                                  m.Assignment.inherited.is_(False))
            from_domain = grants.where(m.Assignment.type.in_(("UserDomain", "GroupDomain")),
                                       m.Assignment.inherited.is_(True))
            from_above = grants.where(m.Assignment.type.in_(("UserProject", "GroupProject")),
                                      m.Assignment.inherited.is_(True))
            stmt = select(m.Project).where(or_(m.Project.id.in_(direct), m.Project.domain_id.in_(from_domain),
                                               m.Project.id.in_(listing.subtree_ids(from_above))))
            return listing.rows(s, listing.PROJECTS, filters or {}, limit, stmt)

    def user_domains(self, user_id: str, limit: int | None = None,
                     filters: dict[str, Any] | None = None) -> list[m.Domain]:
        """Domains the user has any role on, by name; at most ``limit + 1``."""
        with self.db.reader() as s:
            granted = self._grants_of_user(s, user_id).where(
                m.Assignment.type.in_(("UserDomain", "GroupDomain")), m.Assignment.inherited.is_(False))
            return listing.rows(s, listing.DOMAINS, filters or {}, limit,
                                select(m.Domain).where(m.Domain.id.in_(granted)))

    def list_role_assignments(self, filters: dict[str, Any], effective: bool,
                              include_subtree: bool = False, limit: int | None = None) -> list[Grant]:
        """Role assignments matching Keystone's filters (``user.id``, ``group.id``, ``role.id``,
        ``scope.*``), at most ``limit + 1``, in a constant number of queries.

        Direct ones are filtered, ordered and limited in SQL. Effective ones (group grants as
        their members', inherited ones on each project below, implied roles) are derived from the
        grants that can lead to a match, selected in SQL, and filtered again once derived."""
        with self.db.reader() as s:
            wanted = self._projects_in_scope(s, filters, include_subtree)
            if not effective:
                stmt = select(m.Assignment).where(*self._assignment_filters(filters, wanted))
                return [_grant(a) for a in listing.rows(s, listing.ASSIGNMENTS, {}, limit, stmt)]
            if "scope.OS-INHERIT:inherited_to" in filters:
                return []  # effective assignments are never inherited ones
            rows = [_grant(a) for a in listing.rows(s, listing.ASSIGNMENTS, {}, None, select(m.Assignment).where(
                *self._effective_sources(s, filters)))]
            rows = self._expand(s, rows, filters.get("user.id") or None)
            # As in tokens, domain-specific roles are not effective themselves, only what they imply.
            domain_roles = set(s.scalars(select(m.Role.id).where(m.Role.domain_id != m.NULL_DOMAIN)))
            out = [g for g in rows if g.role_id not in domain_roles and _grant_matches(g, filters, wanted)]
            return out if limit is None else out[:limit + 1]

    def _projects_in_scope(self, s: Session, f: dict[str, Any], include_subtree: bool) -> set[str] | None:
        """``scope.project.id``'s project, and with ``include_subtree`` every project below it."""
        if not f.get("scope.project.id"):
            return None
        pid = f["scope.project.id"]
        return {pid, *s.scalars(listing.subtree_ids([pid]))} if include_subtree else {pid}

    @staticmethod
    def _assignment_filters(f: dict[str, Any], wanted: set[str] | None) -> list[Any]:
        """The ``WHERE`` clauses of a listing of direct assignments."""
        a = m.Assignment
        where: list[Any] = []
        if f.get("user.id"):
            where += [a.type.in_(USER_TYPES), a.actor_id == f["user.id"]]
        if f.get("group.id"):
            where += [a.type.in_(GROUP_TYPES), a.actor_id == f["group.id"]]
        if f.get("role.id"):
            where.append(a.role_id == f["role.id"])
        if wanted is not None:
            where += [a.type.in_(("UserProject", "GroupProject")), a.target_id.in_(wanted)]
        if f.get("scope.domain.id"):
            where += [a.type.in_(("UserDomain", "GroupDomain")), a.target_id == f["scope.domain.id"]]
        if f.get("scope.system"):
            where.append(a.type.in_(("UserSystem", "GroupSystem")))
        if "scope.OS-INHERIT:inherited_to" in f:
            where.append(a.inherited.is_(True))
        return where

    def _effective_sources(self, s: Session, f: dict[str, Any]) -> list[Any]:
        """The ``WHERE`` clauses selecting the grants an effective assignment matching ``f`` can
        come from: the user's and their groups' grants; for a domain scope, the domain's own
        (inherited ones land on projects); for the system scope, system grants."""
        a = m.Assignment
        where: list[Any] = []
        if f.get("user.id"):
            where.append(a.actor_id.in_([f["user.id"], *self.users.group_ids_of(s, f["user.id"])]))
        if f.get("scope.domain.id"):
            where += [a.type.in_(("UserDomain", "GroupDomain")), a.target_id == f["scope.domain.id"],
                      a.inherited.is_(False)]
        if f.get("scope.system"):
            where.append(a.type.in_(("UserSystem", "GroupSystem")))
        return where

    def _expand(self, s: Session, rows: list[Grant], user_id: str | None) -> list[Grant]:
        """Effective assignments of ``rows``: each group grant as its members' (only ``user_id``'s
        when given), each inherited grant on every project below its target, and each role with
        the roles it implies. Four queries, however many rows."""
        groups = {g.actor_id for g in rows if g.actor_type == "group"}
        members: dict[str, list[str]] = {}
        if groups:
            q = select(m.Membership.group_id, m.Membership.user_id).where(m.Membership.group_id.in_(groups))
            if user_id is not None:
                q = q.where(m.Membership.user_id == user_id)
            for gid, uid in s.execute(q):
                members.setdefault(gid, []).append(uid)
        below = self._projects_below(s, {(g.target_type, g.target_id) for g in rows if g.inherited})
        implied = self._implied_map(s)
        out: list[Grant] = []
        for g in rows:
            users = [(g.actor_id, None)] if g.actor_type == "user" else [
                (u, g.actor_id) for u in members.get(g.actor_id, [])]
            targets: list[tuple[str, str, tuple[str, str] | None]]
            if g.inherited:
                scope = (g.target_type, g.target_id)
                targets = [("project", pid, scope) for pid in below.get(scope, [])]
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

    @staticmethod
    def _projects_below(s: Session, scopes: set[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
        """For each (domain, id): its projects; for each (project, id): the projects below it, at
        any depth. Two queries (one recursive), in project id order."""
        out: dict[tuple[str, str], list[str]] = {}
        domains = [t for kind, t in scopes if kind == "domain"]
        if domains:
            q = select(m.Project.domain_id, m.Project.id).where(m.Project.domain_id.in_(domains))
            for did, pid in s.execute(q.order_by(m.Project.id)):
                out.setdefault(("domain", did), []).append(pid)
        roots = [t for kind, t in scopes if kind == "project"]
        if roots:
            below = (select(m.Project.parent_id.label("root"), m.Project.id)
                     .where(m.Project.parent_id.in_(roots)).cte("below", recursive=True))
            below = below.union_all(select(below.c.root, m.Project.id).where(m.Project.parent_id == below.c.id))
            for root, pid in s.execute(select(below.c.root, below.c.id).order_by(below.c.id)):
                out.setdefault(("project", root), []).append(pid)
        return out

    def assignment_names(self, grants: list[Grant]) -> dict[str, dict[str, Any]]:
        """``include_names``: the name (and domain) of every user, group, project, domain and role
        the grants name, by id; five queries, only of those rows."""
        ids: dict[str, set[str]] = {"user": set(), "group": set(), "project": set(), "domain": set()}
        for g in grants:
            ids[g.actor_type].add(g.actor_id)
            if g.target_type != "system":
                ids[g.target_type].add(g.target_id)
        out: dict[str, dict[str, Any]] = {}
        owned: list[tuple[str, str, str]] = []
        with self.db.reader() as s:
            for model in (m.User, m.Group, m.Project):
                kind = model.__tablename__
                q = select(model.id, model.name, model.domain_id).where(model.id.in_(ids[kind]))
                owned.extend(s.execute(q).tuples())
            roles = list(s.execute(select(m.Role.id, m.Role.name, m.Role.domain_id)
                                   .where(m.Role.id.in_({g.role_id for g in grants}))).tuples())
            wanted = ids["domain"] | {d for _, _, d in owned} | {d for _, _, d in roles if d != m.NULL_DOMAIN}
            domains = dict(s.execute(select(m.Domain.id, m.Domain.name).where(m.Domain.id.in_(wanted))).tuples().all())
        for rid, name, did in owned:
            out[rid] = {"name": name, "domain": {"id": did, "name": domains.get(did)}}
        for rid, name, did in roles:
            out[rid] = {"name": name}
            if did != m.NULL_DOMAIN:
                out[rid]["domain"] = {"id": did, "name": domains.get(did)}
        for did, name in domains.items():
            out[did] = {"name": name}
        return out


USER_TYPES = ("UserProject", "UserDomain", "UserSystem")
GROUP_TYPES = ("GroupProject", "GroupDomain", "GroupSystem")


def _grant(a: m.Assignment) -> Grant:
    user = a.type.startswith("User")
    return Grant(a.role_id, "user" if user else "group", a.actor_id,
                 a.type[4:].lower() if user else a.type[5:].lower(), a.target_id, a.inherited)


def _grant_matches(g: Grant, f: dict[str, Any], wanted: set[str] | None) -> bool:
    """Whether a derived (effective) assignment passes the filters; ``wanted``: the projects of
    ``scope.project.id`` (with its subtree when asked)."""
    if f.get("user.id") and not (g.actor_type == "user" and g.actor_id == f["user.id"]):
        return False
    if f.get("group.id") and not (g.actor_type == "group" and g.actor_id == f["group.id"]):
        return False
    if f.get("role.id") and g.role_id != f["role.id"]:
        return False
    if wanted is not None and not (g.target_type == "project" and g.target_id in wanted):
        return False
    if f.get("scope.domain.id") and not (g.target_type == "domain" and g.target_id == f["scope.domain.id"]):
        return False
    if f.get("scope.system") and g.target_type != "system":
        return False
    return "scope.OS-INHERIT:inherited_to" not in f or g.inherited


def _assignment_payload(role_id: str, actor_type: str, actor_id: str, target_type: str, target_id: str,
                        inherited: bool) -> dict[str, Any]:
    """What Keystone's ``identity.role_assignment.*`` notifications carry."""
    return {"role": role_id, actor_type: actor_id, target_type: target_id, "inherited_to_projects": inherited}
