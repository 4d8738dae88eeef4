"""PCI-DSS options of the identity service, each switched on in its own cloud."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from litestack.identity import models as m
from tests.conftest import RunningCloud
from tests.databases import DATABASES, clouds_on, identity_db

pytestmark = pytest.mark.functional

CONFIG = """
[identity]
password_hash_rounds = 4
password_expires_days = 30
unique_last_password_count = 3
minimum_password_age = 0
password_regex = '^(?=.*\\d)(?=.*[a-zA-Z]).{8,}$'
password_regex_description = 'at least 8 characters with a letter and a digit'
"""


def _auth(cloud: RunningCloud, name: str, password: str) -> httpx.Response:
    return httpx.post(f"{cloud.auth_url}/v3/auth/tokens", json={"auth": {"identity": {
        "methods": ["password"], "password": {"user": {"name": name, "domain": {"id": "default"},
                                                       "password": password}}}}})


def _change(cloud: RunningCloud, uid: str, old: str, new: str) -> httpx.Response:
    return httpx.post(f"{cloud.auth_url}/v3/users/{uid}/password",
                      json={"user": {"original_password": old, "password": new}})


@pytest.fixture(scope="module", params=DATABASES)
def pci_cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    with clouds_on(request.param, tmp_path_factory.mktemp("pci")) as make:
        yield make(CONFIG)


@pytest.fixture(scope="module", params=DATABASES)
def shared_cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    with clouds_on(request.param, tmp_path_factory.mktemp("pci-default")) as make:
        yield make()


@pytest.fixture(params=DATABASES)
def cloud_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., RunningCloud]]:
    with clouds_on(request.param, tmp_path) as make:
        yield make


def test_password_regex_refuses_weak_passwords(pci_cloud: RunningCloud) -> None:
    admin = pci_cloud.sdk("litestack-admin")
    with pytest.raises(Exception, match="at least 8 characters"):
        admin.identity.create_user(name="weak", password="short", domain_id="default")
    assert admin.identity.create_user(name="strong", password="longer1pass", domain_id="default").id


def test_password_history_and_expiry(pci_cloud: RunningCloud) -> None:
    admin = pci_cloud.sdk("litestack-admin")
    user = admin.identity.create_user(name="hist", password="first1pass", domain_id="default")
    r = _auth(pci_cloud, "hist", "first1pass")
    assert r.status_code == 201
    assert r.json()["token"]["user"]["password_expires_at"] is not None  # 30 days from now

    assert _change(pci_cloud, user.id, "first1pass", "second2pass").status_code == 204
    assert _change(pci_cloud, user.id, "second2pass", "third3pass").status_code == 204
    # The last 3 passwords (including the current one) may not come back.
    r = _change(pci_cloud, user.id, "third3pass", "first1pass")
    assert r.status_code == 400 and "identical to a previous password" in r.json()["error"]["message"]
    assert _auth(pci_cloud, "hist", "first1pass").status_code == 401
    assert _auth(pci_cloud, "hist", "third3pass").status_code == 201
    # An administrator's reset is not bound by the history (Keystone and tempest agree).
    admin.identity.update_user(user, password="third3pass")
    assert _auth(pci_cloud, "hist", "third3pass").status_code == 201

    # Let the current password expire (the clock cannot be moved in another process; the row can).
    with identity_db(pci_cloud) as engine, engine.begin() as conn:
        conn.execute(update(m.Password).where(m.Password.user_id == user.id).values(expires_at=datetime(2000, 1, 1)))
    pci_cloud.restart()  # caches of derived data are dropped
    r = _auth(pci_cloud, "hist", "third3pass")
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]
    # An expired password can still be changed by its owner, without a token.
    assert _change(pci_cloud, user.id, "third3pass", "fourth4pass").status_code == 204
    assert _auth(pci_cloud, "hist", "fourth4pass").status_code == 201


def test_minimum_password_age(cloud_factory: Callable[..., RunningCloud]) -> None:
    cloud = cloud_factory("[identity]\npassword_hash_rounds = 4\nminimum_password_age = 1\n")
    admin = cloud.sdk("litestack-admin")
    user = admin.identity.create_user(name="aged", password="pw-one", domain_id="default")
    # The admin-set password may be changed at once; the user's own new one must then be kept a day.
    assert _change(cloud, user.id, "pw-one", "pw-two").status_code == 204
    r = _change(cloud, user.id, "pw-two", "pw-three")
    assert r.status_code == 400 and "minimum password age" in r.json()["error"]["message"]
    # An administrator is not bound by it.
    admin.identity.update_user(user, password="pw-admin")
    assert _auth(cloud, "aged", "pw-admin").status_code == 201


def test_options_are_off_by_default(shared_cloud: RunningCloud) -> None:
    admin = shared_cloud.sdk("litestack-admin")
    user = admin.identity.create_user(name="free", password="x", domain_id="default")
    assert _change(shared_cloud, user.id, "x", "y").status_code == 204
    assert _change(shared_cloud, user.id, "y", "x").status_code == 204  # no history, no age, no regex
    r = _auth(shared_cloud, "free", "x")
    assert r.status_code == 201 and r.json()["token"]["user"]["password_expires_at"] is None


def test_change_password_upon_first_use(cloud_factory: Callable[..., RunningCloud]) -> None:
    cloud = cloud_factory("[identity]\npassword_hash_rounds = 4\nchange_password_upon_first_use = true\n")
    admin = cloud.sdk("litestack-admin")
    user = admin.identity.create_user(name="newbie", password="given-by-admin", domain_id="default")
    r = _auth(cloud, "newbie", "given-by-admin")
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]
    assert _change(cloud, user.id, "given-by-admin", "my-own-choice").status_code == 204
    assert _auth(cloud, "newbie", "my-own-choice").status_code == 201
    # The bootstrap users are exempt, or the cloud could not be used at all.
    assert cloud.openstack("token", "issue", "-f", "value", "-c", "id").stdout.strip()


def test_inactive_users_are_disabled(cloud_factory: Callable[..., RunningCloud]) -> None:
    cloud = cloud_factory("[identity]\npassword_hash_rounds = 4\ndisable_user_account_days_inactive = 2\n")
    admin = cloud.sdk("litestack-admin")
    idle = admin.identity.create_user(name="idle", password="idle-pw", domain_id="default")
    exempt = admin.identity.create_user(name="exempt", password="exempt-pw", domain_id="default",
                                        options={"ignore_user_inactivity": True})
    assert _auth(cloud, "idle", "idle-pw").status_code == 201

    # Three days without a login (the clock cannot be moved in another process; the rows can).
    three_days_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=3)
    with identity_db(cloud) as engine, engine.begin() as conn:
        conn.execute(update(m.User).where(m.User.id.in_([idle.id, exempt.id])).values(last_active_at=three_days_ago))
    r = _auth(cloud, "idle", "idle-pw")
    assert r.status_code == 401 and "disabled" in r.json()["error"]["message"]
    assert _auth(cloud, "idle", "wrong").json()["error"]["message"] != r.json()["error"]["message"]
    shown = admin.identity.get_user(idle.id)
    assert shown.is_enabled is False  # shown as Keystone shows it
    assert _auth(cloud, "exempt", "exempt-pw").status_code == 201

    # An administrator re-enables the user, which counts as activity.
    admin.identity.update_user(shown, is_enabled=True)
    assert _auth(cloud, "idle", "idle-pw").status_code == 201
    assert admin.identity.get_user(idle.id).is_enabled is True
