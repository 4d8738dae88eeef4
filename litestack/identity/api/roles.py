"""Roles, implied roles, grants (project, domain, system, inherited) and role assignments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, no_content
from litestack.common.api.crud import Resource, crud_ops
from litestack.common.api.pagination import Page, page
from litestack.common.api.policy import Target, target
from litestack.common.api.resource import Handler, truthy
from litestack.common.api.schema import DESC, NAME, OPT_ID, array, listing, obj, wrapped
from litestack.identity import models as m
from litestack.identity.api import views
from litestack.identity.api.service import IdentityAPI

ROLE_PROPS = {"name": NAME, "domain_id": OPT_ID, "description": DESC, "options": {"type": "object"}}
CREATE_ROLE = wrapped("role", ROLE_PROPS, ["name"])
UPDATE_ROLE = wrapped("role", ROLE_PROPS)
ASSIGNMENT_QUERY = ("user.id", "group.id", "role.id", "scope.project.id", "scope.domain.id", "scope.system",
                    "scope.OS-INHERIT:inherited_to", "effective", "include_names", "include_subtree")
ONE_INFERENCE = obj({"role_inference": obj({"prior_role": views.ROLE_REF, "implies": views.ROLE_REF}),
                     "links": views.SELF_LINK})


def ops(api: IdentityAPI) -> list[Op]:
    mgr = api.mgr

    async def list_roles_target(request: Request) -> Target:
        return target(domain_id=request.query_params.get("domain_id"))

    async def assignments_target(request: Request) -> Target:
        return target(domain_id=request.query_params.get("scope.domain.id"))

    roles = Resource(
        "roles", "role", "roles", "role_id", views.role, "identity:{verb}_role", tag="roles", item=views.ROLE,
        query=("name", "domain_id"), list_target=list_roles_target,
        lister=lambda r, limit: mgr.assignments.list_roles({k: r.query_params[k] for k in ("name", "domain_id")
                                                if k in r.query_params}, limit),
        getter=mgr.assignments.get_role, creator=mgr.assignments.create_role, updater=mgr.assignments.update_role,
        deleter=mgr.assignments.delete_role,
        create_body=CREATE_ROLE, update_body=UPDATE_ROLE)

    def inferences(prior_id: str | None) -> tuple[Page[tuple[m.Role, m.Role]], list[tuple[m.Role, list[m.Role]]]]:
        """The implication rules (of one prior role), at most ``list_limit``, grouped by prior role."""
        limit = api.list_limit
        pg = page(mgr.assignments.list_implied_roles(prior_id, limit), limit)
        grouped: dict[str, tuple[m.Role, list[m.Role]]] = {}
        for prior, implied in pg.items:
            grouped.setdefault(prior.id, (prior, []))[1].append(implied)
        return pg, list(grouped.values())

    async def list_implies(request: Request) -> Response:
        prior_id = api.param(request, "prior_id")
        pg, rules = await api.run(inferences, prior_id)
        (prior, implied), = rules or [(await api.run(mgr.assignments.get_role, prior_id, inline_first=True), [])]
        base = api.base(request)
        body_: dict[str, Any] = {"role_inference": views.implied_role(base, prior, implied),
                                 "links": {"self": f"{base}/v3/roles/{prior.id}/implies"}}
        if pg.more:
            body_["truncated"] = True
        return JSON(body_)

    def one_inference(fn: Callable[[str, str], tuple[m.Role, m.Role]], status: int) -> Handler:
        """Create or show one implied-role rule."""
        async def handler(request: Request) -> Response:
            prior, implied = await api.run(fn, api.param(request, "prior_id"), api.param(request, "implied_id"))
            base = api.base(request)
            return JSON({"role_inference": {"prior_role": views.role_ref(base, prior),
                                            "implies": views.role_ref(base, implied)},
                         "links": {"self": f"{base}/v3/roles/{prior.id}/implies/{implied.id}"}}, status_code=status)
        return handler

    put_implies = one_inference(mgr.assignments.create_implied_role, 201)
    get_implies = one_inference(mgr.assignments.get_implied_role, 200)

    async def check_implies(request: Request) -> Response:
        await api.run(mgr.assignments.get_implied_role, api.param(request, "prior_id"), api.param(request,
                                                                                                  "implied_id"))
        return no_content()

    async def delete_implies(request: Request) -> Response:
        await api.run(mgr.assignments.delete_implied_role, api.param(request, "prior_id"),
                      api.param(request, "implied_id"))
        return no_content()

    async def role_inferences(request: Request) -> Response:
        pg, rules = await api.run(inferences, None)
        base = api.base(request)
        body_: dict[str, Any] = {"role_inferences": [views.implied_role(base, p, i) for p, i in rules],
                                 "links": {"self": f"{base}/v3/role_inferences"}}
        if pg.more:
            body_["truncated"] = True
        return JSON(body_)

    async def role_assignments(request: Request) -> Response:
        q = request.query_params
        effective = "effective" in q and q["effective"] != "false"
        if effective and "group.id" in q:
            raise errors.BadRequest("Combining effective and group filter will always result in an "
                                    "empty list.")
        filters = {k: q[k] for k in ASSIGNMENT_QUERY if k in q}
        subtree, with_names, limit, base = truthy(q.get("include_subtree")), truthy(q.get("include_names")), \
            api.list_limit, api.base(request)

        def fetch() -> tuple[Page[Any], list[dict[str, Any]]]:
            # One thread hop: the assignments, their names and their views.
            pg = page(mgr.assignments.list_role_assignments(filters, effective, subtree, limit), limit)
            names = mgr.assignments.assignment_names(pg.items) if with_names else None
            return pg, [views.assignment(base, g, names) for g in pg.items]
        pg, items = await api.run(fetch)
        return JSON(api.page_body(request, "role_assignments", pg, items, "role_assignments"))

    result: list[Op] = [
        *crud_ops(api, roles),
        Op("GET", "/v3/roles/{prior_id}/implies", list_implies, "List roles a role implies", tag="roles",
           rule="identity:list_implied_roles", response=obj({"role_inference": views.IMPLIED_ROLE,
               "links": views.SELF_LINK})),
        Op("PUT", "/v3/roles/{prior_id}/implies/{implied_id}", put_implies, "Create an implied role",
           status=201, tag="roles", rule="identity:create_implied_role", response=ONE_INFERENCE),
        Op("GET", "/v3/roles/{prior_id}/implies/{implied_id}", get_implies, "Show an implied role",
           tag="roles", rule="identity:get_implied_role", response=ONE_INFERENCE),
        Op("HEAD", "/v3/roles/{prior_id}/implies/{implied_id}", check_implies, "Check an implied role",
           status=204, tag="roles", rule="identity:get_implied_role"),
        Op("DELETE", "/v3/roles/{prior_id}/implies/{implied_id}", delete_implies, "Delete an implied role",
           status=204, tag="roles", rule="identity:delete_implied_role"),
        Op("GET", "/v3/role_inferences", role_inferences, "List all role inference rules", tag="roles",
           rule="identity:list_role_inference_rules", response=obj({"role_inferences": array(views.IMPLIED_ROLE),
               "links": views.SELF_LINK})),
        Op("GET", "/v3/role_assignments", role_assignments, "List role assignments",
           response=listing("role_assignments", views.ASSIGNMENT), query=ASSIGNMENT_QUERY, tag="assignments",
           rule="identity:list_role_assignments", target=assignments_target),
    ]
    result.extend(_grant_ops(api))
    return result


def _grant_ops(api: IdentityAPI) -> list[Op]:
    """PUT/HEAD/DELETE one grant and GET the list, for every (target, actor, inherited) combination."""
    mgr = api.mgr
    table = [
        ("project", "/v3/projects/{target_id}", False),
        ("domain", "/v3/domains/{target_id}", False),
        ("system", "/v3/system", False),
        ("domain", "/v3/OS-INHERIT/domains/{target_id}", True),
        ("project", "/v3/OS-INHERIT/projects/{target_id}", True),
    ]
    out: list[Op] = []
    for target_type, prefix, inherited in table:
        for actor in ("user", "group"):
            base_path = f"{prefix}/{actor}s/{{actor_id}}/roles"
            suffix = "/inherited_to_projects" if inherited else ""
            out.extend(_grant_family(api, mgr, target_type, actor, inherited, base_path, suffix))
    return out


def _grant_family(api: IdentityAPI, mgr: Any, target_type: str, actor: str, inherited: bool, base_path: str,
                  suffix: str) -> list[Op]:
    system = target_type == "system"

    async def grant_target(request: Request) -> Target:
        domain_id: str | None = None
        if not system:
            tid = api.param(request, "target_id")
            domain_id = tid if target_type == "domain" else str((await api.run(mgr.resources.get_project,
                                                                               tid)).domain_id)
        return target({"user": {"id": api.param(request, "actor_id")}}, domain_id=domain_id)

    def args(request: Request) -> tuple[str, str, str, str]:
        tid = "system" if system else api.param(request, "target_id")
        return actor, api.param(request, "actor_id"), target_type, tid

    def rule(action: str) -> str:
        verb = {"put": "create", "head": "check", "delete": "revoke", "list": "list"}[action]
        if action == "list":
            return "identity:list_system_grants" if system else "identity:list_grants"
        return f"identity:{verb}_system_grant" if system else f"identity:{verb}_grant"

    def handler(action: str) -> Callable[[Request], Awaitable[Response]]:
        async def h(request: Request) -> Response:
            a = args(request)
            if action == "list":
                roles = await api.run(mgr.assignments.list_grants, *a, inherited, api.list_limit)
                return JSON(api.collection(request, "roles", roles, views.role))
            role_id = api.param(request, "role_id")
            fn = {"put": mgr.assignments.create_grant, "head": mgr.assignments.check_grant,
                  "delete": mgr.assignments.delete_grant}[action]
            await api.run(fn, role_id, *a, inherited)
            return no_content()
        return h

    tag = "grants"
    one = f"{base_path}/{{role_id}}{suffix}"
    t = grant_target
    return [
        Op("GET", f"{base_path}{suffix}", handler("list"), f"List {actor} roles on {target_type}", tag=tag,
           rule=rule("list"), target=t, response=listing("roles", views.ROLE)),
        Op("PUT", one, handler("put"), f"Grant a role to a {actor} on a {target_type}", status=204, tag=tag,
           rule=rule("put"), target=t),
        Op("HEAD", one, handler("head"), f"Check a {actor}'s role on a {target_type}", status=204, tag=tag,
           rule=rule("head"), target=t),
        Op("GET", one, handler("head"), f"Check a {actor}'s role on a {target_type}", status=204, tag=tag,
           rule=rule("head"), target=t),
        Op("DELETE", one, handler("delete"), f"Revoke a {actor}'s role on a {target_type}", status=204,
           tag=tag, rule=rule("delete"), target=t),
    ]
