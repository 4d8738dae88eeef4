"""Tests for litestack.identity.tokens."""

from __future__ import annotations

import base64
import dataclasses
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgpack
import pytest
from cryptography.fernet import Fernet

from litestack.common.errors import ConfigError, NotFound
from litestack.identity.keys import KeyRepository
from litestack.identity.tokens import (
    METHODS,
    SYSTEM_ALL,
    UNSCOPED,
    Scope,
    TokenExpired,
    TokenFormatter,
    TokenNotFound,
    TokenPayload,
    generate_audit_id,
)
from tests.unit.identity.fakeclock import FakeClock

pytestmark = pytest.mark.unit

START = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)




def uuid_hex() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def repo(tmp_path: Path) -> KeyRepository:
    repo = KeyRepository(tmp_path / "keys", max_active_keys=3)
    repo.setup()
    return repo


@pytest.fixture
def formatter(repo: KeyRepository, clock: FakeClock) -> TokenFormatter:
    return TokenFormatter(repo.keys, now=clock)


PayloadFactory = Callable[..., TokenPayload]


@pytest.fixture
def payload_factory(clock: FakeClock) -> PayloadFactory:
    def make(**overrides: Any) -> TokenPayload:
        fields: dict[str, Any] = {
            "user_id": uuid_hex(),
            "methods": ("password",),
            "expires_at": clock() + timedelta(hours=1),
            "audit_ids": (generate_audit_id(),),
            "scope": ("project", uuid_hex()),
        }
        fields.update(overrides)
        return TokenPayload(**fields)

    return make


def expected_after_round_trip(payload: TokenPayload, issued_at: datetime) -> TokenPayload:
    return dataclasses.replace(
        payload,
        expires_at=payload.expires_at.astimezone(UTC).replace(microsecond=0),
        issued_at=issued_at.astimezone(UTC).replace(microsecond=0),
    )


# --- round trips --------------------------------------------------------------

SCOPES: list[Scope] = [
    UNSCOPED,
    ("project", uuid_hex()),
    ("domain", uuid_hex()),
    SYSTEM_ALL,
    ("project", "admin-project"),
    ("domain", "default"),
]


@pytest.mark.parametrize("scope", SCOPES, ids=lambda s: f"{s[0]}-{s[1]}")
@pytest.mark.parametrize("audit_count", [1, 2])
def test_round_trip_for_each_scope(
    formatter: TokenFormatter,
    payload_factory: PayloadFactory,
    clock: FakeClock,
    scope: Scope,
    audit_count: int,
) -> None:
    payload = payload_factory(scope=scope, audit_ids=[generate_audit_id() for _ in range(audit_count)])

    validated = formatter.validate(formatter.create(payload))

    assert validated == expected_after_round_trip(payload, clock())
    assert validated.scope == scope


@pytest.mark.parametrize("app_cred_id", [uuid_hex(), "my-app-cred"])
def test_round_trip_for_application_credential_tokens(
    formatter: TokenFormatter, payload_factory: PayloadFactory, clock: FakeClock, app_cred_id: str
) -> None:
    payload = payload_factory(methods=("application_credential",), app_cred_id=app_cred_id)

    validated = formatter.validate(formatter.create(payload))

    assert validated == expected_after_round_trip(payload, clock())
    assert validated.app_cred_id == app_cred_id


@pytest.mark.parametrize("trust_id", [uuid_hex(), "my-trust"])
@pytest.mark.parametrize("scope", [("project", uuid_hex()), UNSCOPED])
def test_round_trip_for_trust_tokens(
    formatter: TokenFormatter, payload_factory: PayloadFactory, clock: FakeClock, trust_id: str, scope: Any
) -> None:
    payload = payload_factory(trust_id=trust_id, scope=scope)

    validated = formatter.validate(formatter.create(payload))

    assert validated == expected_after_round_trip(payload, clock())
    assert (validated.trust_id, validated.scope, validated.app_cred_id) == (trust_id, scope, None)


def test_trust_token_with_uuid_ids_is_shorter_than_255_bytes(
    formatter: TokenFormatter, payload_factory: PayloadFactory
) -> None:
    payload = payload_factory(trust_id=uuid_hex(), scope=("project", uuid_hex()),
                              methods=("password", "token"), audit_ids=(generate_audit_id(), generate_audit_id()))
    assert len(formatter.create(payload).encode()) < 255


