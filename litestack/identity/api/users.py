"""Users, passwords and groups."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common.api.app import JSON, Op, ctx, json_body, no_content
from litestack.common.api.resource import truthy
from litestack.common.api.schema import BOOL, DESC, NAME, NAME64, OPT_ID, listing, single, wrapped
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

    def user_view(base: str, u: Any) -> dict[str, Any]:
        return views.user(base, u, mgr.password_expires_at(u.id), mgr.user_enabled(u))

    async def list_users(request: Request) -> Response:
        q = request.query_params
        c = ctx(request)
        domain_id = q.get("domain_id") or (c.domain_id if c.domain_id and not c.project_id else None)
        api.authorize(request, "identity:list_users", domain_id=domain_id)
        filters: dict[str, Any] = {k: q[k] for k in ("name",) if k in q}
        if domain_id:
            filters["domain_id"] = domain_id
        if "enabled" in q:
            filters["enabled"] = truthy(q["enabled"])
        users = await api.run(mgr.list_users, filters)
        base = api.base(request)
        body = await api.run(lambda: [user_view(base, u) for u in users])
        return JSON({"users": body, "links": api.links(request, "users")})

    async def create_user(request: Request) -> Response:
        data = (await json_body(request, CREATE_USER))["user"]
        c = ctx(request)
        data.setdefault("domain_id", c.domain_id or c.project_domain_id or "default")
        if data["domain_id"] is None:
            data["domain_id"] = "default"
        api.authorize(request, "identity:create_user", {"user": {"domain_id": data["domain_id"]}})
        user = await api.run(mgr.create_user, data)
        base = api.base(request)
        return JSON({"user": await api.run(user_view, base, user)}, status_code=201)

    async def _user(request: Request, rule: str) -> Any:
        return await api.lookup(request, "user_id", mgr.get_user, rule, "user",
                                lambda u: {"id": u.id, "domain_id": u.domain_id} if u else {"domain_id": None},
                                user_id=True)

    async def get_user(request: Request) -> Response:
        user = await _user(request, "identity:get_user")
        return JSON({"user": await api.run(user_view, api.base(request), user)})

    async def update_user(request: Request) -> Response:
        data = (await json_body(request, UPDATE_USER))["user"]
        user = await _user(request, "identity:update_user")
        user = await api.run(mgr.update_user, user.id, data)
        return JSON({"user": await api.run(user_view, api.base(request), user)})

    async def delete_user(request: Request) -> Response:
        user = await _user(request, "identity:delete_user")
        await api.run(mgr.delete_user, user.id)
        return no_content()

    async def change_password(request: Request) -> Response:
        # Unauthenticated on purpose, as in Keystone: a user whose password expired has no token.
        data = (await json_body(request, CHANGE_PASSWORD))["user"]
        uid = api.param(request, "user_id")
        await api.run(mgr.change_password, uid, data["original_password"], data["password"])
        return no_content()

    async def user_groups(request: Request) -> Response:
        user = await _user(request, "identity:list_groups_for_user")
        groups = await api.run(mgr.list_user_groups, user.id)
        base = api.base(request)
        return JSON({"groups": [views.group(base, g) for g in groups],
                     "links": api.links(request, f"users/{user.id}/groups")})

    async def user_projects(request: Request) -> Response:
        user = await _user(request, "identity:list_user_projects")
        projects = await api.run(mgr.user_projects, user.id)
        base = api.base(request)
        return JSON({"projects": [views.project(base, p) for p in projects],
                     "links": api.links(request, f"users/{user.id}/projects")})

    async def list_groups(request: Request) -> Response:
        q = request.query_params
        c = ctx(request)
        domain_id = q.get("domain_id") or (c.domain_id if c.domain_id and not c.project_id else None)
        api.authorize(request, "identity:list_groups", domain_id=domain_id)
        filters: dict[str, Any] = {k: q[k] for k in ("name",) if k in q}
        if domain_id:
            filters["domain_id"] = domain_id
        groups = await api.run(mgr.list_groups, filters)
        base = api.base(request)
        return JSON({"groups": [views.group(base, g) for g in groups], "links": api.links(request, "groups")})

    async def create_group(request: Request) -> Response:
        data = (await json_body(request, CREATE_GROUP))["group"]
        c = ctx(request)
        if not data.get("domain_id"):
            data["domain_id"] = c.domain_id or c.project_domain_id or "default"
        api.authorize(request, "identity:create_group", {"group": {"domain_id": data["domain_id"]}})
        group = await api.run(mgr.create_group, data)
        return JSON({"group": views.group(api.base(request), group)}, status_code=201)

    async def _group(request: Request, rule: str) -> Any:
        return await api.lookup(request, "group_id", mgr.get_group, rule, "group",
                                lambda g: {"id": g.id, "domain_id": g.domain_id} if g else {"domain_id": None})

    async def get_group(request: Request) -> Response:
        group = await _group(request, "identity:get_group")
        return JSON({"group": views.group(api.base(request), group)})

    async def update_group(request: Request) -> Response:
        data = (await json_body(request, UPDATE_GROUP))["group"]
        group = await _group(request, "identity:update_group")
        group = await api.run(mgr.update_group, group.id, data)
        return JSON({"group": views.group(api.base(request), group)})

    async def delete_group(request: Request) -> Response:
        group = await _group(request, "identity:delete_group")
        await api.run(mgr.delete_group, group.id)
        return no_content()

    async def group_users(request: Request) -> Response:
        group = await _group(request, "identity:list_users_in_group")
        users = await api.run(mgr.list_group_users, group.id)
        base = api.base(request)
        body = await api.run(lambda: [user_view(base, u) for u in users])
        return JSON({"users": body, "links": api.links(request, f"groups/{group.id}/users")})

    async def add_member(request: Request) -> Response:
        group = await _group(request, "identity:add_user_to_group")
        await api.run(mgr.add_user_to_group, group.id, api.param(request, "user_id"))
        return no_content()

    async def check_member(request: Request) -> Response:
        group = await _group(request, "identity:check_user_in_group")
        await api.run(mgr.check_user_in_group, group.id, api.param(request, "user_id"))
        return no_content()

    async def remove_member(request: Request) -> Response:
        group = await _group(request, "identity:remove_user_from_group")
        await api.run(mgr.remove_user_from_group, group.id, api.param(request, "user_id"))
        return no_content()

    return [
        Op("GET", "/v3/users", list_users, "List users", response=listing("users"),
           query=("name", "domain_id", "enabled"), tag="users"),
        Op("POST", "/v3/users", create_user, "Create a user", body=CREATE_USER, response=single("user"),
           status=201, tag="users", errors=(400, 401, 403, 404, 409)),
        Op("GET", "/v3/users/{user_id}", get_user, "Show a user", response=single("user"), tag="users"),
        Op("PATCH", "/v3/users/{user_id}", update_user, "Update a user", body=UPDATE_USER,
           response=single("user"), tag="users", errors=(400, 401, 403, 404, 409)),
        Op("DELETE", "/v3/users/{user_id}", delete_user, "Delete a user", status=204, tag="users"),
        Op("POST", "/v3/users/{user_id}/password", change_password, "Change one's own password",
           body=CHANGE_PASSWORD, status=204, public=True, tag="users", errors=(400, 401, 403)),
        Op("GET", "/v3/users/{user_id}/groups", user_groups, "List a user's groups",
           response=listing("groups"), tag="users"),
        Op("GET", "/v3/users/{user_id}/projects", user_projects, "List a user's projects",
           response=listing("projects"), tag="users"),
        Op("GET", "/v3/groups", list_groups, "List groups", response=listing("groups"),
           query=("name", "domain_id"), tag="groups"),
        Op("POST", "/v3/groups", create_group, "Create a group", body=CREATE_GROUP, response=single("group"),
           status=201, tag="groups", errors=(400, 401, 403, 404, 409)),
        Op("GET", "/v3/groups/{group_id}", get_group, "Show a group", response=single("group"), tag="groups"),
        Op("PATCH", "/v3/groups/{group_id}", update_group, "Update a group", body=UPDATE_GROUP,
           response=single("group"), tag="groups", errors=(400, 401, 403, 404, 409)),
        Op("DELETE", "/v3/groups/{group_id}", delete_group, "Delete a group", status=204, tag="groups"),
        Op("GET", "/v3/groups/{group_id}/users", group_users, "List a group's users",
           response=listing("users"), tag="groups"),
        Op("PUT", "/v3/groups/{group_id}/users/{user_id}", add_member, "Add a user to a group", status=204,
           tag="groups"),
        Op("HEAD", "/v3/groups/{group_id}/users/{user_id}", check_member, "Check membership", status=204,
           tag="groups"),
        Op("DELETE", "/v3/groups/{group_id}/users/{user_id}", remove_member, "Remove a user from a group",
           status=204, tag="groups"),
    ]


