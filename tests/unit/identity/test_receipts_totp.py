"""Auth receipts (multi-factor auth) and the TOTP check, against an independent TOTP implementation."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from cryptography.fernet import Fernet

from litestack.identity.manager.appcreds import totp_key, totp_matches
from litestack.identity.tokens import ReceiptFormatter, ReceiptNotFound, TokenFormatter, TokenNotFound

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def test_receipt_round_trip_and_expiry() -> None:
    keys = [Fernet.generate_key()]
    clock = [NOW]
    fmt = ReceiptFormatter(lambda: keys, now=lambda: clock[0])
    receipt, parsed = fmt.create("a" * 32, ["password"], NOW + timedelta(minutes=5))
    assert "=" not in receipt
    back = fmt.validate(receipt)
    assert (back.user_id, back.methods, back.expires_at) == ("a" * 32, ("password",), NOW + timedelta(minutes=5))
    assert back == parsed
    clock[0] = NOW + timedelta(minutes=5)
    with pytest.raises(ReceiptNotFound):
        fmt.validate(receipt)


@pytest.mark.parametrize("mangle", [lambda r: r[:-3] + "AAA", lambda r: "x" + r, lambda r: "", lambda r: "é"])
def test_tampered_receipts_are_refused(mangle: object) -> None:
    keys = [Fernet.generate_key()]
    fmt = ReceiptFormatter(lambda: keys, now=lambda: NOW)
    receipt, _ = fmt.create("user-1", ["password", "totp"], NOW + timedelta(minutes=5))
    with pytest.raises(ReceiptNotFound):
        fmt.validate(mangle(receipt))  # type: ignore[operator]


def test_receipts_and_tokens_do_not_cross() -> None:
    token_keys, receipt_keys = [Fernet.generate_key()], [Fernet.generate_key()]
    receipt, _ = ReceiptFormatter(lambda: receipt_keys, now=lambda: NOW).create("u", ["password"], NOW + timedelta(1))
    with pytest.raises(TokenNotFound):
        TokenFormatter(lambda: token_keys, now=lambda: NOW).validate(receipt)


def test_totp_matches_an_independent_implementation() -> None:
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    for at in (0, 29, 30, 1_795_833_000, 1_795_833_029):
        code = totp.at(at)
        assert totp_matches(secret, code, at)
        assert totp_matches(secret.lower(), code, at)  # authenticator apps show either case
        assert not totp_matches(secret, code, at + 30) or totp.at(at + 30) == code
    assert not totp_matches(secret, "12345", 0)
    assert not totp_matches(secret, "١٢٣٤٥٦", 0)  # non-ASCII digits
    assert totp_key("not base32!") is None and totp_key("") is None
    unpadded = base64.b32encode(b"0123456789").decode().rstrip("=")
    assert totp_key(unpadded) == b"0123456789"