@pytest.mark.parametrize(
    "identifier",
    [
        uuid_hex(),
        "0" * 32,
        "admin",
        "default",
        uuid_hex().upper(),  # not lowercase, so kept as a string, case preserved
        str(uuid.uuid4()),  # hyphenated
        uuid_hex()[:31],
        uuid_hex() + "0",
        "ünïcödé-ïd",
        "x" * 64,
    ],
)
def test_round_trip_preserves_uuid_and_non_uuid_ids(
    formatter: TokenFormatter, payload_factory: PayloadFactory, identifier: str
) -> None:
    for payload in (
        payload_factory(user_id=identifier),
        payload_factory(scope=("project", identifier)),
        payload_factory(scope=("domain", identifier)),
        payload_factory(app_cred_id=identifier, methods=("application_credential",)),
    ):
        validated = formatter.validate(formatter.create(payload))
        assert (validated.user_id, validated.scope, validated.app_cred_id) == (
            payload.user_id,
            payload.scope,
            payload.app_cred_id,
        )


def test_uuid_ids_make_shorter_tokens_than_the_same_length_strings(
    formatter: TokenFormatter, payload_factory: PayloadFactory
) -> None:
    as_uuid = formatter.create(payload_factory(user_id="a" * 32))
    as_string = formatter.create(payload_factory(user_id="g" * 32))
    assert len(as_uuid) < len(as_string)


@pytest.mark.parametrize(
    "methods",
    [
        ("password",),
        ("token",),
        ("password", "totp"),
        ("external", "mapped", "oauth1"),
        METHODS,
    ],
)
def test_methods_round_trip_in_canonical_order(
    formatter: TokenFormatter, payload_factory: PayloadFactory, methods: tuple[str, ...]
) -> None:
    # Given in reverse, returned in METHODS order (a bitmask has no order).
    payload = payload_factory(methods=tuple(reversed(methods)))

    validated = formatter.validate(formatter.create(payload))

    assert validated.methods == tuple(m for m in METHODS if m in methods)


def test_method_bits_are_fixed() -> None:
    # Changing this order would change the meaning of every issued token.
    assert METHODS == (
        "password",
        "token",
        "application_credential",
        "totp",
        "external",
        "oauth1",
        "mapped",
    )


def test_unknown_method_is_rejected_by_create(
    formatter: TokenFormatter, payload_factory: PayloadFactory
) -> None:
    with pytest.raises(ValueError, match="unknown authentication method 'kerberos'"):
        formatter.create(payload_factory(methods=("password", "kerberos")))


def test_issued_at_defaults_to_the_clock_and_keeps_microseconds(
    formatter: TokenFormatter, payload_factory: PayloadFactory, clock: FakeClock
) -> None:
    clock.now = START.replace(microsecond=999_999)
    token = formatter.create(payload_factory())

    clock.advance(minutes=5)
    validated = formatter.validate(token)

    # Whole seconds come from the Fernet timestamp, the rest from the payload, so revocation
    # can order tokens issued within one second.
    assert validated.issued_at == START.replace(microsecond=999_999)
    assert validated.issued_at is not None and validated.issued_at.tzinfo is UTC


def test_issued_at_given_by_the_caller_is_kept(
    formatter: TokenFormatter, payload_factory: PayloadFactory
) -> None:
    issued = START - timedelta(minutes=10)
    validated = formatter.validate(formatter.create(payload_factory(issued_at=issued)))
    assert validated.issued_at == issued


def test_expires_at_is_kept_to_the_second_in_utc(
    formatter: TokenFormatter, payload_factory: PayloadFactory
) -> None:
    plus_two = datetime(2030, 6, 1, 14, 30, 15, 987_654, tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))
    validated = formatter.validate(formatter.create(payload_factory(expires_at=plus_two)))
    assert validated.expires_at == datetime(2030, 6, 1, 14, 30, 15, tzinfo=UTC)
    assert validated.expires_at.tzinfo is UTC


# --- size and encoding --------------------------------------------------------------


@pytest.mark.parametrize("scope", [("project", uuid_hex()), ("domain", uuid_hex()), SYSTEM_ALL])
def test_scoped_password_tokens_are_shorter_than_255_bytes(
    formatter: TokenFormatter, payload_factory: PayloadFactory, scope: Scope
) -> None:
    payload = payload_factory(scope=scope, audit_ids=(generate_audit_id(), generate_audit_id()))

    token = formatter.create(payload)

    assert len(token.encode()) < 255


def test_app_cred_token_with_uuid_ids_is_shorter_than_255_bytes(
    formatter: TokenFormatter, payload_factory: PayloadFactory
) -> None:
    payload = payload_factory(
        methods=("application_credential",),
        app_cred_id=uuid_hex(),
        audit_ids=(generate_audit_id(), generate_audit_id()),
    )
    assert len(formatter.create(payload).encode()) < 255


