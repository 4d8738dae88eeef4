"""Access to another project's account (``middleware/acl.py``): container ACLs (referrers,
``.rlistings``, ``project:user`` grants), account ACLs, and copies across accounts. The demo
project (cloud ``litestack``) owns the data; the admin project (``litestack-admin``) is the other."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from swiftclient.client import Connection
from swiftclient.exceptions import ClientException

from tests.conftest import RunningCloud
from tests.functional.object.helpers import http, swift_connection

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def two(shared_cloud: RunningCloud) -> Iterator[tuple[Connection, str, Connection, str]]:
    """The demo project's connection and account URL, the admin project's and its project id."""
    demo, other = swift_connection(shared_cloud), swift_connection(shared_cloud, "litestack-admin")
    demo_url, _ = demo.get_auth()
    other_url, _ = other.get_auth()
    yield demo, demo_url, other, other_url.rsplit("AUTH_", 1)[1]


def _status(fn: object, *args: object, **kw: object) -> int:
    try:
        fn(*args, **kw)  # type: ignore[operator]
    except ClientException as exc:
        return int(exc.http_status or 0)
    return 200


def test_public_container_referrers_and_listings(two: tuple[Connection, str, Connection, str]) -> None:
    demo, url, _, _ = two
    demo.put_container("public", headers={"X-Container-Read": ".r:*"})
    demo.put_object("public", "page.html", b"<p>hi</p>", content_type="text/html")
    r = httpx.get(f"{url}/public/page.html")  # no token at all
    assert r.status_code == 200 and r.content == b"<p>hi</p>"
    assert httpx.head(f"{url}/public/page.html").status_code == 200
    assert httpx.get(f"{url}/public").status_code == 401  # no .rlistings: no listing
    assert httpx.put(f"{url}/public/page.html", content=b"defaced").status_code == 401
    assert httpx.delete(f"{url}/public/page.html").status_code == 401
    assert httpx.post(f"{url}/public", headers={"X-Container-Read": ""}).status_code == 401
    demo.post_container("public", headers={"X-Container-Read": ".r:*,.rlistings"})
    r = httpx.get(f"{url}/public", params={"format": "json"})
    assert r.status_code == 200 and [o["name"] for o in r.json()] == ["page.html"]
    assert demo.head_container("public")["x-container-read"] == ".r:*,.rlistings"
    # Referrer rules: a domain, minus one host.
    demo.post_container("public", headers={"X-Container-Read": ".r:.example.com,.r:-bad.example.com"})
    assert httpx.get(f"{url}/public/page.html", headers={"Referer": "http://www.example.com/a"}).status_code == 200
    assert httpx.get(f"{url}/public/page.html", headers={"Referer": "http://bad.example.com/"}).status_code == 401
    assert httpx.get(f"{url}/public/page.html", headers={"Referer": "http://example.org/"}).status_code == 401
    assert httpx.get(f"{url}/public/page.html").status_code == 401
    demo.post_container("public", headers={"X-Remove-Container-Read": "x"})
    assert "x-container-read" not in demo.head_container("public")
    assert httpx.get(f"{url}/public/page.html").status_code == 401


def test_read_and_write_acls_for_another_project(two: tuple[Connection, str, Connection, str]) -> None:
    demo, url, other, other_project = two
    demo.put_container("shared")
    demo.put_object("shared", "doc", b"demo's")
    # swiftclient addresses the demo account through preauthurl (the storage URL of another account).
    token = other.get_auth()[1]
    oc = Connection(preauthurl=url, preauthtoken=token, retries=0)
    assert _status(oc.get_object, "shared", "doc") == 403
    demo.post_container("shared", headers={"X-Container-Read": f"{other_project}:*"})
    assert oc.get_object("shared", "doc")[1] == b"demo's"
    assert [o["name"] for o in oc.get_container("shared")[1]] == ["doc"]  # a user grant lists too
    assert _status(oc.put_object, "shared", "intruder", b"x") == 403
    assert _status(oc.post_container, "shared", {"X-Container-Read": ".r:*"}) == 403  # settings: owner only
    demo.post_container("shared", headers={"X-Container-Write": f"{other_project}:*"})
    oc.put_object("shared", "from-admin", b"written by the other project")
    oc.post_object("shared", "from-admin", headers={"X-Object-Meta-By": "other"})
    assert demo.get_object("shared", "from-admin")[1] == b"written by the other project"
    oc.delete_object("shared", "from-admin")
    assert _status(demo.head_object, "shared", "from-admin") == 404
    assert _status(oc.delete_container, "shared") == 403  # write ACLs cover objects, not the container
    assert _status(oc.head_account) == 403  # nor the account
    demo.post_container("shared", headers={"X-Container-Read": "", "X-Container-Write": ""})
    assert _status(oc.get_object, "shared", "doc") == 403


def test_account_acls_read_only_read_write_admin(shared_cloud: RunningCloud,
                                                 two: tuple[Connection, str, Connection, str]) -> None:
    demo, url, other, other_project = two
    demo.put_container("acct")
    demo.put_object("acct", "o", b"data")
    oc = Connection(preauthurl=url, preauthtoken=other.get_auth()[1], retries=0)
    assert _status(oc.head_account) == 403
    client, _ = http(shared_cloud)
    with client:
        r = client.post(url, headers={"X-Account-Access-Control": "not json"})
        assert r.status_code == 400
        r = client.post(url, headers={"X-Account-Access-Control": json.dumps({"owner": ["x"]})})
        assert r.status_code == 400
    demo.post_account({"X-Account-Access-Control": json.dumps({"read-only": [other_project]})})
    assert json.loads(demo.head_account()["x-account-access-control"]) == {"read-only": [other_project]}
    assert "x-account-access-control" not in oc.head_account()  # shown to the owner only
    assert "acct" in [c["name"] for c in oc.get_account()[1]]
    assert oc.get_object("acct", "o")[1] == b"data"
    assert _status(oc.put_object, "acct", "o2", b"x") == 403
    demo.post_account({"X-Account-Access-Control": json.dumps({"read-write": [other_project]})})
    oc.put_object("acct", "o2", b"x")
    oc.put_container("acct-by-other")
    assert _status(oc.post_container, "acct-by-other", {"X-Container-Read": ".r:*"}) == 403  # ACLs: admins only
    assert _status(oc.post_account, {"X-Account-Meta-X": "y"}) == 403
    demo.post_account({"X-Account-Access-Control": json.dumps({"admin": [other_project]})})
    oc.post_account({"X-Account-Meta-Set-By": "other"})
    assert demo.head_account()["x-account-meta-set-by"] == "other"
    demo.post_account({"X-Account-Access-Control": ""})
    assert _status(oc.head_account) == 403


def test_copy_across_accounts_needs_read_and_write(two: tuple[Connection, str, Connection, str]) -> None:
    demo, url, other, other_project = two
    demo.put_container("src")
    demo.put_object("src", "obj", b"copied across", headers={"X-Object-Meta-Origin": "demo"})
    other.put_container("dst")
    demo_account = url.rsplit("/", 1)[1]
    # Without an ACL the source is out of reach.
    with pytest.raises(ClientException) as exc:
        other.put_object("dst", "copy", None, headers={"X-Copy-From": "src/obj", "X-Copy-From-Account": demo_account})
    assert exc.value.http_status == 403
    demo.post_container("src", headers={"X-Container-Read": f"{other_project}:*"})
    other.put_object("dst", "copy", None, headers={"X-Copy-From": "src/obj", "X-Copy-From-Account": demo_account})
    headers, body = other.get_object("dst", "copy")
    assert body == b"copied across" and headers["x-object-meta-origin"] == "demo"
    # COPY with Destination-Account, by the owner of the source into another account: refused
    # without write access there, allowed with it.
    other_account = f"AUTH_{other_project}"
    assert _status(demo.copy_object, "src", "obj", "/dst/back", headers={"Destination-Account": other_account}) \
        == 403
    other.post_container("dst", headers={"X-Container-Write": f"{demo.get_auth()[0].rsplit('AUTH_', 1)[1]}:*"})
    demo.copy_object("src", "obj", "/dst/back", headers={"Destination-Account": other_account})
    assert other.get_object("dst", "back")[1] == b"copied across"
