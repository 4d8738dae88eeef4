"""Domains, projects and project tags."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, ctx, no_content
from litestack.common.api.crud import Resource, crud_ops
from litestack.common.api.policy import Target, TargetLoader, body, loaded, policy_target, stash, target
from litestack.common.api.resource import truthy
from litestack.common.api.schema import BOOL, DESC, ID, NAME64, OPT_ID, STR, array, listing, obj, single, wrapped
from litestack.identity import models as m
from litestack.identity.api import views
from litestack.identity.api.service import IdentityAPI

TAG = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^,/]*$"}
TAGS = {"type": "array", "items": TAG, "maxItems": 80, "uniqueItems": True}
DOMAIN_PROPS = {"name": NAME64, "description": DESC, "enabled": BOOL, "tags": TAGS,
                "options": {"type": "object"}, "id": ID}
PROJECT_PROPS = {"name": NAME64, "description": DESC, "enabled": BOOL, "domain_id": OPT_ID,
                 "parent_id": OPT_ID, "is_domain": BOOL, "tags": TAGS, "options": {"type": "object"}}
CREATE_DOMAIN = wrapped("domain", DOMAIN_PROPS, ["name"])
UPDATE_DOMAIN = wrapped("domain", {k: v for k, v in DOMAIN_PROPS.items() if k != "id"})
CREATE_PROJECT = wrapped("project", PROJECT_PROPS, ["name"])
UPDATE_PROJECT = wrapped("project", PROJECT_PROPS)
TAGS_BODY = {"type": "object", "required": ["tags"], "properties": {"tags": TAGS}}

TAGS_RESPONSE = obj({"tags": array(STR)})


def ops(api: IdentityAPI) -> list[Op]:
    mgr = api.mgr

    async def new_domain_target(request: Request) -> Target:
        return target({"domain": body(request)["domain"]})

    domain_target = api.lookup("domain_id", mgr.resources.get_domain, "domain", lambda d: {"id": d.id},
                               hide_missing=False)

    def list_domains(request: Request, limit: int | None) -> list[Any]:
        q = request.query_params
        return mgr.resources.list_domains(q.get("name"), truthy(q["enabled"]) if "enabled" in q else None, limit)

    domains = Resource(
        "domains", "domain", "domains", "domain_id", views.domain, "identity:{verb}_domain", tag="domains",
        item=views.DOMAIN, query=("name", "enabled"), lister=list_domains, getter=mgr.resources.get_domain,
            creator=mgr.resources.create_domain,
        updater=mgr.resources.update_domain, deleter=mgr.resources.delete_domain, create_body=CREATE_DOMAIN,
        update_body=UPDATE_DOMAIN,
        create_target=new_domain_target, member_target=domain_target,
        summaries={"delete": "Delete a disabled domain"})

    async def list_projects(request: Request) -> Response:
        q = request.query_params
        domain_id = api.scoped_domain(request)
        filters: dict[str, Any] = {k: q[k] for k in ("name", "parent_id", "tags", "tags-any", "not-tags",
                                                     "not-tags-any") if k in q}
        if domain_id:
            filters["domain_id"] = domain_id
        if "enabled" in q:
            filters["enabled"] = truthy(q["enabled"])
        if q.get("is_domain") and truthy(q["is_domain"]):
            # Domains are the projects that act as domains.
            enabled = filters.get("enabled")
            domains = await api.run(mgr.resources.list_domains, q.get("name"), enabled, api.list_limit)
            return JSON(api.collection(request, "projects", domains, views.domain_as_project, "projects"))
        projects = await api.run(mgr.resources.list_projects, filters, api.list_limit)
        return JSON(api.collection(request, "projects", projects, views.project, "projects"))

    async def new_project_target(request: Request) -> Target:
        data = body(request)["project"]
        c = ctx(request)
        if data.get("is_domain"):
            # A project acting as a domain is a domain, seen through the projects API.
            if data.get("parent_id") or data.get("domain_id"):
                raise errors.ValidationError("A project acting as a domain has no parent and no domain.")
            return Target(policy_target({"domain": data}), rule="identity:create_domain")
        if not data.get("domain_id") and not data.get("parent_id"):
            data["domain_id"] = c.domain_id or c.project_domain_id or "default"
        return target({"project": {"domain_id": data.get("domain_id")}})

    async def create_project(request: Request) -> Response:
        data = body(request)["project"]
        if data.get("is_domain"):
            dom = await api.run(mgr.resources.create_domain, {k: data[k] for k in ("name", "description", "enabled")
                                                    if k in data})
            return JSON({"project": views.domain_as_project(api.base(request), dom)}, status_code=201)
        proj = await api.run(mgr.resources.create_project, data)
        return JSON({"project": views.project(api.base(request), proj)}, status_code=201)

    project_target = api.lookup("project_id", mgr.resources.get_project, "project",
                                lambda p: {"id": p.id, "domain_id": p.domain_id} if p else {"domain_id": None})

    def project_or_domain(domain_rule: str) -> TargetLoader:
        """The project a path names, or the domain when the id is a domain's (checked by ``domain_rule``)."""
        async def load(request: Request) -> Target:
            pid = api.param(request, "project_id")
            try:
                dom = await api.run(mgr.resources.get_domain, pid)
            except errors.NotFound:
                return await project_target(request)
            stash(request, dom)
            return Target(policy_target({"domain": {"id": dom.id}}), rule=domain_rule)
        return load

    async def get_project(request: Request) -> Response:
        obj = loaded(request)
        if isinstance(obj, m.Domain):
            return JSON({"project": views.domain_as_project(api.base(request), obj)})
        body_ = views.project(api.base(request), obj)
        q = request.query_params
        if "parents_as_ids" in q or "parents_as_list" in q or "subtree_as_ids" in q or "subtree_as_list" in q:
            body_.update(await api.run(_hierarchy, obj.id, q))
        return JSON({"project": body_})

    def _hierarchy(pid: str, q: Any) -> dict[str, Any]:
        with mgr.db.reader() as s:
            from litestack.identity import models as m

            proj = s.get(m.Project, pid)
            assert proj is not None
            out: dict[str, Any] = {}
            if "parents_as_ids" in q:
                ids: Any = None
                for anc in reversed(mgr.resources.ancestors(s, proj)):
                    ids = {anc.id: ids}
                out["parents"] = ids
            if "subtree_as_ids" in q:
                # Nested as Keystone nests it: {child: {grandchild: None}, other_child: None}.
                children: dict[str, list[str]] = {}
                for p in mgr.resources.subtree(s, pid):
                    children.setdefault(p.parent_id or "", []).append(p.id)

                def nest(node: str) -> Any:
                    kids = children.get(node)
                    return {k: nest(k) for k in kids} if kids else None
                out["subtree"] = nest(pid)
            return out

    async def update_project(request: Request) -> Response:
        data = body(request)["project"]
        obj = loaded(request)
        if isinstance(obj, m.Domain):
            fields = {k: data[k] for k in ("name", "description", "enabled") if k in data}
            dom = await api.run(mgr.resources.update_domain, obj.id, fields)
            return JSON({"project": views.domain_as_project(api.base(request), dom)})
        proj = await api.run(mgr.resources.update_project, obj.id, data)
        return JSON({"project": views.project(api.base(request), proj)})

    async def delete_project(request: Request) -> Response:
        obj = loaded(request)
        if isinstance(obj, m.Domain):
            await api.run(mgr.resources.delete_domain, obj.id)
            return no_content()
        await api.run(mgr.resources.delete_project, obj.id)
        return no_content()

    async def list_tags(request: Request) -> Response:
        return JSON({"tags": list(loaded(request).tags)})

    async def replace_tags(request: Request) -> Response:
        proj = await api.run(mgr.resources.set_tags, loaded(request).id, body(request)["tags"])
        return JSON({"tags": list(proj.tags)})

    async def delete_tags(request: Request) -> Response:
        await api.run(mgr.resources.set_tags, loaded(request).id, [])
        return no_content()

    async def check_tag(request: Request) -> Response:
        proj = loaded(request)
        tag = request.path_params["tag"]
        if tag not in proj.tags:
            raise errors.NotFound(f"Tag {tag} not found for project {proj.id}.")
        return no_content()

    async def add_tag(request: Request) -> Response:
        proj = loaded(request)
        tag = request.path_params["tag"]
        await api.run(mgr.resources.add_tag, proj.id, tag)
        return Response(status_code=201, headers={
            "Location": f"{api.base(request)}/v3/projects/{proj.id}/tags/{tag}"})

    async def delete_tag(request: Request) -> Response:
        await api.run(mgr.resources.remove_tag, loaded(request).id, request.path_params["tag"])
        return no_content()

    proj_q = ("name", "domain_id", "parent_id", "enabled", "is_domain", "tags", "tags-any", "not-tags",
              "not-tags-any")
    return [
        *crud_ops(api, domains),
        Op("GET", "/v3/projects", list_projects, "List projects", response=listing("projects", views.PROJECT),
           query=proj_q, tag="projects",
           rule="identity:list_projects", target=api.domain_list_target),
        Op("POST", "/v3/projects", create_project, "Create a project", body=CREATE_PROJECT,
           response=single("project", views.PROJECT), status=201, tag="projects", errors=(400, 401, 403, 404, 409),
           rule="identity:create_project", alt_rules=("identity:create_domain",), target=new_project_target),
        Op("GET", "/v3/projects/{project_id}", get_project, "Show a project", response=single("project", views.PROJECT),
           query=("parents_as_ids", "subtree_as_ids"), tag="projects",
           rule="identity:get_project", alt_rules=("identity:get_domain",),
           target=project_or_domain("identity:get_domain")),
        Op("PATCH", "/v3/projects/{project_id}", update_project, "Update a project", body=UPDATE_PROJECT,
           response=single("project", views.PROJECT), tag="projects", errors=(400, 401, 403, 404, 409),
           rule="identity:update_project", alt_rules=("identity:update_domain",),
           target=project_or_domain("identity:update_domain")),
        Op("DELETE", "/v3/projects/{project_id}", delete_project, "Delete a project", status=204,
           tag="projects",
           rule="identity:delete_project", alt_rules=("identity:delete_domain",),
           target=project_or_domain("identity:delete_domain")),
        Op("GET", "/v3/projects/{project_id}/tags", list_tags, "List project tags", tag="projects",
           rule="identity:list_project_tags", target=project_target, response=TAGS_RESPONSE),
        Op("PUT", "/v3/projects/{project_id}/tags", replace_tags, "Replace project tags", body=TAGS_BODY,
           tag="projects",
           rule="identity:update_project_tags", target=project_target, response=TAGS_RESPONSE),
        Op("DELETE", "/v3/projects/{project_id}/tags", delete_tags, "Remove all project tags", status=204,
           tag="projects",
           rule="identity:update_project_tags", target=project_target),
        Op("GET", "/v3/projects/{project_id}/tags/{tag}", check_tag, "Check a project tag", status=204,
           tag="projects",
           rule="identity:list_project_tags", target=project_target),
        Op("PUT", "/v3/projects/{project_id}/tags/{tag}", add_tag, "Add a project tag", status=201,
           tag="projects",
           rule="identity:update_project_tags", target=project_target),
        Op("DELETE", "/v3/projects/{project_id}/tags/{tag}", delete_tag, "Remove a project tag", status=204,
           tag="projects",
           rule="identity:update_project_tags", target=project_target),
    ]