def test_tokens_have_their_base64_padding_stripped(
    formatter: TokenFormatter, payload_factory: PayloadFactory
) -> None:
    lengths = set()
    for size in range(1, 49):
        payload = payload_factory(user_id="u" * size)
        token = formatter.create(payload)

        assert "=" not in token
        assert set(token) <= set(URLSAFE_B64)
        padded = token + "=" * (-len(token) % 4)
        assert base64.urlsafe_b64decode(padded)[0] == 0x80  # a Fernet token
        assert formatter.validate(token).user_id == payload.user_id
        assert formatter.validate(padded).user_id == payload.user_id
        lengths.add(len(token) % 4)
    assert lengths - {0}, "no token needed padding, so stripping it was not exercised"


# --- rotation -----------------------------------------------------------------


def test_token_made_before_a_rotation_still_validates(
    repo: KeyRepository, formatter: TokenFormatter, payload_factory: PayloadFactory
) -> None:
    payload = payload_factory()
    token = formatter.create(payload)

    repo.rotate()

    assert formatter.validate(token).user_id == payload.user_id


def test_token_made_with_a_pruned_key_is_not_found(
    repo: KeyRepository, formatter: TokenFormatter, payload_factory: PayloadFactory
) -> None:
    token = formatter.create(payload_factory())  # with key 1

    repo.rotate()  # keys 0, 1, 2
    formatter.validate(token)
    repo.rotate()  # keys 0, 2, 3: key 1 is gone

    with pytest.raises(TokenNotFound):
        formatter.validate(token)


def test_new_tokens_use_the_new_primary_after_a_rotation(
    repo: KeyRepository, formatter: TokenFormatter, payload_factory: PayloadFactory
) -> None:
    staged = repo.load()[-1]
    repo.rotate()

    token = formatter.create(payload_factory())

    assert TokenFormatter(lambda: [staged]).validate(token)


def test_node_that_has_not_rotated_accepts_tokens_from_one_that_has(
    tmp_path: Path, repo: KeyRepository, clock: FakeClock, payload_factory: PayloadFactory
) -> None:
    """The staged key exists so that a rotation on one node never breaks the others."""
    other_dir = tmp_path / "other-node-keys"
    shutil.copytree(repo.path, other_dir)
    other_node = TokenFormatter(KeyRepository(other_dir).keys, now=clock)
    this_node = TokenFormatter(repo.keys, now=clock)

    repo.rotate()  # this node's staged key becomes its primary
    payload = payload_factory()
    token = this_node.create(payload)

    assert other_node.validate(token).user_id == payload.user_id  # still staged there
    assert this_node.validate(token).user_id == payload.user_id


def test_formatter_asks_the_key_source_on_every_call(payload_factory: PayloadFactory) -> None:
    keys = [Fernet.generate_key()]
    formatter = TokenFormatter(lambda: keys)
    token = formatter.create(payload_factory())

    keys[:] = [Fernet.generate_key()]

    with pytest.raises(TokenNotFound):
        formatter.validate(token)


@pytest.mark.parametrize("keys", [[], [b"not a key"]])
def test_formatter_without_a_usable_key_raises_config_error(
    payload_factory: PayloadFactory, keys: list[bytes]
) -> None:
    formatter = TokenFormatter(lambda: keys)
    with pytest.raises(ConfigError):
        formatter.create(payload_factory())
    with pytest.raises(ConfigError):
        formatter.validate("gAAAAABrCgiN")


# --- rejection ----------------------------------------------------------------


URLSAFE_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def flip(token: str, position: int) -> str:
    """Change one character's top bit, which always carries data (low bits of the last may not)."""
    replacement = URLSAFE_B64[URLSAFE_B64.index(token[position]) ^ 0b100000]
    position %= len(token)
    return token[:position] + replacement + token[position + 1 :]


@pytest.mark.parametrize("position", [0, 5, 12, 40, 100, -30, -1])
def test_tampered_token_is_not_found(
    formatter: TokenFormatter, payload_factory: PayloadFactory, position: int
) -> None:
    token = formatter.create(payload_factory())
    tampered = flip(token, position)

    with pytest.raises(TokenNotFound) as raised:
        formatter.validate(tampered)

    assert raised.value.status == 404


@pytest.mark.parametrize(
    "garbage",
    ["", "=", "a", "not-a-token", "gAAAAA", "gAAAAABrCgiN" * 20, "tökén-ünïcode", "\x00\n", "a==b"],
)
def test_malformed_token_is_not_found(formatter: TokenFormatter, garbage: str) -> None:
    with pytest.raises(TokenNotFound):
        formatter.validate(garbage)


