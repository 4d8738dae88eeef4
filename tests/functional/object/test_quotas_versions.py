"""Quotas (``middleware/quotas.py``) and versioning (``middleware/versioned.py``) through
python-swiftclient: 413 past a quota, who may set the account's, archives in stack and history mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from swiftclient.exceptions import ClientException

from tests.conftest import RunningCloud
from tests.functional.object.helpers import swift_connection

pytestmark = pytest.mark.functional


def _status(fn: object, *args: object, **kw: object) -> int:
    try:
        fn(*args, **kw)  # type: ignore[operator]
    except ClientException as exc:
        return int(exc.http_status or 0)
    return 200


def test_container_quotas_bytes_and_count(shared_cloud: RunningCloud) -> None:
    conn = swift_connection(shared_cloud)
    conn.put_container("quota", headers={"X-Container-Meta-Quota-Bytes": "100", "X-Container-Meta-Quota-Count": "3"})
    conn.put_object("quota", "a", b"x" * 60)
    with pytest.raises(ClientException) as exc:
        conn.put_object("quota", "b", b"x" * 41)
    assert exc.value.http_status == 413 and "Upload exceeds quota." in exc.value.http_response_content.decode()
    assert _status(conn.head_object, "quota", "b") == 404
    conn.put_object("quota", "b", b"x" * 40)  # exactly the quota
    assert _status(conn.put_object, "quota", "c", None, headers={"X-Copy-From": "quota/a"}) == 413
    conn.post_container("quota", headers={"X-Container-Meta-Quota-Bytes": ""})  # no byte quota any more
    conn.put_object("quota", "c", b"x")
    assert _status(conn.put_object, "quota", "d", b"x") == 413  # the 4th object
    assert _status(conn.post_container, "quota", {"X-Container-Meta-Quota-Count": "many"}) == 400
    assert _status(conn.put_container, "quota2", {"X-Container-Meta-Quota-Bytes": "-1"}) == 400


def test_account_quota_is_set_by_a_reseller_admin_only(shared_cloud: RunningCloud) -> None:
    conn = swift_connection(shared_cloud)
    demo_url = conn.get_auth()[0]
    assert _status(conn.post_account, {"X-Account-Meta-Quota-Bytes": "10"}) == 403
    shared_cloud.openstack("role", "add", "--user", "admin", "--project", "admin", "ResellerAdmin",
                           cloud="litestack-admin")
    reseller = swift_connection(shared_cloud, "litestack-admin")
    token = reseller.get_auth()[1]
    from swiftclient.client import Connection

    as_reseller = Connection(preauthurl=demo_url, preauthtoken=token, retries=0)
    assert _status(as_reseller.post_account, {"X-Account-Meta-Quota-Bytes": "ten"}) == 400
    used = int(conn.head_account()["x-account-bytes-used"])
    as_reseller.post_account({"X-Account-Meta-Quota-Bytes": str(used + 50)})
    conn.put_container("acct_quota")
    conn.put_object("acct_quota", "fits", b"y" * 50)
    import time

    deadline = time.monotonic() + 5  # the account's counters follow the containers' (~50 ms)
    while int(conn.head_account()["x-account-bytes-used"]) < used + 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _status(conn.put_object, "acct_quota", "over", b"y") == 413
    as_reseller.post_account({"X-Remove-Account-Meta-Quota-Bytes": "x"})
    conn.put_object("acct_quota", "over", b"y")
    as_reseller.post_account({"X-Account-Quota-Count": "0"})  # Swift 2.34's count quota
    assert conn.head_account()["x-account-quota-count"] == "0"
    assert not any(k.startswith("x-account-sysmeta") for k in conn.head_account())
    assert _status(conn.put_object, "acct_quota", "one-more", b"") == 413
    assert _status(conn.post_account, {"X-Remove-Account-Quota-Count": "x"}) == 403
    as_reseller.post_account({"X-Remove-Account-Quota-Count": "x"})
    conn.put_object("acct_quota", "one-more", b"")
    as_reseller.post_account({"X-Account-Quota-Bytes": "1"})
    assert _status(conn.put_object, "acct_quota", "two-more", b"yy") == 413
    as_reseller.post_account({"X-Remove-Account-Quota-Bytes": "x"})


def test_versions_location_stack_mode(shared_cloud: RunningCloud) -> None:
    conn = swift_connection(shared_cloud)
    conn.put_container("versions")
    conn.put_container("docs", headers={"X-Versions-Location": "versions"})
    assert conn.head_container("docs")["x-versions-location"] == "versions"
    for text in (b"v1", b"v2", b"v3"):
        conn.put_object("docs", "note", text)
    _, rows = conn.get_container("versions")
    assert [r["name"][:8] for r in rows] == ["004note/", "004note/"]
    assert [conn.get_object("versions", r["name"])[1] for r in rows] == [b"v1", b"v2"]
    conn.delete_object("docs", "note")  # v2 comes back
    assert conn.get_object("docs", "note")[1] == b"v2"
    conn.delete_object("docs", "note")
    assert conn.get_object("docs", "note")[1] == b"v1"
    conn.delete_object("docs", "note")
    assert _status(conn.get_object, "docs", "note") == 404
    assert conn.get_container("versions")[1] == []
    assert _status(conn.post_container, "docs", {"X-Versions-Location": "a", "X-History-Location": "b"}) == 400
    conn.post_container("docs", headers={"X-Remove-Versions-Location": "x"})
    conn.put_object("docs", "note", b"a")
    conn.put_object("docs", "note", b"b")
    assert conn.get_container("versions")[1] == []


def test_history_location_mode_archives_on_delete_too(shared_cloud: RunningCloud) -> None:
    conn = swift_connection(shared_cloud)
    conn.put_container("history")
    conn.put_container("logs", headers={"X-History-Location": "history"})
    conn.put_object("logs", "day", b"first")
    conn.put_object("logs", "day", b"second")
    conn.delete_object("logs", "day")
    assert _status(conn.get_object, "logs", "day") == 404
    _, rows = conn.get_container("history")
    assert [conn.get_object("history", r["name"])[1] for r in rows] == [b"first", b"second"]


def test_container_quota_set_with_the_openstack_command(shared_cloud: RunningCloud, tmp_path: Path) -> None:
    shared_cloud.openstack("container", "create", "osc_quota")
    shared_cloud.openstack("container", "set", "--property", "Quota-Count=1", "osc_quota")
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.txt").write_text("b")
    shared_cloud.openstack("object", "create", "--name", "a.txt", "osc_quota", str(tmp_path / "a.txt"))
    res = shared_cloud.openstack("object", "create", "--name", "b.txt", "osc_quota", str(tmp_path / "b.txt"),
                                 check=False)
    assert res.returncode != 0 and "413" in res.stderr
    assert swift_connection(shared_cloud).head_container("osc_quota")["x-container-meta-quota-count"] == "1"
