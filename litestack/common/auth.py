"""Auth middleware used by every service.

It strips identity headers a client may have forged, validates ``X-Auth-Token``
(and ``X-Service-Token``) with a ``TokenValidator``, caches validations and
fills the ``RequestContext``. Cached entries are evicted as soon as a
revocation event arrives, so the cache never outlives a revoked token by more
than the time the event takes to arrive.

A missing or bad token is not answered here: routes marked ``public`` (version
documents, ``POST /v3/auth/tokens``) work without one, and the router raises
the recorded 401 for every other route.

Tokens of application credentials with access rules are enforced here, so every
service inherits the rules: such a token is good only for the requests a rule
allows (service type, method, path template) and is refused (401) elsewhere, and
by a middleware that does not know its service type. The middleware declares
that it enforces rules when it validates tokens at identity
(``OpenStack-Identity-Access-Rules``), and identity refuses such tokens to any
validator that does not, as Keystone does for old keystonemiddleware.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from litestack.common import errors
from litestack.common.context import RequestContext

if TYPE_CHECKING:  # httpx is imported only by services that validate over REST (start-up time)
    import httpx

LOG = logging.getLogger(__name__)

# Headers keystonemiddleware sets downstream; a client must never be able to send them.
_SPOOFABLE_PREFIXES = (b"x-identity-status", b"x-service-identity-status", b"x-domain-", b"x-project-",
                       b"x-user-", b"x-roles", b"x-service-", b"x-is-admin-project", b"x-tenant",
                       b"x-role", b"x-auth-project-id", b"x-system-scope", b"x-service-catalog")
_KEEP = (b"x-service-token",)

#: The header by which a token validator tells identity it enforces access rules, and the version
#: of them it understands (keystonemiddleware sends "1"; Keystone requires at least 1.0).
ACCESS_RULES_HEADER = "OpenStack-Identity-Access-Rules"
ACCESS_RULES_VERSION = "1.0"
_TEMPLATE_PART = re.compile(r"\*\*|\*|\{[^}]*\}|[^*{]+|\{")


def access_rules_supported(header: str | None) -> bool:
    """Whether an ``OpenStack-Identity-Access-Rules`` header value declares support (version >= 1.0)."""
    try:
        return header is not None and float(header) >= 1.0
    except ValueError:
        return False


def path_matches(path: str, template: str) -> bool:
    """Whether a request path matches an access rule's path template, with keystonemiddleware's
    semantics: ``*`` and ``{name}`` stand for exactly one non-empty path segment, ``**`` for
    anything (several segments, or none), every other character for itself."""
    parts: list[str] = []
    for piece in _TEMPLATE_PART.findall(template):
        if piece == "**":
            parts.append(".*")
        elif piece == "*" or (piece.startswith("{") and piece.endswith("}")):
            parts.append("[^/]+")
        else:
            parts.append(re.escape(piece))
    return re.fullmatch("".join(parts), path, flags=re.DOTALL) is not None


def access_rules_allow(rules: list[dict[str, Any]], service_type: str, method: str, path: str) -> bool:
    """Whether one of an application credential's access rules allows this request."""
    # Request paths are matched without a trailing slash (routes treat both alike); so are templates.
    return any(rule.get("service") == service_type and rule.get("method") == method
               and isinstance(rule.get("path"), str) and path_matches(path, rule["path"].rstrip("/") or "/")
               for rule in rules)


