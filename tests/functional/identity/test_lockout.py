"""PCI-DSS lockout: too many wrong passwords lock an account for a while."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.conftest import RunningCloud
from tests.functional.identity.keystone import IDENTITY_ONLY, Keystone, password_auth

pytestmark = pytest.mark.functional

LOCKOUT = IDENTITY_ONLY + "lockout_failure_attempts = 2\nlockout_duration = 3\n"


def test_wrong_password_twice_locks_the_account_for_the_duration(
        cloud_factory: Callable[..., RunningCloud]) -> None:
    keystone = Keystone(cloud_factory(LOCKOUT))
    try:
        project, user, password = keystone.new_member("locked")
        good = password_auth(user["name"], password, project=project["name"])
        bad = password_auth(user["name"], "wrong", project=project["name"])

        assert keystone.authenticate(bad).status_code == 401
        assert keystone.authenticate(bad).status_code == 401
        last_failure = time.monotonic()
        locked = keystone.authenticate(good)
        assert locked.status_code == 401
        assert "locked" in locked.json()["error"]["message"]
        # Still locked a moment later, whatever the password.
        assert "locked" in keystone.authenticate(good).json()["error"]["message"]

        # The server's clock cannot be moved from here (tests/unit/identity/test_manager_clock.py
        # does that): poll until the lock lifts, which must be no sooner than the duration.
        while (unlocked := keystone.authenticate(good)).status_code != 201:
            assert "locked" in unlocked.json()["error"]["message"], unlocked.text
            assert time.monotonic() < last_failure + 3 + 5, "still locked 5 s after the lockout duration"
            time.sleep(0.1)
        assert time.monotonic() >= last_failure + 3 - 0.5, "unlocked before the lockout duration"
        # A success resets the count: one more mistake does not lock again.
        assert keystone.authenticate(bad).status_code == 401
        assert keystone.authenticate(good).status_code == 201

        # The bootstrap admin is exempt, so that a typo cannot lock the cloud's operator out.
        for _ in range(3):
            assert keystone.authenticate(password_auth("admin", "wrong")).status_code == 401
        keystone.token("admin", keystone.admin_password(), project="admin")
    finally:
        keystone.close()
