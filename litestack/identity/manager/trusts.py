"""Trusts (OS-TRUST): a trustor delegates some of its roles on a project to a trustee.

The trustee then asks for a token scoped to the trust. That token carries the
trust's roles (with the roles they imply) as long as the trustor still holds
them on the project, and shows the trustor as its user when the trust allows
impersonation. A trust may be limited in time (``expires_at``) and in the
number of tokens issued through it (``remaining_uses``); one that allows
redelegation may be passed on by its trustee, as a new trust whose roles,
lifetime and impersonation are no wider than its parent's, ``redelegation_count``
times at most.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from litestack.common import errors
from litestack.identity import models as m
from litestack.identity.manager import listing
from litestack.identity.manager.base import DelegationPart, announces, get_or_404, new_id, parse_time

MAX_REDELEGATION_COUNT = 3  # Keystone's [trust] max_redelegation_count default


@dataclass(frozen=True)
class Caller:
    """Who asks to create a trust: the token's user and what the token acts through, if anything
    (its trust, OAuth1 access token or application credential)."""

    user_id: str
    trust_id: str | None = None
    access_token_id: str | None = None
    app_cred_id: str | None = None


class TrustManager(DelegationPart):
    """Trusts (OS-TRUST): creation with redelegation checks, use counts, their roles and deletion."""


    # --- create -------------------------------------------------------------------------

    @announces("OS-TRUST:trust", "created")
    def create_trust(self, caller: Caller, data: dict[str, Any]) -> m.Trust:
        if caller.user_id != data["trustor_user_id"]:
            raise errors.Forbidden("The authenticated user should match the trustor.")
        # A trust outlives the OAuth1 access token or application credential of the token that
        # would make it, and is checked against the user's roles, not the delegated ones. A trust
        # token may only redelegate its own trust (checked below, with the chain's limits).
        if caller.access_token_id:
            raise errors.Forbidden("Cannot create a trust with an OAuth-scoped token.")
        if caller.app_cred_id:
            raise errors.Forbidden("Using method 'application_credential' is not allowed for managing trusts.")
        project_id = data.get("project_id") or None
        refs = data.get("roles") or []
        if project_id and not refs:
            raise errors.Forbidden("At least one role should be specified.")
        if not project_id and refs:
            raise errors.ValidationError("A trust without a project cannot delegate roles.")
        expires = parse_time(data["expires_at"]) if data.get("expires_at") else None
        if expires is not None and expires <= self.now():
            raise errors.ValidationError("The expiration time must be in the future.")
        remaining = data.get("remaining_uses")
        redelegatable = bool(data.get("allow_redelegation")) and data.get("redelegation_count") != 0
        count = data.get("redelegation_count")
        if redelegatable:
            if count is not None and count > MAX_REDELEGATION_COUNT:
                raise errors.Forbidden(f"Requested redelegation depth of {count} is greater than allowed "
                                       f"{MAX_REDELEGATION_COUNT}.")
            if remaining is not None:
                raise errors.ValidationError("remaining_uses must not be set if redelegation is allowed.")
        with self.write() as s:
            get_or_404(s, m.User, data["trustee_user_id"], "user")
            if project_id:
                get_or_404(s, m.Project, project_id, "project")
            role_ids = [self._role_id(s, ref) for ref in refs]
            parent = self._load(s, caller.trust_id) if caller.trust_id else None
            trustor = self._original_trustor(s, parent) if parent else data["trustor_user_id"]
            if project_id:
                held = set(self.assignments.effective_role_ids(trustor, ("project", project_id)))
                for rid in role_ids:
                    if rid not in held:
                        raise errors.NotFound.of("role", rid)
            duplicate = s.scalar(select(m.Trust.id).where(
                m.Trust.trustor_user_id == data["trustor_user_id"],
                m.Trust.trustee_user_id == data["trustee_user_id"],
                m.Trust.project_id.is_(None) if project_id is None else m.Trust.project_id == project_id,
                m.Trust.impersonation == bool(data["impersonation"]),
                m.Trust.expires_at.is_(None) if expires is None else m.Trust.expires_at == expires).limit(1))
            if duplicate:
                raise errors.Conflict(f"Conflict occurred attempting to store trust - Duplicate entry found "
                                      f"with the same trustor, trustee, project, impersonation and expiry "
                                      f"({duplicate}).")
            trust = m.Trust(id=new_id(), trustor_user_id=data["trustor_user_id"],
                            trustee_user_id=data["trustee_user_id"], project_id=project_id,
                            impersonation=bool(data["impersonation"]), expires_at=expires, remaining_uses=remaining,
                            role_ids=list(dict.fromkeys(role_ids)),
                            extra={k: v for k, v in data.items() if k not in _FIELDS})
            if parent is not None:
                self._redelegate(s, parent, trust, redelegatable, count)
            else:
                trust.redelegation_count = (count if count is not None else MAX_REDELEGATION_COUNT) \
                    if redelegatable else 0
            s.add(trust)
            s.flush()
            return trust

    @staticmethod
    def _role_id(s: Session, ref: dict[str, Any]) -> str:
        role = None
        if ref.get("id"):
            role = s.get(m.Role, ref["id"]) if isinstance(ref["id"], str) else None
            if role is None:
                # `openstack trust create --role member` run by a user who may not list roles
                # cannot resolve the name, and sends it as the id: take it as the name it is.
                role = s.scalar(select(m.Role).where(m.Role.name == ref["id"], m.Role.domain_id == m.NULL_DOMAIN))
        elif ref.get("name"):
            role = s.scalar(select(m.Role).where(m.Role.name == ref["name"], m.Role.domain_id == m.NULL_DOMAIN))
        else:
            raise errors.ValidationError("A trust role must be given by id or name.")
        if role is None:
            raise errors.NotFound.of("role", ref.get('id') or ref.get('name'))
        return role.id

    def _redelegate(self, s: Session, parent: m.Trust, trust: m.Trust, redelegatable: bool,
                    count: int | None) -> None:
        """Make ``trust`` a redelegation of ``parent`` (the trust of the caller's token)."""
        remaining_count = parent.redelegation_count - 1
        if redelegatable and count and count != remaining_count:
            raise errors.Forbidden('Modifying "redelegation_count" upon redelegation is forbidden. Omitting '
                                   'this parameter is advised.')
        trust.redelegated_trust_id = parent.id
        trust.redelegation_count = remaining_count if redelegatable or count is None else 0
        for ancestor in self._pedigree(s, parent):
            self._check_redelegation(ancestor, trust)

    @staticmethod
    def _check_redelegation(parent: m.Trust, trust: m.Trust | _Copy) -> None:
        if not 0 < parent.redelegation_count <= MAX_REDELEGATION_COUNT:
            raise errors.Forbidden(f"Remaining redelegation depth of {parent.redelegation_count} out of allowed "
                                   f"range of [0..{MAX_REDELEGATION_COUNT}].")
        if trust.remaining_uses is not None:
            raise errors.Forbidden(f'Field "remaining_uses" is set to {trust.remaining_uses} while it must not '
                                   f'be set in order to redelegate a trust.')
        if trust.expires_at is None:
            trust.expires_at = parent.expires_at
        elif parent.expires_at is not None and parent.expires_at < trust.expires_at:
            raise errors.Forbidden("Requested expiration time is more than redelegated trust can provide.")
        if not set(trust.role_ids) <= set(parent.role_ids):
            raise errors.Forbidden("Some of requested roles are not in redelegated trust.")
        if trust.impersonation and not parent.impersonation:
            raise errors.Forbidden(f"Impersonation is not allowed because redelegated trust does not specify "
                                   f"impersonation. Redelegated trust id: {parent.id}.")
        if trust.project_id != parent.project_id:
            raise errors.Forbidden("A redelegated trust must be on the project of the trust it comes from.")

    # --- read ---------------------------------------------------------------------------

    def get_trust(self, trust_id: str) -> m.Trust:
        """A usable trust: not expired, uses left, every trustee up its chain enabled; else 404/403."""
        with self.db.reader() as s:
            trust = self._load(s, trust_id)
            self._check_chain(s, trust)
            return trust

    def _load(self, s: Session, trust_id: str | None, count_uses: bool = True) -> m.Trust:
        trust = s.get(m.Trust, trust_id) if isinstance(trust_id, str) and len(trust_id) <= 64 else None
        if (trust is None or (trust.expires_at is not None and trust.expires_at <= self.now())
                or (count_uses and trust.remaining_uses is not None and trust.remaining_uses <= 0)):
            raise errors.NotFound.of("trust", trust_id)
        return trust

    def _pedigree(self, s: Session, trust: m.Trust) -> list[m.Trust]:
        """``trust`` and every trust it was redelegated from, newest first."""
        chain = [trust]
        while chain[-1].redelegated_trust_id and len(chain) <= MAX_REDELEGATION_COUNT + 1:
            parent = s.get(m.Trust, chain[-1].redelegated_trust_id)
            if parent is None:
                raise errors.NotFound.of("trust", chain[-1].redelegated_trust_id)
            chain.append(parent)
        return chain

    def _original_trustor(self, s: Session, trust: m.Trust) -> str:
        return self._pedigree(s, trust)[-1].trustor_user_id

    def _check_chain(self, s: Session, trust: m.Trust) -> None:
        chain = self._pedigree(s, trust)
        for parent, child in zip(chain[1:], chain, strict=False):
            self._check_redelegation(parent, _Copy(child))
            user = s.get(m.User, parent.trustee_user_id)
            if user is None or not user.enabled:
                raise errors.Forbidden("One of the trust agents is disabled or deleted.")

    def list_trusts(self, trustor_user_id: str | None = None, trustee_user_id: str | None = None,
                    limit: int | None = None) -> list[m.Trust]:
        """Live trusts (not expired, uses left); at most ``limit + 1`` (see ``manager.listing``)."""
        with self.db.reader() as s:
            q = select(m.Trust).where(or_(m.Trust.expires_at.is_(None), m.Trust.expires_at > self.now()),
                                      or_(m.Trust.remaining_uses.is_(None), m.Trust.remaining_uses > 0))
            filters = {k: v for k, v in (("trustor_user_id", trustor_user_id), ("trustee_user_id", trustee_user_id))
                       if v is not None}
            return listing.rows(s, listing.TRUSTS, filters, limit, q)

    # --- delete -------------------------------------------------------------------------

    @announces("OS-TRUST:trust", "deleted")
    def delete_trust(self, trust_id: str) -> None:
        """Delete a trust and, recursively, every trust redelegated from it."""
        with self.write() as s:
            trust = s.get(m.Trust, trust_id) if len(trust_id) <= 64 else None
            if trust is None:
                raise errors.NotFound.of("trust", trust_id)
            doomed, agents = self._delete_trust_rows(s, [trust.id])
            self.credentials._drop_delegated_ec2(s, "trust_id", doomed, agents)
        for tid in doomed:
            self.revocation.revoke(trust_id=tid)

    @staticmethod
    def _delete_trust_rows(s: Session, trust_ids: Sequence[str]) -> tuple[list[str], set[str]]:
        """Delete these trusts and their redelegations; return every id deleted, and their trustors
        and trustees (the users their tokens act as)."""
        doomed: list[str] = []
        agents: set[str] = set()
        todo = list(trust_ids)
        while todo:
            tid = todo.pop()
            if tid in doomed:
                continue
            doomed.append(tid)
            todo.extend(s.scalars(select(m.Trust.id).where(m.Trust.redelegated_trust_id == tid)))
        for tid in doomed:
            row = s.get(m.Trust, tid)
            if row is not None:
                agents.update((row.trustor_user_id, row.trustee_user_id))
                s.delete(row)
        s.flush()
        return doomed, agents

    def _delete_trusts_of(self, s: Session, *, user_id: str | None = None, project_id: str | None = None) -> None:
        """Drop the trusts a deleted user or project leaves useless (their tokens fail validation anyway)."""
        q = select(m.Trust.id)
        if user_id is not None:
            q = q.where(or_(m.Trust.trustor_user_id == user_id, m.Trust.trustee_user_id == user_id))
        if project_id is not None:
            q = q.where(m.Trust.project_id == project_id)
        self.credentials._drop_delegated_ec2(s, "trust_id", *self._delete_trust_rows(s, list(s.scalars(q))))

    # --- use ----------------------------------------------------------------------------

    def consume_trust(self, trust_id: str) -> None:
        """Count one token issued through a trust; 404 when it has no uses left."""
        with self.write() as s:
            trust = self._load(s, trust_id)
            if trust.remaining_uses is None:
                return
            # Only the first of two racing writers sees the count it read (compare-and-set).
            done = s.execute(update(m.Trust).where(m.Trust.id == trust_id,
                                                   m.Trust.remaining_uses == trust.remaining_uses)
                             .values(remaining_uses=trust.remaining_uses - 1))
            if done.rowcount != 1:
                raise errors.NotFound.of("trust", trust_id)

    def trust_token_roles(self, trust: m.Trust) -> list[str] | None:
        """The role ids a token through ``trust`` carries: its roles and the roles they imply.

        None when the trustor (the first of a redelegation chain) no longer holds one of them on
        the project: such a token is not valid.
        """
        if not trust.project_id:
            return []
        with self.db.reader() as s:
            trustor = self._original_trustor(s, trust)
            wanted = set(trust.role_ids) | self.assignments._implied_closure(s, list(trust.role_ids))
            global_ids = set(s.scalars(select(m.Role.id).where(m.Role.id.in_(wanted),
                                                                 m.Role.domain_id == m.NULL_DOMAIN)))
        # Domain-specific roles never appear in tokens (as for any project token).
        held = set(self.assignments.effective_role_ids(trustor, ("project", trust.project_id)))
        if not global_ids <= held:
            return None
        return sorted(global_ids)


_FIELDS = frozenset({"id", "trustor_user_id", "trustee_user_id", "project_id", "impersonation", "expires_at",
                     "remaining_uses", "roles", "allow_redelegation", "redelegation_count",
                     "redelegated_trust_id", "links", "roles_links", "deleted_at"})


class _Copy:
    """The fields of a stored trust ``_check_redelegation`` reads, without touching the row itself."""

    def __init__(self, trust: m.Trust) -> None:
        self.remaining_uses = trust.remaining_uses
        self.expires_at = trust.expires_at
        self.role_ids = trust.role_ids
        self.impersonation = trust.impersonation
        self.project_id = trust.project_id
