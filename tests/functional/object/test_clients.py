"""Object storage through its real clients: python-swiftclient (library and ``swift`` command),
the ``openstack`` command."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import httpx
import pytest
from swiftclient.exceptions import ClientException

from tests.conftest import RunningCloud
from tests.functional.object.helpers import byteranges, http, swift_cli, swift_connection

pytestmark = pytest.mark.functional


def test_swiftclient_container_and_object_round_trip(shared_cloud: RunningCloud) -> None:
    conn = swift_connection(shared_cloud)
    conn.put_container("lib", headers={"X-Container-Meta-Owner": "tests"})
    data = bytes(range(256)) * 4096  # 1 MiB
    etag = conn.put_object("lib", "dir/blob.bin", data, headers={"X-Object-Meta-Color": "blue"})
    assert etag == hashlib.md5(data, usedforsecurity=False).hexdigest()
    headers, body = conn.get_object("lib", "dir/blob.bin")
    assert body == data
    assert headers["etag"] == etag and headers["x-object-meta-color"] == "blue"
    assert headers["content-length"] == str(len(data))
    head = conn.head_container("lib")
    assert head["x-container-meta-owner"] == "tests"
    assert head["x-container-object-count"] == "1" and head["x-container-bytes-used"] == str(len(data))
    conn.post_object("lib", "dir/blob.bin", headers={"X-Object-Meta-Size": "big"})
    meta = conn.head_object("lib", "dir/blob.bin")
    assert meta["x-object-meta-size"] == "big" and "x-object-meta-color" not in meta  # POST replaces
    conn.delete_object("lib", "dir/blob.bin")
    with pytest.raises(ClientException) as exc:
        conn.get_object("lib", "dir/blob.bin")
    assert exc.value.http_status == 404
    conn.delete_container("lib")
    with pytest.raises(ClientException) as exc:
        conn.head_container("lib")
    assert exc.value.http_status == 404


def test_listings_with_prefix_delimiter_markers_limit_reverse(shared_cloud: RunningCloud) -> None:
    conn = swift_connection(shared_cloud)
    conn.put_container("listing")
    names = ["a", "b/1", "b/2", "b/3/x", "c", "d"]
    for n in names:
        conn.put_object("listing", n, n.encode(), content_type="text/plain")
    _, rows = conn.get_container("listing")
    assert [r["name"] for r in rows] == names
    assert rows[0]["bytes"] == 1 and rows[0]["hash"] == hashlib.md5(b"a", usedforsecurity=False).hexdigest()
    assert rows[0]["content_type"] == "text/plain" and "last_modified" in rows[0]
    _, rows = conn.get_container("listing", delimiter="/")
    assert [r.get("name", r.get("subdir")) for r in rows] == ["a", "b/", "c", "d"]
    _, rows = conn.get_container("listing", prefix="b/", delimiter="/")
    assert [r.get("name", r.get("subdir")) for r in rows] == ["b/1", "b/2", "b/3/"]
    _, rows = conn.get_container("listing", marker="b/1", end_marker="c")
    assert [r["name"] for r in rows] == ["b/2", "b/3/x"]
    _, rows = conn.get_container("listing", limit=2)
    assert [r["name"] for r in rows] == ["a", "b/1"]
    _, rows = conn.get_container("listing", headers={}, query_string="reverse=true&limit=2")
    assert [r["name"] for r in rows] == ["d", "c"]
    _, rows = conn.get_container("listing", full_listing=True)
    assert len(rows) == len(names)
    # The account lists the container with its counts (reported by the container servers).
    _, containers = conn.get_account(prefix="listing")
    assert [c["name"] for c in containers] == ["listing"]


def test_swift_command_upload_list_stat_post_download_delete(shared_cloud: RunningCloud, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "one.txt").write_text("one\n")
    (src / "sub" / "two.json").write_text(json.dumps({"two": 2}))
    big = src / "big.bin"
    big.write_bytes(hashlib.sha512(b"x").digest() * 40000)  # 2.5 MiB
    swift_cli(shared_cloud, "upload", "cli", "one.txt", "sub", "big.bin", cwd=src)
    listed = swift_cli(shared_cloud, "list", "cli").stdout.split()
    assert listed == ["big.bin", "one.txt", "sub/two.json"]
    stat = swift_cli(shared_cloud, "stat", "cli").stdout
    assert "Objects: 3" in stat
    swift_cli(shared_cloud, "post", "-m", "team:storage", "cli", "one.txt")
    stat = swift_cli(shared_cloud, "stat", "cli", "one.txt").stdout
    assert "Meta Team: storage" in stat and "Content Type: text/plain" in stat
    dst = tmp_path / "dst"
    dst.mkdir()
    swift_cli(shared_cloud, "download", "cli", cwd=dst)
    assert (dst / "big.bin").read_bytes() == big.read_bytes()
    assert json.loads((dst / "sub" / "two.json").read_text()) == {"two": 2}
    account = swift_cli(shared_cloud, "stat").stdout
    assert "Containers:" in account
    swift_cli(shared_cloud, "delete", "cli")
    assert "cli" not in swift_cli(shared_cloud, "list").stdout.split()


def test_openstack_container_and_object_commands(shared_cloud: RunningCloud, tmp_path: Path) -> None:
    shared_cloud.openstack("container", "create", "osc")
    assert "osc" in shared_cloud.openstack("container", "list", "-f", "value").stdout.split()
    f = tmp_path / "hello.txt"
    f.write_text("hello from osc\n")
    shared_cloud.openstack("object", "create", "osc", str(f), "--name", "hello.txt")
    show = json.loads(shared_cloud.openstack("object", "show", "osc", "hello.txt", "-f", "json").stdout)
    assert show["content-length"] == str(f.stat().st_size) and show["content-type"] == "text/plain"
    assert show["etag"] == hashlib.md5(f.read_bytes(), usedforsecurity=False).hexdigest()
    out = tmp_path / "out.txt"
    shared_cloud.openstack("object", "save", "osc", "hello.txt", "--file", str(out))
    assert out.read_text() == "hello from osc\n"
    shared_cloud.openstack("object", "delete", "osc", "hello.txt")
    assert shared_cloud.openstack("object", "list", "osc", "-f", "value").stdout.strip() == ""
    shared_cloud.openstack("container", "delete", "osc")


def test_ranges_and_conditional_requests(shared_cloud: RunningCloud) -> None:
    conn = swift_connection(shared_cloud)
    conn.put_container("ranges")
    etag = conn.put_object("ranges", "digits", b"0123456789")
    headers, body = conn.get_object("ranges", "digits", headers={"Range": "bytes=2-4"})
    assert body == b"234" and headers["content-range"] == "bytes 2-4/10"
    _, body = conn.get_object("ranges", "digits", headers={"Range": "bytes=-3"})
    assert body == b"789"
    headers, body = conn.get_object("ranges", "digits", headers={"Range": "bytes=0-0,8-"})
    ctype = headers["content-type"]
    assert ctype.startswith("multipart/byteranges;boundary=")
    boundary = ctype.split("=", 1)[1].encode()
    parts = [p for p in body.split(b"--" + boundary) if p.strip(b"-\r\n")]
    assert [p.split(b"\r\n\r\n", 1)[1].rstrip(b"\r\n") for p in parts] == [b"0", b"89"]
    assert b"Content-Range: bytes 8-9/10" in parts[1]
    with pytest.raises(ClientException) as exc:
        conn.get_object("ranges", "digits", headers={"Range": "bytes=20-30"})
    assert exc.value.http_status == 416
    with pytest.raises(ClientException) as exc:
        conn.get_object("ranges", "digits", headers={"If-Match": '"other"'})
    assert exc.value.http_status == 412
    headers, _ = conn.get_object("ranges", "digits", headers={"If-Match": etag})
    assert headers["etag"] == etag
    with pytest.raises(ClientException) as exc:
        conn.get_object("ranges", "digits", headers={"If-None-Match": etag})
    assert exc.value.http_status == 304
    with pytest.raises(ClientException) as exc:
        conn.get_object("ranges", "digits", headers={"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"})
    assert exc.value.http_status == 304
    with pytest.raises(ClientException) as exc:
        conn.get_object("ranges", "digits", headers={"If-Unmodified-Since": "Thu, 01 Jan 1970 00:00:01 GMT"})
    assert exc.value.http_status == 412


def test_odd_multi_range_requests_answer_as_swift(shared_cloud: RunningCloud) -> None:
    """The cases where Swift's answer to several ranges is not plain multipart (checked against
    Swift 2.38 on this machine)."""
    conn = swift_connection(shared_cloud)
    conn.put_container("oddranges")
    data = os.urandom(200_000)  # streamed from disk, not read whole
    conn.put_object("oddranges", "o", data)
    conn.put_object("oddranges", "empty", b"")
    client, url = http(shared_cloud)
    with client:
        def get(rng: str, obj: str = "o", method: str = "GET") -> httpx.Response:
            return client.request(method, f"{url}/oddranges/{obj}", headers={"Range": rng})

        r = get("bytes=0-3,2-5,199990-")  # overlapping ranges are kept, in order
        assert r.status_code == 206
        assert byteranges(r.headers["content-type"], r.content) == [
            ("bytes 0-3/200000", data[:4]), ("bytes 2-5/200000", data[2:6]),
            ("bytes 199990-199999/200000", data[199990:])]
        r = get("bytes = 65530 - 65545 , -0 , 300000-")  # spaces; "-0" and past-the-end dropped
        assert r.status_code == 206 and r.headers["content-range"] == "bytes 65530-65545/200000"
        assert r.content == data[65530:65546]
        r = get("bytes=" + ",".join(f"{i}-{i}" for i in range(7, 0, -1)))  # 7 out of order: served
        assert [d for _, d in byteranges(r.headers["content-type"], r.content)] == [data[i:i + 1]
                                                                                  for i in range(7, 0, -1)]
        for bad in ("bytes=" + ",".join(f"{i}-{i}" for i in range(8, 0, -1)),  # 8 out of order
                    "bytes=0-5,1-6,2-7",                                        # 3 overlapping pairs
                    "bytes=" + ",".join(f"{i}-{i}" for i in range(51)),          # more than 50
                    "bytes=300000-,400000-"):                                    # none inside
            r = get(bad)
            assert r.status_code == 416 and r.headers["content-range"] == "bytes */200000", bad
        for ignored in ("bytes=5-2,0-1", "bytes=1-2,", "bytes=0-1;3-4", "items=0-1"):
            r = get(ignored)
            assert r.status_code == 200 and r.content == data, ignored
        r = get("bytes=0-1,5-6", method="HEAD")
        assert r.status_code == 200 and r.headers["content-length"] == "200000"
        r = get("bytes=-5,0-1", obj="empty")
        assert r.status_code == 200 and r.content == b""
        assert get("bytes=0-5", obj="empty").status_code == 416


def test_chunked_upload_and_content_type_guessing(shared_cloud: RunningCloud) -> None:
    conn = swift_connection(shared_cloud)
    conn.put_container("chunked")

    class Stream:
        """A reader of unknown length: swiftclient sends it with chunked transfer encoding."""

        def __init__(self) -> None:
            self.left = [bytes([i]) * 10000 for i in range(50)]

        def read(self, size: int = -1) -> bytes:
            return self.left.pop(0) if self.left else b""

    etag = conn.put_object("chunked", "page.html", Stream(), chunk_size=65536)
    headers, body = conn.get_object("chunked", "page.html")
    assert body == b"".join(bytes([i]) * 10000 for i in range(50))
    assert headers["etag"] == etag and headers["content-type"] == "text/html"


def test_info_lists_the_limits(shared_cloud: RunningCloud) -> None:
    info = swift_connection(shared_cloud).get_capabilities()
    swift = info["swift"]
    assert swift["max_object_name_length"] == 1024 and swift["container_listing_limit"] == 10000
    assert swift["max_meta_count"] == 90 and swift["max_container_name_length"] == 256
    assert "slo" in info and "dlo" in info  # the middlewares advertise what they do (test_middleware_*.py)


def test_names_with_spaces_unicode_and_url_characters(shared_cloud: RunningCloud) -> None:
    conn = swift_connection(shared_cloud)
    container = "ünï cöde %2F"
    names = ["naïve file.txt", "a/b c/%41?#&=+;.bin", "dir/", "😀/x"]
    conn.put_container(container)
    for n in names:
        conn.put_object(container, n, n.encode())
    for n in names:
        assert conn.get_object(container, n)[1] == n.encode()
    _, rows = conn.get_container(container)
    assert [r["name"] for r in rows] == sorted(names, key=lambda s: s.encode())
    _, containers = conn.get_account(prefix="ünï")
    assert [c["name"] for c in containers] == [container]
    for n in names:
        conn.delete_object(container, n)
    conn.delete_container(container)


def test_server_side_copy_with_x_copy_from_and_copy(shared_cloud: RunningCloud) -> None:
    conn = swift_connection(shared_cloud)
    conn.put_container("copy-src")
    conn.put_container("copy-dst")
    small, big = b"tiny", bytes(range(256)) * 1024  # one below, one above the small-object size
    conn.put_object("copy-src", "small", small, headers={"X-Object-Meta-Kept": "yes"}, content_type="text/x-a")
    conn.put_object("copy-src", "big", big)
    resp: dict[str, object] = {}
    conn.put_object("copy-dst", "small-copy", None, headers={"X-Copy-From": "/copy-src/small",
                                                             "X-Object-Meta-Added": "1"}, response_dict=resp)
    assert resp["status"] == 201 and resp["headers"]["x-copied-from"] == "copy-src/small"  # type: ignore[index]
    assert resp["headers"]["x-object-meta-kept"] == "yes"  # type: ignore[index]
    headers, body = conn.get_object("copy-dst", "small-copy")
    assert body == small and headers["content-type"] == "text/x-a"
    assert headers["x-object-meta-kept"] == "yes" and headers["x-object-meta-added"] == "1"
    conn.copy_object("copy-src", "big", "/copy-dst/big-copy")  # the COPY method with Destination
    assert conn.get_object("copy-dst", "big-copy")[1] == big
    with pytest.raises(ClientException) as exc:
        conn.put_object("copy-dst", "x", None, headers={"X-Copy-From": "/copy-src/missing"})
    assert exc.value.http_status == 404


def test_content_disposition_and_encoding_are_kept(shared_cloud: RunningCloud) -> None:
    conn = swift_connection(shared_cloud)
    conn.put_container("kept")
    conn.put_object("kept", "report", b"\x1f\x8b-not-really",
                    headers={"Content-Disposition": 'attachment; filename="r.txt"', "Content-Encoding": "gzip"})
    headers = conn.head_object("kept", "report")
    assert headers["content-disposition"] == 'attachment; filename="r.txt"'
    assert headers["content-encoding"] == "gzip"
    # The bytes come back as stored (the proxy does not decode them).
    assert conn.get_object("kept", "report")[1] == b"\x1f\x8b-not-really"
