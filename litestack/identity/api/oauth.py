"""OAuth1 delegation (OS-OAUTH1): request tokens, their authorization, access tokens, a user's access tokens.

Consumers themselves are managed in ``extensions.py``; the ``oauth1`` auth method is in ``auth.py``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, ctx, no_content
from litestack.common.api.policy import body
from litestack.common.api.schema import NSTR, STR, listing, obj, single
from litestack.identity import models as m
from litestack.identity.api import views
from litestack.identity.api.service import IdentityAPI
from litestack.identity.manager.base import iso
from litestack.identity.manager.oauth import SignedRequest

AUTHORIZE = {"type": "object", "required": ["roles"], "properties": {"roles": {
    "type": "array", "minItems": 1, "items": {"type": "object", "properties": {
        "id": {"type": "string", "maxLength": 64}, "name": {"type": "string", "maxLength": 255}}}}}}
FORM = "application/x-www-form-urlencoded"

ACCESS_TOKEN = obj({"id": STR, "consumer_id": STR, "project_id": STR, "authorizing_user_id": STR, "expires_at": NSTR,
                    "links": obj({"self": STR, "roles": STR})})


def signed_request(api: IdentityAPI, request: Request) -> SignedRequest:
    """The request as its client signed it: full URL (with the mount point), method, headers, query."""
    return SignedRequest(url=api.self_url(request), method=request.method, headers=dict(request.headers),
                         query=dict(request.query_params))


def _form(token_id: str, secret: str, expires: Any) -> Response:
    return Response(urlencode({"oauth_token": token_id, "oauth_token_secret": secret,
                               "oauth_expires_at": iso(expires)}), status_code=201, media_type=FORM)


def ops(api: IdentityAPI) -> list[Op]:
    mgr = api.mgr

    async def request_token(request: Request) -> Response:
        project_id = request.headers.get("requested-project-id")
        if not project_id:
            raise errors.ValidationError("Invalid input for field 'Requested-Project-Id' of request.")
        row, secret = await api.run(mgr.oauth.create_request_token, signed_request(api, request), project_id)
        return _form(row.id, secret, row.expires_at)

    async def access_token(request: Request) -> Response:
        row, secret = await api.run(mgr.oauth.create_access_token, signed_request(api, request))
        return _form(row.id, secret, row.expires_at)

    async def authorize(request: Request) -> Response:
        refs = body(request)["roles"]
        c = ctx(request)
        if c.is_delegated_auth or c.application_credential_id:
            raise errors.Forbidden("Cannot authorize a request token with a token issued via delegation.")
        assert c.user_id is not None
        verifier = await api.run(mgr.oauth.authorize_request_token, api.param(request, "request_token_id"), c.user_id,
                                 refs)
        return JSON({"token": {"oauth_verifier": verifier}})

    def token_view(base: str, t: m.OAuthAccessToken) -> dict[str, Any]:
        path = f"{base}/v3/users/{t.authorizing_user_id}/OS-OAUTH1/access_tokens/{t.id}"
        return {"id": t.id, "consumer_id": t.consumer_id, "project_id": t.project_id,
                "authorizing_user_id": t.authorizing_user_id, "expires_at": iso(t.expires_at),
                "links": {"self": path, "roles": f"{path}/roles"}}

    async def list_tokens(request: Request) -> Response:
        uid = api.param(request, "user_id")
        rows = await api.run(mgr.oauth.list_access_tokens, uid, api.list_limit)
        return JSON(api.collection(request, "access_tokens", rows, token_view))

    async def get_token(request: Request) -> Response:
        uid = api.param(request, "user_id")
        row = await api.run(mgr.oauth.get_access_token, uid, api.param(request, "access_token_id"))
        return JSON({"access_token": token_view(api.base(request), row)})

    async def delete_token(request: Request) -> Response:
        uid = api.param(request, "user_id")
        await api.run(mgr.oauth.delete_access_token, uid, api.param(request, "access_token_id"))
        return no_content()

    async def _roles(request: Request) -> list[m.Role]:
        uid = api.param(request, "user_id")
        row = await api.run(mgr.oauth.get_access_token, uid, api.param(request, "access_token_id"))
        return await api.run(mgr.assignments.roles_by_id, list(row.role_ids))

    async def token_roles(request: Request) -> Response:
        roles = await _roles(request)
        base = api.base(request)
        return JSON({"roles": [views.role(base, r) for r in roles],
                     "links": api.links(request)})

    async def token_role(request: Request) -> Response:
        role_id = api.param(request, "role_id")
        found = [r for r in await _roles(request) if r.id == role_id]
        if not found:
            raise errors.NotFound.of("role", role_id)
        return JSON({"role": views.role(api.base(request), found[0])})

    owner = api.path_target(user_id="user_id")
    base_path = "/v3/OS-OAUTH1"
    tokens = "/v3/users/{user_id}/OS-OAUTH1/access_tokens"
    tag = "OS-OAUTH1"
    return [
        Op("POST", base_path + "/request_token", request_token,
           "Get a request token (signed by a consumer; Requested-Project-Id header); form-encoded answer",
           status=201, public=True, tag=tag, errors=(400, 401, 404)),
        Op("PUT", base_path + "/authorize/{request_token_id}", authorize,
           "Authorize a request token with roles the caller holds on its project; returns the verifier",
           body=AUTHORIZE, response=single("token", obj({"oauth_verifier": STR})), tag=tag,
           errors=(400, 401, 403, 404, 409),
           rule="identity:authorize_request_token"),
        Op("POST", base_path + "/access_token", access_token,
           "Trade an authorized request token and its verifier for an access token (signed); form-encoded",
           status=201, public=True, tag=tag, errors=(400, 401, 404)),
        Op("GET", tokens, list_tokens, "List a user's OAuth1 access tokens",
           response=listing("access_tokens", ACCESS_TOKEN),
           tag=tag, rule="identity:list_access_tokens", target=owner),
        Op("GET", tokens + "/{access_token_id}", get_token, "Show an access token",
           response=single("access_token", ACCESS_TOKEN),
           tag=tag, rule="identity:get_access_token", target=owner),
        Op("DELETE", tokens + "/{access_token_id}", delete_token, "Delete (revoke) an access token", status=204,
           tag=tag, rule="identity:delete_access_token", target=owner),
        Op("GET", tokens + "/{access_token_id}/roles", token_roles, "List an access token's roles",
           response=listing("roles", views.ROLE), tag=tag, rule="identity:list_access_token_roles", target=owner),
        Op("GET", tokens + "/{access_token_id}/roles/{role_id}", token_role, "Show a role of an access token",
           response=single("role", views.ROLE), tag=tag, rule="identity:get_access_token_role", target=owner),
    ]
