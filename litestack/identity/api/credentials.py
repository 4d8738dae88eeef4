"""Application credentials, access rules, stored credentials and OS-EC2 credentials."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, ctx, no_content
from litestack.common.api.pagination import Page, page
from litestack.common.api.policy import Target, body, loaded, stash, target
from litestack.common.api.schema import BOOL, DESC, NAME, OPT_ID, SELF_LINK, STR, listing, obj, single, wrapped
from litestack.identity.api import views
from litestack.identity.api.service import IdentityAPI
from litestack.identity.manager.appcreds import Delegation

ACCESS_RULE = {"type": "object", "properties": {
    "id": {"type": "string"}, "service": {"type": "string", "minLength": 1, "maxLength": 64},
    "path": {"type": "string", "minLength": 1, "maxLength": 255},
    "method": {"type": "string", "enum": ["HEAD", "GET", "POST", "PUT", "PATCH", "DELETE"]}}}
CREATE_APP_CRED = wrapped("application_credential", {
    "name": NAME, "description": DESC, "secret": {"type": ["string", "null"], "minLength": 1, "maxLength": 255},
    "expires_at": {"type": ["string", "null"], "format": "date-time"}, "unrestricted": BOOL,
    "roles": {"type": "array", "items": {"type": "object", "properties": {
        "id": {"type": "string"}, "name": {"type": "string"}}}},
    "access_rules": {"type": "array", "items": ACCESS_RULE}}, ["name"])
CRED_PROPS = {"user_id": {"type": "string", "minLength": 1, "maxLength": 64}, "project_id": OPT_ID,
              "type": {"type": "string", "minLength": 1, "maxLength": 255},
              "blob": {"type": "string", "minLength": 1, "maxLength": 65535}}
CREATE_CRED = wrapped("credential", CRED_PROPS, ["user_id", "type", "blob"])
UPDATE_CRED = wrapped("credential", CRED_PROPS)
CREATE_EC2 = {"type": "object", "required": ["tenant_id"], "properties": {
    "tenant_id": {"type": "string", "minLength": 1, "maxLength": 64}}}
ACCESS_RULE_VIEW = obj({"id": STR, "service": STR, "path": STR, "method": STR, "links": SELF_LINK})


def ops(api: IdentityAPI) -> list[Op]:
    mgr = api.mgr

    def viewed(rows: list[Any], view: Callable[[str, Any], dict[str, Any]], base: str
               ) -> tuple[Page[Any], list[dict[str, Any]]]:
        # The rows and their views in one thread hop (views decrypt blobs and load roles).
        pg = page(rows, api.list_limit)
        return pg, [view(base, r) for r in pg.items]

    def cred_view(base: str, c: Any) -> dict[str, Any]:
        return views.app_cred(base, c, mgr.assignments.roles_by_id(c.role_ids))

    async def list_app_creds(request: Request) -> Response:
        uid = api.param(request, "user_id")
        name, limit, base = request.query_params.get("name"), api.list_limit, api.base(request)
        pg, out = await api.run(lambda: viewed(mgr.credentials.list_app_creds(uid, name, limit), cred_view, base))
        return JSON(api.page_body(request, "application_credentials", pg, out,
                                  f"users/{uid}/application_credentials"))

    async def create_app_cred(request: Request) -> Response:
        uid = api.param(request, "user_id")
        data = body(request)["application_credential"]
        c = ctx(request)
        token_roles = await api.run(mgr.assignments.effective_role_ids, uid, ("project", c.project_id))
        parent = await _unrestricted(request)
        if parent is not None:
            # No more than the roles of the credential the caller authenticated with.
            token_roles = [r for r in token_roles if r in parent.role_ids]
        cred, secret = await api.run(mgr.credentials.create_app_cred, uid, c.project_id, token_roles, data,
                                     Delegation.of(c))
        out = await api.run(cred_view, api.base(request), cred)
        out["secret"] = secret
        return JSON({"application_credential": out}, status_code=201)

    async def get_app_cred(request: Request) -> Response:
        uid = api.param(request, "user_id")
        cred = await api.run(mgr.credentials.get_app_cred, uid, api.param(request, "cred_id"))
        return JSON({"application_credential": await api.run(cred_view, api.base(request), cred)})

    async def _unrestricted(request: Request) -> Any:
        """The application credential the caller authenticated with, if any; 403 unless unrestricted."""
        c = ctx(request)
        if not c.application_credential_id:
            return None
        try:
            parent = await api.run(mgr.credentials.get_app_cred, c.user_id, c.application_credential_id)
        except errors.NotFound:
            parent = None
        if parent is None or not parent.unrestricted:
            raise errors.Forbidden("Using method 'application_credential' is not allowed for managing "
                                   "additional application credentials.")
        return parent

    async def delete_app_cred(request: Request) -> Response:
        uid = api.param(request, "user_id")
        await _unrestricted(request)
        await api.run(mgr.credentials.delete_app_cred, uid, api.param(request, "cred_id"))
        return no_content()

    async def list_access_rules(request: Request) -> Response:
        uid = api.param(request, "user_id")
        rules = await api.run(mgr.credentials.list_access_rules, uid, api.list_limit)
        return JSON(api.collection(request, "access_rules", rules, lambda base, r: {
            **r, "links": {"self": f"{base}/v3/users/{uid}/access_rules/{r['id']}"}}, f"users/{uid}/access_rules"))

    async def get_access_rule(request: Request) -> Response:
        uid = api.param(request, "user_id")
        rule = await api.run(mgr.credentials.get_access_rule, uid, api.param(request, "rule_id"))
        return JSON({"access_rule": {**rule, "links": {
            "self": f"{api.base(request)}/v3/users/{uid}/access_rules/{rule['id']}"}}})

    async def delete_access_rule(request: Request) -> Response:
        uid = api.param(request, "user_id")
        await api.run(mgr.credentials.delete_access_rule, uid, api.param(request, "rule_id"))
        return no_content()

    async def list_credentials_target(request: Request) -> Target:
        # Callers the rule does not let see the credentials asked for see their own only: the rule
        # is checked against those, and the handler narrows the list.
        wanted = {"credential": {"user_id": request.query_params.get("user_id")}}
        if api.allowed(request, "identity:list_credentials", wanted):
            stash(request, True)
            return target(wanted)
        stash(request, False)
        return target({"credential": {"user_id": ctx(request).user_id}})

    async def list_credentials(request: Request) -> Response:
        q = request.query_params
        c = ctx(request)
        filters = {k: q.get(k) for k in ("user_id", "type")}
        if not loaded(request):
            # Non-admins see their own credentials only, whatever they filtered on.
            if filters["user_id"] not in (None, c.user_id):
                return JSON({"credentials": [], "links": api.links(request, "credentials")})
            filters["user_id"] = c.user_id
        base, limit = api.base(request), api.list_limit
        pg, out = await api.run(lambda: viewed(mgr.credentials.list_credentials(filters, limit),
                                               lambda b, x: views.credential(b, x,
                                                                             mgr.credentials.decrypt_blob(x)), base))
        return JSON(api.page_body(request, "credentials", pg, out, "credentials"))

    async def new_credential_target(request: Request) -> Target:
        return target({"credential": {"user_id": body(request)["credential"]["user_id"]}})

    async def create_credential(request: Request) -> Response:
        data = body(request)["credential"]
        c = ctx(request)
        if data["type"] == "ec2" and data.get("project_id") and c.project_id and not _is_admin(c) \
                and data["project_id"] != c.project_id:
            raise errors.Forbidden("An ec2 credential may only be created for the token's project.")
        cred = await api.run(mgr.credentials.create_credential, data, Delegation.of(c), _member_of(c))
        blob = await api.run(mgr.credentials.decrypt_blob, cred)  # an ec2 blob records the token's delegation
        return JSON({"credential": views.credential(api.base(request), cred, blob)}, status_code=201)

    cred_target = api.lookup("credential_id", mgr.credentials.get_credential, "credential",
                             lambda c: {"user_id": c.user_id if c else None})

    async def get_credential(request: Request) -> Response:
        cred = loaded(request)
        return JSON({"credential": views.credential(api.base(request), cred, mgr.credentials.decrypt_blob(cred))})

    async def update_credential(request: Request) -> Response:
        data = body(request)["credential"]
        cred = loaded(request)
        if "user_id" in data and data["user_id"] != cred.user_id and not _is_admin(ctx(request)):
            raise errors.Forbidden("Only an administrator may move a credential to another user.")
        cred = await api.run(mgr.credentials.update_credential, cred.id, data, Delegation.of(ctx(request)),
                             _member_of(ctx(request)))
        return JSON({"credential": views.credential(api.base(request), cred, mgr.credentials.decrypt_blob(cred))})

    async def delete_credential(request: Request) -> Response:
        cred = loaded(request)
        await api.run(mgr.credentials.delete_credential, cred.id)
        return no_content()

    async def list_ec2(request: Request) -> Response:
        uid = api.param(request, "user_id")
        creds = await api.run(mgr.credentials.list_ec2, uid, api.list_limit)
        return JSON(api.collection(request, "credentials", creds, views.ec2, f"users/{uid}/credentials/OS-EC2"))

    async def create_ec2(request: Request) -> Response:
        uid = api.param(request, "user_id")
        data = body(request)
        c = ctx(request)
        if not _is_admin(c) and data["tenant_id"] != c.project_id:
            raise errors.Forbidden("Token project and the ec2 credential's project must match.")
        await api.run(mgr.resources.get_project, data["tenant_id"])
        if not _is_admin(c):
            roles = await api.run(mgr.assignments.effective_role_ids, uid, ("project", data["tenant_id"]))
            if not roles:
                raise errors.Forbidden("The user has no role on that project.")
        cred = await api.run(mgr.credentials.create_ec2, uid, data["tenant_id"], Delegation.of(c))
        return JSON({"credential": views.ec2(api.base(request), cred)}, status_code=201)

    async def get_ec2(request: Request) -> Response:
        uid = api.param(request, "user_id")
        cred = await api.run(mgr.credentials.get_ec2, uid, api.param(request, "access"))
        return JSON({"credential": views.ec2(api.base(request), cred)})

    async def delete_ec2(request: Request) -> Response:
        uid = api.param(request, "user_id")
        await api.run(mgr.credentials.delete_ec2, uid, api.param(request, "access"))
        return no_content()

    owner = api.path_target(user_id="user_id")

    async def cred_owner(request: Request) -> Target:
        return target({"credential": {"user_id": api.param(request, "user_id")}})

    ac = "/v3/users/{user_id}/application_credentials"
    ar = "/v3/users/{user_id}/access_rules"
    ec = "/v3/users/{user_id}/credentials/OS-EC2"
    w = (400, 401, 403, 404, 409)
    return [
        Op("GET", ac, list_app_creds, "List application credentials", query=("name",),
           response=listing("application_credentials", views.APP_CRED), tag="application credentials",
           rule="identity:list_application_credentials", target=owner),
        Op("POST", ac, create_app_cred, "Create an application credential", body=CREATE_APP_CRED,
           response=single("application_credential", views.APP_CRED), status=201, tag="application credentials",
               errors=w,
           rule="identity:create_application_credential", target=owner),
        Op("GET", ac + "/{cred_id}", get_app_cred, "Show an application credential",
           response=single("application_credential", views.APP_CRED), tag="application credentials",
           rule="identity:get_application_credential", target=owner),
        Op("DELETE", ac + "/{cred_id}", delete_app_cred, "Delete an application credential", status=204,
           tag="application credentials", rule="identity:delete_application_credential", target=owner),
        Op("GET", ar, list_access_rules, "List access rules", tag="application credentials",
           rule="identity:list_access_rules", target=owner, response=listing("access_rules", ACCESS_RULE_VIEW)),
        Op("GET", ar + "/{rule_id}", get_access_rule, "Show an access rule", tag="application credentials",
           rule="identity:get_access_rule", target=owner, response=single("access_rule", ACCESS_RULE_VIEW)),
        Op("DELETE", ar + "/{rule_id}", delete_access_rule, "Delete an access rule", status=204,
           tag="application credentials", rule="identity:delete_access_rule", target=owner),
        Op("GET", "/v3/credentials", list_credentials, "List credentials", query=("user_id", "type"),
           response=listing("credentials", views.CREDENTIAL), tag="credentials",
           rule="identity:list_credentials", target=list_credentials_target),
        Op("POST", "/v3/credentials", create_credential, "Create a credential", body=CREATE_CRED,
           response=single("credential", views.CREDENTIAL), status=201, tag="credentials", errors=w,
           rule="identity:create_credential", target=new_credential_target),
        Op("GET", "/v3/credentials/{credential_id}", get_credential, "Show a credential",
           response=single("credential", views.CREDENTIAL), tag="credentials",
           rule="identity:get_credential", target=cred_target),
        Op("PATCH", "/v3/credentials/{credential_id}", update_credential, "Update a credential",
           body=UPDATE_CRED, response=single("credential", views.CREDENTIAL), tag="credentials", errors=w,
           rule="identity:update_credential", target=cred_target),
        Op("DELETE", "/v3/credentials/{credential_id}", delete_credential, "Delete a credential", status=204,
           tag="credentials", rule="identity:delete_credential", target=cred_target),
        Op("GET", ec, list_ec2, "List ec2 credentials", response=listing("credentials", views.EC2), tag="credentials",
           rule="identity:ec2_list_credentials", target=owner),
        Op("POST", ec, create_ec2, "Create an ec2 credential", body=CREATE_EC2, response=single("credential",
            views.EC2),
           status=201, tag="credentials", errors=w, rule="identity:ec2_create_credential", target=owner),
        Op("GET", ec + "/{access}", get_ec2, "Show an ec2 credential", response=single("credential", views.EC2),
           tag="credentials", rule="identity:ec2_get_credential", target=cred_owner),
        Op("DELETE", ec + "/{access}", delete_ec2, "Delete an ec2 credential", status=204, tag="credentials",
           rule="identity:ec2_delete_credential", target=cred_owner),
    ]


def _is_admin(c: Any) -> bool:
    return "admin" in c.roles


def _member_of(c: Any) -> str | None:
    """None for an administrator, else the token's project ("" if none): where its ec2 credentials may go."""
    return None if _is_admin(c) else c.project_id or ""
