"""Application credentials (with access rules) and stored credentials (ec2)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor import InvalidToken as WrongPasscode
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from litestack.common import errors
from litestack.common.auth import ACCESS_RULES_HEADER, access_rules_supported
from litestack.common.context import RequestContext
from litestack.identity import models as m
from litestack.identity.keys import KeyStore
from litestack.identity.manager import listing
from litestack.identity.manager.base import Part, Shared, get_or_404, new_id, parse_time
from litestack.identity.tokens import TokenNotFound

if TYPE_CHECKING:
    from litestack.identity.manager.assignment import AssignmentManager
    from litestack.identity.manager.revoke import RevokeManager

LOG = logging.getLogger(__name__)

#: The names Keystone gives, in an ec2 blob, to the delegation the credential was made through.
DELEGATION_KEYS = ("trust_id", "app_cred_id", "access_token_id")


@dataclass(frozen=True)
class Delegation:
    """What the caller's token acts through, if anything: a trust, an OAuth1 access token or an
    application credential. Whatever such a token creates must not carry more than the token
    holds, nor outlive the delegation."""

    trust_id: str | None = None
    access_token_id: str | None = None
    app_cred_id: str | None = None

    @classmethod
    def of(cls, ctx: RequestContext) -> Delegation:
        return cls(ctx.trust_id, ctx.oauth_access_token_id, ctx.application_credential_id)

    def __bool__(self) -> bool:
        return bool(self.trust_id or self.access_token_id or self.app_cred_id)

    def blob_fields(self) -> dict[str, str]:
        """The fields an ec2 blob made through this delegation records (Keystone's names)."""
        values = (self.trust_id, self.app_cred_id, self.access_token_id)
        return {k: v for k, v in zip(DELEGATION_KEYS, values, strict=True) if v}


class CredentialManager(Part):
    """Application credentials and their access rules, stored credentials (ec2, totp, ...) with their
    blobs encrypted under the credential keys."""

    def __init__(self, shared: Shared, revocation: RevokeManager, assignments: AssignmentManager,
                 credential_keys: KeyStore | None) -> None:
        super().__init__(shared)
        self.revocation = revocation
        self.assignments = assignments
        self.credential_keys = credential_keys
        self._credential_crypto: tuple[tuple[bytes, ...], MultiFernet] | None = None

    def _credentials_of_user_deleted(self, s: Session, user_id: str) -> None:
        """On "user.deleted": its application credentials, access rules and credentials."""
        for model in (m.ApplicationCredential, m.AccessRule, m.Credential):
            s.execute(delete(model).where(model.user_id == user_id))

    def _credentials_of_project_deleted(self, s: Session, project_id: str) -> None:
        """On "project.deleted": the application credentials and credentials scoped to it."""
        s.execute(delete(m.ApplicationCredential).where(m.ApplicationCredential.project_id == project_id))
        s.execute(delete(m.Credential).where(m.Credential.project_id == project_id))

    @property
    def credential_crypto(self) -> MultiFernet | None:
        """The secrets' cipher, from the credential key repository as it is now: a rotation made by
        ``litestack identity rotate-credential-keys`` is seen by a running server on its next use."""
        if self.credential_keys is None:
            return None
        keys = tuple(self.credential_keys.keys())
        cached = self._credential_crypto
        if cached is None or cached[0] != keys:
            cached = self._credential_crypto = (keys, MultiFernet([Fernet(k) for k in keys]))
        return cached[1]

    # --- application credentials -------------------------------------------------------

    def create_app_cred(self, user_id: str, token_project_id: str, token_role_ids: list[str],
                        data: dict[str, Any], delegation: Delegation = Delegation()) -> tuple[
                            m.ApplicationCredential, str]:
        """A new application credential with at most ``token_role_ids`` (the creating token's roles).

        A trust-scoped or OAuth1 token may not create one: it would outlive the trust or the
        access token it was made with (Keystone ties neither), and carry the user's roles rather
        than the delegated ones. Tokens of application credentials are checked by the caller
        (only an unrestricted one may, with no more than its own roles).
        """
        if delegation.trust_id:
            raise errors.Forbidden("Cannot create an application credential with a trust-scoped token.")
        if delegation.access_token_id:
            raise errors.Forbidden("Cannot create an application credential with an OAuth-scoped token.")
        secret = data.get("secret") or base64.urlsafe_b64encode(os.urandom(64)).decode().rstrip("=")
        hashed = self.hasher.hash(secret)
        role_ids: list[str] = []
        with self.write() as s:
            get_or_404(s, m.User, user_id, "user")
            if s.scalar(select(m.ApplicationCredential.id).where(
                    m.ApplicationCredential.user_id == user_id,
                    m.ApplicationCredential.name == data["name"])):
                raise errors.Conflict.duplicate("application_credential", "name", data['name'])
            for ref in data.get("roles") or []:
                role = s.get(m.Role, ref["id"]) if ref.get("id") else s.scalar(
                    select(m.Role).where(m.Role.name == ref.get("name"), m.Role.domain_id == m.NULL_DOMAIN))
                if role is None:
                    raise errors.NotFound.of("role", ref.get('id') or ref.get('name'))
                if role.id not in token_role_ids:
                    raise errors.Forbidden(f"Cannot create an application credential with a role the user "
                                           f"does not have on the project: {role.name}.")
                role_ids.append(role.id)
            if not role_ids:
                role_ids = list(token_role_ids)
            expires = parse_time(data["expires_at"]) if data.get("expires_at") else None
            if expires is not None and expires <= self.now():
                raise errors.ValidationError("The expiration time of an application credential must be in "
                                             "the future.")
            requested_rules = list(data.get("access_rules") or [])
            if delegation.app_cred_id:
                expires, requested_rules = self._within_parent(
                    s, delegation.app_cred_id, role_ids, expires, requested_rules)
            rules = [self._access_rule(s, user_id, rule) for rule in requested_rules]
            cred = m.ApplicationCredential(
                id=new_id(), name=data["name"], user_id=user_id, project_id=token_project_id,
                secret_hash=hashed, description=data.get("description"), expires_at=expires,
                unrestricted=bool(data.get("unrestricted", False)), role_ids=role_ids, access_rules=rules)
            s.add(cred)
            return cred, secret

    @staticmethod
    def _within_parent(s: Session, parent_id: str, role_ids: list[str], expires: Any,
                       rules: list[dict[str, Any]]) -> tuple[Any, list[dict[str, Any]]]:
        """Check a credential made with an application credential's token against that (parent)
        credential; return its expiry and access rules.

        Only an unrestricted parent may make one, with no more than its roles, expiring no later
        (by default when it does) and, if the parent has access rules, with no others (by default
        the parent's): otherwise whoever holds the parent could shed its limits.
        """
        parent = s.get(m.ApplicationCredential, parent_id)
        if parent is None or not parent.unrestricted:
            raise errors.Forbidden("Using method 'application_credential' is not allowed for managing "
                                   "additional application credentials.")
        if not set(role_ids) <= set(parent.role_ids):
            raise errors.Forbidden("Cannot create an application credential with more roles than the "
                                   "application credential used to create it.")
        if parent.expires_at is not None:
            if expires is None:
                expires = parent.expires_at
            elif expires > parent.expires_at:
                raise errors.Forbidden("Cannot create an application credential that expires after the "
                                       "application credential used to create it.")
        if parent.access_rules:
            allowed = {(r["service"], r["method"], r["path"]) for r in parent.access_rules}
            if not rules:
                rules = [{k: r[k] for k in ("service", "method", "path")} for r in parent.access_rules]
            elif any(not r.get("service") or (r.get("service"), r.get("method"), r.get("path")) not in allowed
                     for r in rules):
                raise errors.Forbidden("Cannot create an application credential with access rules the "
                                       "application credential used to create it does not have.")
        return expires, rules

    def get_app_cred(self, user_id: str, cred_id: str) -> m.ApplicationCredential:
        with self.db.reader() as s:
            cred = s.get(m.ApplicationCredential, cred_id)
            if cred is None or cred.user_id != user_id:
                raise errors.NotFound.of("Application Credential", cred_id)
            return cred

    def list_app_creds(self, user_id: str, name: str | None = None, limit: int | None = None
                       ) -> list[m.ApplicationCredential]:
        """A user's application credentials by name; at most ``limit + 1`` (see ``manager.listing``)."""
        with self.db.reader() as s:
            get_or_404(s, m.User, user_id, "user")
            filters = {"user_id": user_id, **({} if name is None else {"name": name})}
            return listing.rows(s, listing.APP_CREDS, filters, limit)

    def delete_app_cred(self, user_id: str, cred_id: str) -> None:
        with self.write() as s:
            cred = s.get(m.ApplicationCredential, cred_id)
            if cred is None or cred.user_id != user_id:
                raise errors.NotFound.of("Application Credential", cred_id)
            s.delete(cred)
            self._drop_delegated_ec2(s, "app_cred_id", [cred_id], [user_id])
        self.revocation.revoke(app_cred_id=cred_id)

    def find_app_cred(self, ref: dict[str, Any]) -> m.ApplicationCredential | None:
        with self.db.reader() as s:
            if ref.get("id"):
                return s.get(m.ApplicationCredential, ref["id"])
            user = ref.get("user") or {}
            user_id = user.get("id")
            if not user_id and user.get("name") and isinstance(user.get("domain"), dict):
                dom = user["domain"]
                q = select(m.User.id).where(m.User.name == user["name"])
                if dom.get("id"):
                    q = q.where(m.User.domain_id == dom["id"])
                else:
                    q = q.join(m.Domain, m.Domain.id == m.User.domain_id).where(m.Domain.name == dom.get("name"))
                user_id = s.scalar(q)
            if not user_id or not ref.get("name"):
                return None
            return s.scalar(select(m.ApplicationCredential).where(
                m.ApplicationCredential.user_id == user_id, m.ApplicationCredential.name == ref["name"]))

    def check_access_rules_support(self, app_cred_id: str | None, header: str | None) -> None:
        """Refuse (``TokenNotFound``, a 404) to validate a token of an application credential with
        access rules for a caller that does not declare it enforces them (``header``: its
        ``OpenStack-Identity-Access-Rules``), as Keystone does: that caller would let the token
        do anything its roles allow."""
        if not app_cred_id or access_rules_supported(header):
            return
        if self.memo(("access_rules", app_cred_id), lambda: self._has_access_rules(app_cred_id)):
            LOG.warning("refused to validate a token restricted by access rules for a caller that does not "
                        "enforce them (no %s header)", ACCESS_RULES_HEADER)
            raise TokenNotFound("-", "Failed to validate token.")

    def _has_access_rules(self, app_cred_id: str) -> bool:
        with self.db.reader() as s:
            cred = s.get(m.ApplicationCredential, app_cred_id)
            return bool(cred is not None and cred.access_rules)

    @staticmethod
    def _access_rule(s: Any, user_id: str, ref: dict[str, Any]) -> dict[str, Any]:
        """The user's stored rule for ``ref`` (by id, or the same service/path/method), made if new."""
        if ref.get("id") and not (ref.get("service") or ref.get("path") or ref.get("method")):
            row = s.get(m.AccessRule, ref["id"])
            if row is None or row.user_id != user_id:
                raise errors.NotFound.of("access rule", ref['id'])
        else:
            if not (ref.get("service") and ref.get("path") and ref.get("method")):
                raise errors.ValidationError("An access rule needs service, path and method.")
            row = s.scalar(select(m.AccessRule).where(
                m.AccessRule.user_id == user_id, m.AccessRule.service == ref["service"],
                m.AccessRule.path == ref["path"], m.AccessRule.method == ref["method"]))
            if row is None:
                row = m.AccessRule(id=ref.get("id") or new_id(), user_id=user_id, service=ref["service"],
                                   path=ref["path"], method=ref["method"])
                s.add(row)
                s.flush()
        return {"id": row.id, "service": row.service, "path": row.path, "method": row.method}

    def list_access_rules(self, user_id: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The user's access rules by id; at most ``limit + 1``."""
        with self.db.reader() as s:
            get_or_404(s, m.User, user_id, "user")
            rows = listing.rows(s, listing.ACCESS_RULES, {"user_id": user_id}, limit)
            return [{"id": r.id, "service": r.service, "path": r.path, "method": r.method} for r in rows]

    def get_access_rule(self, user_id: str, rule_id: str) -> dict[str, Any]:
        for r in self.list_access_rules(user_id):
            if r["id"] == rule_id:
                return r
        raise errors.NotFound.of("access rule", rule_id)

    def delete_access_rule(self, user_id: str, rule_id: str) -> None:
        self.get_access_rule(user_id, rule_id)
        for cred in self.list_app_creds(user_id):
            if any(r["id"] == rule_id for r in cred.access_rules):
                raise errors.Forbidden(f"Cannot delete access rule {rule_id}: it is in use by an "
                                       f"application credential.")
        with self.write() as s:
            row = s.get(m.AccessRule, rule_id)
            if row is not None:
                s.delete(row)

    # --- stored credentials -------------------------------------------------------------

    def _encrypt(self, blob: str) -> str:
        assert self.credential_crypto is not None
        return self.credential_crypto.encrypt(blob.encode()).decode()

    def decrypt_blob(self, cred: m.Credential) -> str:
        assert self.credential_crypto is not None
        try:
            return self.credential_crypto.decrypt(cred.encrypted_blob.encode()).decode()
        except InvalidToken:
            raise errors.LitestackError("A credential could not be decrypted with the current keys.") from None

    def create_credential(self, data: dict[str, Any], delegation: Delegation = Delegation(),
                          member_of: str | None = None) -> m.Credential:
        """Store a credential. ``delegation``: what the creating token acts through. ``member_of``:
        the caller is no administrator and its token is scoped to this project (``""`` when the
        token has no project); an ec2 credential then goes only there, where its user holds a role.

        A token acting through a delegation may only make ec2 credentials, which record the
        delegation (as Keystone's do) and are deleted with it. Any other type (totp above all)
        would let its holder sign in as the user with no delegation at all.
        """
        blob = data["blob"]
        cred_id = new_id()
        if delegation and data["type"] != "ec2":
            raise errors.Forbidden("A token issued through a delegation (trust, OAuth1 or application "
                                   "credential) may only create ec2 credentials.")
        if data["type"] == "totp" and totp_key(blob) is None:
            raise errors.ValidationError("The blob of a totp credential must be a base32 secret.")
        if data["type"] == "ec2":
            parsed = _ec2_blob(blob)
            if not data.get("project_id"):
                raise errors.ValidationError("A project_id is required for ec2 credentials.")
            cred_id = hashlib.sha256(str(parsed["access"]).encode()).hexdigest()
            if delegation:
                blob = json.dumps({**parsed, **delegation.blob_fields()})
            if member_of is not None:
                self._check_ec2_project(data["user_id"], data["project_id"], member_of)
        with self.write() as s:
            get_or_404(s, m.User, data["user_id"], "user")
            if data.get("project_id"):
                get_or_404(s, m.Project, data["project_id"], "project")
            if s.get(m.Credential, cred_id) is not None:
                raise errors.Conflict.duplicate("credential", "id", cred_id)
            cred = m.Credential(id=cred_id, user_id=data["user_id"], project_id=data.get("project_id"),
                                type=data["type"], encrypted_blob=self._encrypt(blob),
                                extra={k: v for k, v in data.items() if k not in (
                                    "id", "user_id", "project_id", "type", "blob", "links")})
            s.add(cred)
            return cred

    def _check_ec2_project(self, user_id: str, project_id: str, token_project: str) -> None:
        """A non-administrator puts ec2 credentials only in its token's project, where the user holds a role."""
        if token_project and project_id != token_project:
            raise errors.Forbidden("An ec2 credential may only be created for the token's project.")
        if not self.assignments.effective_role_ids(user_id, ("project", project_id)):
            raise errors.Forbidden("The user has no role on that project.")

    def get_credential(self, cred_id: str) -> m.Credential:
        with self.db.reader() as s:
            cred: m.Credential = get_or_404(s, m.Credential, cred_id, "credential")
            return cred

    def list_credentials(self, filters: dict[str, Any], limit: int | None = None) -> list[m.Credential]:
        """Credentials (empty filter values ignored); at most ``limit + 1`` (see ``manager.listing``)."""
        with self.db.reader() as s:
            return listing.rows(s, listing.CREDENTIALS, {k: v for k, v in filters.items() if v}, limit)

    def update_credential(self, cred_id: str, data: dict[str, Any], delegation: Delegation = Delegation(),
                          member_of: str | None = None) -> m.Credential:
        """Update a credential; ``delegation`` and ``member_of`` as for ``create_credential``.

        The delegation an ec2 blob records cannot be changed or dropped (it ties the credential's
        life to the delegation); a token acting through a delegation may change only ec2
        credentials and keep them ec2; a non-administrator may move an ec2 credential only where
        it could have created it.
        """
        with self.write() as s:
            cred: m.Credential = get_or_404(s, m.Credential, cred_id, "credential")
            new_type = data.get("type", cred.type)
            if delegation and (cred.type != "ec2" or new_type != "ec2"):
                raise errors.Forbidden("A token issued through a delegation (trust, OAuth1 or application "
                                       "credential) may only change ec2 credentials.")
            if cred.type == "ec2" and "blob" in data:
                before, after = _delegation_of(self.decrypt_blob(cred)), _delegation_of(data["blob"])
                changed = [k for k in DELEGATION_KEYS if before.get(k) != after.get(k)]
                if changed:
                    raise errors.ValidationError(f"{', '.join(changed)} can not be updated for credential.")
            if "project_id" in data and data["project_id"] != cred.project_id:
                if data["project_id"]:
                    get_or_404(s, m.Project, data["project_id"], "project")
                    if new_type == "ec2" and member_of is not None:
                        self._check_ec2_project(cred.user_id, data["project_id"], member_of)
                cred.project_id = data["project_id"]
            if new_type == "ec2":
                # The OS-EC2 API reads the blob back as JSON: never store one it cannot read.
                _ec2_blob(data["blob"] if "blob" in data else self.decrypt_blob(cred))
                if not cred.project_id:
                    raise errors.ValidationError("A project_id is required for ec2 credentials.")
            if "type" in data:
                cred.type = data["type"]
            if "blob" in data:
                cred.encrypted_blob = self._encrypt(data["blob"])
            return cred

    def delete_credential(self, cred_id: str) -> None:
        with self.write() as s:
            s.delete(get_or_404(s, m.Credential, cred_id, "credential"))

    # --- ec2 (OS-EC2) -------------------------------------------------------------------

    def create_ec2(self, user_id: str, project_id: str, delegation: Delegation = Delegation()) -> dict[str, Any]:
        """A new ec2 credential; its blob records the delegation it was made through (``trust_id``
        always, as Keystone's does; ``app_cred_id`` and ``access_token_id`` when set)."""
        access = secrets.token_hex(16)
        blob = {"access": access, "secret": secrets.token_hex(16), "trust_id": delegation.trust_id,
                **delegation.blob_fields()}
        self.create_credential({"user_id": user_id, "project_id": project_id, "type": "ec2",
                                "blob": json.dumps(blob)}, delegation)
        return {**blob, "user_id": user_id, "tenant_id": project_id}

    def _drop_delegated_ec2(self, s: Session, key: str, ids: Collection[str], owners: Collection[str]) -> None:
        """Delete the ec2 credentials made through these trusts, access tokens or application
        credentials (``key`` is the blob field naming them): none outlives its delegation.

        The delegation is inside the encrypted blob, so this reads the ec2 credentials of
        ``owners``, the users such tokens act as (and so own what they create); it runs only when
        a delegation is deleted.
        """
        if not ids or not owners:
            return
        q = select(m.Credential).where(m.Credential.type == "ec2", m.Credential.user_id.in_(set(owners)))
        for cred in list(s.scalars(q)):
            try:
                recorded = _delegation_of(self.decrypt_blob(cred))
            except errors.LitestackError:
                continue
            if recorded.get(key) in ids:
                s.delete(cred)
        # Now, not at commit: a cascade may bulk-delete the same rows next in this transaction
        # (a user's credentials on "user.deleted"), and a late ORM delete would then match nothing.
        s.flush()

    def list_ec2(self, user_id: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The user's ec2 credentials by id; at most ``limit + 1``."""
        out = []
        for cred in self.list_credentials({"user_id": user_id, "type": "ec2"}, limit):
            blob = json.loads(self.decrypt_blob(cred))
            out.append({**blob, "user_id": cred.user_id, "tenant_id": cred.project_id})
        return out

    def get_ec2(self, user_id: str, access: str) -> dict[str, Any]:
        cred_id = hashlib.sha256(access.encode()).hexdigest()
        with self.db.reader() as s:
            cred = s.get(m.Credential, cred_id)
        if cred is None or cred.user_id != user_id or cred.type != "ec2":
            raise errors.NotFound.of("credential", access)
        blob = json.loads(self.decrypt_blob(cred))
        return {**blob, "user_id": cred.user_id, "tenant_id": cred.project_id}

    def delete_ec2(self, user_id: str, access: str) -> None:
        self.get_ec2(user_id, access)
        self.delete_credential(hashlib.sha256(access.encode()).hexdigest())


def totp_key(secret: str) -> bytes | None:
    """The key of a TOTP secret (base32, padding optional, as authenticator apps show it); None if invalid."""
    text = "".join(secret.split()).upper()
    try:
        key = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        return None
    return key or None


def totp_matches(secret: str, passcode: str, at: float) -> bool:
    """Whether ``passcode`` is the RFC 6238 code (6 digits, 30 s, HMAC-SHA1) of ``secret`` at time ``at``."""
    key = totp_key(secret)
    if key is None or not passcode.isascii():
        return False
    try:
        TOTP(key, 6, SHA1(), 30, enforce_key_length=False).verify(passcode.encode(), int(at))  # noqa: S303
    except WrongPasscode:
        return False
    return True


def _delegation_of(blob: str) -> dict[str, Any]:
    """The delegation fields an ec2 blob records (none if the blob is not a JSON object)."""
    try:
        parsed = json.loads(blob)
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {k: parsed[k] for k in DELEGATION_KEYS if parsed.get(k)}


def _ec2_blob(blob: str) -> dict[str, Any]:
    """The parsed blob of an ec2 credential; ``ValidationError`` unless it is a JSON object with 'access'."""
    try:
        parsed = json.loads(blob)
    except ValueError:
        raise errors.ValidationError("Invalid blob in credential: not JSON.") from None
    if not isinstance(parsed, dict) or not parsed.get("access"):
        raise errors.ValidationError("The ec2 credential blob must hold 'access'.")
    return parsed
