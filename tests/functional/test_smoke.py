"""The all-in-one cloud starts and the real openstack CLI and SDK work against it."""

from __future__ import annotations

import pytest

from tests.conftest import RunningCloud

pytestmark = pytest.mark.functional


def test_token_issue_with_openstack_cli(shared_cloud: RunningCloud) -> None:
    out = shared_cloud.openstack("token", "issue", "-f", "value", "-c", "id").stdout.strip()
    assert out.startswith("gAAAAA") and len(out) < 255


def test_sdk_lists_users_as_admin(shared_cloud: RunningCloud) -> None:
    conn = shared_cloud.sdk("litestack-admin")
    names = {u.name for u in conn.identity.users()}
    assert {"admin", "demo"} <= names
