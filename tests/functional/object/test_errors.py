"""Bad requests over raw HTTP: Swift's status codes and HTML bodies, never a 500."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.functional.object.helpers import http, swift_error

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def demo(shared_cloud: RunningCloud) -> Iterator[tuple[httpx.Client, str]]:
    client, url = http(shared_cloud)
    assert client.put(f"{url}/errs").status_code in (201, 202)
    assert client.put(f"{url}/errs/obj", content=b"data").status_code == 201
    yield client, url
    client.close()


def _check(r: httpx.Response, status: int, title: str, text: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert r.text == swift_error(status, title, text)
    assert r.headers["x-openstack-request-id"].startswith("req-")


def test_etag_mismatch_is_422_and_nothing_is_stored(demo: tuple[httpx.Client, str]) -> None:
    client, url = demo
    r = client.put(f"{url}/errs/bad-etag", content=b"payload", headers={"ETag": "0" * 32})
    _check(r, 422, "Unprocessable Entity", "Unable to process the contained instructions")
    assert client.head(f"{url}/errs/bad-etag").status_code == 404


def test_missing_container_is_404(demo: tuple[httpx.Client, str]) -> None:
    client, url = demo
    _check(client.put(f"{url}/no-such-container/o", content=b"x"), 404, "Not Found",
           "The resource could not be found.")
    _check(client.get(f"{url}/no-such-container"), 404, "Not Found", "The resource could not be found.")
    _check(client.get(f"{url}/errs/no-such-object"), 404, "Not Found", "The resource could not be found.")


@pytest.mark.parametrize(("path", "text"), [
    ("/" + "c" * 257, "Container name length of 257 longer than 256"),
    ("/errs/" + "o" * 1025, "Object name length of 1025 longer than 1024"),
])
def test_names_too_long_are_400(demo: tuple[httpx.Client, str], path: str, text: str) -> None:
    client, url = demo
    _check(client.put(url + path, content=b""), 400, "Bad Request", text)


@pytest.mark.parametrize(("headers", "text"), [
    ({"X-Object-Meta-" + "k" * 129: "v"}, "Metadata name too long: x-object-meta-" + "k" * 129),
    ({"X-Object-Meta-Big": "v" * 257}, "Metadata value longer than 256: x-object-meta-big"),
    ({f"X-Object-Meta-K{i}": "v" for i in range(91)}, "Too many metadata items; max 90"),
    ({f"X-Object-Meta-K{i}": "v" * 200 for i in range(21)}, "Total metadata too large; max 4096"),
])
def test_metadata_limits_are_400(demo: tuple[httpx.Client, str], headers: dict[str, str], text: str) -> None:
    client, url = demo
    _check(client.post(f"{url}/errs/obj", headers=headers), 400, "Bad Request", text)
    _check(client.put(f"{url}/errs/obj2", content=b"x", headers=headers), 400, "Bad Request", text)


def test_listing_limit_and_delimiter_are_checked(demo: tuple[httpx.Client, str]) -> None:
    client, url = demo
    _check(client.get(f"{url}/errs", params={"limit": "10001"}), 412, "Precondition Failed",
           "Maximum limit is 10000")
    _check(client.get(f"{url}/errs", params={"limit": "many"}), 412, "Precondition Failed",
           "Value of limit must be a positive integer")
    _check(client.get(f"{url}/errs", params={"delimiter": "//"}), 412, "Precondition Failed", "Bad delimiter")


def test_put_without_length_is_411_and_too_large_is_413(demo: tuple[httpx.Client, str]) -> None:
    client, url = demo
    # httpx always frames a body; build the request by hand to send neither length nor chunks.
    req = client.build_request("PUT", f"{url}/errs/nolength")
    req.headers.pop("Content-Length", None)
    _check(client.send(req), 411, "Length Required", "Missing Content-Length header.")
    # An object over max_file_size is refused on its Content-Length, before any byte is sent.
    u = httpx.URL(f"{url}/errs/huge")
    with socket.create_connection((u.host, u.port), timeout=10) as sock:
        sock.sendall(f"PUT {u.raw_path.decode()} HTTP/1.1\r\nHost: {u.host}\r\n"
                     f"X-Auth-Token: {client.headers['X-Auth-Token']}\r\nContent-Length: 5368709123\r\n\r\n".encode())
        head = ""
        while "</html>" not in head:
            chunk = sock.recv(65536).decode("latin-1")
            if not chunk:
                break
            head += chunk
    assert head.startswith("HTTP/1.1 413 "), head
    assert "<h1>Request Entity Too Large</h1><p>Your request is too large.</p>" in head


def test_deleting_a_container_with_objects_is_409(demo: tuple[httpx.Client, str]) -> None:
    client, url = demo
    _check(client.delete(f"{url}/errs"), 409, "Conflict", "There was a conflict when trying to complete your request.")


def test_another_projects_account_is_403(shared_cloud: RunningCloud, demo: tuple[httpx.Client, str]) -> None:
    demo_client, demo_url = demo
    admin, _ = http(shared_cloud, "litestack-admin")
    with admin:
        for method in ("GET", "HEAD", "POST"):
            r = admin.request(method, demo_url)
            assert r.status_code == 403
        r = admin.get(f"{demo_url}/errs/obj")
        assert r.status_code == 403 and "<h1>Forbidden</h1>" in r.text
        assert admin.put(f"{demo_url}/errs/intruder", content=b"x").status_code == 403
    assert demo_client.head(f"{demo_url}/errs/intruder").status_code == 404


def test_no_token_is_401(demo: tuple[httpx.Client, str]) -> None:
    _, url = demo
    r = httpx.get(f"{url}/errs")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Keystone uri=")
    assert "<h1>Unauthorized</h1>" in r.text


def test_unsupported_methods_are_405(demo: tuple[httpx.Client, str]) -> None:
    client, url = demo
    r = client.put(url)
    assert r.status_code == 405 and "GET" in r.headers["allow"]
    assert client.request("PATCH", f"{url}/errs/obj").status_code == 405


def test_reseller_admin_reaches_every_account(shared_cloud: RunningCloud, demo: tuple[httpx.Client, str]) -> None:
    """Bootstrap creates Swift's ResellerAdmin role (``ServiceSpec.roles``); it opens every account."""
    _, demo_url = demo
    roles = shared_cloud.openstack("role", "list", "-f", "value", "-c", "Name", cloud="litestack-admin").stdout.split()
    assert "ResellerAdmin" in roles
    other = "reseller-test"
    shared_cloud.openstack("project", "create", other, cloud="litestack-admin")
    shared_cloud.openstack("role", "add", "--user", "admin", "--project", other, "ResellerAdmin",
                           cloud="litestack-admin")
    token = shared_cloud.openstack("token", "issue", "-f", "value", "-c", "id", "--os-project-name", other,
                                   cloud="litestack-admin").stdout.strip()
    r = httpx.get(f"{demo_url}/errs", headers={"X-Auth-Token": token}, params={"format": "json"})
    assert r.status_code == 200 and "obj" in [o["name"] for o in r.json()]


def test_every_answer_carries_swifts_trans_id_and_a_content_type(demo: tuple[httpx.Client, str]) -> None:
    client, url = demo
    for r in (client.put(f"{url}/errs/hdr", content=b"x"), client.delete(f"{url}/errs/hdr"),
              client.head(url), client.get(f"{url}/errs/missing")):
        assert re.match(r"^tx[0-9a-f]{21}-[0-9a-f]{10}$", r.headers["x-trans-id"]), r.headers
        assert "content-type" in r.headers and "date" in r.headers
    head = client.head(url)
    assert head.headers["x-account-storage-policy-policy-0-container-count"] == \
        head.headers["x-account-container-count"]