def _route_path(scope: Scope) -> str:
    """The request path below the service's mount point (what rule paths are written against:
    ``/v3/auth/projects``, whether identity answers at ``/`` or under ``/identity``)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and (path == root or path.startswith(root + "/")):
        path = path[len(root):] or "/"
    # Routes answer with and without a trailing slash alike; so do the rules.
    return path.rstrip("/") or "/"


class TokenValidator(Protocol):
    """Validates a token; returns Keystone's token body (the dict under ``"token"``).

    Raises ``errors.Unauthorized`` (or ``NotFound``) when the token is invalid, expired or revoked.
    ``allow_expired`` accepts a recently expired token (Keystone's ``allow_expired``, within
    identity's ``allow_expired_window``); the middleware asks for it only on behalf of a caller
    that also sent a valid service token.
    """

    async def validate(self, token: str, allow_expired: bool = False) -> dict[str, Any]: ...


#: The bus notification the identity service sends for every revocation; token caches evict on it.
REVOCATION_EVENT = "identity.revocation"


class TokenCache:
    """LRU + TTL cache of token validations, keyed by a hash of the token (never the token)."""

    def __init__(self, ttl: float, size: int) -> None:
        self.ttl = ttl
        self.size = size
        self._data: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def get(self, token: str) -> dict[str, Any] | None:
        if self.ttl <= 0 or self.size <= 0:
            return None
        k = self.key(token)
        with self._lock:
            hit = self._data.get(k)
            if hit is None:
                return None
            stored, body = hit
            if time.monotonic() - stored > self.ttl or _expired(body):
                del self._data[k]
                return None
            self._data.move_to_end(k)
            return body

    def put(self, token: str, body: dict[str, Any]) -> None:
        if self.ttl <= 0 or self.size <= 0:
            return
        with self._lock:
            self._data[self.key(token)] = (time.monotonic(), body)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def evict(self, event: dict[str, Any]) -> int:
        """Drop every cached token a revocation event matches; return how many."""
        with self._lock:
            doomed = [k for k, (_, body) in self._data.items() if revocation_matches(event, body)]
            for k in doomed:
                del self._data[k]
        return len(doomed)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


def _expired(body: dict[str, Any]) -> bool:
    exp = body.get("expires_at")
    if not exp:
        return False
    return datetime.fromisoformat(exp.replace("Z", "+00:00")) <= datetime.now(UTC)


def revocation_matches(event: dict[str, Any], body: dict[str, Any]) -> bool:
    """Whether a revocation event (identity's ``identity.revocation`` notification) hits a token."""
    checks: list[bool] = []
    if event.get("user_id"):
        trust = body.get("OS-TRUST:trust") or {}
        checks.append(event["user_id"] in (body.get("user", {}).get("id"),
                                           (trust.get("trustor_user") or {}).get("id"),
                                           (trust.get("trustee_user") or {}).get("id")))
    if event.get("project_id"):
        checks.append((body.get("project") or {}).get("id") == event["project_id"])
    if event.get("domain_id"):
        checks.append((body.get("domain") or {}).get("id") == event["domain_id"]
                      or (body.get("project") or {}).get("domain", {}).get("id") == event["domain_id"]
                      or body.get("user", {}).get("domain", {}).get("id") == event["domain_id"])
    if event.get("role_id"):
        checks.append(any(r.get("id") == event["role_id"] for r in body.get("roles", [])))
    audit = body.get("audit_ids") or []
    if event.get("audit_id"):
        checks.append(bool(audit) and audit[0] == event["audit_id"])
    if event.get("audit_chain_id"):
        checks.append(bool(audit) and audit[-1] == event["audit_chain_id"])
    if event.get("app_cred_id"):
        checks.append((body.get("application_credential") or {}).get("id") == event["app_cred_id"])
    if event.get("trust_id"):
        checks.append((body.get("OS-TRUST:trust") or {}).get("id") == event["trust_id"])
    if event.get("access_token_id"):
        checks.append((body.get("OS-OAUTH1") or {}).get("access_token_id") == event["access_token_id"])
    return bool(checks) and all(checks)


def fill_context(ctx: RequestContext, body: dict[str, Any], token: str) -> None:
    user = body.get("user") or {}
    ctx.user_id = user.get("id")
    ctx.user_name = user.get("name")
    ctx.user_domain_id = (user.get("domain") or {}).get("id")
    ctx.roles = [r["name"] for r in body.get("roles", [])]
    ctx.audit_ids = list(body.get("audit_ids") or [])
    ctx.auth_token = token
    project = body.get("project")
    if project:
        ctx.project_id = project.get("id")
        ctx.project_name = project.get("name")
        ctx.project_domain_id = (project.get("domain") or {}).get("id")
    domain = body.get("domain")
    if domain:
        ctx.domain_id = domain.get("id")
        ctx.domain_name = domain.get("name")
    if (body.get("system") or {}).get("all"):
        ctx.system_scope = "all"
    appcred = body.get("application_credential")
    if appcred:
        ctx.application_credential_id = appcred.get("id")
    oauth = body.get("OS-OAUTH1")
    if oauth:
        ctx.oauth_access_token_id = oauth.get("access_token_id")
    trust = body.get("OS-TRUST:trust")
    if trust:
        ctx.trust_id = trust.get("id")
        ctx.trustor_id = (trust.get("trustor_user") or {}).get("id")
        ctx.trustee_id = (trust.get("trustee_user") or {}).get("id")


class AuthMiddleware:
    """Validates tokens for one service's API and fills the request context."""

    def __init__(self, app: ASGIApp, validator: TokenValidator, cache: TokenCache,
                 www_authenticate_uri: str | None = None, service_type: str | None = None) -> None:
        """``service_type`` is the service's catalog type, which access rules name; without it,
        tokens restricted by access rules are refused outright."""
        self.app = app
        self.validator = validator
        self.cache = cache
        self.www_authenticate_uri = www_authenticate_uri
        self.service_type = service_type

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = service_token = None
        kept: list[tuple[bytes, bytes]] = []
        for name, value in scope["headers"]:
            if name == b"x-auth-token":
                token = value.decode("latin-1")
            elif name == b"x-service-token":
                service_token = value.decode("latin-1")
            if name.startswith(_SPOOFABLE_PREFIXES) and name not in _KEEP:
                continue
            kept.append((name, value))
        scope["headers"] = kept
        state = scope["state"]
        ctx: RequestContext = state["context"]
        if token:
            # A service (e.g. compute finishing a user's long operation) may present a user token
            # that expired meanwhile, together with its own valid service token.
            service = await self._service_token(ctx, service_token, state) if service_token else False
            try:
                body: dict[str, Any] | None = await self._validate(token)
            except (errors.Unauthorized, errors.NotFound):
                body = None
                if service:
                    try:
                        body = await self.validator.validate(token, allow_expired=True)
                    except (errors.Unauthorized, errors.NotFound):
                        body = None
            if body is None:
                state["auth_failure"] = self._unauthorized("The request you have made requires authentication.")
            elif not self._access_rules_allow(body, scope, service):
                state["auth_failure"] = self._unauthorized("Token authorization failed")
            else:
                fill_context(ctx, body, token)
        else:
            state["auth_missing"] = self._unauthorized("The request you have made requires authentication.")
        await self.app(scope, receive, send)

    def _access_rules_allow(self, body: dict[str, Any], scope: Scope, service: bool) -> bool:
        """Whether the access rules of the token's application credential (if any) allow this request.

        As keystonemiddleware: a token can always be validated at identity; a request that also
        carries a valid service token is one service acting for the user inside a chain the user
        started, not a user-facing call, and is not held to the rules.
        """
        rules = (body.get("application_credential") or {}).get("access_rules")
        if not rules:
            return True
        if not isinstance(rules, list) or not self.service_type:
            LOG.warning("refused a token restricted by access rules: this service has no service type")
            return False
        method: str = scope["method"]
        path = _route_path(scope)
        if self.service_type == "identity" and method in ("GET", "HEAD") and path == "/v3/auth/tokens":
            return True
        if service:
            return True
        return access_rules_allow(rules, self.service_type, method, path)

    async def _service_token(self, ctx: RequestContext, token: str, state: dict[str, Any]) -> bool:
        """Check ``X-Service-Token``; True when it is valid and holds the service (or admin) role."""
        try:
            body = await self._validate(token)
        except (errors.Unauthorized, errors.NotFound):
            state["auth_failure"] = self._unauthorized("The service token is not valid.")
            return False
        if (body.get("application_credential") or {}).get("access_rules"):
            # A token restricted by access rules lifts no rules, its own included.
            return False
        roles = [r["name"] for r in body.get("roles", [])]
        if "service" in roles or "admin" in roles:
            ctx.service_roles = roles
            ctx.service_user_id = (body.get("user") or {}).get("id")
            return True
        return False

    async def _validate(self, token: str) -> dict[str, Any]:
        body = self.cache.get(token)
        if body is None:
            body = await self.validator.validate(token)
            self.cache.put(token, body)
        return body

    def _unauthorized(self, message: str) -> errors.Unauthorized:
        err = errors.Unauthorized(message)
        if self.www_authenticate_uri:
            err.headers = {"WWW-Authenticate": f'Keystone uri="{self.www_authenticate_uri}"'}
        return err


class HTTPTokenValidator:
    """Validates tokens against the identity service over REST, with a service token.

    Used by every service but identity itself (which validates locally). The
    service user's own token is fetched with the password method and renewed
    before it expires.
    """

    def __init__(self, identity_url: str, username: str, password: str, project: str = "service",
                 domain_id: str = "default", client: httpx.AsyncClient | None = None) -> None:

        from litestack.common.client import ServiceUserSession, http_client

        self.identity_url = identity_url.rstrip("/")
        self._client = client or http_client()
        # The same service-user login as every internal REST call (``common/client.py``).
        self.session = ServiceUserSession(self.identity_url, username, password, self._client, project,
                                          domain_id, catalog=False)

    async def _service_token(self) -> str:
        return await self.session.token()

    async def validate(self, token: str, allow_expired: bool = False) -> dict[str, Any]:
        # The auth middleware enforces access rules: say so, or identity refuses tokens that have them.
        headers = {"X-Auth-Token": await self._service_token(), "X-Subject-Token": token,
                   ACCESS_RULES_HEADER: ACCESS_RULES_VERSION}
        from litestack.common.client import send

        url = f"{self.identity_url}/v3/auth/tokens" + ("?allow_expired=1" if allow_expired else "")
        r = await send(self._client, "GET", url, headers=headers)
        if r.status_code == 401:
            self.session.invalidate()
            headers["X-Auth-Token"] = await self._service_token()
            r = await send(self._client, "GET", url, headers=headers)
        if r.status_code == 200:
            body: dict[str, Any] = r.json()["token"]
            return body
        if r.status_code in (401, 404):
            raise errors.Unauthorized("The token is not valid.")
        raise errors.ServiceUnavailable(f"identity answered {r.status_code} to a token validation.")

    async def aclose(self) -> None:
        await self._client.aclose()


def scrub(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers safe to log: tokens and passwords are masked."""
    secret = {"x-auth-token", "x-subject-token", "x-service-token", "authorization", "cookie",
              "openstack-auth-receipt"}
    return [(k, "***" if k.lower() in secret else v) for k, v in headers]
