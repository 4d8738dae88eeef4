"""Bulk delete and archive extraction (``middleware/bulk.py``), FormPost (``middleware/formpost.py``)
and CORS (``middleware/cors.py``), over real HTTP and the ``swift`` command."""

from __future__ import annotations

import hashlib
import hmac
import io
import tarfile
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from swiftclient.exceptions import ClientException

from tests.conftest import RunningCloud
from tests.functional.object.helpers import http, swift_cli, swift_connection

pytestmark = pytest.mark.functional


def _tar(files: dict[str, bytes], mode: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tar:  # type: ignore[call-overload]
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_extract_archive_tar_gz_bz2_and_bulk_delete(shared_cloud: RunningCloud, tmp_path: Path) -> None:
    client, url = http(shared_cloud)
    conn = swift_connection(shared_cloud)
    with client:
        files = {"photos/a.jpg": b"A" * 10, "photos/sub/b.jpg": b"B" * 20, "docs/c.txt": b"C"}
        r = client.put(f"{url}?extract-archive=tar", content=_tar(files, "w"), headers={"Accept": "application/json"})
        assert r.status_code == 200, r.text
        assert r.json()["Number Files Created"] == 3 and r.json()["Errors"] == []
        assert conn.get_object("photos", "sub/b.jpg")[1] == b"B" * 20
        assert conn.get_object("docs", "c.txt")[1] == b"C"
        r = client.put(f"{url}/photos/2024?extract-archive=tar.gz", content=_tar({"x.jpg": b"x"}, "w:gz"))
        assert r.status_code == 200 and "Number Files Created: 1" in r.text
        assert conn.get_object("photos", "2024/x.jpg")[1] == b"x"
        r = client.put(f"{url}/photos?extract-archive=tar.bz2", content=_tar({"y.jpg": b"y"}, "w:bz2"))
        assert r.status_code == 200 and "Number Files Created: 1" in r.text
        r = client.put(f"{url}/photos?extract-archive=tar.gz", content=b"not an archive")
        assert r.status_code == 400
        r = client.put(f"{url}/photos?extract-archive=zip", content=b"")
        assert r.status_code == 400
        # Bulk delete: objects, a missing one, a container that is not empty yet, then empty ones.
        body = "\n".join(["/photos/a.jpg", "/photos/sub/b.jpg", "/photos/nope", "/docs",
                          "/photos/2024/x.jpg", "/photos/y.jpg"])
        r = client.post(f"{url}?bulk-delete", content=body, headers={"Accept": "application/json",
                                                                   "Content-Type": "text/plain"})
        report = r.json()
        assert r.status_code == 200 and report["Number Deleted"] == 4 and report["Number Not Found"] == 1
        assert report["Errors"] == [["/docs", "409 Conflict"]] and report["Response Status"] == "400 Bad Request"
        r = client.post(f"{url}?bulk-delete", content="/docs/c.txt\n/docs\n/photos\n")
        assert r.status_code == 200 and "Number Deleted: 3" in r.text
        with pytest.raises(ClientException):
            conn.head_container("photos")
        assert httpx.post(f"{url}?bulk-delete", content="/x").status_code == 401
    # The swift command's own bulk delete (swift delete of many objects uses ?bulk-delete).
    conn.put_container("many")
    for i in range(5):
        conn.put_object("many", f"o{i}", b"z")
    swift_cli(shared_cloud, "delete", "many")
    with pytest.raises(ClientException):
        conn.head_container("many")
    assert "bulk_delete" in conn.get_capabilities()


def test_formpost_uploads_signed_forms(shared_cloud: RunningCloud) -> None:
    conn = swift_connection(shared_cloud)
    url = conn.get_auth()[0]
    conn.put_container("uploads", headers={"X-Container-Meta-Temp-URL-Key": "form-key"})
    path = urlparse(url).path + "/uploads/in/"
    expires = int(time.time()) + 60

    def form(redirect: str = "", max_size: int = 100, count: int = 2, exp: int = expires,
             key: bytes = b"form-key") -> dict[str, str]:
        body = f"{path}\n{redirect}\n{max_size}\n{count}\n{exp}"
        return {"redirect": redirect, "max_file_size": str(max_size), "max_file_count": str(count),
                "expires": str(exp), "signature": hmac.new(key, body.encode(), hashlib.sha256).hexdigest()}

    r = httpx.post(f"{url}/uploads/in/", data=form("https://example.com/done"),
                   files=[("f1", ("a.txt", b"first", "text/plain")), ("f2", ("b.txt", b"second", "text/plain"))])
    assert r.status_code == 303 and r.headers["location"] == "https://example.com/done?status=201&message="
    assert conn.get_object("uploads", "in/a.txt")[1] == b"first"
    assert conn.get_object("uploads", "in/b.txt")[0]["content-type"] == "text/plain"
    r = httpx.post(f"{url}/uploads/in/", data=form(), files=[("f", ("c.txt", b"third", "text/plain"))])
    assert r.status_code == 201
    r = httpx.post(f"{url}/uploads/in/", data=form(max_size=3), files=[("f", ("d.txt", b"toolong", "text/plain"))])
    assert r.status_code == 400 and "max_file_size exceeded" in r.text
    r = httpx.post(f"{url}/uploads/in/", data=form(count=1), files=[("f", ("e", b"1")), ("g", ("f", b"2"))])
    assert r.status_code == 400 and "max file count exceeded" in r.text
    r = httpx.post(f"{url}/uploads/in/", data=form(key=b"wrong"), files=[("f", ("g.txt", b"x"))])
    assert r.status_code == 401 and "Invalid Signature" in r.text
    r = httpx.post(f"{url}/uploads/in/", data=form(exp=int(time.time()) - 5), files=[("f", ("g.txt", b"x"))])
    assert r.status_code == 401 and "Form Expired" in r.text
    r = httpx.post(f"{url}/uploads/elsewhere/", data=form(), files=[("f", ("g.txt", b"x"))])
    assert r.status_code == 401  # the path is signed
    assert [o["name"] for o in conn.get_container("uploads")[1]] == ["in/a.txt", "in/b.txt", "in/c.txt"]


def test_cors_preflight_and_actual_requests(shared_cloud: RunningCloud) -> None:
    conn = swift_connection(shared_cloud)
    url = conn.get_auth()[0]
    token = conn.get_auth()[1]
    conn.put_container("web", headers={"X-Container-Meta-Access-Control-Allow-Origin": "https://app.example",
                                       "X-Container-Meta-Access-Control-Max-Age": "600",
                                       "X-Container-Meta-Access-Control-Expose-Headers": "X-Custom"})
    conn.put_object("web", "data.json", b"{}", headers={"X-Object-Meta-Color": "red"})
    r = httpx.options(f"{url}/web/data.json", headers={"Origin": "https://app.example",
                                                       "Access-Control-Request-Method": "GET",
                                                       "Access-Control-Request-Headers": "x-auth-token"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    assert "GET" in r.headers["access-control-allow-methods"] and r.headers["access-control-max-age"] == "600"
    assert r.headers["access-control-allow-headers"] == "x-auth-token"
    r = httpx.options(f"{url}/web/data.json", headers={"Origin": "https://evil.example",
                                                       "Access-Control-Request-Method": "GET"})
    assert r.status_code == 401
    r = httpx.options(f"{url}/web/data.json")
    assert r.status_code == 200 and "GET" in r.headers["allow"]
    r = httpx.get(f"{url}/web/data.json", headers={"Origin": "https://app.example", "X-Auth-Token": token})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://app.example"
    exposed = r.headers["access-control-expose-headers"]
    assert "etag" in exposed and "x-object-meta-color" in exposed and "x-custom" in exposed
    r = httpx.get(f"{url}/web/data.json", headers={"Origin": "https://evil.example", "X-Auth-Token": token})
    assert "access-control-allow-origin" not in r.headers
    conn.post_container("web", headers={"X-Container-Meta-Access-Control-Allow-Origin": "*"})
    r = httpx.options(f"{url}/web/data.json", headers={"Origin": "https://any.example",
                                                       "Access-Control-Request-Method": "PUT"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
