"""Users, passwords (with the PCI-DSS options) and groups."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from litestack.common import errors
from litestack.identity import models as m
from litestack.identity.manager import listing
from litestack.identity.manager.base import Part, Shared, announces, get_or_404, new_id, request_source

if TYPE_CHECKING:
    from litestack.identity.manager.revoke import RevokeManager

USER_OPTIONS = {
    "ignore_change_password_upon_first_use", "ignore_password_expiry", "ignore_lockout_failure_attempts",
    "lock_password", "multi_factor_auth_enabled", "multi_factor_auth_rules", "ignore_user_inactivity",
}


class UserManager(Part):
    """Users (passwords and their PCI-DSS rules, lockout, inactivity) and groups with their members."""

    def __init__(self, shared: Shared, revocation: RevokeManager) -> None:
        super().__init__(shared)
        self.revocation = revocation

    # --- users --------------------------------------------------------------------------

    @announces("user", "created")
    def create_user(self, data: dict[str, Any]) -> m.User:
        password = data.get("password")
        hashed = None
        if password is not None:
            self._check_password_strength(password)
            hashed = self.hasher.hash(password)
        options = {k: v for k, v in self._check_options(data.get("options", {})).items() if v is not None}
        with self.write() as s:
            domain_id = data.get("domain_id") or "default"
            if s.get(m.Domain, domain_id) is None:
                raise errors.NotFound.of("domain", domain_id)
            if s.scalar(select(m.User.id).where(m.User.domain_id == domain_id, m.User.name == data["name"])):
                raise errors.Conflict.duplicate("user", "name", data['name'], domain_id=domain_id)
            now = self.now()
            user = m.User(id=new_id(), name=data["name"], domain_id=domain_id,
                          enabled=data.get("enabled", True),
                          default_project_id=data.get("default_project_id"),
                          description=data.get("description"), options=options, created_at=now,
                          last_active_at=now,
                          extra={k: v for k, v in data.items() if k not in (
                              "name", "domain_id", "enabled", "default_project_id", "description",
                              "options", "password", "id", "links")},
                          failed_auth_count=0)
            s.add(user)
            try:
                s.flush()
            except IntegrityError:  # a concurrent request stored the same name first
                raise errors.Conflict.duplicate("user", "name", data['name'], domain_id=domain_id) from None
            if hashed is not None:
                # Admin-set passwords expire at once when the user must change them on first use.
                s.add(m.Password(user_id=user.id, hash=hashed, created_at=now,
                                 expires_at=self._password_expiry(options, now, admin_set=True),
                                 self_service=False))
            return user

    def get_user(self, user_id: str) -> m.User:
        with self.db.reader() as s:
            user: m.User = get_or_404(s, m.User, user_id, "user")
            return user

    def list_users(self, filters: dict[str, Any], limit: int | None = None) -> list[m.User]:
        """Users by name; at most ``limit + 1`` (see ``manager.listing``)."""
        with self.db.reader() as s:
            return listing.rows(s, listing.USERS, filters, limit)

    def password_expiries(self, user_ids: list[str]) -> dict[str, Any]:
        """When each user's current password expires (None: never, or no password), in one query:
        a list of users shows it for each, and one query per user would grow with the list."""
        if not user_ids:
            return {}
        with self.db.reader() as s:
            current = (select(func.max(m.Password.id)).where(m.Password.user_id.in_(user_ids))
                       .group_by(m.Password.user_id))
            found = dict(s.execute(select(m.Password.user_id, m.Password.expires_at)
                                   .where(m.Password.id.in_(current))).tuples().all())
        return {uid: found.get(uid) for uid in user_ids}

    def password_expires_at(self, user_id: str) -> Any:
        return self.memo(("pwexp", user_id), lambda: self._password_expires_at(user_id))

    def _password_expires_at(self, user_id: str) -> Any:
        with self.db.reader() as s:
            pw = self._current_password(s, user_id)
            return pw.expires_at if pw else None

    @announces("user", "updated")
    def update_user(self, user_id: str, data: dict[str, Any]) -> m.User:
        new_hash = None
        if "password" in data and data["password"] is not None:
            self._check_password_strength(data["password"])
            new_hash = self.hasher.hash(data["password"])
        revoke = False
        with self.write() as s:
            user: m.User = get_or_404(s, m.User, user_id, "user")
            if "domain_id" in data and data["domain_id"] != user.domain_id:
                raise errors.ValidationError("Cannot change the domain of a user.")
            if "name" in data and data["name"] != user.name:
                if s.scalar(select(m.User.id).where(m.User.domain_id == user.domain_id,
                                                    m.User.name == data["name"])):
                    raise errors.Conflict.duplicate("user", "name", data['name'], update=True, domain_id=user.domain_id)
                user.name = data["name"]
            for col in ("description", "default_project_id"):
                if col in data:
                    setattr(user, col, data[col])
            if "enabled" in data:
                if user.enabled and not data["enabled"]:
                    revoke = True
                user.enabled = data["enabled"]
                if data["enabled"]:
                    user.failed_auth_count = 0
                    user.last_active_at = self.now()  # re-enabling also ends an inactivity lock
            if "options" in data:
                merged = {**user.options, **self._check_options(data["options"])}
                user.options = {k: v for k, v in merged.items() if v is not None}
            user.extra = {**user.extra, **{k: v for k, v in data.items() if k not in (
                "name", "domain_id", "enabled", "default_project_id", "description", "options",
                "password", "id", "links")}}
            if new_hash is not None:
                self._store_password(s, user, data["password"], new_hash, self_service=False)
                revoke = True
        if revoke:
            self.revocation.revoke(user_id=user_id)
        return user

    def change_password(self, user_id: str, original: str, new: str) -> None:
        """Self-service password change; needs the current password, checks every PCI-DSS rule."""
        # Unauthenticated (as in Keystone), so a password oracle too: throttled like a login.
        source, who = request_source(), f"user:{user_id}"
        self.throttle.check(source, who)
        with self.db.reader() as s:
            user = s.get(m.User, user_id)
            current = self._current_password(s, user_id) if user else None
        if user is None or current is None or not self.hasher.check(original, current.hash):
            if user is None:
                self.hasher.burn(original)
            self.throttle.failed(source, who)
            raise errors.Unauthorized("The request you have made requires authentication.")
        if user.options.get("lock_password"):
            raise errors.Forbidden("You are not allowed to change the password of this user.")
        min_age = self.opt("minimum_password_age")
        if min_age and current.self_service and current.created_at + timedelta(days=min_age) > self.now():
            raise errors.ValidationError(f"You cannot change your password at this time due to the minimum "
                                         f"password age. Once you change your password, it must be used "
                                         f"for {min_age} day(s) before it can be changed.")
        self._check_password_strength(new)
        hashed = self.hasher.hash(new)
        with self.write() as s:
            u = s.get(m.User, user_id)
            if u is None:
                raise errors.NotFound.of("user", user_id)
            self._store_password(s, u, new, hashed, self_service=True)
        self.revocation.revoke(user_id=user_id)

    def _store_password(self, s: Session, user: m.User, plain: str, hashed: str, self_service: bool) -> None:
        # Password history binds users changing their own password, not an administrator's reset
        # (as in Keystone, and as tempest's test_password_history_not_enforced_in_admin_reset expects).
        history = self.opt("unique_last_password_count")
        if self_service and history and history > 1:
            recent = list(s.scalars(select(m.Password).where(m.Password.user_id == user.id)
                                    .order_by(m.Password.id.desc()).limit(history)))
            for old in recent:
                if self.hasher.check(plain, old.hash):
                    raise errors.ValidationError(f"The new password cannot be identical to a previous "
                                                 f"password. The total number which includes the new "
                                                 f"password must be unique is {history}.")
        now = self.now()
        s.add(m.Password(user_id=user.id, hash=hashed, created_at=now, self_service=self_service,
                         expires_at=self._password_expiry(user.options, now, admin_set=not self_service)))
        user.failed_auth_count = 0

    def _password_expiry(self, options: dict[str, Any], now: Any, admin_set: bool) -> Any:
        if options.get("ignore_password_expiry"):
            return None
        if (admin_set and self.opt("change_password_upon_first_use")
                and not options.get("ignore_change_password_upon_first_use")):
            return now  # the user must set their own password before the first login
        days = self.opt("password_expires_days")
        return now + timedelta(days=days) if days else None

    def _check_password_strength(self, password: str) -> None:
        regex = self.opt("password_regex")
        if regex and not re.match(regex, password):
            desc = self.opt("password_regex_description") or "does not match the required pattern"
            raise errors.ValidationError(f"Password validation error: The password does not meet the "
                                         f"requirements: {desc}.")

    @staticmethod
    def _check_options(options: dict[str, Any]) -> dict[str, Any]:
        for k, value in options.items():
            if k not in USER_OPTIONS:
                raise errors.ValidationError(f"Invalid user option: {k}.")
            if value is None:
                continue  # unsets the option
            if k == "multi_factor_auth_rules":
                # Keystone's shape: a list of rules, each a non-empty list of distinct method names.
                if not isinstance(value, list) or not all(
                        isinstance(rule, list) and rule and len(set(rule)) == len(rule)
                        and all(isinstance(meth, str) and meth for meth in rule) for rule in value):
                    raise errors.ValidationError("Invalid user option multi_factor_auth_rules: a list of "
                                                 "non-empty lists of distinct auth method names.")
            elif not isinstance(value, bool):
                raise errors.ValidationError(f"Invalid user option {k}: a boolean.")
        return dict(options)

    def inactive(self, user: m.User) -> bool:
        """PCI-DSS: whether the user has not authenticated for ``disable_user_account_days_inactive`` days."""
        days = self.opt("disable_user_account_days_inactive")
        if not days or user.options.get("ignore_user_inactivity"):
            return False
        last = user.last_active_at or user.created_at
        return last is not None and last + timedelta(days=days) <= self.now()

    def user_enabled(self, user: m.User) -> bool:
        """What the API shows as ``enabled``: the flag, and not disabled by inactivity (as Keystone shows it)."""
        return bool(user.enabled) and not self.inactive(user)

    def record_activity(self, user: m.User) -> None:
        """Note a successful authentication; written at most once a day per user (Keystone keeps the date)."""
        if not self.opt("disable_user_account_days_inactive"):
            return
        now = self.now()
        if user.last_active_at is not None and user.last_active_at.date() == now.date():
            return
        with self.write() as s:
            u = s.get(m.User, user.id)
            if u is not None:
                u.last_active_at = now

    @staticmethod
    def _current_password(s: Session, user_id: str) -> m.Password | None:
        return s.scalar(select(m.Password).where(m.Password.user_id == user_id)
                        .order_by(m.Password.id.desc()).limit(1))

    @announces("user", "deleted")
    def delete_user(self, user_id: str) -> None:
        with self.write() as s:
            user: m.User = get_or_404(s, m.User, user_id, "user")
            self._delete_user_rows(s, user)
        self.revocation.revoke(user_id=user_id)

    def _delete_user_rows(self, s: Session, user: m.User) -> None:
        """The user, its passwords and memberships; grants, credentials and trusts go with the
        parts that own them, on "user.deleted"."""
        self.events.publish("user.deleted", s, user_id=user.id)
        for model in (m.Password, m.Membership):
            s.execute(delete(model).where(model.user_id == user.id))
        s.delete(user)
        s.flush()

    def _users_of_domain_deleted(self, s: Session, domain_id: str) -> None:
        for user in s.scalars(select(m.User).where(m.User.domain_id == domain_id)):
            self._delete_user_rows(s, user)
        for group in s.scalars(select(m.Group).where(m.Group.domain_id == domain_id)):
            self._delete_group_rows(s, group)

    # --- groups -------------------------------------------------------------------------

    @announces("group", "created")
    def create_group(self, data: dict[str, Any]) -> m.Group:
        with self.write() as s:
            domain_id = data.get("domain_id") or "default"
            if s.get(m.Domain, domain_id) is None:
                raise errors.NotFound.of("domain", domain_id)
            if s.scalar(select(m.Group.id).where(m.Group.domain_id == domain_id,
                                                 m.Group.name == data["name"])):
                raise errors.Conflict.duplicate("group", "name", data['name'], domain_id=domain_id)
            group = m.Group(id=new_id(), name=data["name"], domain_id=domain_id,
                            description=data.get("description", ""),
                            extra={k: v for k, v in data.items()
                                   if k not in ("name", "domain_id", "description", "id", "links")})
            s.add(group)
            try:
                s.flush()
            except IntegrityError:  # a concurrent request stored the same name first
                raise errors.Conflict.duplicate("group", "name", data['name'], domain_id=domain_id) from None
            return group

    def get_group(self, group_id: str) -> m.Group:
        # Memoized until the next identity write, as ``get_domain``: shared, read-only.
        group: m.Group = self.memo(("group", group_id), lambda: self._load_group(group_id))
        return group

    def _load_group(self, group_id: str) -> m.Group:
        with self.db.reader() as s:
            group: m.Group = get_or_404(s, m.Group, group_id, "group")
            return group

    def list_groups(self, filters: dict[str, Any], limit: int | None = None) -> list[m.Group]:
        """Groups by name; at most ``limit + 1`` (see ``manager.listing``)."""
        with self.db.reader() as s:
            return listing.rows(s, listing.GROUPS, filters, limit)

    @announces("group", "updated")
    def update_group(self, group_id: str, data: dict[str, Any]) -> m.Group:
        with self.write() as s:
            group: m.Group = get_or_404(s, m.Group, group_id, "group")
            if "domain_id" in data and data["domain_id"] != group.domain_id:
                raise errors.ValidationError("Cannot change the domain of a group.")
            if "name" in data and data["name"] != group.name:
                if s.scalar(select(m.Group.id).where(m.Group.domain_id == group.domain_id,
                                                     m.Group.name == data["name"])):
                    raise errors.Conflict.duplicate("group", "name", data['name'], update=True)
                group.name = data["name"]
            if "description" in data:
                group.description = data["description"]
            return group

    @announces("group", "deleted")
    def delete_group(self, group_id: str) -> None:
        with self.write() as s:
            group: m.Group = get_or_404(s, m.Group, group_id, "group")
            members = list(s.scalars(select(m.Membership.user_id).where(m.Membership.group_id == group_id)))
            self._delete_group_rows(s, group)
        for uid in members:
            self.revocation.revoke(user_id=uid)

    def _delete_group_rows(self, s: Session, group: m.Group) -> None:
        self.events.publish("group.deleted", s, group_id=group.id)
        s.execute(delete(m.Membership).where(m.Membership.group_id == group.id))
        s.delete(group)
        s.flush()

    def add_user_to_group(self, group_id: str, user_id: str) -> None:
        with self.write() as s:
            get_or_404(s, m.Group, group_id, "group")
            get_or_404(s, m.User, user_id, "user")
            if s.get(m.Membership, (user_id, group_id)) is None:
                s.add(m.Membership(user_id=user_id, group_id=group_id))

    def check_user_in_group(self, group_id: str, user_id: str) -> None:
        with self.db.reader() as s:
            get_or_404(s, m.Group, group_id, "group")
            get_or_404(s, m.User, user_id, "user")
            if s.get(m.Membership, (user_id, group_id)) is None:
                raise errors.NotFound(f"User '{user_id}' not found in group '{group_id}'.")

    def remove_user_from_group(self, group_id: str, user_id: str) -> None:
        with self.write() as s:
            get_or_404(s, m.Group, group_id, "group")
            get_or_404(s, m.User, user_id, "user")
            row = s.get(m.Membership, (user_id, group_id))
            if row is None:
                raise errors.NotFound(f"User '{user_id}' not found in group '{group_id}'.")
            s.delete(row)
        self.revocation.revoke(user_id=user_id)

    def list_group_users(self, group_id: str, limit: int | None = None) -> list[m.User]:
        """A group's users by name; at most ``limit + 1`` (see ``manager.listing``)."""
        with self.db.reader() as s:
            get_or_404(s, m.Group, group_id, "group")
            stmt = (select(m.User).join(m.Membership, m.Membership.user_id == m.User.id)
                    .where(m.Membership.group_id == group_id))
            return listing.rows(s, listing.USERS, {}, limit, stmt)

    def list_user_groups(self, user_id: str, limit: int | None = None) -> list[m.Group]:
        """A user's groups by name; at most ``limit + 1``."""
        with self.db.reader() as s:
            get_or_404(s, m.User, user_id, "user")
            stmt = (select(m.Group).join(m.Membership, m.Membership.group_id == m.Group.id)
                    .where(m.Membership.user_id == user_id))
            return listing.rows(s, listing.GROUPS, {}, limit, stmt)

    def group_ids_of(self, s: Session, user_id: str) -> list[str]:
        return list(s.scalars(select(m.Membership.group_id).where(m.Membership.user_id == user_id)))
