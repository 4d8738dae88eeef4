"""Identity logic that depends on time, driven by a fake clock: lockout, password expiry, token
expiry, multi-factor auth receipts, trusts (expiry and remaining uses) and revocation.

The manager runs on a new SQLite database per test, with cheap bcrypt; no server, no sleeping.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from litestack.common import config, errors
from litestack.common.db import Database, upgrade
from litestack.identity.manager import Manager
from litestack.identity.manager.auth import InsufficientAuthMethods
from litestack.identity.manager.trusts import Caller
from litestack.identity.models import Base
from litestack.identity.tokens import TokenExpired, TokenNotFound
from tests.unit.identity.fakeclock import FakeClock

pytestmark = pytest.mark.unit

START = datetime(2026, 11, 28, 12, 0, 0)  # naive UTC, as the manager's clock returns




@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def make_manager(tmp_path: Path, clock: FakeClock) -> Iterator[Callable[..., Manager]]:
    """A Manager on a new in-memory database, with identity options set by keyword."""
    made: list[Manager] = []

    def make(**options: Any) -> Manager:
        environ = {f"LITESTACK_IDENTITY_{k.upper()}": str(v) for k, v in
                   {"password_hash_rounds": 4, **options}.items()}
        conf = config.load(None, environ=environ)
        data_dir = tmp_path / f"m{len(made)}"
        data_dir.mkdir()
        # A file, not an in-memory database: the manager reads inside its writes, which needs
        # WAL (an in-memory SQLite database has no WAL and answers "database is locked").
        db = Database(f"sqlite:///{data_dir / 'identity.db'}")
        upgrade(db, "litestack.identity.migrations", Base)
        mgr = Manager(db, conf, data_dir, clock=clock)
        made.append(mgr)
        mgr.resources.create_domain({"id": "default", "name": "Default"})
        return mgr

    yield make
    for mgr in made:
        mgr.close()


def password_auth(name: str, password: str, scope: dict[str, Any] | None = None) -> dict[str, Any]:
    auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"id": "default"}, "password": password}}}}
    if scope is not None:
        auth["scope"] = scope
    return auth


def login(mgr: Manager, name: str, password: str, scope: dict[str, Any] | None = None) -> str:
    return mgr.auth.issue(mgr.auth.authenticate(password_auth(name, password, scope)))


def member_of_new_project(mgr: Manager, user_id: str) -> str:
    project = mgr.resources.create_project({"name": f"p-{uuid.uuid4().hex[:6]}", "domain_id": "default"})
    role = mgr.assignments.find_role_by_name("member") or mgr.assignments.create_role({"name": "member"})
    mgr.assignments.create_grant(role.id, "user", user_id, "project", project.id)
    return project.id


# --- lockout -------------------------------------------------------------------------------------


def test_lockout_holds_for_its_duration_then_lifts(make_manager: Callable[..., Manager],
                                                   clock: FakeClock) -> None:
    mgr = make_manager(lockout_failure_attempts=3, lockout_duration=600)
    user = mgr.users.create_user({"name": "lock", "password": "right-pw"})
    for _ in range(3):
        with pytest.raises(errors.Unauthorized):
            login(mgr, "lock", "wrong-pw")
    with pytest.raises(errors.Unauthorized, match="locked"):
        login(mgr, "lock", "right-pw")
    clock.advance(seconds=599)
    with pytest.raises(errors.Unauthorized, match="locked"):
        login(mgr, "lock", "right-pw")
    clock.advance(seconds=1)
    assert mgr.auth.validate_token(login(mgr, "lock", "right-pw")).user_id == user.id


def test_failures_spread_beyond_the_lockout_duration_do_not_add_up(make_manager: Callable[..., Manager],
                                                                  clock: FakeClock) -> None:
    mgr = make_manager(lockout_failure_attempts=2, lockout_duration=60)
    mgr.users.create_user({"name": "slow", "password": "right-pw"})
    with pytest.raises(errors.Unauthorized):
        login(mgr, "slow", "wrong-pw")
    clock.advance(seconds=61)  # the first failure has aged out: the count starts again
    with pytest.raises(errors.Unauthorized) as info:
        login(mgr, "slow", "wrong-pw")
    assert "locked" not in info.value.message
    assert login(mgr, "slow", "right-pw")


# --- passwords -----------------------------------------------------------------------------------


def test_password_expires_after_its_lifetime_and_can_then_be_changed(make_manager: Callable[..., Manager],
                                                                     clock: FakeClock) -> None:
    mgr = make_manager(password_expires_days=30)
    user = mgr.users.create_user({"name": "exp", "password": "first-pw"})
    assert mgr.users.password_expires_at(user.id) == START + timedelta(days=30)
    clock.advance(days=30, seconds=-1)
    assert login(mgr, "exp", "first-pw")
    clock.advance(seconds=1)
    with pytest.raises(errors.Unauthorized, match="expired"):
        login(mgr, "exp", "first-pw")
    mgr.users.change_password(user.id, "first-pw", "second-pw")
    assert mgr.users.password_expires_at(user.id) == clock.now + timedelta(days=30)
    # The change revoked the user's tokens issued until now, to the second (Keystone's too).
    clock.advance(seconds=1)
    assert login(mgr, "exp", "second-pw")


def test_minimum_password_age_counts_from_the_last_change(make_manager: Callable[..., Manager],
                                                          clock: FakeClock) -> None:
    mgr = make_manager(minimum_password_age=1)
    user = mgr.users.create_user({"name": "aged", "password": "pw-one"})
    mgr.users.change_password(user.id, "pw-one", "pw-two")  # the admin-set password may go at once
    clock.advance(hours=23)
    with pytest.raises(errors.ValidationError, match="minimum password age"):
        mgr.users.change_password(user.id, "pw-two", "pw-three")
    clock.advance(hours=1)
    mgr.users.change_password(user.id, "pw-two", "pw-three")
    clock.advance(seconds=1)
    assert login(mgr, "aged", "pw-three")


def test_idle_user_is_disabled_after_the_inactivity_limit(make_manager: Callable[..., Manager],
                                                          clock: FakeClock) -> None:
    mgr = make_manager(disable_user_account_days_inactive=2)
    mgr.users.create_user({"name": "idle", "password": "idle-pw"})
    clock.advance(days=1)
    assert login(mgr, "idle", "idle-pw")  # activity: the two days start again
    clock.advance(days=2, seconds=-1)
    assert login(mgr, "idle", "idle-pw")
    clock.advance(days=2)
    with pytest.raises(errors.Unauthorized, match="disabled"):
        login(mgr, "idle", "idle-pw")


# --- tokens --------------------------------------------------------------------------------------


def test_token_expires_after_token_expiration(make_manager: Callable[..., Manager], clock: FakeClock) -> None:
    mgr = make_manager(token_expiration=3600, allow_expired_window=600)
    mgr.users.create_user({"name": "tok", "password": "tok-pw"})
    token = login(mgr, "tok", "tok-pw")
    payload = mgr.auth.validate_token(token)
    assert payload.expires_at.replace(tzinfo=None) == START + timedelta(hours=1)
    clock.advance(seconds=3599)
    assert mgr.auth.validate_token(token).user_id == payload.user_id
    clock.advance(seconds=1)
    with pytest.raises(TokenExpired):
        mgr.auth.validate_token(token)
    # A service may still look at it within allow_expired_window, and no longer after.
    assert mgr.auth.validate_token(token, allow_expired=True).user_id == payload.user_id
    clock.advance(seconds=600)
    with pytest.raises(TokenExpired):
        mgr.auth.validate_token(token, allow_expired=True)


def test_rescoped_token_keeps_the_expiry_of_its_parent(make_manager: Callable[..., Manager],
                                                       clock: FakeClock) -> None:
    mgr = make_manager(token_expiration=3600)
    user = mgr.users.create_user({"name": "re", "password": "re-pw"})
    project_id = member_of_new_project(mgr, user.id)
    parent = login(mgr, "re", "re-pw")
    clock.advance(minutes=50)
    child = mgr.auth.issue(mgr.auth.authenticate({"identity": {"methods": ["token"], "token": {"id": parent}},
                                        "scope": {"project": {"id": project_id}}}))
    assert mgr.auth.validate_token(child).expires_at == mgr.auth.validate_token(parent).expires_at
    clock.advance(minutes=10)
    with pytest.raises(TokenExpired):
        mgr.auth.validate_token(child)


# --- revocation ----------------------------------------------------------------------------------


def test_revocation_covers_tokens_issued_before_it_and_not_after(make_manager: Callable[..., Manager],
                                                                 clock: FakeClock) -> None:
    mgr = make_manager()
    user = mgr.users.create_user({"name": "rev", "password": "rev-pw"})
    older, other = login(mgr, "rev", "rev-pw"), login(mgr, "rev", "rev-pw")
    heard: list[dict[str, Any]] = []
    mgr.revocation.on_revoke.append(heard.append)
    clock.advance(seconds=5)
    mgr.auth.revoke_token(mgr.auth.validate_token(older))
    with pytest.raises(TokenNotFound):
        mgr.auth.validate_token(older)
    assert mgr.auth.validate_token(other).user_id == user.id  # another audit id
    assert [e["audit_id"] for e in heard] == [mgr.auth.formatter.validate(older).audit_id]

    mgr.revocation.revoke(user_id=user.id)  # every token of the user issued until now
    with pytest.raises(TokenNotFound):
        mgr.auth.validate_token(other)
    clock.advance(seconds=1)
    assert mgr.auth.validate_token(login(mgr, "rev", "rev-pw")).user_id == user.id


def test_revocation_events_are_forgotten_once_no_token_can_match(make_manager: Callable[..., Manager],
                                                                 clock: FakeClock) -> None:
    mgr = make_manager(token_expiration=3600, allow_expired_window=0)
    user = mgr.users.create_user({"name": "old", "password": "old-pw"})
    mgr.revocation.revoke(user_id=user.id)
    assert len(mgr.revocation.revocation_events()) == 1
    clock.advance(seconds=3601)
    mgr.revocation.revoke(user_id="someone-else")  # a write prunes what no live token can match any more
    assert [e["user_id"] for e in mgr.revocation.revocation_events()] == ["someone-else"]


# --- multi-factor auth receipts --------------------------------------------------------------------


def test_receipt_completes_mfa_until_it_expires(make_manager: Callable[..., Manager], clock: FakeClock) -> None:
    mgr = make_manager(receipt_expiration=300)
    user = mgr.users.create_user({"name": "mfa", "password": "mfa-pw", "options": {
        "multi_factor_auth_enabled": True, "multi_factor_auth_rules": [["password", "application_credential"]]}})
    project_id = member_of_new_project(mgr, user.id)
    with pytest.raises(InsufficientAuthMethods) as info:
        mgr.auth.authenticate(password_auth("mfa", "mfa-pw"))
    assert info.value.required == [["password", "application_credential"]]
    receipt, body = mgr.auth.issue_receipt(user.id, info.value.methods)
    assert body["expires_at"].startswith((START + timedelta(seconds=300)).isoformat())

    cred, secret = _app_cred(mgr, user.id, project_id)
    second = {"identity": {"methods": ["application_credential"],
                           "application_credential": {"id": cred, "secret": secret}}}
    with pytest.raises(InsufficientAuthMethods):
        mgr.auth.authenticate(second)  # the second factor alone is not enough
    clock.advance(seconds=299)
    assert set(mgr.auth.authenticate(second, receipt=receipt).methods) == {"password", "application_credential"}
    clock.advance(seconds=1)
    with pytest.raises(errors.Unauthorized, match="auth receipt"):
        mgr.auth.authenticate(second, receipt=receipt)


def _app_cred(mgr: Manager, user_id: str, project_id: str, **extra: Any) -> tuple[str, str]:
    """An application credential of ``user_id`` on ``project_id``: (id, secret)."""
    roles = mgr.assignments.effective_role_ids(user_id, ("project", project_id))
    created = mgr.credentials.create_app_cred(user_id, project_id, roles, {"name": f"ac-{uuid.uuid4().hex[:6]}",
                                                                           **extra})
    return created[0].id, created[1]


# --- trusts --------------------------------------------------------------------------------------


def _trust(mgr: Manager, trustor: str, trustee: str, project_id: str, **data: Any) -> str:
    body = {"trustor_user_id": trustor, "trustee_user_id": trustee, "project_id": project_id,
            "impersonation": False, "roles": [{"name": "member"}], **data}
    return mgr.trusts.create_trust(Caller(user_id=trustor), body).id


def _trust_auth(trustee: str, password: str, trust_id: str) -> dict[str, Any]:
    return password_auth(trustee, password, {"OS-TRUST:trust": {"id": trust_id}})


def test_trust_gives_as_many_tokens_as_its_remaining_uses(make_manager: Callable[..., Manager]) -> None:
    mgr = make_manager()
    trustor = mgr.users.create_user({"name": "trustor", "password": "tr-pw"})
    trustee = mgr.users.create_user({"name": "trustee", "password": "te-pw"})
    project_id = member_of_new_project(mgr, trustor.id)
    trust_id = _trust(mgr, trustor.id, trustee.id, project_id, remaining_uses=2)
    assert mgr.auth.authenticate(_trust_auth("trustee", "te-pw", trust_id)).trust_id == trust_id
    assert mgr.trusts.get_trust(trust_id).remaining_uses == 1
    assert mgr.auth.authenticate(_trust_auth("trustee", "te-pw", trust_id)).trust_id == trust_id
    # Used up: it is gone, and gives no more tokens.
    with pytest.raises(errors.NotFound):
        mgr.trusts.get_trust(trust_id)
    with pytest.raises(errors.NotFound):
        mgr.auth.authenticate(_trust_auth("trustee", "te-pw", trust_id))


def test_trust_expires_and_so_do_its_tokens(make_manager: Callable[..., Manager], clock: FakeClock) -> None:
    mgr = make_manager(token_expiration=3600)
    trustor = mgr.users.create_user({"name": "trustor", "password": "tr-pw"})
    trustee = mgr.users.create_user({"name": "trustee", "password": "te-pw"})
    project_id = member_of_new_project(mgr, trustor.id)
    with pytest.raises(errors.ValidationError, match="future"):
        _trust(mgr, trustor.id, trustee.id, project_id, expires_at=(START - timedelta(seconds=1)).isoformat())
    trust_id = _trust(mgr, trustor.id, trustee.id, project_id,
                      expires_at=(START + timedelta(minutes=30)).isoformat() + "Z")
    token = mgr.auth.issue(mgr.auth.authenticate(_trust_auth("trustee", "te-pw", trust_id)))
    # The token lives no longer than the trust.
    assert mgr.auth.validate_token(token).expires_at.replace(tzinfo=None) == START + timedelta(minutes=30)
    clock.advance(minutes=30)
    with pytest.raises(TokenNotFound):
        mgr.auth.validate_token(token)
    with pytest.raises(errors.LitestackError):
        mgr.auth.authenticate(_trust_auth("trustee", "te-pw", trust_id))
    assert trust_id not in {t.id for t in mgr.trusts.list_trusts(trustor_user_id=trustor.id)}


def test_deleting_a_trust_revokes_its_tokens(make_manager: Callable[..., Manager], clock: FakeClock) -> None:
    mgr = make_manager()
    trustor = mgr.users.create_user({"name": "trustor", "password": "tr-pw"})
    trustee = mgr.users.create_user({"name": "trustee", "password": "te-pw"})
    project_id = member_of_new_project(mgr, trustor.id)
    trust_id = _trust(mgr, trustor.id, trustee.id, project_id)
    token = mgr.auth.issue(mgr.auth.authenticate(_trust_auth("trustee", "te-pw", trust_id)))
    clock.advance(seconds=1)
    mgr.trusts.delete_trust(trust_id)
    with pytest.raises(TokenNotFound):
        mgr.auth.validate_token(token)


# --- application credentials ---------------------------------------------------------------------


def test_application_credential_stops_working_when_it_expires(make_manager: Callable[..., Manager],
                                                              clock: FakeClock) -> None:
    mgr = make_manager(token_expiration=3600)
    user = mgr.users.create_user({"name": "ac", "password": "ac-pw"})
    project_id = member_of_new_project(mgr, user.id)
    cred, secret = _app_cred(mgr, user.id, project_id,
                             expires_at=(START + timedelta(minutes=10)).isoformat() + "Z")
    auth = {"identity": {"methods": ["application_credential"],
                         "application_credential": {"id": cred, "secret": secret}}}
    token = mgr.auth.issue(mgr.auth.authenticate(auth))
    assert mgr.auth.validate_token(token).expires_at.replace(tzinfo=None) == START + timedelta(minutes=10)
    clock.advance(minutes=10)
    with pytest.raises(errors.Unauthorized):
        mgr.auth.authenticate(auth)
    with pytest.raises(TokenNotFound):
        mgr.auth.validate_token(token)


# --- TOTP ------------------------------------------------------------------------------------------


def test_totp_guessing_is_cut_off_for_the_rest_of_the_step(make_manager: Callable[..., Manager],
                                                          clock: FakeClock) -> None:
    import pyotp

    mgr = make_manager(totp_included_previous_windows=0)
    user = mgr.users.create_user({"name": "otp", "password": "otp-pw"})
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # fixed: its passcodes of the two steps below differ
    mgr.credentials.create_credential({"type": "totp", "user_id": user.id, "blob": secret})
    totp = pyotp.TOTP(secret)
    clock.now = datetime(2026, 11, 28, 12, 0, 0)  # the start of a 30-second step
    at = clock.now.replace(tzinfo=UTC).timestamp()

    def totp_auth(passcode: str) -> dict[str, Any]:
        return {"identity": {"methods": ["totp"], "totp": {"user": {"id": user.id, "passcode": passcode}}}}

    right = totp.at(at)
    assert mgr.auth.authenticate(totp_auth(right)).user_id == user.id
    wrong = str((int(right) + 1) % 1_000_000).zfill(6)
    for _ in range(5):
        with pytest.raises(errors.Unauthorized):
            mgr.auth.authenticate(totp_auth(wrong))
    clock.advance(seconds=29)
    with pytest.raises(errors.Unauthorized):
        mgr.auth.authenticate(totp_auth(right))  # right, but the step's guesses are used up
    clock.advance(seconds=1)  # a new step: a new passcode, and new guesses
    assert totp.at(at + 30) != right
    assert mgr.auth.authenticate(totp_auth(totp.at(at + 30))).user_id == user.id
    # The previous step's passcode is refused when no earlier window is accepted.
    with pytest.raises(errors.Unauthorized):
        mgr.auth.authenticate(totp_auth(right))
