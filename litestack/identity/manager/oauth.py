"""OAuth 1.0a delegation (OS-OAUTH1): a consumer gets a user's roles on one project, with consent.

The flow, as Keystone runs it (RFC 5849, HMAC-SHA1 signatures checked by oauthlib):

1. the consumer asks for a request token for a project (``POST /v3/OS-OAUTH1/request_token``,
   signed with its key and secret, ``Requested-Project-Id`` header);
2. a user holding roles on that project authorizes it with some of them and gets a verifier;
3. the consumer trades request token and verifier for an access token (signed with the request
   token's secret too); the request token is used up;
4. the consumer authenticates with the ``oauth1`` method, signed with the access token, and gets
   a token for the authorizing user on the project, carrying the authorized roles (and the roles
   they imply) that the user still holds.

Token secrets are needed in clear to check signatures, so they are stored encrypted with the
credential keys, like the consumers' secrets.
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from cryptography.fernet import InvalidToken
from oauthlib import oauth1
from oauthlib.oauth1.rfc5849.errors import OAuth1Error
from sqlalchemy import delete, or_, select

from litestack.common import errors
from litestack.identity import models as m
from litestack.identity.manager import listing
from litestack.identity.manager.base import DelegationPart, Shared, get_or_404, new_id

if TYPE_CHECKING:
    from litestack.identity.manager.appcreds import CredentialManager
    from litestack.identity.manager.assignment import AssignmentManager
    from litestack.identity.manager.revoke import RevokeManager

REQUEST_TOKEN_SECONDS = 28800  # Keystone's [oauth1] request_token_duration
ACCESS_TOKEN_SECONDS = 86400  # Keystone's [oauth1] access_token_duration
VERIFIER_CHARS = string.ascii_letters + string.digits
_HEX = frozenset("abcdef0123456789")
_DUMMY = "0" * 32


@dataclass(frozen=True)
class SignedRequest:
    """What oauthlib needs to check a signature: the URL as the client signed it, method, headers, query."""

    url: str
    method: str
    headers: dict[str, str]
    query: dict[str, str]


class _Validator(oauth1.RequestValidator):
    """oauthlib's questions, answered from the identity database; unknown keys get dummies (same work)."""

    def __init__(self, mgr: OAuthManager) -> None:
        super().__init__()
        self.mgr = mgr

    enforce_ssl = False  # litestack serves plain HTTP on loopback; TLS is a front proxy's job
    dummy_client = _DUMMY
    dummy_request_token = _DUMMY
    dummy_access_token = _DUMMY

    @property
    def safe_characters(self) -> set[str]:
        return set(_HEX)

    @staticmethod
    def _hex32(value: str) -> bool:
        return len(value) == 32 and set(value) <= _HEX

    def check_client_key(self, client_key: str) -> bool:
        return self._hex32(client_key)

    def check_request_token(self, request_token: str) -> bool:
        return self._hex32(request_token)

    def check_access_token(self, request_token: str) -> bool:
        return self._hex32(request_token)

    def check_nonce(self, nonce: str) -> bool:
        return 0 < len(nonce) <= 64 and nonce.isascii() and nonce.isalnum()

    def check_verifier(self, verifier: str) -> bool:
        return len(verifier) == 8 and all(c in VERIFIER_CHARS for c in verifier)

    def get_client_secret(self, client_key: str, request: Any) -> str:
        return self.mgr.consumer_secret_or_dummy(client_key)

    def get_request_token_secret(self, client_key: str, token: str, request: Any) -> str:
        return self.mgr.token_secret_or_dummy(m.OAuthRequestToken, token, client_key)

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        return self.mgr.token_secret_or_dummy(m.OAuthAccessToken, token, client_key)

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        with self.mgr.db.reader() as s:
            return s.get(m.OAuthConsumer, client_key) is not None

    def validate_request_token(self, client_key: str, token: str, request: Any) -> bool:
        return self.mgr.live_token(m.OAuthRequestToken, token, client_key) is not None

    def validate_access_token(self, client_key: str, token: str, request: Any) -> bool:
        return self.mgr.live_token(m.OAuthAccessToken, token, client_key) is not None

    def validate_verifier(self, client_key: str, token: str, verifier: str, request: Any) -> bool:
        row = self.mgr.live_token(m.OAuthRequestToken, token, client_key)
        return row is not None and row.verifier is not None and secrets.compare_digest(row.verifier, verifier)

    def validate_timestamp_and_nonce(self, client_key: str, timestamp: str, nonce: str, request: Any,
                                     request_token: str | None = None, access_token: str | None = None) -> bool:
        return self.mgr.fresh_nonce(client_key, nonce, request_token or access_token or "")

    def validate_redirect_uri(self, client_key: str, redirect_uri: str, request: Any) -> bool:
        return True  # out of band ("oob"): the verifier is shown to the user, never redirected

    def validate_requested_realms(self, client_key: str, realms: Any, request: Any) -> bool:
        return True

    def validate_realms(self, client_key: str, token: str, request: Any, uri: Any = None,
                        realms: Any = None) -> bool:
        return True

    def get_default_realms(self, client_key: str, request: Any) -> list[str]:
        return []

    def get_realms(self, token: str, request: Any) -> list[str]:
        return []

    def get_redirect_uri(self, token: str, request: Any) -> str:
        return "oob"

    def verify_request_token(self, token: str, request: Any) -> bool:
        return isinstance(token, str)

    def verify_realms(self, token: str, realms: Any, request: Any) -> bool:
        return True

    def invalidate_request_token(self, client_key: str, request_token: str, request: Any) -> None:
        pass  # the manager deletes it when it issues the access token

    def save_request_token(self, token: Any, request: Any) -> None:
        pass  # the manager stores its own tokens (as Keystone does)

    def save_access_token(self, token: Any, request: Any) -> None:
        pass

    def save_verifier(self, token: Any, verifier: Any, request: Any) -> None:
        pass


