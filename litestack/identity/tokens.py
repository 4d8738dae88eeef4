"""Fernet tokens: a compact msgpack payload, encrypted and signed with Fernet.

Fernet is AES-128-CBC with an HMAC-SHA256 over the version byte, the issue
timestamp, the IV and the ciphertext; the issue timestamp is the token's
``issued_at``. Tokens are stateless: validating one needs only the keys, so it
does no I/O beyond what the key source chooses to do (``KeyRepository.keys``
costs one ``stat``).

The plaintext is a msgpack array whose first element is a payload version,
one per scope type, which fixes the fields that follow::

    unscoped         [0, user_id, methods, expires_at, audit_ids]
    domain           [1, user_id, methods, domain_id, expires_at, audit_ids]
    project          [2, user_id, methods, project_id, expires_at, audit_ids]
    system           [3, user_id, methods, expires_at, audit_ids]     (scope is always 'all')
    app cred project [4, user_id, methods, project_id, expires_at, audit_ids, app_cred_id]
    trust project    [5, user_id, methods, project_id, expires_at, audit_ids, trust_id]
    trust unscoped   [6, user_id, methods, expires_at, audit_ids, trust_id]
    oauth1 project   [7, user_id, methods, project_id, expires_at, audit_ids, access_token_id]

For a trust-scoped token ``user_id`` is the trustee, who authenticated; the
token shows the trustor as its user when the trust allows impersonation.

IDs that are 32-character lowercase hex UUIDs are packed as their 16 raw bytes
and anything else as a string; msgpack's bin and str types tell the two apart,
so no separate flag is needed. Audit IDs are packed as their 16 raw bytes,
``methods`` as a bitmask over ``METHODS`` and ``expires_at`` as whole epoch
seconds. This keeps a scoped password token with UUID IDs and a parent audit
ID at about 204 characters, under the 255 that some clients and databases
allow for a token.
"""

from __future__ import annotations

import base64
import re
import secrets
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import msgpack
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from litestack.common.errors import ConfigError, NotFound

ScopeType = Literal["unscoped", "project", "domain", "system"]
Scope = tuple[ScopeType, str | None]

UNSCOPED: Final[Scope] = ("unscoped", None)
SYSTEM_ALL: Final[Scope] = ("system", "all")

# The bit for a method is 1 << its position here. Append only: reordering or
# removing a name changes the meaning of every token already issued.
METHODS: Final[tuple[str, ...]] = (
    "password",
    "token",
    "application_credential",
    "totp",
    "external",
    "oauth1",
    "mapped",
)
_METHOD_BITS: Final[dict[str, int]] = {name: 1 << position for position, name in enumerate(METHODS)}
_ALL_METHOD_BITS: Final[int] = (1 << len(METHODS)) - 1

_UUID_HEX = re.compile(r"[0-9a-f]{32}")
_AUDIT_ID_BYTES = 16
_AUDIT_ID_LENGTH = 22  # urlsafe base64 of 16 bytes without its '==' padding
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_SECOND = timedelta(seconds=1)


# What a payload carries after its audit IDs: nothing, an application credential or a trust.
Extra = Literal["", "app_cred", "trust", "oauth1"]


@dataclass(frozen=True)
class _Layout:
    scope_type: ScopeType
    has_scope_id: bool
    extra: Extra = ""

    @property
    def length(self) -> int:
        return 5 + self.has_scope_id + bool(self.extra)


# Payload versions are part of the token format: never renumber, only add.
_LAYOUTS: Final[dict[int, _Layout]] = {
    0: _Layout("unscoped", has_scope_id=False),
    1: _Layout("domain", has_scope_id=True),
    2: _Layout("project", has_scope_id=True),
    3: _Layout("system", has_scope_id=False),
    4: _Layout("project", has_scope_id=True, extra="app_cred"),
    5: _Layout("project", has_scope_id=True, extra="trust"),
    6: _Layout("unscoped", has_scope_id=False, extra="trust"),
    7: _Layout("project", has_scope_id=True, extra="oauth1"),
}
_VERSIONS: Final[dict[tuple[ScopeType, Extra], int]] = {
    (layout.scope_type, layout.extra): version for version, layout in _LAYOUTS.items()
}


