"""The image API over raw HTTP and openstacksdk: discovery, schemas, data, and Glance's errors.

Every negative case checks the status code and Glance's error body (``{"code": "403 Forbidden",
"title", "message"}``), never a 500.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import RunningCloud, until
from tests.functional.image.conftest import Project, image_url, token

pytestmark = pytest.mark.functional

PATCH = "application/openstack-images-v2.1-json-patch"


@pytest.fixture(scope="module")
def h(cloud: RunningCloud) -> dict[str, str]:
    """The demo user's headers (member of project demo)."""
    return {"X-Auth-Token": token(cloud)}


@pytest.fixture
def new_image(cloud: RunningCloud, h: dict[str, str]) -> Callable[..., dict[str, Any]]:
    def make(**body: Any) -> dict[str, Any]:
        body = {"disk_format": "raw", "container_format": "bare", **body}
        r = httpx.post(image_url(cloud), json=body, headers=h)
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()
        return created
    return make


def glance_error(r: httpx.Response, status: int, text: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"].startswith(str(status)) and body["title"], body
    assert text in body["message"], body


def test_version_discovery_schemas_and_info(cloud: RunningCloud, h: dict[str, str]) -> None:
    for path in ("/image", "/image/", "/image/versions"):
        r = httpx.get(cloud.url + path)
        assert r.status_code == 300
        versions = {v["id"]: v for v in r.json()["versions"]}
        assert versions["v2.17"]["status"] == "CURRENT"
        assert versions["v2.0"]["links"][0]["href"] == f"{cloud.url}/image/v2/"
    schema = httpx.get(f"{cloud.url}/image/v2/schemas/image", headers=h).json()
    assert schema["name"] == "image" and schema["additionalProperties"] == {"type": "string"}
    assert "qcow2" in schema["properties"]["disk_format"]["enum"]
    members = httpx.get(f"{cloud.url}/image/v2/schemas/members", headers=h).json()
    assert members["properties"]["members"]["items"]["name"] == "member"
    for name in ("images", "member", "task", "tasks"):
        assert httpx.get(f"{cloud.url}/image/v2/schemas/{name}", headers=h).status_code == 200
    glance_error(httpx.get(f"{cloud.url}/image/v2/schemas/nothing", headers=h), 404, "could not be found")
    stores = httpx.get(f"{cloud.url}/image/v2/info/stores", headers=h).json()["stores"]
    assert [(s["id"], s.get("default")) for s in stores] == [("fast", "true"), ("cheap", None)]
    assert httpx.get(f"{cloud.url}/image/v2/info/import", headers=h).json()["import-methods"]["type"] == "array"
    usage = httpx.get(f"{cloud.url}/image/v2/info/usage", headers=h).json()["usage"]
    assert set(usage) == {"image_size_total", "image_stage_total", "image_count_total", "image_count_uploading"}
    # The store details are the admin's.
    glance_error(httpx.get(f"{cloud.url}/image/v2/info/stores/detail", headers=h), 403, "stores_info_detail")


def test_sdk_create_with_data_and_download(cloud: RunningCloud) -> None:
    conn = cloud.sdk()
    data = os.urandom(2 * 1024 * 1024 + 3)
    img = conn.image.create_image(name="sdk-one", data=data, disk_format="raw", container_format="bare",
                                  wait=True)
    img = conn.image.get_image(img.id)
    assert img.status == "active" and img.size == len(data) and img.virtual_size == len(data)
    got = conn.image.download_image(img)
    assert got.content == data
    found = conn.image.find_image("sdk-one")
    assert found is not None and found.id == img.id
    conn.image.update_image(img, min_ram=512)
    conn.image.add_tag(img, "a")
    img = conn.image.get_image(img.id)
    assert img.min_ram == 512 and img.tags == ["a"]
    conn.image.delete_image(img)
    assert conn.image.find_image("sdk-one") is None


def test_range_requests(cloud: RunningCloud, h: dict[str, str], new_image: Callable[..., dict[str, Any]]) -> None:
    img = new_image(name="ranged")
    data = bytes(range(256)) * 40
    put = httpx.put(image_url(cloud, f"/{img['id']}/file"), content=data,
                    headers={**h, "Content-Type": "application/octet-stream"})
    assert put.status_code == 204, put.text
    url = image_url(cloud, f"/{img['id']}/file")
    r = httpx.get(url, headers={**h, "Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert httpx.get(url, headers={**h, "Range": "bytes=-5"}).content == data[-5:]
    full = httpx.get(url, headers=h)
    assert full.status_code == 200 and full.content == data and full.headers["Content-MD5"] == full.headers.get(
        "content-md5") and int(full.headers["Content-Length"]) == len(data)
    glance_error(httpx.get(url, headers={**h, "Range": f"bytes={len(data)}-"}), 416, "not satisfiable")


def test_json_patch_errors(cloud: RunningCloud, h: dict[str, str], new_image: Callable[..., dict[str, Any]]) -> None:
    img = new_image(name="patched", custom="1")
    url = image_url(cloud, f"/{img['id']}")

    def patch(body: Any, ctype: str = PATCH) -> httpx.Response:
        return httpx.patch(url, json=body, headers={**h, "Content-Type": ctype})

    bad_type = patch([], "application/json")
    glance_error(bad_type, 415, "Image PATCH expects Content-Type one of")
    assert PATCH in bad_type.headers["Accept-Patch"]
    glance_error(patch({"op": "add"}), 400, "Request body must be a JSON array of operation objects.")
    glance_error(patch([{"op": "move", "path": "/name", "value": "x"}]), 400, "Invalid operation: `move`")
    glance_error(patch([{"op": "add", "path": "name", "value": "x"}]), 400, 'does not start with "/"')
    glance_error(patch([{"op": "add", "path": "/name"}]), 400, 'requires a member named "value"')
    glance_error(patch([{"op": "replace", "path": "/status", "value": "active"}]), 403,
                 "Attribute 'status' is read-only.")
    glance_error(patch([{"op": "add", "path": "/deleted", "value": "x"}]), 403, "Attribute 'deleted' is reserved.")
    glance_error(patch([{"op": "remove", "path": "/name"}]), 403, "Property name may not be removed.")
    glance_error(patch([{"op": "replace", "path": "/missing", "value": "x"}]), 409, "Property missing does not exist.")
    glance_error(patch([{"op": "replace", "path": "/disk_format", "value": "bogus"}]), 400, "disk_format")
    glance_error(patch([{"op": "replace", "path": "/min_ram", "value": "lots"}]), 400, "min_ram")
    glance_error(patch([{"op": "replace", "path": "/visibility", "value": "public"}]), 403, "publicize_image")
    glance_error(patch([{"op": "replace", "path": "/owner", "value": "someone"}]), 403,
                 "Owner can't be updated by non admin.")
    # The v2.0 media type (draft 4) works too, and a good patch applies everything at once.
    ok = httpx.patch(url, json=[{"replace": "/name", "value": "renamed"}],
                     headers={**h, "Content-Type": "application/openstack-images-v2.0-json-patch"})
    assert ok.status_code == 200 and ok.json()["name"] == "renamed", ok.text
    ok = patch([{"op": "add", "path": "/extra", "value": "e"}, {"op": "remove", "path": "/custom"},
                {"op": "replace", "path": "/tags", "value": ["x", "y"]}, {"op": "add", "path": "/os_hidden",
                                                                         "value": True}])
    body = ok.json()
    assert ok.status_code == 200 and body["extra"] == "e" and "custom" not in body
    assert body["tags"] == ["x", "y"] and body["os_hidden"] is True
    # Hidden images leave the default list, and come back with os_hidden=true.
    listed = httpx.get(image_url(cloud), headers=h).json()["images"]
    assert img["id"] not in [i["id"] for i in listed]
    listed = httpx.get(image_url(cloud), params={"os_hidden": "true"}, headers=h).json()["images"]
    assert img["id"] in [i["id"] for i in listed]


def test_create_errors(cloud: RunningCloud, h: dict[str, str]) -> None:
    def post(body: Any) -> httpx.Response:
        return httpx.post(image_url(cloud), json=body, headers=h)

    glance_error(post({"name": "x", "disk_format": "bogus"}), 400, "disk_format")
    glance_error(post({"name": "x", "container_format": "bogus"}), 400, "container_format")
    glance_error(post({"name": "x", "checksum": "abc"}), 403, "Attribute 'checksum' is read-only.")
    glance_error(post({"name": "x", "self": "abc"}), 403, "Attribute 'self' is read-only.")
    glance_error(post({"name": "x", "location": "http://x"}), 403, "Attribute 'location' is reserved.")
    glance_error(post({"name": "x", "os_glance_thing": "x"}), 403, "is reserved")
    glance_error(post({"name": "x", "custom": 5}), 400, "does not match schema")
    glance_error(post({"name": "x", "visibility": "public"}), 403, "publicize_image")
    glance_error(post({"name": "x", "owner": "another-project"}), 403, "add_image")
    glance_error(post(["not", "an", "object"]), 400, "")
    r = httpx.post(image_url(cloud), content=b"{not json", headers={**h, "Content-Type": "application/json"})
    glance_error(r, 400, "Malformed JSON")
    # An id may be given, once.
    given = "2b5d4a8c-9e0e-4f0e-8b8e-1f7a3c9d2e11"
    assert post({"id": given, "name": "with-id"}).status_code == 201
    glance_error(post({"id": given, "name": "again"}), 409, given)


def test_data_and_visibility_errors(cloud: RunningCloud, h: dict[str, str], other_project: Project,
                                    new_image: Callable[..., dict[str, Any]]) -> None:
    img = new_image(name="private-one", visibility="private", protected=True)
    url = image_url(cloud, f"/{img['id']}")
    # A queued image has no data: 204, as Glance answers.
    r = httpx.get(url + "/file", headers=h)
    assert r.status_code == 204 and r.content == b""
    # Another project's private image is not found, whatever the verb.
    other = {"X-Auth-Token": other_project.token()}
    glance_error(httpx.get(url, headers=other), 404, f"No image found with ID {img['id']}")
    glance_error(httpx.delete(url, headers=other), 404, "No image found")
    glance_error(httpx.put(url + "/file", content=b"x", headers={**other, "Content-Type":
                                                                  "application/octet-stream"}), 404, "No image")
    assert img["id"] not in [i["id"] for i in httpx.get(image_url(cloud), headers=other).json()["images"]]
    # Protected: 403 on delete.
    glance_error(httpx.delete(url, headers=h), 403, "is protected and cannot be deleted")
    # Members only for shared images.
    glance_error(httpx.post(url + "/members", json={"member": other_project.id}, headers=h), 403,
                 "Only shared images have members.")
    # Wrong Content-Type for data.
    glance_error(httpx.put(url + "/file", content=b"x", headers={**h, "Content-Type": "text/plain"}), 415,
                 "text/plain")
    ok = httpx.put(url + "/file", content=b"data", headers={**h, "Content-Type": "application/octet-stream"})
    assert ok.status_code == 204
    # A second upload to an active image conflicts.
    glance_error(httpx.put(url + "/file", content=b"more", headers={**h, "Content-Type":
                                                                     "application/octet-stream"}), 409,
                 "active")
    # Tags: add, idempotent, remove, missing.
    assert httpx.put(url + "/tags/blue", headers=h).status_code == 204
    assert httpx.put(url + "/tags/blue", headers=h).status_code == 204
    assert httpx.get(url, headers=h).json()["tags"] == ["blue"]
    assert httpx.delete(url + "/tags/blue", headers=h).status_code == 204
    glance_error(httpx.delete(url + "/tags/blue", headers=h), 404, "blue")
    # Deactivate by its owner (Glance's 2024 default: admin or project member), then unprotect and delete.
    assert httpx.post(url + "/actions/deactivate", headers=h).status_code == 204
    glance_error(httpx.post(url + "/actions/deactivate", headers=other), 404, "No image")
    assert httpx.post(url + "/actions/reactivate", headers=h).status_code == 204
    patched = httpx.patch(url, json=[{"op": "replace", "path": "/protected", "value": False}],
                          headers={**h, "Content-Type": PATCH})
    assert patched.status_code == 200
    assert httpx.delete(url, headers=h).status_code == 204
    glance_error(httpx.get(url, headers=h), 404, "No image found")


def _store_files(cloud: RunningCloud, image_id: str) -> list[str]:
    d = cloud.data_dir / "image" / "stores" / "fast"
    return [p.name for p in d.iterdir() if image_id in p.name]


def test_interrupted_upload_leaves_queued_image_and_no_file(
        cloud: RunningCloud, h: dict[str, str], new_image: Callable[..., dict[str, Any]]) -> None:
    img = new_image(name="cut-short")
    path = f"/image/v2/images/{img['id']}/file"
    with socket.create_connection(("127.0.0.1", cloud.port)) as s:
        head = (f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: {h['X-Auth-Token']}\r\n"
                "Content-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n")
        s.sendall(head.encode() + b"x" * 3_000_000)
        url = image_url(cloud, f"/{img['id']}")
        assert until(lambda: httpx.get(url, headers=h).json()["status"] == "saving", 10)
        # the client goes away in the middle of the body
    assert until(lambda: httpx.get(url, headers=h).json()["status"] == "queued", 10)
    assert until(lambda: _store_files(cloud, img["id"]) == [], 10)
    # A new upload works.
    data = b"y" * 1000
    ok = httpx.put(url + "/file", content=data, headers={**h, "Content-Type": "application/octet-stream"})
    assert ok.status_code == 204, ok.text
    assert httpx.get(url + "/file", headers=h).content == data


def test_content_length_over_the_cap_and_bad(cloud: RunningCloud, h: dict[str, str],
                                             new_image: Callable[..., dict[str, Any]]) -> None:
    img = new_image(name="bad-length")
    path = f"/image/v2/images/{img['id']}/file"
    with socket.create_connection(("127.0.0.1", cloud.port)) as s:
        s.sendall((f"PUT {path} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {h['X-Auth-Token']}\r\n"
                   "Content-Type: application/octet-stream\r\nContent-Length: abc\r\n\r\n").encode())
        s.settimeout(10)
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400"), reply
    huge = 1 << 41  # over [image] image_size_cap (1 TiB): refused before a byte is read
    with socket.create_connection(("127.0.0.1", cloud.port)) as s:
        s.sendall((f"PUT {path} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {h['X-Auth-Token']}\r\n"
                   f"Content-Type: application/octet-stream\r\nContent-Length: {huge}\r\n\r\n").encode())
        s.settimeout(10)
        reply = s.recv(4096)
        while b"}" not in reply:  # the body may come in a second packet
            more = s.recv(4096)
            if not more:
                break
            reply += more
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert b"The incoming image is too large" in reply
    time.sleep(0)  # nothing left behind:
    assert httpx.get(image_url(cloud, f"/{img['id']}"), headers=h).json()["status"] == "queued"


def test_list_query_errors_and_next_link(cloud: RunningCloud, h: dict[str, str],
                                         new_image: Callable[..., dict[str, Any]]) -> None:
    for i in range(3):
        new_image(name=f"paged-{i}", pagegroup="g1")
    r = httpx.get(image_url(cloud), params={"pagegroup": "g1", "limit": 2}, headers=h)
    body = r.json()
    assert [i["name"] for i in body["images"]] == ["paged-2", "paged-1"]
    assert body["schema"] == "/v2/schemas/images" and body["first"].startswith("/v2/images?")
    nxt = httpx.get(f"{cloud.url}/image{body['next']}", headers=h).json()
    assert [i["name"] for i in nxt["images"]] == ["paged-0"] and "next" not in nxt
    since = httpx.get(image_url(cloud), params={"pagegroup": "g1", "created_at": "gt:2000-01-01T00:00:00Z"},
                      headers=h).json()["images"]
    assert len(since) == 3
    assert httpx.get(image_url(cloud), params={"pagegroup": "g1", "created_at": "lt:2000-01-01T00:00:00Z"},
                     headers=h).json()["images"] == []
    asc = httpx.get(image_url(cloud), params={"pagegroup": "g1", "sort": "name:asc"}, headers=h).json()
    assert [i["name"] for i in asc["images"]] == ["paged-0", "paged-1", "paged-2"]
    for params, text in (({"limit": "x"}, "limit param must be an integer"),
                         ({"limit": "-1"}, "limit param must be positive"),
                         ({"sort_key": "nope"}, "Invalid sort key: nope"),
                         ({"sort_dir": "up"}, "Invalid sort direction: up"),
                         ({"visibility": "secret"}, "Invalid visibility value: secret"),
                         ({"member_status": "maybe"}, "Invalid status: maybe"),
                         ({"os_hidden": "perhaps"}, "Invalid value 'perhaps' for 'os_hidden' filter"),
                         ({"size_min": "big"}, "non-numeric"),
                         ({"created_at": "gt:yesterday"}, "ISO 8601"),
                         ({"marker": "0000"}, "0000")):
        glance_error(httpx.get(image_url(cloud), params=params, headers=h), 400, text)


def test_parallel_uploads_arrive_intact(cloud: RunningCloud, h: dict[str, str],
                                        new_image: Callable[..., dict[str, Any]]) -> None:
    """20 uploads of 50 MiB at once (issue 8 §3): every image is active with its own bytes and
    checksums. The data is streamed from a generator (a random MiB per image, each copy numbered),
    so the test holds 20 MiB, not 1 GiB."""
    import hashlib
    from collections.abc import Iterator
    from concurrent.futures import ThreadPoolExecutor

    mib, count, size = 1 << 20, 20, 50
    seeds = [os.urandom(mib) for _ in range(count)]

    def chunks(i: int) -> Iterator[bytes]:
        for n in range(size):
            yield n.to_bytes(8, "big") + seeds[i][8:]

    def digest(i: int) -> str:
        h512 = hashlib.sha512()
        for c in chunks(i):
            h512.update(c)
        return h512.hexdigest()

    images = [new_image(name=f"parallel-{i}") for i in range(count)]

    def upload(i: int) -> int:
        r = httpx.put(image_url(cloud, f"/{images[i]['id']}/file"), content=chunks(i), timeout=300,
                      headers={**h, "Content-Type": "application/octet-stream",
                               "Content-Length": str(size * mib)})
        return r.status_code

    with ThreadPoolExecutor(count) as pool:
        assert list(pool.map(upload, range(count))) == [204] * count
    for i, img in enumerate(images):
        shown = httpx.get(image_url(cloud, f"/{img['id']}"), headers=h).json()
        assert shown["status"] == "active" and shown["size"] == size * mib
        assert shown["os_hash_value"] == digest(i)
        got = hashlib.sha512()
        with httpx.stream("GET", image_url(cloud, f"/{img['id']}/file"), headers=h, timeout=120) as r:
            for c in r.iter_bytes(mib):
                got.update(c)
        assert got.hexdigest() == shown["os_hash_value"]


def test_quotas_from_unified_limits(cloud: RunningCloud, other_project: Project) -> None:
    """Glance's unified limits, set for one project in identity with the real CLI: 413 with
    oslo.limit's message, and the count holds under concurrent creates."""
    from concurrent.futures import ThreadPoolExecutor

    admin = "litestack-admin"

    def limit(resource: str, value: int) -> str:
        out: str = cloud.openstack("limit", "create", "--service", "glance", "--region", "RegionOne",
                                   "--project", other_project.id,
                                   "--resource-limit", str(value), resource, "-f", "value", "-c", "id",
                                   cloud=admin).stdout.strip()
        return out

    h = {"X-Auth-Token": other_project.token()}
    count_limit = limit("image_count_total", 2)
    limit("image_size_total", 1)  # MiB

    def create(name: str) -> httpx.Response:
        return httpx.post(image_url(cloud), json={"name": name, "disk_format": "raw", "container_format": "bare"},
                          headers=h, timeout=60)

    a = create("quota-a")
    assert a.status_code == 201, a.text
    # Usage is 0 MiB when the upload starts: it may take the project over its size limit ...
    up = httpx.put(image_url(cloud, f"/{a.json()['id']}/file"), content=os.urandom(2 << 20),
                   headers={**h, "Content-Type": "application/octet-stream"})
    assert up.status_code == 204, up.text
    b = create("quota-b")
    assert b.status_code == 201
    # ... and then no upload starts until it is under again.
    glance_error(httpx.put(image_url(cloud, f"/{b.json()['id']}/file"), content=b"x",
                           headers={**h, "Content-Type": "application/octet-stream"}), 413,
                 "Resource image_size_total is over limit of 1 due to current usage 2 and delta 0")
    glance_error(create("quota-c"), 413, "Resource image_count_total is over limit of 2")
    usage = httpx.get(f"{cloud.url}/image/v2/info/usage", headers=h).json()["usage"]
    assert usage["image_count_total"] == {"limit": 2, "usage": 2}
    assert usage["image_size_total"] == {"limit": 1, "usage": 2}
    for r in (a, b):
        assert httpx.delete(image_url(cloud, f"/{r.json()['id']}"), headers=h).status_code == 204

    # Concurrent creates: exactly the limit's worth pass.
    cloud.openstack("limit", "set", "--resource-limit", "5", count_limit, cloud=admin)
    with ThreadPoolExecutor(12) as pool:
        codes = sorted(r.status_code for r in pool.map(create, [f"race-{i}" for i in range(12)]))
    assert codes == [201] * 5 + [413] * 7, codes
