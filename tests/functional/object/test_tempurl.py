"""Temporary URLs (``middleware/tempurl.py``): signed with the ``swift tempurl`` command and by hand,
sha1/sha256/sha512, account and container keys, prefixes, filename/inline, expiry and forgeries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import urlparse

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.functional.object.helpers import swift_cli, swift_connection

pytestmark = pytest.mark.functional


def test_tempurl_get_put_with_account_and_container_keys(shared_cloud: RunningCloud) -> None:
    conn = swift_connection(shared_cloud)
    url = conn.get_auth()[0]
    # The account's key, set with the openstack command (X-Account-Meta-Temp-URL-Key).
    shared_cloud.openstack("object", "store", "account", "set", "--property", "Temp-URL-Key=acct-secret")
    assert conn.head_account()["x-account-meta-temp-url-key"] == "acct-secret"
    conn.put_container("tmp", headers={"X-Container-Meta-Temp-URL-Key": "cont-secret"})
    conn.put_object("tmp", "dir/report.txt", b"quarterly", headers={"X-Object-Meta-Secret": "s",
                                                                      "X-Object-Meta-Public-Tag": "t"})
    host = f"{urlparse(url).scheme}://{urlparse(url).netloc}"
    # The swift command signs the path it is given (sha256 by default).
    path = f"{urlparse(url).path}/tmp/dir/report.txt"
    signed = swift_cli(shared_cloud, "tempurl", "GET", "60", path, "acct-secret").stdout.strip()
    r = httpx.get(host + signed)
    assert r.status_code == 200 and r.content == b"quarterly"
    assert r.headers["content-disposition"] == "attachment; filename=\"report.txt\"; filename*=UTF-8''report.txt"
    assert "x-object-meta-secret" not in r.headers and r.headers["x-object-meta-public-tag"] == "t"
    assert httpx.head(host + signed).status_code == 200  # HEAD with a GET signature
    assert httpx.put(host + signed, content=b"x").status_code == 401  # the method is signed
    r = httpx.get(host + signed + "&inline")
    assert r.headers["content-disposition"] == "inline"
    r = httpx.get(host + signed + "&filename=q1.txt")
    assert r.headers["content-disposition"].startswith('attachment; filename="q1.txt"')
    # The container's key, sha1 and sha512, the path from /v1 and a base64 signature.
    expires = int(time.time()) + 60
    v1 = "/v1/" + url.rsplit("/v1/", 1)[1] + "/tmp/upload.bin"
    for digest in ("sha1", "sha512"):
        sig = hmac.new(b"cont-secret", f"PUT\n{expires}\n{v1}".encode(), getattr(hashlib, digest)).hexdigest()
        r = httpx.put(f"{url}/tmp/upload.bin", params={"temp_url_sig": sig, "temp_url_expires": expires},
                      content=digest.encode())
        assert r.status_code == 201, r.text
        assert conn.get_object("tmp", "upload.bin")[1] == digest.encode()
    raw = hmac.new(b"cont-secret", f"DELETE\n{expires}\n{v1}".encode(), hashlib.sha256).digest()
    sig = "sha256:" + base64.urlsafe_b64encode(raw).decode().rstrip("=")
    r = httpx.delete(f"{url}/tmp/upload.bin", params={"temp_url_sig": sig, "temp_url_expires": expires})
    assert r.status_code == 204


def test_tempurl_prefix_expiry_and_forgeries_are_401(shared_cloud: RunningCloud) -> None:
    conn = swift_connection(shared_cloud)
    url = conn.get_auth()[0]
    conn.post_account({"X-Account-Meta-Temp-URL-Key": "k2"})
    conn.put_container("pre")
    conn.put_object("pre", "logs/a", b"A")
    conn.put_object("pre", "other", b"O")
    expires = int(time.time()) + 60
    prefix_path = "/v1/" + url.rsplit("/v1/", 1)[1] + "/pre/logs/"
    sig = hmac.new(b"k2", f"GET\n{expires}\nprefix:{prefix_path}".encode(), hashlib.sha256).hexdigest()
    params = {"temp_url_sig": sig, "temp_url_expires": str(expires), "temp_url_prefix": "logs/"}
    assert httpx.get(f"{url}/pre/logs/a", params=params).content == b"A"
    assert httpx.get(f"{url}/pre/other", params=params).status_code == 401  # outside the prefix
    v1 = "/v1/" + url.rsplit("/v1/", 1)[1] + "/pre/other"
    expired = int(time.time()) - 1
    sig = hmac.new(b"k2", f"GET\n{expired}\n{v1}".encode(), hashlib.sha256).hexdigest()
    r = httpx.get(f"{url}/pre/other", params={"temp_url_sig": sig, "temp_url_expires": expired})
    assert r.status_code == 401 and "Temp URL invalid" in r.text
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
    sig = hmac.new(b"k2", f"GET\n{iso}\n{v1}".encode(), hashlib.sha256).hexdigest()
    assert httpx.get(f"{url}/pre/other", params={"temp_url_sig": sig, "temp_url_expires": iso}).content == b"O"
    bads: list[dict[str, str | int]] = [{"temp_url_sig": "0" * 64, "temp_url_expires": expires},
                {"temp_url_sig": "zz", "temp_url_expires": expires},
                {"temp_url_sig": "md5:AAAA", "temp_url_expires": expires},
                {"temp_url_sig": sig, "temp_url_expires": "tomorrow"},
                {"temp_url_sig": sig}]
    for bad in bads:
        r = httpx.get(f"{url}/pre/other", params=bad)
        assert r.status_code == 401, bad
    # Another account's key signs nothing here; nor does a signature for a container listing.
    sig = hmac.new(b"k2", f"GET\n{expires}\n{v1.rsplit('/', 1)[0]}".encode(), hashlib.sha256).hexdigest()
    assert httpx.get(f"{url}/pre", params={"temp_url_sig": sig, "temp_url_expires": expires}).status_code == 401
    conn.post_account({"X-Remove-Account-Meta-Temp-URL-Key": "x"})
    sig = hmac.new(b"k2", f"GET\n{expires}\n{v1}".encode(), hashlib.sha256).hexdigest()
    assert httpx.get(f"{url}/pre/other", params={"temp_url_sig": sig, "temp_url_expires": expires}).status_code == 401
