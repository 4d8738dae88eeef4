"""Version discovery and /v3/auth: tokens, catalog, scopes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, ctx, no_content
from litestack.common.api.policy import Target, TargetLoader, body, loaded, policy_target, stash, target
from litestack.common.api.resource import Handler, truthy
from litestack.common.api.schema import BOOL, LIST_LINKS, OBJ, STR, array, listing, obj, single
from litestack.common.auth import ACCESS_RULES_HEADER
from litestack.identity.api import views
from litestack.identity.api.oauth import signed_request
from litestack.identity.api.service import IdentityAPI
from litestack.identity.manager.auth import InsufficientAuthMethods
from litestack.identity.tokens import TokenNotFound

MEDIA_TYPES = [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]
UPDATED = "2023-03-22T00:00:00Z"

AUTH_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["auth"],
    "properties": {"auth": {
        "type": "object", "required": ["identity"],
        "properties": {
            "identity": {
                "type": "object", "required": ["methods"],
                "properties": {
                    "methods": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "password": {"type": "object", "required": ["user"], "properties": {"user": {
                        "type": "object", "properties": {
                            "id": {"type": "string"}, "name": {"type": "string"},
                            "password": {"type": "string"},
                            "domain": {"type": "object", "properties": {
                                "id": {"type": "string"}, "name": {"type": "string"}}}}}}},
                    "token": {"type": "object", "required": ["id"],
                              "properties": {"id": {"type": "string"}}},
                    "totp": {"type": "object", "required": ["user"], "properties": {"user": {
                        "type": "object", "properties": {
                            "id": {"type": "string"}, "name": {"type": "string"},
                            "passcode": {"type": "string", "maxLength": 16},
                            "domain": {"type": "object", "properties": {
                                "id": {"type": "string"}, "name": {"type": "string"}}}}}}},
                    "application_credential": {"type": "object", "properties": {
                        "id": {"type": "string"}, "name": {"type": "string"}, "secret": {"type": "string"},
                        "user": {"type": "object"}}},
                },
            },
            "scope": {"anyOf": [
                {"type": "string", "enum": ["unscoped"]},
                {"type": "object", "properties": {
                    "project": {"type": "object", "properties": {
                        "id": {"type": "string"}, "name": {"type": "string"},
                        "domain": {"type": "object", "properties": {
                            "id": {"type": "string"}, "name": {"type": "string"}}}}},
                    "domain": {"type": "object", "properties": {
                        "id": {"type": "string"}, "name": {"type": "string"}}},
                    "system": {"type": "object", "properties": {"all": {"type": "boolean"}}},
                    "OS-TRUST:trust": {"type": "object", "properties": {"id": {"type": "string"}}},
                }}]},
        },
    }},
}
TOKEN_RESPONSE = {"type": "object", "required": ["token"], "properties": {"token": {
    "type": "object", "required": ["methods", "user", "expires_at", "issued_at", "audit_ids"]}}}


VERSION = obj({"id": STR, "status": STR, "updated": STR, "links": array(obj({"rel": STR, "href": STR})),
               "media-types": array(obj({"base": STR, "type": STR}))})
VERSIONS = obj({"versions": obj({"values": array(VERSION)})})
CATALOG = obj({"catalog": array(obj({"type": STR, "id": STR, "endpoints": array(OBJ)}, {"name": STR})),
               "links": LIST_LINKS})
SYSTEM = obj({"system": array(obj({"all": BOOL})), "links": LIST_LINKS})


def version_doc(base: str) -> dict[str, Any]:
    return {"id": "v3.14", "status": "stable", "updated": UPDATED,
            "links": [{"rel": "self", "href": f"{base}/v3/"}], "media-types": MEDIA_TYPES}


def ops(api: IdentityAPI) -> list[Op]:
    mgr = api.mgr

    async def root(request: Request) -> Response:
        return JSON({"versions": {"values": [version_doc(api.base(request))]}}, status_code=300)

    async def v3(request: Request) -> Response:
        return JSON({"version": version_doc(api.base(request))})

    async def issue(request: Request) -> Response:
        auth = body(request)["auth"]
        if auth.get("scope") == "unscoped":
            auth = {**auth, "scope": None}
        receipt = request.headers.get("openstack-auth-receipt")
        signed = signed_request(api, request) if "oauth1" in auth["identity"]["methods"] else None
        try:
            payload = await api.run(mgr.auth.authenticate, auth, receipt, signed)
        except InsufficientAuthMethods as exc:
            # Keystone's multi-factor answer: a receipt for the methods passed, and the rules left.
            new_receipt, out = await api.run(mgr.auth.issue_receipt, exc.user_id, exc.methods)
            return JSON({"receipt": out, "required_auth_methods": exc.required}, status_code=401,
                        headers={"Openstack-Auth-Receipt": new_receipt,
                                 "WWW-Authenticate": f'Keystone uri="{api.base(request)}"'})
        token = mgr.auth.issue(payload)
        data = await api.run(mgr.auth.token_data, payload, "nocatalog" not in request.query_params)
        return JSON({"token": data}, status_code=201, headers={"X-Subject-Token": token})

    def subject_target(expired_ok: bool) -> TargetLoader:
        """The token in X-Subject-Token: the rule is checked against its user (``allow_expired``
        honoured when ``expired_ok``)."""
        async def load(request: Request) -> Target:
            subject = request.headers.get("x-subject-token")
            if not subject:
                raise errors.ValidationError("X-Subject-Token header is required.")
            allow_expired = expired_ok and truthy(request.query_params.get("allow_expired"))
            try:
                payload = await api.run(mgr.auth.validate_token, subject, allow_expired, inline_first=True)
            except TokenNotFound as exc:
                # Keystone answers 404 to anyone allowed to validate tokens at all.
                return Target(policy_target({"token": {"user_id": ctx(request).user_id}}), missing=exc)
            stash(request, (subject, payload))
            return target({"token": {"user_id": payload.user_id}})
        return load

    async def _subject(request: Request, check_rules: bool = True) -> tuple[str, Any]:
        subject, payload = loaded(request)
        if check_rules:
            await api.run(mgr.credentials.check_access_rules_support, payload.app_cred_id,
                          request.headers.get(ACCESS_RULES_HEADER), inline_first=True)
        return subject, payload

    async def validate(request: Request) -> Response:
        subject, payload = await _subject(request)
        data = await api.run(mgr.auth.token_data, payload, "nocatalog" not in request.query_params,
                             inline_first=True)
        return JSON({"token": data}, headers={"X-Subject-Token": subject})

    async def check(request: Request) -> Response:
        subject, _ = await _subject(request)
        return Response(status_code=200, headers={"X-Subject-Token": subject})

    async def revoke(request: Request) -> Response:
        _, payload = await _subject(request, check_rules=False)
        await api.run(mgr.auth.revoke_token, payload)
        return no_content()

    async def auth_catalog(request: Request) -> Response:
        c = ctx(request)
        if not (c.project_id or c.domain_id or c.system_scope):
            raise errors.Forbidden("The authenticated token is unscoped and has no catalog.")
        catalog = await api.run(mgr.catalog.catalog, c.project_id)
        return JSON({"catalog": catalog, "links": api.links(request, "auth/catalog")})

    def scopes(fn: Callable[..., list[Any]], key: str, view: Callable[[str, Any], dict[str, Any]]) -> Handler:
        """The enabled projects or domains the caller may scope a token to."""
        async def handler(request: Request) -> Response:
            rows = await api.run(fn, ctx(request).user_id, api.list_limit, {"enabled": True})
            return JSON(api.collection(request, key, rows, view, f"auth/{key}"))
        return handler

    auth_projects = scopes(mgr.assignments.user_projects, "projects", views.project)
    auth_domains = scopes(mgr.assignments.user_domains, "domains", views.domain)

    async def auth_system(request: Request) -> Response:
        c = ctx(request)
        roles = await api.run(mgr.assignments.effective_role_ids, c.user_id, ("system", "all"))
        return JSON({"system": [{"all": True}] if roles else [],
                     "links": api.links(request, "auth/system")})

    subject = ("X-Subject-Token",)
    return [
        Op("GET", "/", root, "Identity API versions", public=True, status=300, errors=(), response=VERSIONS),
        Op("GET", "/v3", v3, "Identity v3 version document", public=True, errors=(),
           response=single("version", VERSION)),
        Op("GET", "/v3/", v3, "Identity v3 version document", public=True, errors=(),
           response=single("version", VERSION)),
        Op("POST", "/v3/auth/tokens", issue, "Issue a token", body=AUTH_SCHEMA, response=TOKEN_RESPONSE,
           status=201, public=True, query=("nocatalog",), errors=(400, 401, 403, 404)),
        Op("GET", "/v3/auth/tokens", validate, "Validate a token", response=TOKEN_RESPONSE,
           query=("nocatalog", "allow_expired"), extra={"headers": subject},
           rule="identity:validate_token", target=subject_target(True)),
        Op("HEAD", "/v3/auth/tokens", check, "Check a token", query=("allow_expired",),
           extra={"headers": subject}, rule="identity:check_token", target=subject_target(True)),
        Op("DELETE", "/v3/auth/tokens", revoke, "Revoke a token", status=204, extra={"headers": subject},
           rule="identity:revoke_token", target=subject_target(False)),
        Op("GET", "/v3/auth/catalog", auth_catalog, "Catalog of this token", rule="identity:get_auth_catalog",
           response=CATALOG),
        Op("GET", "/v3/auth/projects", auth_projects, "Projects available to this token's user",
           rule="identity:get_auth_projects", response=listing("projects", views.PROJECT)),
        Op("GET", "/v3/auth/domains", auth_domains, "Domains available to this token's user",
           rule="identity:get_auth_domains", response=listing("domains", views.DOMAIN)),
        Op("GET", "/v3/auth/system", auth_system, "System scopes available to this token's user",
           rule="identity:get_auth_system", response=SYSTEM),
    ]