class OAuthManager(DelegationPart):
    """The OAuth1 delegation flow: request tokens, authorization, access tokens and their signature
    checks (oauthlib asks ``_Validator``, which asks this part)."""

    def __init__(self, shared: Shared, revocation: RevokeManager, assignments: AssignmentManager,
                 credentials: CredentialManager) -> None:
        super().__init__(shared, revocation, assignments, credentials)
        self._nonces: dict[tuple[str, str, str], float] = {}
        self._nonce_lock = threading.Lock()
        self._oauth = _Validator(self)

    # --- what the validator asks -----------------------------------------------------------

    def _decrypt(self, value: str) -> str | None:
        crypto = self.credentials.credential_crypto
        if crypto is None:
            return None
        try:
            return crypto.decrypt(value.encode()).decode()
        except InvalidToken:
            return None

    def consumer_secret_or_dummy(self, consumer_id: str) -> str:
        with self.db.reader() as s:
            row = s.get(m.OAuthConsumer, consumer_id)
        secret = self._decrypt(row.encrypted_secret) if row is not None else None
        return secret if secret is not None else _DUMMY

    def live_token(self, model: Any, token_id: str, consumer_id: str) -> Any:
        """An unexpired request or access token of this consumer, or None."""
        with self.db.reader() as s:
            row = s.get(model, token_id) if isinstance(token_id, str) and len(token_id) <= 64 else None
        if row is None or row.consumer_id != consumer_id:
            return None
        if row.expires_at is not None and row.expires_at <= self.now():
            return None
        return row

    def token_secret_or_dummy(self, model: Any, token_id: str, consumer_id: str) -> str:
        row = self.live_token(model, token_id, consumer_id)
        secret = self._decrypt(row.encrypted_secret) if row is not None else None
        return secret if secret is not None else _DUMMY

    def fresh_nonce(self, consumer_id: str, nonce: str, token: str) -> bool:
        """Refuse a replayed request: a nonce is good once per consumer and token while the
        timestamp window (10 minutes, oauthlib's) lasts. Per process."""
        now = time.monotonic()
        key = (consumer_id, token, nonce)
        with self._nonce_lock:
            if len(self._nonces) > 50000:
                for k in [k for k, seen in self._nonces.items() if now - seen > 600]:
                    del self._nonces[k]
            seen = self._nonces.get(key)
            if seen is not None and now - seen <= 600:
                return False
            self._nonces[key] = now
        return True

    def _signed(self, endpoint: Any, req: SignedRequest) -> tuple[dict[str, Any], bool]:
        """Run one of oauthlib's endpoints; the OAuth parameters, and whether the signature holds."""
        try:
            if isinstance(endpoint, oauth1.ResourceEndpoint):
                valid, request = endpoint.validate_protected_resource_request(
                    req.url, http_method=req.method, body=req.query or None, headers=req.headers)
                return dict(request.oauth_params), bool(valid)
            if isinstance(endpoint, oauth1.RequestTokenEndpoint):
                _, body, status = endpoint.create_request_token_response(
                    req.url, http_method=req.method, body=req.query or None, headers=req.headers)
            else:
                _, body, status = endpoint.create_access_token_response(
                    req.url, http_method=req.method, body=req.query or None, headers=req.headers)
        except OAuth1Error as exc:
            raise errors.Unauthorized(f"Invalid OAuth request: {exc.description}") from None
        except (ValueError, TypeError):
            raise errors.Unauthorized("Invalid OAuth request.") from None
        params = _oauth_params(req.headers)
        return params, status == 200 and bool(body)

    # --- the flow -------------------------------------------------------------------------------

    def create_request_token(self, req: SignedRequest, project_id: str) -> tuple[m.OAuthRequestToken, str]:
        params = _oauth_params(req.headers)
        consumer_id = params.get("oauth_consumer_key")
        if not consumer_id:
            raise errors.ValidationError("Invalid input for field 'oauth_consumer_key' of request.")
        with self.db.reader() as s:
            get_or_404(s, m.Project, project_id, "project")
            get_or_404(s, m.OAuthConsumer, consumer_id, "consumer")
        _, valid = self._signed(oauth1.RequestTokenEndpoint(self._oauth), req)
        if not valid:
            raise errors.Unauthorized("Invalid signature.")
        secret = secrets.token_urlsafe(24)
        with self.write() as s:
            row = m.OAuthRequestToken(
                id=new_id(), consumer_id=consumer_id, requested_project_id=project_id,
                encrypted_secret=self.credentials._encrypt(secret), role_ids=[],
                expires_at=self.now() + timedelta(seconds=REQUEST_TOKEN_SECONDS))
            s.add(row)
        return row, secret

    def authorize_request_token(self, token_id: str, user_id: str, refs: list[dict[str, Any]]) -> str:
        """Authorize a request token with roles the user holds on its project; return the verifier."""
        with self.write() as s:
            row = s.get(m.OAuthRequestToken, token_id) if len(token_id) <= 64 else None
            if row is None:
                raise errors.NotFound.of("request token", token_id)
            if row.expires_at is not None and row.expires_at <= self.now():
                raise errors.Unauthorized("Request token is expired.")
            if row.authorizing_user_id is not None:
                raise errors.Conflict("The request token has already been authorized.")
            held = set(self.assignments.effective_role_ids(user_id, ("project", row.requested_project_id)))
            role_ids = []
            for ref in refs:
                role = (s.get(m.Role, ref["id"]) if ref.get("id") else s.scalar(
                    select(m.Role).where(m.Role.name == ref.get("name"), m.Role.domain_id == m.NULL_DOMAIN)))
                if role is None:
                    raise errors.NotFound.of("role", ref.get('id') or ref.get('name'))
                role_ids.append(role.id)
            if not role_ids or not set(role_ids) <= held:
                raise errors.Unauthorized("authorizing user does not have role required")
            row.authorizing_user_id = user_id
            row.role_ids = sorted(set(role_ids))
            row.verifier = "".join(secrets.choice(VERIFIER_CHARS) for _ in range(8))
            return row.verifier

    def create_access_token(self, req: SignedRequest) -> tuple[m.OAuthAccessToken, str]:
        params = _oauth_params(req.headers)
        for name in ("oauth_consumer_key", "oauth_token", "oauth_verifier"):
            if not params.get(name):
                raise errors.ValidationError(f"Invalid input for field '{name}' of request.")
        consumer_id, token_id = params["oauth_consumer_key"], params["oauth_token"]
        with self.db.reader() as s:
            request_token = s.get(m.OAuthRequestToken, token_id) if len(token_id) <= 64 else None
        if request_token is None:
            raise errors.NotFound.of("request token", token_id)
        if request_token.expires_at is not None and request_token.expires_at <= self.now():
            raise errors.Unauthorized("Request token is expired.")
        if request_token.consumer_id != consumer_id:
            raise errors.Unauthorized("Provided consumer key does not match stored consumer key.")
        if request_token.authorizing_user_id is None:
            raise errors.Unauthorized("Request Token does not have an authorizing user id.")
        _, valid = self._signed(oauth1.AccessTokenEndpoint(self._oauth), req)
        if not valid:
            raise errors.Unauthorized("Invalid signature, or the verifier does not match.")
        secret = secrets.token_urlsafe(24)
        with self.write() as s:
            used = s.get(m.OAuthRequestToken, token_id)
            if used is None:  # a concurrent exchange won
                raise errors.NotFound.of("request token", token_id)
            row = m.OAuthAccessToken(
                id=new_id(), consumer_id=consumer_id, authorizing_user_id=used.authorizing_user_id,
                project_id=used.requested_project_id, role_ids=list(used.role_ids),
                encrypted_secret=self.credentials._encrypt(secret),
                expires_at=self.now() + timedelta(seconds=ACCESS_TOKEN_SECONDS))
            s.add(row)
            s.delete(used)
        return row, secret

    def check_oauth1(self, req: SignedRequest) -> m.OAuthAccessToken:
        """The access token a signed ``oauth1`` authentication request proves; 401 otherwise."""
        params, valid = self._signed(oauth1.ResourceEndpoint(self._oauth), req)
        token = self.live_token(m.OAuthAccessToken, params.get("oauth_token", ""),
                                params.get("oauth_consumer_key", "")) if valid else None
        if token is None:
            raise errors.Unauthorized("The request you have made requires authentication.")
        return token

    # --- a user's access tokens ---------------------------------------------------------------

    def list_access_tokens(self, user_id: str, limit: int | None = None) -> list[m.OAuthAccessToken]:
        """The user's unexpired access tokens by id; at most ``limit + 1``."""
        with self.db.reader() as s:
            get_or_404(s, m.User, user_id, "user")
            t = m.OAuthAccessToken
            q = select(t).where(or_(t.expires_at.is_(None), t.expires_at > self.now()))
            return listing.rows(s, listing.ACCESS_TOKENS, {"authorizing_user_id": user_id}, limit, q)

    def get_access_token(self, user_id: str, token_id: str) -> m.OAuthAccessToken:
        with self.db.reader() as s:
            row = s.get(m.OAuthAccessToken, token_id) if len(token_id) <= 64 else None
        if row is None or row.authorizing_user_id != user_id:
            raise errors.NotFound.of("access token", token_id)
        return row

    def delete_access_token(self, user_id: str, token_id: str) -> None:
        self.get_access_token(user_id, token_id)
        with self.write() as s:
            s.execute(delete(m.OAuthAccessToken).where(m.OAuthAccessToken.id == token_id))
            self.credentials._drop_delegated_ec2(s, "access_token_id", [token_id], [user_id])
        self.revocation.revoke(access_token_id=token_id)

    def revoke_consumer_tokens(self, consumer_id: str) -> None:
        """Tokens issued through a deleted consumer's access tokens die with it."""
        with self.write() as s:
            rows = s.execute(select(m.OAuthAccessToken.id, m.OAuthAccessToken.authorizing_user_id)
                             .where(m.OAuthAccessToken.consumer_id == consumer_id)).all()
            ids = [token_id for token_id, _ in rows]
            self.credentials._drop_delegated_ec2(s, "access_token_id", ids, {user for _, user in rows})
        for token_id in ids:
            self.revocation.revoke(access_token_id=token_id)


def _oauth_params(headers: dict[str, str]) -> dict[str, str]:
    """The ``oauth_*`` parameters of an ``Authorization: OAuth …`` header (unsigned, for routing only)."""
    auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    if not auth.lower().startswith("oauth "):
        return {}
    try:
        return dict(oauth1.rfc5849.utils.parse_authorization_header(auth))
    except (ValueError, TypeError):
        return {}
