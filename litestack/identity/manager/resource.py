"""Domains and projects (with hierarchy and tags)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from litestack.common import errors
from litestack.identity import models as m
from litestack.identity.manager import listing
from litestack.identity.manager.base import Part, Shared, announces, get_or_404, new_id

if TYPE_CHECKING:
    from litestack.identity.manager.revoke import RevokeManager

MAX_PROJECT_DEPTH = 5


class ResourceManager(Part):
    """Domains and projects (hierarchy, tags)."""

    def __init__(self, shared: Shared, revocation: RevokeManager) -> None:
        super().__init__(shared)
        self.revocation = revocation

    # --- domains ------------------------------------------------------------------------

    @announces("domain", "created")
    def create_domain(self, data: dict[str, Any]) -> m.Domain:
        with self.write() as s:
            if s.scalar(select(m.Domain).where(m.Domain.name == data["name"])) is not None:
                raise errors.Conflict.duplicate("domain", "name", data['name'])
            if data.get("id") and s.get(m.Domain, data["id"]) is not None:
                raise errors.Conflict.duplicate("domain", "id", data['id'])
            dom = m.Domain(id=data.get("id") or new_id(), name=data["name"],
                           description=data.get("description"), enabled=data.get("enabled", True),
                           # tags and options live in extra, as update_domain keeps them.
                           extra=_extra(data, ("id", "name", "description", "enabled")))
            s.add(dom)
            return dom

    def get_domain(self, domain_id: str) -> m.Domain:
        # Memoized until the next identity write, as Keystone caches get_domain: a read by id is
        # most of the CPU of GET /v3/domains/{id} otherwise (issue 6 §8). The object is shared
        # between requests: callers read it, never change it.
        dom: m.Domain = self.memo(("domain", domain_id), lambda: self._load_domain(domain_id))
        return dom

    def _load_domain(self, domain_id: str) -> m.Domain:
        with self.db.reader() as s:
            dom: m.Domain = get_or_404(s, m.Domain, domain_id, "domain")
            return dom

    def find_domain(self, s: Session, ref: dict[str, Any]) -> m.Domain:
        """A domain named by ``{"id": ...}`` or ``{"name": ...}`` in an auth or scope body."""
        if ref.get("id"):
            dom = s.get(m.Domain, ref["id"])
        elif ref.get("name"):
            dom = s.scalar(select(m.Domain).where(m.Domain.name == ref["name"]))
        else:
            raise errors.ValidationError("A domain must be given by id or name.")
        if dom is None:
            raise errors.Unauthorized("Could not find domain.")
        return dom

    def list_domains(self, name: str | None = None, enabled: bool | None = None,
                     limit: int | None = None) -> list[m.Domain]:
        """Domains by name; at most ``limit + 1`` (see ``manager.listing``)."""
        filters = {k: v for k, v in (("name", name), ("enabled", enabled)) if v is not None}
        with self.db.reader() as s:
            return listing.rows(s, listing.DOMAINS, filters, limit)

    @announces("domain", "updated")
    def update_domain(self, domain_id: str, data: dict[str, Any]) -> m.Domain:
        with self.write() as s:
            dom: m.Domain = get_or_404(s, m.Domain, domain_id, "domain")
            if domain_id == "default" and data.get("enabled") is False:
                raise errors.Forbidden("The default domain cannot be disabled.")
            if "name" in data and data["name"] != dom.name:
                if s.scalar(select(m.Domain).where(m.Domain.name == data["name"])) is not None:
                    raise errors.Conflict.duplicate("domain", "name", data['name'], update=True)
                dom.name = data["name"]
            if "description" in data:
                dom.description = data["description"]
            was_enabled = dom.enabled
            if "enabled" in data:
                dom.enabled = data["enabled"]
            dom.extra = {**dom.extra, **_extra(data, ("id", "name", "description", "enabled"))}
        if was_enabled and not dom.enabled:
            self.revocation.revoke(domain_id=domain_id)
        return dom

    @announces("domain", "deleted")
    def delete_domain(self, domain_id: str) -> None:
        with self.write() as s:
            dom: m.Domain = get_or_404(s, m.Domain, domain_id, "domain")
            if dom.enabled:
                raise errors.Forbidden("Cannot delete a domain that is enabled, please disable it first.")
            # Everything owned by the domain goes with it, children before parents; the parts that
            # own users, groups, roles, limits and grants remove theirs on "domain.deleted".
            projects = list(s.scalars(select(m.Project).where(m.Project.domain_id == domain_id)))
            for proj in sorted(projects, key=lambda p: -self._depth(s, p)):
                self._delete_project_rows(s, proj)
            self.events.publish("domain.deleted", s, domain_id=domain_id)
            s.flush()
            s.delete(dom)
        self.revocation.revoke(domain_id=domain_id)

    # --- projects -----------------------------------------------------------------------

    @announces("project", "created")
    def create_project(self, data: dict[str, Any]) -> m.Project:
        with self.write() as s:
            parent_id = data.get("parent_id")
            domain_id = data.get("domain_id")
            if parent_id:
                parent = s.get(m.Project, parent_id)
                if parent is None:
                    raise errors.NotFound.of("project", parent_id)
                if domain_id and domain_id != parent.domain_id:
                    raise errors.ValidationError("Cannot create project, the parent is in another domain.")
                domain_id = parent.domain_id
                if self._depth(s, parent) + 1 >= MAX_PROJECT_DEPTH:
                    raise errors.Forbidden(f"Max hierarchy depth reached for {parent_id} branch.")
            domain_id = domain_id or "default"
            if s.get(m.Domain, domain_id) is None:
                raise errors.NotFound.of("domain", domain_id)
            self._check_unique_project(s, domain_id, data["name"])
            proj = m.Project(id=new_id(), name=data["name"], domain_id=domain_id, parent_id=parent_id,
                             description=data.get("description", ""), enabled=data.get("enabled", True),
                             tags=_tags(data.get("tags", [])), options=data.get("options", {}),
                             extra=_extra(data, ("name", "domain_id", "parent_id", "description",
                                                 "enabled", "tags", "options", "is_domain")))
            s.add(proj)
            try:
                s.flush()
            except IntegrityError:
                raise self._dup_project(data["name"]) from None
            return proj

    def _check_unique_project(self, s: Session, domain_id: str, name: str) -> None:
        q = select(m.Project.id).where(m.Project.domain_id == domain_id, m.Project.name == name)
        if s.scalar(q) is not None:
            raise self._dup_project(name)

    @staticmethod
    def _dup_project(name: str) -> errors.Conflict:
        return errors.Conflict(f"Conflict occurred attempting to store project - "
                               f"it is not permitted to have two projects with the same name in the "
                               f"same domain : {name}.")

    def get_project(self, project_id: str) -> m.Project:
        # Memoized until the next identity write, as get_domain (above).
        proj: m.Project = self.memo(("project", project_id), lambda: self._load_project(project_id))
        return proj

    def _load_project(self, project_id: str) -> m.Project:
        with self.db.reader() as s:
            proj: m.Project = get_or_404(s, m.Project, project_id, "project")
            return proj

    def find_project(self, s: Session, ref: dict[str, Any]) -> m.Project:
        if ref.get("id"):
            proj = s.get(m.Project, ref["id"])
        elif ref.get("name") and isinstance(ref.get("domain"), dict):
            dom = self.find_domain(s, ref["domain"])
            proj = s.scalar(select(m.Project).where(m.Project.domain_id == dom.id,
                                                    m.Project.name == ref["name"]))
        else:
            raise errors.ValidationError("A project must be given by id, or by name and domain.")
        if proj is None:
            raise errors.Unauthorized("Could not find project.")
        return proj

    def list_projects(self, filters: dict[str, Any], limit: int | None = None) -> list[m.Project]:
        """Projects by name; at most ``limit + 1`` (see ``manager.listing``). Tags live in a JSON
        column, so tag filters run here, after the query, and the limit after them."""
        by_tags = any(filters.get(k) for k in ("tags", "tags-any", "not-tags", "not-tags-any"))
        with self.db.reader() as s:
            projects = listing.rows(s, listing.PROJECTS, filters, None if by_tags else limit)
        if not by_tags:
            return projects
        for key, want_all in (("tags", True), ("tags-any", False)):
            if filters.get(key):
                wanted = set(filters[key].split(","))
                projects = [p for p in projects
                            if (wanted <= set(p.tags) if want_all else bool(wanted & set(p.tags)))]
        for key, want_all in (("not-tags", True), ("not-tags-any", False)):
            if filters.get(key):
                wanted = set(filters[key].split(","))
                projects = [p for p in projects
                            if not (wanted <= set(p.tags) if want_all else bool(wanted & set(p.tags)))]
        return projects if limit is None else projects[:limit + 1]

    @announces("project", "updated")
    def update_project(self, project_id: str, data: dict[str, Any]) -> m.Project:
        with self.write() as s:
            proj: m.Project = get_or_404(s, m.Project, project_id, "project")
            if "domain_id" in data and data["domain_id"] != proj.domain_id:
                raise errors.ValidationError("Cannot change the domain of a project.")
            if "parent_id" in data and data["parent_id"] != proj.parent_id:
                raise errors.Forbidden("Updating the parent of a project is not allowed.")
            if "name" in data and data["name"] != proj.name:
                self._check_unique_project(s, proj.domain_id, data["name"])
                proj.name = data["name"]
            if "description" in data:
                proj.description = data["description"]
            was_enabled = proj.enabled
            if "enabled" in data:
                if data["enabled"] and proj.parent_id:
                    parent = s.get(m.Project, proj.parent_id)
                    if parent is not None and not parent.enabled:
                        raise errors.Forbidden("Cannot enable project whose parent is disabled.")
                proj.enabled = data["enabled"]
            if "tags" in data:
                proj.tags = _tags(data["tags"])
            if "options" in data:
                proj.options = {**proj.options, **data["options"]}
            proj.extra = {**proj.extra, **_extra(data, ("id", "name", "domain_id", "parent_id",
                                                        "description", "enabled", "tags", "options",
                                                        "is_domain"))}
        if was_enabled and not proj.enabled:
            self.revocation.revoke(project_id=project_id)
        return proj

    @announces("project", "deleted")
    def delete_project(self, project_id: str) -> None:
        with self.write() as s:
            proj: m.Project = get_or_404(s, m.Project, project_id, "project")
            if s.scalar(select(m.Project.id).where(m.Project.parent_id == project_id).limit(1)):
                raise errors.Forbidden(f"Cannot delete the project {project_id} since it is not a leaf in "
                                       f"the hierarchy. Use the cascade option if you want to delete a "
                                       f"whole subtree.")
            self._delete_project_rows(s, proj)
        self.revocation.revoke(project_id=project_id)

    def _delete_project_rows(self, s: Session, proj: m.Project) -> None:
        """The project's row; what other parts keep about it goes on "project.deleted"."""
        self.events.publish("project.deleted", s, project_id=proj.id)
        s.delete(proj)
        s.flush()

    def _depth(self, s: Session, proj: m.Project) -> int:
        depth = 0
        while proj.parent_id and depth < 64:
            parent = s.get(m.Project, proj.parent_id)
            if parent is None:
                break
            proj = parent
            depth += 1
        return depth

    def ancestors(self, s: Session, proj: m.Project) -> list[m.Project]:
        out: list[m.Project] = []
        while proj.parent_id and len(out) < 64:
            parent = s.get(m.Project, proj.parent_id)
            if parent is None:
                break
            out.append(parent)
            proj = parent
        return out

    def subtree(self, s: Session, project_id: str) -> list[m.Project]:
        out: list[m.Project] = []
        frontier = [project_id]
        while frontier and len(out) < 10000:
            children = list(s.scalars(select(m.Project).where(m.Project.parent_id.in_(frontier))))
            out.extend(children)
            frontier = [c.id for c in children]
        return out

    # --- tags ---------------------------------------------------------------------------

    def set_tags(self, project_id: str, tags: list[str]) -> m.Project:
        return self.update_project(project_id, {"tags": tags})

    def add_tag(self, project_id: str, tag: str) -> m.Project:
        proj = self.get_project(project_id)
        if tag in proj.tags:
            return proj
        return self.update_project(project_id, {"tags": [*proj.tags, tag]})

    def remove_tag(self, project_id: str, tag: str) -> None:
        proj = self.get_project(project_id)
        if tag not in proj.tags:
            raise errors.NotFound(f"Tag {tag} not found for project {project_id}.")
        self.update_project(project_id, {"tags": [t for t in proj.tags if t != tag]})


def _tags(tags: list[str]) -> list[str]:
    seen: list[str] = []
    for t in tags:
        if not isinstance(t, str) or not t or len(t) > 255 or "/" in t or "," in t:
            raise errors.ValidationError(f"Invalid project tag: {t!r}. Tags may not contain ',' or '/'.")
        if t not in seen:
            seen.append(t)
    if len(seen) > 80:
        raise errors.ValidationError("A project may have at most 80 tags.")
    return seen


def _extra(data: dict[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in known and k != "links"}