class TokenNotFound(NotFound):
    """Raised by ``TokenFormatter.validate`` when a token is malformed, was not
    encrypted with any current key (tampered, or its key was rotated out), or
    carries an unknown payload version.

    Only the first 8 characters of the token (``token_prefix``) are kept, so
    the message and logs never hold a usable credential.
    """

    def __init__(self, token: str, message: str | None = None, **data: Any) -> None:
        self.token_prefix = token[:8]
        super().__init__(
            message or f"Could not find token: {self.token_prefix}...", token_prefix=self.token_prefix, **data
        )


class TokenExpired(TokenNotFound):
    """Raised by ``TokenFormatter.validate`` when an authentic token's ``expires_at`` is not in the future.

    A ``TokenNotFound`` (so a 404, as Keystone answers for an expired subject
    token); ``expires_at`` says when it expired.
    """

    def __init__(self, token: str, expires_at: datetime) -> None:
        self.expires_at = expires_at
        super().__init__(token, f"Token has expired: {token[:8]}...", expires_at=expires_at.isoformat())


def generate_audit_id() -> str:
    """Return a new audit ID: 16 random bytes as 22 characters of urlsafe base64."""
    return base64.urlsafe_b64encode(secrets.token_bytes(_AUDIT_ID_BYTES)).rstrip(b"=").decode("ascii")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _require_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


@dataclass(frozen=True)
class TokenPayload:
    """What a token says about its holder.

    ``audit_ids`` is the token's own audit ID, followed for a rescoped token by
    the audit ID of the token it was rescoped from (the chain's). ``scope`` is
    ``UNSCOPED``, ``('project', project_id)``, ``('domain', domain_id)`` or
    ``SYSTEM_ALL``. An application credential token is always project-scoped; a
    trust token (``trust_id``) is project-scoped or, for a trust without a
    project, unscoped. A token has an application credential or a trust, not both.

    ``issued_at`` is None when the caller lets ``create`` use the current time.
    Both datetimes must be timezone-aware; tokens carry ``issued_at`` to the
    microsecond and ``expires_at`` to the second (``expires_at``
    is rounded down).
    """

    user_id: str
    methods: tuple[str, ...]
    expires_at: datetime
    audit_ids: tuple[str, ...]
    scope: Scope
    app_cred_id: str | None = None
    issued_at: datetime | None = None
    trust_id: str | None = None
    access_token_id: str | None = None

    def __post_init__(self) -> None:
        # Accept lists from callers but keep the payload hashable.
        object.__setattr__(self, "methods", tuple(self.methods))
        object.__setattr__(self, "audit_ids", tuple(self.audit_ids))
        object.__setattr__(self, "scope", tuple(self.scope))
        if not isinstance(self.user_id, str) or not self.user_id:
            raise ValueError("user_id must be a non-empty string")
        if not self.methods:
            raise ValueError("a token needs at least one authentication method")
        _require_aware("expires_at", self.expires_at)
        if self.issued_at is not None:
            _require_aware("issued_at", self.issued_at)
        if not 1 <= len(self.audit_ids) <= 2:
            raise ValueError(f"audit_ids must hold 1 or 2 audit IDs, got {len(self.audit_ids)}")
        if len(self.scope) != 2:
            raise ValueError(f"scope must be a (type, id) pair, got {self.scope!r}")
        scope_type, scope_id = self.scope
        if scope_type == "unscoped":
            if scope_id is not None:
                raise ValueError(f"an unscoped token has no scope id, got {scope_id!r}")
        elif scope_type == "system":
            if scope_id != "all":
                raise ValueError(f"system scope must be 'all', got {scope_id!r}")
        elif scope_type in ("project", "domain"):
            if not isinstance(scope_id, str) or not scope_id:
                raise ValueError(f"{scope_type} scope needs a non-empty id, got {scope_id!r}")
        else:
            raise ValueError(f"unknown scope type {scope_type!r}")
        if self.app_cred_id is not None:
            if not isinstance(self.app_cred_id, str) or not self.app_cred_id:
                raise ValueError("app_cred_id must be a non-empty string or None")
            if scope_type != "project":
                raise ValueError("an application credential token must be project-scoped")
        if self.trust_id is not None:
            if not isinstance(self.trust_id, str) or not self.trust_id:
                raise ValueError("trust_id must be a non-empty string or None")
            if scope_type not in ("project", "unscoped"):
                raise ValueError("a trust token must be project-scoped or unscoped")
            if self.app_cred_id is not None:
                raise ValueError("a token cannot carry both an application credential and a trust")
        if self.access_token_id is not None:
            if not isinstance(self.access_token_id, str) or not self.access_token_id:
                raise ValueError("access_token_id must be a non-empty string or None")
            if scope_type != "project":
                raise ValueError("an OAuth1 token must be project-scoped")
            if self.app_cred_id is not None or self.trust_id is not None:
                raise ValueError("an OAuth1 token carries no application credential or trust")

    @property
    def project_id(self) -> str | None:
        return self.scope[1] if self.scope[0] == "project" else None

    @property
    def domain_id(self) -> str | None:
        return self.scope[1] if self.scope[0] == "domain" else None

    @property
    def system(self) -> str | None:
        """'all' for a system-scoped token, else None."""
        return self.scope[1] if self.scope[0] == "system" else None

    @property
    def audit_id(self) -> str:
        """This token's own audit ID."""
        return self.audit_ids[0]

    @property
    def audit_chain_id(self) -> str:
        """The audit ID shared by every token rescoped from the same original token."""
        return self.audit_ids[-1]


