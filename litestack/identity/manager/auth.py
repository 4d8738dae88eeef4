"""Authentication (password, token, application_credential; trust scope), token issue and validation."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from litestack.common import errors
from litestack.identity import models as m
from litestack.identity.manager.appcreds import totp_matches
from litestack.identity.manager.base import Part, Shared, iso, request_source
from litestack.identity.manager.oauth import SignedRequest
from litestack.identity.tokens import (
    ReceiptFormatter,
    ReceiptNotFound,
    Scope,
    TokenFormatter,
    TokenNotFound,
    TokenPayload,
    generate_audit_id,
)

if TYPE_CHECKING:
    from litestack.identity.manager.appcreds import CredentialManager
    from litestack.identity.manager.assignment import AssignmentManager
    from litestack.identity.manager.extensions import ExtensionsManager
    from litestack.identity.manager.oauth import OAuthManager
    from litestack.identity.manager.resource import ResourceManager
    from litestack.identity.manager.revoke import RevokeManager
    from litestack.identity.manager.trusts import TrustManager
    from litestack.identity.manager.users import UserManager

LOG = logging.getLogger(__name__)
AUTH_FAILED = "The request you have made requires authentication."
SUPPORTED_METHODS = ("password", "token", "application_credential", "totp", "oauth1")
TOTP_STEP = 30
# A 6-digit passcode falls to guessing fast when nothing slows it down (a check costs
# microseconds): at most this many wrong passcodes per user per 30-second step, per process.
TOTP_FAILURES_PER_STEP = 5


class InsufficientAuthMethods(errors.Unauthorized):
    """Every method given passed, but the user's MFA rules need more: answered with an auth receipt."""

    def __init__(self, user_id: str, methods: list[str], required: list[list[str]]) -> None:
        super().__init__(f"Insufficient auth methods received for {user_id}. Auth Methods Provided: "
                         f"[{','.join(methods)}].")
        self.user_id = user_id
        self.methods = methods
        self.required = required


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def _naive(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo is not None else dt


def _ref_key(ref: dict[str, Any]) -> str:
    """A throttling key for a name that matched nothing (as given: unknown names count too),
    hashed so that a huge name costs no memory."""
    raw = json.dumps([ref.get("id"), ref.get("name"), ref.get("domain"), ref.get("user")], sort_keys=True,
                     default=str)
    return "ref:" + hashlib.blake2b(raw.encode(errors="replace"), digest_size=16).hexdigest()


class AuthManager(Part):
    """Authentication (password, token, TOTP, application credential, OAuth1; trust scope; multi-factor
    receipts), token issue and validation. The token's catalog is ``extensions.project_catalog``."""

    def __init__(self, shared: Shared, revocation: RevokeManager, resources: ResourceManager,
                 users: UserManager, assignments: AssignmentManager, credentials: CredentialManager,
                 trusts: TrustManager, oauth: OAuthManager, extensions: ExtensionsManager,
                 formatter: TokenFormatter, receipts: ReceiptFormatter) -> None:
        super().__init__(shared)
        self.revocation = revocation
        self.resources = resources
        self.users = users
        self.assignments = assignments
        self.credentials = credentials
        self.trusts = trusts
        self.oauth = oauth
        self.extensions = extensions
        self.formatter = formatter
        self.receipts = receipts
        self._totp_failures: dict[tuple[str, int], int] = {}

    # --- issue --------------------------------------------------------------------------

    def authenticate(self, auth: dict[str, Any], receipt: str | None = None,
                     signed: SignedRequest | None = None) -> TokenPayload:
        """Check the identity methods and the requested scope; return the new token's payload.

        Raises ``Unauthorized`` for any failed check, with the same message whether the
        user is unknown or the password is wrong; ``InsufficientAuthMethods`` when the
        methods passed but the user's MFA rules ask for more. ``receipt`` is the auth receipt
        of an earlier such answer: its methods count as passed. ``signed`` is the HTTP request
        itself, for the ``oauth1`` method (its signature is in the Authorization header).
        """
        identity = auth["identity"]
        methods: list[str] = identity["methods"]
        if not methods or len(set(methods)) != len(methods):
            raise errors.ValidationError("Invalid input for field 'identity/methods'.")
        for meth in methods:
            if meth not in SUPPORTED_METHODS:
                raise errors.Unauthorized(f"Attempted to authenticate with an unsupported method: {meth}.")
            if meth not in identity and meth != "oauth1":  # oauth1 is all in the Authorization header
                raise errors.ValidationError(f"Invalid input for field 'identity': '{meth}' is missing.")
        user_ids: set[str] = set()
        parent: TokenPayload | None = None
        app_cred: m.ApplicationCredential | None = None
        if "password" in methods:
            user_ids.add(self._check_password(identity["password"].get("user") or {}))
        if "token" in methods:
            parent = self.validate_token(identity["token"].get("id") or "")
            if parent.app_cred_id is not None:
                raise errors.Forbidden("Application credentials cannot be used to rescope tokens.")
            if parent.trust_id is not None:
                raise errors.Forbidden("Using trust-scoped token to create another token. Create a new "
                                       "trust-scoped token instead.")
            if parent.access_token_id is not None:
                raise errors.Forbidden("Using OAuth-scoped token to create another token. Create a new "
                                       "OAuth-scoped token instead.")
            user_ids.add(parent.user_id)
        if "application_credential" in methods:
            app_cred = self._check_app_cred(identity["application_credential"])
            user_ids.add(app_cred.user_id)
        if "totp" in methods:
            user_ids.add(self._check_totp(identity["totp"].get("user") or {}))
        access = None
        if "oauth1" in methods:
            if signed is None:
                raise errors.Unauthorized(AUTH_FAILED)
            access = self.oauth.check_oauth1(signed)
            user_ids.add(access.authorizing_user_id)
        if len(user_ids) != 1:
            raise errors.Unauthorized(AUTH_FAILED)
        user_id = user_ids.pop()
        passed = set(methods) | set(parent.methods if parent is not None else ())
        if receipt:
            try:
                earlier = self.receipts.validate(receipt)
            except ReceiptNotFound:
                raise errors.Unauthorized(f"Could not find auth receipt: {receipt[:8]}...") from None
            if earlier.user_id != user_id:
                raise errors.Unauthorized(f"Could not find auth receipt: {receipt[:8]}...")
            passed |= set(earlier.methods)
        required = self._mfa_unmet(user_id, passed)
        if required is not None:
            raise InsufficientAuthMethods(user_id, sorted(passed), required)
        requested = auth.get("scope")
        trust: m.Trust | None = None
        if isinstance(requested, dict) and "OS-TRUST:trust" in requested:
            if len(requested) != 1 or app_cred is not None:
                raise errors.ValidationError("Invalid input for field 'scope': a trust scope stands alone.")
            trust = self._trust_for(user_id, requested["OS-TRUST:trust"])
            scope: Scope = ("project", trust.project_id) if trust.project_id else ("unscoped", None)
        elif access is not None:
            scope = ("project", access.project_id)  # an access token is for its project, whatever is asked
        else:
            scope = self._resolve_scope(user_id, requested, app_cred)
        now = _aware(self.now())
        if parent is not None:
            expires = parent.expires_at
            audit_ids: tuple[str, ...] = (generate_audit_id(), parent.audit_chain_id)
        else:
            expires = now + timedelta(seconds=self.opt("token_expiration"))
            audit_ids = (generate_audit_id(),)
        all_methods = tuple(m for m in SUPPORTED_METHODS if m in passed)
        if app_cred is not None and app_cred.expires_at is not None:
            expires = min(expires, _aware(app_cred.expires_at))
        if trust is not None and trust.expires_at is not None:
            expires = min(expires, _aware(trust.expires_at))
        if access is not None and access.expires_at is not None:
            expires = min(expires, _aware(access.expires_at))
        payload = TokenPayload(user_id=user_id, methods=all_methods, expires_at=expires.replace(microsecond=0),
                               audit_ids=audit_ids, scope=scope,
                               app_cred_id=app_cred.id if app_cred else None, issued_at=now,
                               trust_id=trust.id if trust else None,
                               access_token_id=access.id if access is not None else None)
        # The token must be valid right now: roles exist, nothing is disabled.
        try:
            self.token_data(payload, catalog=False)
        except TokenNotFound:
            if trust is not None:
                raise errors.Forbidden("Trustee has no delegated roles.") from None
            kind, target = scope
            raise errors.Unauthorized(f"User {user_id} has no access to {kind} {target}."
                                      if kind in ("project", "domain") else AUTH_FAILED) from None
        if trust is not None:
            self.trusts.consume_trust(trust.id)
        return payload

    def _trust_for(self, user_id: str, ref: Any) -> m.Trust:
        """The trust a trust-scoped token asks for, once ``user_id`` may use it."""
        if not isinstance(ref, dict) or not isinstance(ref.get("id"), str) or not ref["id"]:
            raise errors.ValidationError("Invalid input for field 'scope/OS-TRUST:trust': an id is required.")
        trust = self.trusts.get_trust(ref["id"])
        if trust.trustee_user_id != user_id:
            raise errors.Forbidden("User is not a trustee.")
        with self.db.reader() as s:
            trustor = s.get(m.User, trust.trustor_user_id)
            if trustor is None or not trustor.enabled:
                raise errors.Forbidden("Trustor is disabled.")
        return trust

    def issue(self, payload: TokenPayload) -> str:
        return self.formatter.create(payload)

    @staticmethod
    def _find_user(s: Any, ref: dict[str, Any]) -> m.User | None:
        """The user an auth method names: by id, or by name and domain (id or name)."""
        if ref.get("id"):
            return s.get(m.User, ref["id"]) if isinstance(ref["id"], str) else None
        if ref.get("name") and isinstance(ref.get("domain"), dict):
            dom = ref["domain"]
            q = select(m.User).where(m.User.name == ref["name"])
            if dom.get("id"):
                q = q.where(m.User.domain_id == dom["id"])
            elif dom.get("name"):
                q = q.join(m.Domain, m.Domain.id == m.User.domain_id).where(m.Domain.name == dom["name"])
            else:
                raise errors.ValidationError("A user's domain must be given by id or name.")
            user: m.User | None = s.scalar(q)
            return user
        raise errors.ValidationError("A user must be given by id, or by name and domain.")

    def _check_password(self, ref: dict[str, Any]) -> str:
        password = ref.get("password")
        if not isinstance(password, str):
            raise errors.ValidationError("Invalid input for field 'identity/password/user/password'.")
        source = request_source()
        self.throttle.check(source=source)  # before any work: a flooding client costs nothing more
        self.hasher.admit()
        with self.db.reader() as s:
            user = self._find_user(s, ref)
            current = self.users._current_password(s, user.id) if user is not None else None
            domain = s.get(m.Domain, user.domain_id) if user is not None else None
        who = f"user:{user.id}" if user is not None else _ref_key(ref)
        if user is None or current is None:
            self.throttle.check(user=who)
            self.hasher.burn(password)
            self.throttle.failed(source, who)
            raise errors.Unauthorized(AUTH_FAILED)
        if self._locked_out(user):
            raise errors.Unauthorized(f"The account is locked for user: {user.id}.")
        self.throttle.check(user=who)
        if not self.hasher.check(password, current.hash):
            self._record_failure(user.id)
            self.throttle.failed(source, who)
            raise errors.Unauthorized(AUTH_FAILED)
        self.throttle.succeeded(who)
        if not user.enabled or (domain is not None and not domain.enabled):
            raise errors.Unauthorized(AUTH_FAILED)
        self._assert_active(user)
        if current.expires_at is not None and current.expires_at <= self.now():
            raise errors.Unauthorized(f"The password is expired and needs to be changed for user: {user.id}.")
        if user.failed_auth_count:
            with self.write() as s:
                u = s.get(m.User, user.id)
                if u is not None:
                    u.failed_auth_count = 0
        return user.id

    def _check_totp(self, ref: dict[str, Any]) -> str:
        """The user whose TOTP credential (RFC 6238: 6 digits, 30 s, SHA-1) produced ``passcode``."""
        passcode = ref.get("passcode")
        if not isinstance(passcode, str):
            raise errors.ValidationError("Invalid input for field 'identity/totp/user/passcode'.")
        with self.db.reader() as s:
            user = self._find_user(s, ref)
            domain = s.get(m.Domain, user.domain_id) if user is not None else None
            creds = list(s.scalars(select(m.Credential).where(
                m.Credential.user_id == user.id, m.Credential.type == "totp"))) if user is not None else []
        if user is None or not creds:
            raise errors.Unauthorized(AUTH_FAILED)
        if self._locked_out(user):
            raise errors.Unauthorized(f"The account is locked for user: {user.id}.")
        now = self.now().replace(tzinfo=UTC).timestamp()
        step = int(now // TOTP_STEP)
        failures = self._totp_failures
        if failures.get((user.id, step), 0) >= TOTP_FAILURES_PER_STEP:
            raise errors.Unauthorized(AUTH_FAILED)
        windows = range(self.opt("totp_included_previous_windows") + 1)
        if not any(totp_matches(self.credentials.decrypt_blob(c), passcode, now - w * TOTP_STEP)
                   for c in creds for w in windows):
            # Counted like a wrong password, so lockout (when on) also stops passcode guessing.
            self._record_failure(user.id)
            if len(failures) > 10000:
                failures.clear()
            failures[(user.id, step)] = failures.get((user.id, step), 0) + 1
            raise errors.Unauthorized(AUTH_FAILED)
        if not user.enabled or (domain is not None and not domain.enabled):
            raise errors.Unauthorized(AUTH_FAILED)
        self._assert_active(user)
        return user.id

    def _assert_active(self, user: m.User) -> None:
        """PCI-DSS inactivity: refuse a user idle too long (after their secret checked out), else note the use."""
        if self.users.inactive(user):
            raise errors.Unauthorized(f"The account is disabled for user: {user.id}.")
        self.users.record_activity(user)

    def _mfa_unmet(self, user_id: str, passed: set[str]) -> list[list[str]] | None:
        """None when the user's MFA rules are met by ``passed``, else the rules still open (Keystone's
        ``required_auth_methods``: every rule with a method already passed)."""
        with self.db.reader() as s:
            user = s.get(m.User, user_id)
            options = dict(user.options) if user is not None else {}
        rules = options.get("multi_factor_auth_rules") or []
        if not options.get("multi_factor_auth_enabled", True) or not isinstance(rules, list):
            return None
        # Rules naming no method this cloud supports would lock the user out; Keystone ignores them.
        usable = [[meth for meth in dict.fromkeys(rule) if meth in SUPPORTED_METHODS]
                  for rule in rules if isinstance(rule, list)]
        usable = [rule for rule in usable if rule]
        if not usable or any(set(rule) <= passed for rule in usable):
            return None
        return [rule for rule in usable if set(rule) & passed]

    def issue_receipt(self, user_id: str, methods: list[str]) -> tuple[str, dict[str, Any]]:
        """An auth receipt for a user who passed ``methods``, and its body (without the rules)."""
        expires = (self.now().replace(tzinfo=UTC) + timedelta(seconds=self.opt("receipt_expiration")))
        receipt, parsed = self.receipts.create(user_id, methods, expires)
        with self.db.reader() as s:
            user = s.get(m.User, user_id)
            domain = s.get(m.Domain, user.domain_id) if user is not None else None
            if user is None or domain is None:
                raise errors.Unauthorized(AUTH_FAILED)
            body = {"methods": list(parsed.methods),
                    "user": {"id": user.id, "name": user.name, "domain": {"id": domain.id, "name": domain.name}},
                    "expires_at": iso(parsed.expires_at), "issued_at": iso(parsed.issued_at)}
        return receipt, body

    def _locked_out(self, user: m.User) -> bool:
        limit = self.opt("lockout_failure_attempts")
        if not limit or user.options.get("ignore_lockout_failure_attempts"):
            return False
        if user.failed_auth_count < limit or user.failed_auth_at is None:
            return False
        if user.failed_auth_at + timedelta(seconds=self.opt("lockout_duration")) > self.now():
            return True
        return False

    def _record_failure(self, user_id: str) -> None:
        if not self.opt("lockout_failure_attempts"):
            return
        with self.write() as s:
            u = s.get(m.User, user_id)
            if u is None:
                return
            expired = (u.failed_auth_at is not None and
                       u.failed_auth_at + timedelta(seconds=self.opt("lockout_duration")) <= self.now())
            u.failed_auth_count = 1 if expired else (u.failed_auth_count or 0) + 1
            u.failed_auth_at = self.now()
        LOG.info("failed authentication for user %s", user_id)

    def _check_app_cred(self, ref: dict[str, Any]) -> m.ApplicationCredential:
        secret = ref.get("secret")
        if not isinstance(secret, str):
            raise errors.ValidationError("Invalid input for field 'identity/application_credential/secret'.")
        source = request_source()
        self.throttle.check(source=source)
        self.hasher.admit()
        cred = self.credentials.find_app_cred(ref)
        who = f"appcred:{cred.id}" if cred is not None else _ref_key(ref)
        self.throttle.check(user=who)
        if cred is None:
            self.hasher.burn(secret)
            self.throttle.failed(source, who)
            raise errors.Unauthorized(AUTH_FAILED)
        if not self.hasher.check(secret, cred.secret_hash):
            self.throttle.failed(source, who)
            raise errors.Unauthorized(AUTH_FAILED)
        self.throttle.succeeded(who)
        if cred.expires_at is not None and cred.expires_at <= self.now():
            raise errors.Unauthorized(AUTH_FAILED)
        with self.db.reader() as s:
            owner = s.get(m.User, cred.user_id)
        if owner is None:
            raise errors.Unauthorized(AUTH_FAILED)
        self._assert_active(owner)
        return cred

    def _resolve_scope(self, user_id: str, scope: Any, app_cred: m.ApplicationCredential | None) -> Scope:
        if app_cred is not None:
            if scope and not (isinstance(scope, dict) and (scope.get("project") or {}).get("id")
                              == app_cred.project_id):
                raise errors.Unauthorized("Application credentials cannot request a scope.")
            return ("project", app_cred.project_id)
        if scope is None or scope == {}:
            with self.db.reader() as s:
                user = s.get(m.User, user_id)
                default = user.default_project_id if user else None
                proj = s.get(m.Project, default) if default else None
            if proj is not None and proj.enabled and self.assignments.effective_role_ids(user_id, ("project", proj.id)):
                return ("project", proj.id)
            return ("unscoped", None)
        if not isinstance(scope, dict) or len(scope) != 1:
            raise errors.ValidationError("Invalid input for field 'scope': exactly one of project, domain "
                                         "or system.")
        with self.db.reader() as s:
            if "project" in scope:
                proj = self.resources.find_project(s, scope["project"])
                return ("project", proj.id)
            if "domain" in scope:
                dom = self.resources.find_domain(s, scope["domain"])
                return ("domain", dom.id)
            if "system" in scope:
                if scope["system"] != {"all": True}:
                    raise errors.ValidationError("Invalid input for field 'scope/system'.")
                return ("system", "all")
        raise errors.ValidationError("Invalid input for field 'scope'.")

    # --- validate -----------------------------------------------------------------------

    def validate_token(self, token: str, allow_expired: bool = False) -> TokenPayload:
        """Decrypt and check a token; raise ``TokenNotFound`` (404) when it is not valid now.

        ``allow_expired`` accepts a token that expired less than ``allow_expired_window`` seconds
        ago (services finishing long operations for a user, with a service token); it must still
        be unrevoked and everything it names still enabled.
        """
        return self._validated(token, allow_expired)[0]

    def validated_token_data(self, token: str, allow_expired: bool = False) -> dict[str, Any]:
        """``token_data`` (no catalog) of a token that ``validate_token`` accepts, built once: what
        the auth middleware needs for every request (``validate_token`` then ``token_data`` would
        build it twice)."""
        return self._validated(token, allow_expired)[1]

    def _validated(self, token: str, allow_expired: bool) -> tuple[TokenPayload, dict[str, Any]]:
        if not token or len(token) > 1024:
            raise TokenNotFound(token or "-")
        grace = timedelta(seconds=self.opt("allow_expired_window")) if allow_expired else None
        payload = self.formatter.validate(token, grace)
        return payload, self.token_data(payload, catalog=False)

    def token_data(self, payload: TokenPayload, catalog: bool) -> dict[str, Any]:
        """Keystone's token body for a payload; raises ``TokenNotFound`` if anything went stale."""
        static = self.memo(("tok", payload.user_id, payload.scope, payload.app_cred_id, payload.trust_id,
                            payload.access_token_id),
                           lambda: self._static_token_data(payload))
        if isinstance(static, errors.LitestackError):
            raise static
        info = static["revocation_info"]
        issued = payload.issued_at or _aware(self.now())
        if self.revocation.is_revoked({**info, "issued_at": _naive(issued), "audit_ids": payload.audit_ids}):
            raise TokenNotFound("revoked")
        user_id = static["user"]["id"]
        body: dict[str, Any] = {
            "methods": list(payload.methods),
            "user": {**static["user"], "password_expires_at": iso(self.users.password_expires_at(user_id))},
            "audit_ids": list(payload.audit_ids),
            "expires_at": iso(payload.expires_at),
            "issued_at": iso(issued),
        }
        body.update(static["scope"])
        if static["roles"] is not None:
            body["roles"] = static["roles"]
        if static.get("application_credential"):
            body["application_credential"] = static["application_credential"]
        if static.get("trust"):
            body["OS-TRUST:trust"] = static["trust"]
        if static.get("oauth"):
            body["OS-OAUTH1"] = static["oauth"]
        if catalog and payload.scope[0] != "unscoped":
            body["catalog"] = self.extensions.project_catalog(payload.project_id)
        return body

    def _static_token_data(self, payload: TokenPayload) -> dict[str, Any] | errors.LitestackError:
        bad = TokenNotFound("stale")
        trust: m.Trust | None = None
        with self.db.reader() as s:
            user = s.get(m.User, payload.user_id)
            if user is None or not user.enabled:
                return bad
            udom = s.get(m.Domain, user.domain_id)
            if udom is None or not udom.enabled:
                return bad
            domain_ids = [udom.id]
            user_ids = [user.id]
            trust_body = None
            if payload.trust_id:
                try:
                    # Tokens already issued outlive the trust's last use, not the trust itself.
                    trust = self.trusts._load(s, payload.trust_id, count_uses=False)
                    self.trusts._check_chain(s, trust)
                except (errors.NotFound, errors.Forbidden):
                    return bad
                trustor = s.get(m.User, trust.trustor_user_id)
                tdom = s.get(m.Domain, trustor.domain_id) if trustor is not None else None
                if (trustor is None or not trustor.enabled or tdom is None or not tdom.enabled
                        or trust.trustee_user_id != user.id):
                    return bad
                trust_body = {"id": trust.id, "impersonation": trust.impersonation,
                              "trustor_user": {"id": trustor.id}, "trustee_user": {"id": user.id}}
                domain_ids.append(tdom.id)
                user_ids.append(trustor.id)
                if trust.impersonation:
                    user, udom = trustor, tdom
            out: dict[str, Any] = {"user": {"id": user.id, "name": user.name,
                                            "domain": {"id": udom.id, "name": udom.name}}}
            kind, target = payload.scope
            scope_body: dict[str, Any] = {}
            if kind == "project":
                proj = s.get(m.Project, target)
                if proj is None or not proj.enabled:
                    return bad
                pdom = s.get(m.Domain, proj.domain_id)
                if pdom is None or not pdom.enabled:
                    return bad
                for anc in self.resources.ancestors(s, proj):
                    if not anc.enabled:
                        return bad
                scope_body = {"project": {"id": proj.id, "name": proj.name,
                                          "domain": {"id": pdom.id, "name": pdom.name}},
                              "is_domain": False}
                domain_ids.append(pdom.id)
            elif kind == "domain":
                dom = s.get(m.Domain, target)
                if dom is None or not dom.enabled:
                    return bad
                scope_body = {"domain": {"id": dom.id, "name": dom.name}}
                domain_ids.append(dom.id)
            elif kind == "system":
                scope_body = {"system": {"all": True}}
            appcred_body = None
            app_cred_roles: list[str] | None = None
            oauth_body = None
            oauth_roles: list[str] | None = None
            if payload.access_token_id:
                access = s.get(m.OAuthAccessToken, payload.access_token_id)
                if (access is None or access.authorizing_user_id != user.id
                        or (access.expires_at is not None and access.expires_at <= self.now())):
                    return bad
                oauth_body = {"access_token_id": access.id, "consumer_id": access.consumer_id}
                granted = list(access.role_ids)
                oauth_roles = granted + sorted(self.assignments._implied_closure(s, granted))
            if payload.app_cred_id:
                cred = s.get(m.ApplicationCredential, payload.app_cred_id)
                if cred is None or (cred.expires_at is not None and cred.expires_at <= self.now()):
                    return bad
                appcred_body = {"id": cred.id, "name": cred.name, "restricted": not cred.unrestricted}
                app_cred_roles = list(cred.role_ids)
                if cred.access_rules:
                    appcred_body["access_rules"] = cred.access_rules
        roles = None
        role_ids: list[str] = []
        if trust is not None:
            trust_roles = self.trusts.trust_token_roles(trust)
            if trust_roles is None or (kind == "project" and not trust_roles):
                return bad
            role_ids = trust_roles
            roles = self.assignments.role_refs(role_ids) if kind == "project" else None
        elif kind != "unscoped":
            role_ids = self.assignments.effective_role_ids(payload.user_id, payload.scope)
            if app_cred_roles is not None:
                allowed = set(app_cred_roles)
                role_ids = [r for r in role_ids if r in allowed]
            if oauth_roles is not None:  # the authorized roles the user still holds
                allowed = set(oauth_roles)
                role_ids = [r for r in role_ids if r in allowed]
            if not role_ids:
                return bad
            roles = self.assignments.role_refs(role_ids)
        out.update({"scope": scope_body, "roles": roles, "application_credential": appcred_body,
                    "trust": trust_body, "oauth": oauth_body,
                    "revocation_info": {"user_id": payload.user_id, "user_ids": user_ids,
                                        "project_id": payload.project_id,
                                        "domain_ids": domain_ids, "role_ids": role_ids,
                                        "app_cred_id": payload.app_cred_id, "trust_id": payload.trust_id,
                                        "access_token_id": payload.access_token_id}})
        return out

    def revoke_token(self, payload: TokenPayload) -> None:
        self.revocation.revoke(audit_id=payload.audit_id)