def test_truncated_token_is_not_found(formatter: TokenFormatter, payload_factory: PayloadFactory) -> None:
    token = formatter.create(payload_factory())
    with pytest.raises(TokenNotFound):
        formatter.validate(token[:-4])


def test_token_made_with_another_key_is_not_found(
    formatter: TokenFormatter, payload_factory: PayloadFactory
) -> None:
    token = TokenFormatter(lambda: [Fernet.generate_key()]).create(payload_factory())
    with pytest.raises(TokenNotFound):
        formatter.validate(token)


def test_not_found_message_holds_only_the_token_prefix(
    formatter: TokenFormatter, payload_factory: PayloadFactory
) -> None:
    token = flip(formatter.create(payload_factory()), 60)

    with pytest.raises(TokenNotFound) as raised:
        formatter.validate(token)

    error = raised.value
    assert str(error) == f"Could not find token: {token[:8]}..."
    assert error.token_prefix == token[:8]
    assert token[8:16] not in str(error) and token[8:16] not in repr(error.data)
    assert isinstance(error, NotFound)


def sign(repo: KeyRepository, fields: Any, raw: bytes | None = None) -> str:
    """A correctly signed token whose plaintext we choose."""
    plaintext = raw if raw is not None else msgpack.packb(fields, use_bin_type=True)
    return Fernet(repo.load()[0]).encrypt(plaintext).decode().rstrip("=")


@pytest.mark.parametrize(
    ("fields", "raw"),
    [
        pytest.param([99, "user", 1, 1.9e9, [b"a" * 16]], None, id="unknown-version"),
        pytest.param([True, "user", 1, 1.9e9, [b"a" * 16]], None, id="bool-version"),
        pytest.param([0, "user", 1, 1.9e9], None, id="too-few-fields"),
        pytest.param([0, "user", 1, 1.9e9, [b"a" * 16], "extra"], None, id="too-many-fields"),
        pytest.param([0, "user", 0, 1.9e9, [b"a" * 16]], None, id="no-methods"),
        pytest.param([0, "user", 1 | 1 << 12, 1.9e9, [b"a" * 16]], None, id="unknown-method-bit"),
        pytest.param([0, b"short", 1, 1.9e9, [b"a" * 16]], None, id="bad-id-bytes"),
        pytest.param([0, "", 1, 1.9e9, [b"a" * 16]], None, id="empty-id"),
        pytest.param([0, "user", 1, "tomorrow", [b"a" * 16]], None, id="bad-expiry"),
        pytest.param([0, "user", 1, float("inf"), [b"a" * 16]], None, id="infinite-expiry"),
        pytest.param([0, "user", 1, 1.9e9, []], None, id="no-audit-ids"),
        pytest.param([0, "user", 1, 1.9e9, [b"a" * 16] * 3], None, id="three-audit-ids"),
        pytest.param([0, "user", 1, 1.9e9, ["not-bytes"]], None, id="audit-id-not-bytes"),
        pytest.param([2, "user", 1, None, 1.9e9, [b"a" * 16]], None, id="missing-project-id"),
        pytest.param({"version": 0}, None, id="map"),
        pytest.param(None, b"\xc1", id="not-msgpack"),
        pytest.param(None, b"\x91\x00\x00", id="trailing-bytes"),
        pytest.param(None, b"", id="empty"),
    ],
)
def test_authentic_token_with_a_bad_payload_is_not_found(
    repo: KeyRepository, formatter: TokenFormatter, fields: Any, raw: bytes | None
) -> None:
    with pytest.raises(TokenNotFound):
        formatter.validate(sign(repo, fields, raw))


def test_hand_made_payload_in_the_documented_layout_validates(
    repo: KeyRepository, formatter: TokenFormatter
) -> None:
    audit = b"\x01" * 16
    user = uuid_hex()
    token = sign(repo, [2, bytes.fromhex(user), 0b101, "proj", START.timestamp() + 60, [audit]])

    payload = formatter.validate(token)

    assert payload.user_id == user
    assert payload.methods == ("password", "application_credential")
    assert payload.scope == ("project", "proj")
    assert payload.expires_at == START + timedelta(seconds=60)
    assert payload.audit_ids == (base64.urlsafe_b64encode(audit).decode().rstrip("="),)


# --- expiry -------------------------------------------------------------------


