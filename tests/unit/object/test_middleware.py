"""The object storage middlewares' pure parts: ACL grammar, referrers, account ACLs, TempURL
signatures, ranges across segments, and the notifications layer over a recording app."""

from __future__ import annotations

import hashlib
import hmac
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from litestack.common import errors
from litestack.common.context import RequestContext
from litestack.common.notify import Notifier
from litestack.object.middleware import acl, slo, tempurl
from litestack.object.middleware.notifications import Notifications
from litestack.object.middleware.sub import swift_path

pytestmark = pytest.mark.unit


def caller(project: str = "p2", user: str = "u2", roles: tuple[str, ...] = ("member",)) -> RequestContext:
    return RequestContext(user_id=user, user_name="bob", project_id=project, project_name="other",
                          roles=list(roles))


def test_referrers_last_match_wins() -> None:
    acl_list = acl.parse_acl(".r:*, .r:-bad.example.com")
    assert acl.referrer_allowed("http://good.example.com/x", acl_list)
    assert not acl.referrer_allowed("http://bad.example.com/x", acl_list)
    assert acl.referrer_allowed(None, acl.parse_acl(".r:*"))
    assert acl.referrer_allowed("https://a.b.example.com/", [".r:.example.com"])
    assert not acl.referrer_allowed("https://example.org/", [".r:.example.com"])
    assert not acl.referrer_allowed("https://x/", ["p:*"])


def test_user_grants_by_id_name_wildcard_and_role() -> None:
    c = caller()
    assert acl.user_allowed(c, ["p2:u2"]) and acl.user_allowed(c, ["other:bob"]) and acl.user_allowed(c, ["p2:*"])
    assert acl.user_allowed(c, ["*:u2"]) and acl.user_allowed(c, ["Member"])
    assert not acl.user_allowed(c, ["p1:*", ".r:*", "admin"])
    assert not acl.user_allowed(RequestContext(), ["*:*"])  # no token: only referrers count


def test_account_acl_levels_and_validation() -> None:
    c = caller()
    assert acl.account_acl_level(c, '{"read-only": ["p2"]}') == "read-only"
    assert acl.account_acl_level(c, '{"read-only": ["p2"], "admin": ["u2"]}') == "admin"
    assert acl.account_acl_level(c, '{"read-write": ["p9"]}') is None
    assert acl.account_acl_level(c, "garbage") is None
    assert acl.parse_account_acl('{"admin": ["a"], "read-only": []}') == '{"admin":["a"]}'
    for bad in ("[]", '{"owner": ["x"]}', '{"admin": "x"}', '{"admin": [1]}', "{"):
        with pytest.raises(errors.BadRequest):
            acl.parse_account_acl(bad)


def test_tempurl_signature_forms() -> None:
    sig = tempurl.sign("k", "GET", 100, "/v1/AUTH_a/c/o", "sha1")
    assert sig == hmac.new(b"k", b"GET\n100\n/v1/AUTH_a/c/o", hashlib.sha1).hexdigest()
    assert tempurl.parse_signature(sig) == ("sha1", bytes.fromhex(sig))
    assert tempurl.parse_signature("sha512:" + "A" * 86)[0] == "sha512"
    for bad in ("abc", "md5:AAAA", "zz" * 20):
        with pytest.raises(errors.Unauthorized):
            tempurl.parse_signature(bad)
    assert tempurl.parse_expires("1970-01-01T00:01:40Z") == 100
    with pytest.raises(errors.Unauthorized):
        tempurl.parse_expires("soon")
    grant = tempurl.Grant("PUT", "AUTH_a", "c", "in/", True)
    path = swift_path({"path": "/v1/AUTH_a/c/in/x", "root_path": ""})
    assert path is not None and grant.allows("PUT", path) and not grant.allows("DELETE", path)
    other = swift_path({"path": "/v1/AUTH_a/c/out", "root_path": ""})
    assert other is not None and not grant.allows("PUT", other)


def test_the_range_of_a_segment_in_a_manifest() -> None:
    assert slo.segment_range("0-9", 100) == (0, 9)
    assert slo.segment_range("90-", 100) == (90, 99)
    assert slo.segment_range("-10", 100) == (90, 99)
    assert slo.segment_range("50-500", 100) == (50, 99)
    for bad in ("0-1,5-6", "100-", "5-2", "x"):  # several, unsatisfiable, malformed
        with pytest.raises(ValueError):
            slo.segment_range(bad, 100)


async def test_notifications_announce_successful_writes_only() -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    notifier = Notifier("object", "test")
    notifier.listeners.append(lambda e, p: events.append((e, p)))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        status = 404 if scope["path"].endswith("/missing") else 201 if scope["method"] == "PUT" else 204
        await Response(status_code=status, headers={"etag": "abc"} if status == 201 else {})(scope, receive, send)

    mw = Notifications(app, SimpleNamespace(notifier=notifier))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=mw), base_url="http://t") as c:
        await c.put("/v1/AUTH_p/c/o", content=b"12345")
        await c.post("/v1/AUTH_p/c")
        await c.delete("/v1/AUTH_p/c/missing")
        await c.get("/v1/AUTH_p/c/o")
        await c.delete("/v1/AUTH_p/c/o")
    assert [e for e, _ in events] == ["objectstore.object.create", "objectstore.container.update",
                                      "objectstore.object.delete"]
    assert events[0][1] == {"account": "AUTH_p", "container": "c", "object": "o", "project_id": "p",
                            "method": "PUT", "status": 201, "etag": "abc", "size": 5}