class _Malformed(ValueError):
    """An authentic plaintext that does not decode to a payload; never leaves this module."""


# --- field codecs -----------------------------------------------------------


def _pack_id(value: str) -> str | bytes:
    return bytes.fromhex(value) if _UUID_HEX.fullmatch(value) else value


def _unpack_id(value: Any) -> str:
    if type(value) is bytes and len(value) == 16:
        return value.hex()
    if type(value) is str and value:
        return value
    raise _Malformed("bad id")


def _pack_audit_id(audit_id: str) -> bytes:
    if isinstance(audit_id, str) and len(audit_id) == _AUDIT_ID_LENGTH and audit_id.isascii():
        raw = base64.urlsafe_b64decode(audit_id + "==")
        # The decoder skips stray characters and ignores the last character's
        # spare bits, so only a canonical encoding round-trips unchanged.
        if len(raw) == _AUDIT_ID_BYTES and _unpack_audit_id(raw) == audit_id:
            return raw
    raise ValueError(f"{audit_id!r} is not an audit ID (22 urlsafe base64 characters, see generate_audit_id)")


def _unpack_audit_id(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _pack_methods(methods: Sequence[str]) -> int:
    bits = 0
    for method in methods:
        try:
            bits |= _METHOD_BITS[method]
        except KeyError:
            known = ", ".join(METHODS)
            raise ValueError(f"unknown authentication method {method!r}; known: {known}") from None
    return bits


def _unpack_methods(bits: Any) -> tuple[str, ...]:
    if type(bits) is not int or not 0 < bits <= _ALL_METHOD_BITS:
        raise _Malformed("bad methods")
    return tuple(name for name in METHODS if bits & _METHOD_BITS[name])


def _encode(payload: TokenPayload, issued_at: datetime) -> list[Any]:
    scope_type, scope_id = payload.scope
    extra: Extra = ("app_cred" if payload.app_cred_id is not None else "trust" if payload.trust_id
                    else "oauth1" if payload.access_token_id else "")
    version = _VERSIONS[(scope_type, extra)]
    fields: list[Any] = [version, _pack_id(payload.user_id), _pack_methods(payload.methods)]
    if _LAYOUTS[version].has_scope_id and scope_id is not None:  # TokenPayload guarantees the id
        fields.append(_pack_id(scope_id))
    fields.append(float((payload.expires_at - _EPOCH) // _ONE_SECOND))
    fields.append([_pack_audit_id(audit_id) for audit_id in payload.audit_ids])
    if payload.app_cred_id is not None:
        fields.append(_pack_id(payload.app_cred_id))
    elif payload.trust_id is not None:
        fields.append(_pack_id(payload.trust_id))
    elif payload.access_token_id is not None:
        fields.append(_pack_id(payload.access_token_id))
    # The Fernet timestamp has whole seconds; the sub-second part lets a revocation event
    # tell apart tokens issued in the same second before and after it.
    fields.append(issued_at.microsecond)
    return fields


def _decode(fields: Any, issued_at: datetime) -> TokenPayload:
    if type(fields) is not list or not fields or type(fields[0]) is not int:
        raise _Malformed("not a payload")
    layout = _LAYOUTS.get(fields[0])
    if layout is None or len(fields) not in (layout.length, layout.length + 1):
        raise _Malformed("unknown version")
    if len(fields) == layout.length + 1:
        micro = fields[-1]
        if type(micro) is not int or not 0 <= micro < 1_000_000:
            raise _Malformed("bad issued_at")
        issued_at = issued_at.replace(microsecond=micro)
    position = 1
    user_id = _unpack_id(fields[position])
    methods = _unpack_methods(fields[position + 1])
    position += 2
    scope: Scope
    if layout.has_scope_id:
        scope = (layout.scope_type, _unpack_id(fields[position]))
        position += 1
    else:
        scope = SYSTEM_ALL if layout.scope_type == "system" else UNSCOPED
    expires = fields[position]
    if type(expires) not in (int, float):
        raise _Malformed("bad expires_at")
    expires_at = datetime.fromtimestamp(int(expires), UTC)
    audit = fields[position + 1]
    if type(audit) is not list or not all(type(a) is bytes and len(a) == _AUDIT_ID_BYTES for a in audit):
        raise _Malformed("bad audit ids")
    extra_id = _unpack_id(fields[position + 2]) if layout.extra else None
    return TokenPayload(
        user_id=user_id,
        methods=methods,
        expires_at=expires_at,
        audit_ids=tuple(_unpack_audit_id(a) for a in audit),
        scope=scope,
        app_cred_id=extra_id if layout.extra == "app_cred" else None,
        trust_id=extra_id if layout.extra == "trust" else None,
        access_token_id=extra_id if layout.extra == "oauth1" else None,
        issued_at=issued_at,
    )


# --- formatter --------------------------------------------------------------


_DECODED_MAX = 20000


class TokenFormatter:
    """Creates and validates Fernet tokens.

    ``key_source`` is called on every ``create`` and ``validate`` and returns
    the keys primary first (``KeyRepository.keys`` does, cheaply), so a key
    rotation takes effect without a restart. ``now`` is the clock used for
    ``issued_at`` and expiry; it must return timezone-aware datetimes.
    """

    def __init__(
        self, key_source: Callable[[], Sequence[bytes]], now: Callable[[], datetime] = utcnow
    ) -> None:
        self._key_source = key_source
        self._now = now
        self._fernet_cache: tuple[tuple[bytes, ...], MultiFernet] | None = None
        self._decoded: dict[str, TokenPayload] = {}

    def create(self, payload: TokenPayload) -> str:
        """Return a token for ``payload``, encrypted with the primary key, without base64 padding.

        Raises ValueError if the payload cannot be encoded (unknown method,
        malformed audit ID) and ConfigError if the key source has no valid key.
        """
        issued_at = payload.issued_at if payload.issued_at is not None else self._now()
        plaintext = msgpack.packb(_encode(payload, issued_at), use_bin_type=True)
        token = self._fernet().encrypt_at_time(plaintext, (issued_at - _EPOCH) // _ONE_SECOND)
        # '=' must be percent-encoded in URLs and Keystone's tokens carry none.
        return token.rstrip(b"=").decode("ascii")

    def validate(self, token: str, expired_grace: timedelta | None = None) -> TokenPayload:
        """Return the payload of ``token``, with ``issued_at`` taken from the Fernet timestamp.

        Raises TokenNotFound if the token is malformed, tampered with, made
        with a key that is no longer in the repository or has an unknown
        payload version; TokenExpired (a TokenNotFound) if it has expired
        (more than ``expired_grace`` ago, when given: Keystone's
        ``allow_expired``); ConfigError if the key source has no valid key.
        """
        fernet = self._fernet()
        # Decrypting costs more than everything else in a validation; a token's payload never
        # changes, so remember it (the memo is dropped whenever the key set changes).
        known = self._decoded.get(token)
        if known is not None:
            self._check_expiry(token, known, expired_grace)
            return known
        try:
            stripped = token.rstrip("=").encode("ascii")
        except UnicodeEncodeError:
            raise TokenNotFound(token) from None
        padded = stripped + b"=" * (-len(stripped) % 4)
        try:
            plaintext = fernet.decrypt(padded)
        except InvalidToken:
            raise TokenNotFound(token) from None
        try:
            # The HMAC has just been verified, so read the timestamp straight
            # from the token (version byte, then a big-endian uint64) rather
            # than with extract_timestamp(), which would verify it again.
            (timestamp,) = struct.unpack(">Q", base64.urlsafe_b64decode(padded)[1:9])
            payload = _decode(msgpack.unpackb(plaintext), datetime.fromtimestamp(timestamp, UTC))
        except (ValueError, TypeError, OverflowError, OSError, msgpack.UnpackException):
            # Only reachable with a valid signature: a payload version from a
            # newer release, or a bug. Either way the token is unusable here.
            raise TokenNotFound(token) from None
        self._check_expiry(token, payload, expired_grace)
        if len(self._decoded) >= _DECODED_MAX:
            self._decoded.clear()
        self._decoded[token] = payload
        return payload

    def _check_expiry(self, token: str, payload: TokenPayload, grace: timedelta | None) -> None:
        limit = payload.expires_at if grace is None else payload.expires_at + grace
        if limit <= self._now():
            raise TokenExpired(token, payload.expires_at)

    def _fernet(self) -> MultiFernet:
        keys = tuple(self._key_source())
        cached = self._fernet_cache
        if cached is not None and cached[0] == keys:
            return cached[1]
        if not keys:
            raise ConfigError("no Fernet keys are available")
        try:
            fernet = MultiFernet([Fernet(key) for key in keys])
        except ValueError as exc:
            raise ConfigError("a Fernet key is invalid") from exc
        self._fernet_cache = (keys, fernet)
        self._decoded = {}
        return fernet


# --- auth receipts ----------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    """What an auth receipt says: this user already passed these methods (multi-factor auth)."""

    user_id: str
    methods: tuple[str, ...]
    expires_at: datetime
    issued_at: datetime


class ReceiptNotFound(NotFound):
    """A receipt that is malformed, tampered with, from a rotated-out key, or expired."""

    def __init__(self, receipt: str) -> None:
        super().__init__(f"Could not find auth receipt: {receipt[:8]}...")


class ReceiptFormatter:
    """Fernet auth receipts, for a user whose MFA rules need more methods than they gave.

    The payload is ``[user_id, methods, expires_at]`` (packed as in tokens); receipts use
    their own key repository, so a receipt can never pass for a token or the other way round.
    """

    def __init__(self, key_source: Callable[[], Sequence[bytes]], now: Callable[[], datetime] = utcnow) -> None:
        self._key_source = key_source
        self._now = now

    def _fernet(self) -> MultiFernet:
        keys = list(self._key_source())
        if not keys:
            raise ConfigError("no Fernet receipt keys are available")
        return MultiFernet([Fernet(k) for k in keys])

    def create(self, user_id: str, methods: Sequence[str], expires_at: datetime) -> tuple[str, Receipt]:
        issued = self._now()
        plaintext = msgpack.packb([_pack_id(user_id), _pack_methods(methods),
                                   float((expires_at - _EPOCH) // _ONE_SECOND)], use_bin_type=True)
        receipt = self._fernet().encrypt_at_time(plaintext, (issued - _EPOCH) // _ONE_SECOND)
        return receipt.rstrip(b"=").decode("ascii"), Receipt(user_id, tuple(methods),
                                                             expires_at.replace(microsecond=0), issued)

    def validate(self, receipt: str) -> Receipt:
        try:
            raw = receipt.rstrip("=").encode("ascii")
            raw += b"=" * (-len(raw) % 4)
            plaintext = self._fernet().decrypt(raw)
            (timestamp,) = struct.unpack(">Q", base64.urlsafe_b64decode(raw)[1:9])
            fields = msgpack.unpackb(plaintext)
            if type(fields) is not list or len(fields) != 3 or type(fields[2]) not in (int, float):
                raise _Malformed("bad receipt")
            parsed = Receipt(_unpack_id(fields[0]), _unpack_methods(fields[1]),
                             datetime.fromtimestamp(int(fields[2]), UTC), datetime.fromtimestamp(timestamp, UTC))
        except (InvalidToken, UnicodeEncodeError, ValueError, TypeError, OverflowError, OSError,
                msgpack.UnpackException):
            raise ReceiptNotFound(receipt) from None
        if parsed.expires_at <= self._now():
            raise ReceiptNotFound(receipt)
        return parsed