def test_token_expires_at_expires_at(
    formatter: TokenFormatter, payload_factory: PayloadFactory, clock: FakeClock
) -> None:
    token = formatter.create(payload_factory(expires_at=START + timedelta(minutes=10)))

    clock.advance(minutes=10, seconds=-1)
    formatter.validate(token)

    clock.advance(seconds=1)
    with pytest.raises(TokenExpired) as raised:
        formatter.validate(token)

    error = raised.value
    assert isinstance(error, TokenNotFound) and isinstance(error, NotFound)
    assert error.status == 404
    assert error.expires_at == START + timedelta(minutes=10)
    assert token[8:16] not in str(error)


def test_token_issued_already_expired_is_rejected(
    formatter: TokenFormatter, payload_factory: PayloadFactory
) -> None:
    token = formatter.create(payload_factory(expires_at=START - timedelta(seconds=1)))
    with pytest.raises(TokenExpired):
        formatter.validate(token)


# --- payload ------------------------------------------------------------------


def test_generate_audit_id_is_22_urlsafe_characters_of_16_random_bytes() -> None:
    ids = {generate_audit_id() for _ in range(200)}
    assert len(ids) == 200
    for audit_id in ids:
        assert len(audit_id) == 22
        assert len(base64.urlsafe_b64decode(audit_id + "==")) == 16


@pytest.mark.parametrize(
    "audit_id",
    ["short", "a" * 23, "!" * 22, "ünïcödé" * 3 + "a", "AAAAAAAAAAAAAAAAAAAAAB"],  # last: non-canonical
)
def test_create_rejects_malformed_audit_ids(
    formatter: TokenFormatter, payload_factory: PayloadFactory, audit_id: str
) -> None:
    with pytest.raises(ValueError, match="not an audit ID"):
        formatter.create(payload_factory(audit_ids=(audit_id,)))


def test_payload_helpers(payload_factory: PayloadFactory) -> None:
    own, chain = generate_audit_id(), generate_audit_id()
    project = payload_factory(scope=("project", "p1"), audit_ids=(own, chain))
    domain = payload_factory(scope=("domain", "d1"), audit_ids=(own,))
    system = payload_factory(scope=SYSTEM_ALL)
    unscoped = payload_factory(scope=UNSCOPED)

    assert (project.project_id, project.domain_id, project.system) == ("p1", None, None)
    assert (domain.project_id, domain.domain_id, domain.system) == (None, "d1", None)
    assert (system.project_id, system.domain_id, system.system) == (None, None, "all")
    assert (unscoped.project_id, unscoped.domain_id, unscoped.system) == (None, None, None)
    assert (project.audit_id, project.audit_chain_id) == (own, chain)
    assert (domain.audit_id, domain.audit_chain_id) == (own, own)


def test_payload_is_hashable_even_when_given_lists(payload_factory: PayloadFactory) -> None:
    payload = payload_factory(methods=["password"], audit_ids=[generate_audit_id()], scope=["domain", "d"])
    assert payload.methods == ("password",) and payload.scope == ("domain", "d")
    hash(payload)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"user_id": ""}, "user_id"),
        ({"methods": ()}, "at least one"),
        ({"expires_at": datetime(2030, 1, 1)}, "timezone-aware"),
        ({"issued_at": datetime(2030, 1, 1)}, "timezone-aware"),
        ({"audit_ids": ()}, "1 or 2"),
        ({"audit_ids": ("a", "b", "c")}, "1 or 2"),
        ({"scope": ("unscoped", "x")}, "no scope id"),
        ({"scope": ("system", "nova")}, "'all'"),
        ({"scope": ("project", "")}, "non-empty id"),
        ({"scope": ("domain", None)}, "non-empty id"),
        ({"scope": ("trust", "t")}, "unknown scope type"),
        ({"scope": ("project",)}, "pair"),
        ({"app_cred_id": "", "scope": ("project", "p")}, "app_cred_id"),
        ({"app_cred_id": "ac", "scope": ("domain", "d")}, "project-scoped"),
        ({"app_cred_id": "ac", "scope": UNSCOPED}, "project-scoped"),
        ({"trust_id": "", "scope": ("project", "p")}, "trust_id"),
        ({"trust_id": "t", "scope": ("domain", "d")}, "project-scoped or unscoped"),
        ({"trust_id": "t", "scope": SYSTEM_ALL}, "project-scoped or unscoped"),
        ({"trust_id": "t", "app_cred_id": "ac", "scope": ("project", "p")}, "both"),
    ],
)
def test_payload_rejects_invalid_fields(
    payload_factory: PayloadFactory, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        payload_factory(**overrides)
