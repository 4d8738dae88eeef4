"""Trusts: /v3/OS-TRUST/trusts (create, list, show, delete) and the roles each delegates."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, ctx, no_content
from litestack.common.api.policy import Target, body, loaded, policy_target, target
from litestack.common.api.schema import listing, single
from litestack.identity import models as m
from litestack.identity.api import views
from litestack.identity.api.service import IdentityAPI
from litestack.identity.manager.trusts import Caller

ROLE_REF = {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}}}
CREATE_TRUST: dict[str, Any] = {"type": "object", "required": ["trust"], "properties": {"trust": {
    "type": "object", "required": ["trustor_user_id", "trustee_user_id", "impersonation"],
    "properties": {
        "trustor_user_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "trustee_user_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "impersonation": {"type": "boolean"},
        "project_id": {"type": ["string", "null"], "maxLength": 64},
        "remaining_uses": {"type": ["integer", "null"], "minimum": 1},
        "expires_at": {"type": ["string", "null"], "maxLength": 64},
        "allow_redelegation": {"type": ["boolean", "null"]},
        "redelegation_count": {"type": ["integer", "null"], "minimum": 0},
        "roles": {"type": "array", "items": ROLE_REF},
    }}}}
APP_CRED_FORBIDDEN = "Using method 'application_credential' is not allowed for managing trusts."


def ops(api: IdentityAPI) -> list[Op]:
    mgr = api.mgr

    def no_app_cred(request: Request) -> None:
        # An application credential is a single-project delegation: it may not widen itself
        # through the trust chain, restricted or not.
        if ctx(request).application_credential_id:
            raise errors.Forbidden(APP_CRED_FORBIDDEN)

    # A trust that does not exist (or is used up) is a 404 for everyone, as in Keystone.
    trust_target = api.lookup("trust_id", mgr.trusts.get_trust, "trust",
                              lambda t: {"trustor_user_id": t.trustor_user_id, "trustee_user_id": t.trustee_user_id},
                              hide_missing=False)

    def load(request: Request) -> m.Trust:
        no_app_cred(request)
        trust: m.Trust = loaded(request)
        return trust

    def full(base: str, trust: m.Trust) -> dict[str, Any]:
        return views.trust(base, trust, mgr.assignments.roles_by_id(trust.role_ids))

    async def new_trust_target(request: Request) -> Target:
        return target({"trust": {"trustor_user_id": body(request)["trust"]["trustor_user_id"]}})

    async def create(request: Request) -> Response:
        data = body(request)["trust"]
        no_app_cred(request)
        c = ctx(request)
        assert c.user_id is not None  # authorize() let an authenticated caller through
        trust = await api.run(mgr.trusts.create_trust, Caller(c.user_id, c.trust_id, c.oauth_access_token_id,
                                                       c.application_credential_id), data)
        return JSON({"trust": await api.run(full, api.base(request), trust)}, status_code=201)

    async def list_target(request: Request) -> Target:
        q = request.query_params
        trustor, trustee = q.get("trustor_user_id"), q.get("trustee_user_id")
        if trustor:
            return Target(policy_target({"trust": {"trustor_user_id": trustor}}),
                          rule="identity:list_trusts_for_trustor")
        if trustee:
            return Target(policy_target({"trust": {"trustee_user_id": trustee}}),
                          rule="identity:list_trusts_for_trustee")
        return Target()

    async def list_trusts(request: Request) -> Response:
        q = request.query_params
        trustor, trustee = q.get("trustor_user_id"), q.get("trustee_user_id")
        no_app_cred(request)
        trusts = await api.run(mgr.trusts.list_trusts, trustor or None, trustee or None, api.list_limit)
        return JSON(api.collection(request, "trusts", trusts, views.trust))

    async def get(request: Request) -> Response:
        trust = load(request)
        return JSON({"trust": await api.run(full, api.base(request), trust)})

    async def delete(request: Request) -> Response:
        trust = load(request)
        await api.run(mgr.trusts.delete_trust, trust.id)
        return no_content()

    async def roles(request: Request) -> Response:
        trust = load(request)
        base = api.base(request)
        body = await api.run(full, base, trust)
        return JSON({"roles": body["roles"], "links": body["roles_links"]})

    async def role(request: Request) -> Response:
        trust = load(request)
        role_id = api.param(request, "role_id")
        if role_id not in trust.role_ids:
            raise errors.NotFound.of("role", role_id)
        found = await api.run(mgr.assignments.roles_by_id, [role_id])
        if not found:
            raise errors.NotFound.of("role", role_id)
        if request.method == "HEAD":
            return Response(status_code=200)
        return JSON({"role": views.role(api.base(request), found[0])})

    path = "/v3/OS-TRUST/trusts"
    return [
        Op("POST", path, create, "Create a trust", body=CREATE_TRUST, response=single("trust", views.TRUST), status=201,
           errors=(400, 401, 403, 404, 409), rule="identity:create_trust", target=new_trust_target),
        Op("GET", path, list_trusts, "List trusts", response=listing("trusts", views.TRUST),
           query=("trustor_user_id", "trustee_user_id"), rule="identity:list_trusts",
           alt_rules=("identity:list_trusts_for_trustor", "identity:list_trusts_for_trustee"), target=list_target),
        Op("GET", path + "/{trust_id}", get, "Show a trust", response=single("trust", views.TRUST),
           rule="identity:get_trust",
           target=trust_target),
        Op("DELETE", path + "/{trust_id}", delete, "Delete a trust and the trusts redelegated from it",
           status=204, rule="identity:delete_trust", target=trust_target),
        Op("GET", path + "/{trust_id}/roles", roles, "List the roles a trust delegates", response=listing("roles",
            views.ROLE),
           rule="identity:list_roles_for_trust", target=trust_target),
        Op("GET", path + "/{trust_id}/roles/{role_id}", role, "Show a role a trust delegates",
           response=single("role", views.ROLE), rule="identity:get_role_for_trust", target=trust_target),
        Op("HEAD", path + "/{trust_id}/roles/{role_id}", role, "Check a role a trust delegates",
           rule="identity:get_role_for_trust", target=trust_target),
    ]
