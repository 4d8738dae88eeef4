"""Users, passwords and groups."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common.api.app import JSON, Op, ctx, no_content
from litestack.common.api.crud import Resource, crud_ops
from litestack.common.api.pagination import Page, page
from litestack.common.api.policy import Target, body, loaded, target
from litestack.common.api.resource import truthy
from litestack.common.api.schema import BOOL, DESC, NAME, NAME64, OPT_ID, listing, wrapped
from litestack.identity.api import views
from litestack.identity.api.service import IdentityAPI

PASSWORD = {"type": ["string", "null"], "maxLength": 4096}
USER_PROPS = {"name": NAME, "domain_id": OPT_ID, "enabled": BOOL, "password": PASSWORD,
              "default_project_id": OPT_ID, "description": DESC, "email": {"type": ["string", "null"]},
              "options": {"type": "object"}}
CREATE_USER = wrapped("user", USER_PROPS, ["name"])
UPDATE_USER = wrapped("user", USER_PROPS)
CHANGE_PASSWORD = wrapped("user", {"password": {"type": "string", "minLength": 1, "maxLength": 4096},
                                   "original_password": {"type": "string", "maxLength": 4096}},
                          ["password", "original_password"])
GROUP_PROPS = {"name": NAME64, "domain_id": OPT_ID, "description": DESC}
CREATE_GROUP = wrapped("group", GROUP_PROPS, ["name"])
UPDATE_GROUP = wrapped("group", GROUP_PROPS)



def ops(api: IdentityAPI) -> list[Op]:
    mgr = api.mgr

    def user_views(base: str, users: list[Any]) -> list[dict[str, Any]]:
        """Views of many users: their password expiries in one query, not one per user."""
        expiries = mgr.users.password_expiries([u.id for u in users])
        return [views.user(base, u, expiries[u.id], mgr.users.user_enabled(u)) for u in users]

    def list_users(request: Request, limit: int | None) -> list[Any]:
        q = request.query_params
        domain_id = api.scoped_domain(request)
        filters: dict[str, Any] = {k: q[k] for k in ("name",) if k in q}
        if domain_id:
            filters["domain_id"] = domain_id
        if "enabled" in q:
            filters["enabled"] = truthy(q["enabled"])
        return mgr.users.list_users(filters, limit)

    async def new_user_target(request: Request) -> Target:
        data = body(request)["user"]
        c = ctx(request)
        data.setdefault("domain_id", c.domain_id or c.project_domain_id or "default")
        if data["domain_id"] is None:
            data["domain_id"] = "default"
        return target({"user": {"domain_id": data["domain_id"]}})

    user_target = api.lookup("user_id", mgr.users.get_user, "user",
                             lambda u: {"id": u.id, "domain_id": u.domain_id} if u else {"domain_id": None},
                             user_id=True)
    users = Resource(
        "users", "user", "users", "user_id", lambda base, u: user_views(base, [u])[0], "identity:{verb}_user",
        tag="users", item=views.USER, query=("name", "domain_id", "enabled"), lister=list_users,
        list_target=api.domain_list_target, views=user_views, getter=mgr.users.get_user, creator=mgr.users.create_user,
        updater=mgr.users.update_user, deleter=mgr.users.delete_user, create_body=CREATE_USER, update_body=UPDATE_USER,
        create_target=new_user_target, member_target=user_target)

    async def change_password(request: Request) -> Response:
        # Unauthenticated on purpose, as in Keystone: a user whose password expired has no token.
        data = body(request)["user"]
        uid = api.param(request, "user_id")
        await api.run(mgr.users.change_password, uid, data["original_password"], data["password"])
        return no_content()

    user_groups = api.related(mgr.users.list_user_groups, "user_id", "groups", views.group, "users/{}/groups",
                              limited=True)
    user_projects = api.related(mgr.assignments.user_projects, "user_id", "projects", views.project,
                                "users/{}/projects",
                                limited=True)

    def list_groups(request: Request, limit: int | None) -> list[Any]:
        q = request.query_params
        domain_id = api.scoped_domain(request)
        filters: dict[str, Any] = {k: q[k] for k in ("name",) if k in q}
        if domain_id:
            filters["domain_id"] = domain_id
        return mgr.users.list_groups(filters, limit)

    async def new_group_target(request: Request) -> Target:
        data = body(request)["group"]
        c = ctx(request)
        if not data.get("domain_id"):
            data["domain_id"] = c.domain_id or c.project_domain_id or "default"
        return target({"group": {"domain_id": data["domain_id"]}})

    group_target = api.lookup("group_id", mgr.users.get_group, "group",
                              lambda g: {"id": g.id, "domain_id": g.domain_id} if g else {"domain_id": None})
    groups = Resource(
        "groups", "group", "groups", "group_id", views.group, "identity:{verb}_group", tag="groups", item=views.GROUP,
        query=("name", "domain_id"), lister=list_groups, list_target=api.domain_list_target,
        getter=mgr.users.get_group, creator=mgr.users.create_group, updater=mgr.users.update_group,
        deleter=mgr.users.delete_group,
        create_body=CREATE_GROUP, update_body=UPDATE_GROUP, create_target=new_group_target,
        member_target=group_target)

    async def group_users(request: Request) -> Response:
        group, base, limit = loaded(request), api.base(request), api.list_limit

        def fetch() -> tuple[Page[Any], list[dict[str, Any]]]:
            pg = page(mgr.users.list_group_users(group.id, limit), limit)
            return pg, user_views(base, pg.items)
        pg, items = await api.run(fetch)
        return JSON(api.page_body(request, "users", pg, items, f"groups/{group.id}/users"))

    async def add_member(request: Request) -> Response:
        await api.run(mgr.users.add_user_to_group, loaded(request).id, api.param(request, "user_id"))
        return no_content()

    async def check_member(request: Request) -> Response:
        await api.run(mgr.users.check_user_in_group, loaded(request).id, api.param(request, "user_id"))
        return no_content()

    async def remove_member(request: Request) -> Response:
        await api.run(mgr.users.remove_user_from_group, loaded(request).id, api.param(request, "user_id"))
        return no_content()

    return [
        *crud_ops(api, users),
        Op("POST", "/v3/users/{user_id}/password", change_password, "Change one's own password",
           body=CHANGE_PASSWORD, status=204, public=True, tag="users", errors=(400, 401, 403)),
        Op("GET", "/v3/users/{user_id}/groups", user_groups, "List a user's groups",
           response=listing("groups", views.GROUP), tag="users",
           rule="identity:list_groups_for_user", target=user_target),
        Op("GET", "/v3/users/{user_id}/projects", user_projects, "List a user's projects",
           response=listing("projects", views.PROJECT), tag="users",
           rule="identity:list_user_projects", target=user_target),
        *crud_ops(api, groups),
        Op("GET", "/v3/groups/{group_id}/users", group_users, "List a group's users",
           response=listing("users", views.USER), tag="groups",
           rule="identity:list_users_in_group", target=group_target),
        Op("PUT", "/v3/groups/{group_id}/users/{user_id}", add_member, "Add a user to a group", status=204,
           tag="groups", rule="identity:add_user_to_group", target=group_target),
        Op("HEAD", "/v3/groups/{group_id}/users/{user_id}", check_member, "Check membership", status=204,
           tag="groups", rule="identity:check_user_in_group", target=group_target),
        Op("DELETE", "/v3/groups/{group_id}/users/{user_id}", remove_member, "Remove a user from a group",
           status=204, tag="groups", rule="identity:remove_user_from_group", target=group_target),
    ]
