"""Large objects (``middleware/slo.py``, ``middleware/dlo.py``) through python-swiftclient and the
``swift`` command: manifests, checks, ranges across segments, raw manifests, deletes."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
from pathlib import Path

import pytest
from swiftclient.exceptions import ClientException

from tests.conftest import RunningCloud
from tests.functional.object.helpers import byteranges, http, swift_cli, swift_connection

pytestmark = pytest.mark.functional


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_slo_put_get_ranges_raw_manifest_and_delete(shared_cloud: RunningCloud) -> None:
    conn = swift_connection(shared_cloud)
    conn.put_container("slo")
    conn.put_container("slo_segments")
    parts = [bytes([65 + i]) * (100_000 + i) for i in range(3)]  # A..., B..., C... (past the 64 KiB path)
    etags = [conn.put_object("slo_segments", f"seg/{i:02d}", p) for i in range(3) for p in [parts[i]]]
    manifest = [{"path": f"/slo_segments/seg/{i:02d}", "etag": etags[i], "size_bytes": len(parts[i])}
                for i in range(3)]
    manifest.append({"path": "/slo_segments/seg/00", "range": "10-19"})  # a piece of a segment
    whole = b"".join(parts) + parts[0][10:20]
    expected = md5("".join([*etags, f"{etags[0]}:10-19;"]).encode())
    etag = conn.put_object("slo", "big", json.dumps(manifest), query_string="multipart-manifest=put",
                           headers={"X-Object-Meta-Kind": "slo"})
    assert etag.strip('"') == expected
    head = conn.head_object("slo", "big")
    assert head["content-length"] == str(len(whole)) and head["etag"] == f'"{expected}"'
    assert head["x-static-large-object"].lower() == "true" and head["x-object-meta-kind"] == "slo"
    assert not any(k.startswith("x-object-sysmeta") for k in head)
    headers, body = conn.get_object("slo", "big")
    assert body == whole and headers["etag"] == f'"{expected}"'
    # A range that spans the three segments' borders.
    start = len(parts[0]) - 5
    headers, body = conn.get_object("slo", "big", headers={"Range": f"bytes={start}-{start + 100_010}"})
    assert headers["content-range"] == f"bytes {start}-{start + 100_010}/{len(whole)}"
    assert body == whole[start:start + 100_011]
    _, body = conn.get_object("slo", "big", headers={"Range": "bytes=-15"})
    assert body == whole[-15:]
    with pytest.raises(ClientException) as exc:
        conn.get_object("slo", "big", headers={"Range": f"bytes={len(whole) + 5}-"})
    assert exc.value.http_status == 416
    # The stored manifest, and its raw form (what was put).
    _, raw = conn.get_object("slo", "big", query_string="multipart-manifest=get")
    stored = json.loads(raw)
    assert [s["name"] for s in stored] == [m["path"] for m in manifest]
    assert stored[0]["hash"] == etags[0] and stored[0]["bytes"] == len(parts[0])
    _, raw = conn.get_object("slo", "big", query_string="multipart-manifest=get&format=raw")
    assert json.loads(raw)[1] == {"path": "/slo_segments/seg/01", "etag": etags[1], "size_bytes": len(parts[1])}
    # A nested manifest: the large object as a segment of another one.
    conn.put_object("slo", "nested", json.dumps([{"path": "/slo/big"}, {"path": "/slo_segments/seg/02"}]),
                    query_string="multipart-manifest=put")
    _, body = conn.get_object("slo", "nested")
    assert body == whole + parts[2]
    conn.delete_object("slo", "nested")  # the manifest only: its segments stay
    # A copy of a large object is its content, as one ordinary object (the metadata come along).
    conn.put_object("slo", "flat", None, headers={"X-Copy-From": "slo/big"})
    headers, body = conn.get_object("slo", "flat")
    assert body == whole and "x-static-large-object" not in headers and headers["etag"] == md5(whole)
    assert headers["x-object-meta-kind"] == "slo"
    conn.copy_object("slo", "big", "/slo/flat2", fresh_metadata=True)
    headers, body = conn.get_object("slo", "flat2")
    assert body == whole and "x-object-meta-kind" not in headers
    # Delete with its segments.
    client, url = http(shared_cloud)
    with client:
        r = client.delete(f"{url}/slo/big?multipart-manifest=delete", headers={"Accept": "application/json"})
    assert r.status_code == 200
    report = r.json()
    assert report["Number Deleted"] == 4 and report["Number Not Found"] == 1 and report["Errors"] == []
    _, rows = conn.get_container("slo_segments")
    assert rows == []
    with pytest.raises(ClientException) as exc:
        conn.head_object("slo", "big")
    assert exc.value.http_status == 404


def test_multi_range_gets_of_large_objects_as_swift(shared_cloud: RunningCloud) -> None:
    """Several ranges of an SLO answer 206 multipart/byteranges (each part read across its
    segments); Swift's DLO serves one range only, and the whole object for several."""
    conn = swift_connection(shared_cloud)
    conn.put_container("mr")
    parts = [os.urandom(100_000 + i) for i in range(3)]
    for i, p in enumerate(parts):
        conn.put_object("mr", f"seg/{i}", p)
    conn.put_object("mr", "slo", json.dumps([{"path": f"/mr/seg/{i}"} for i in range(3)]),
                    query_string="multipart-manifest=put")
    conn.put_object("mr", "nested", json.dumps([{"path": "/mr/seg/2", "range": "0-99"}, {"path": "/mr/slo"}]),
                    query_string="multipart-manifest=put")
    conn.put_object("mr", "dlo", b"", headers={"X-Object-Manifest": "mr/seg/"})
    whole = b"".join(parts)
    size = len(whole)
    client, url = http(shared_cloud)
    with client:
        r = client.get(f"{url}/mr/slo", headers={"Range": "bytes=0-9,100-199,-5"})
        assert r.status_code == 206 and "content-range" not in r.headers
        assert int(r.headers["content-length"]) == len(r.content)
        assert byteranges(r.headers["content-type"], r.content) == [
            (f"bytes 0-9/{size}", whole[:10]), (f"bytes 100-199/{size}", whole[100:200]),
            (f"bytes {size - 5}-{size - 1}/{size}", whole[-5:])]
        # Across segment borders, overlapping and out of order, as asked.
        b1, b2 = len(parts[0]), len(parts[0]) + len(parts[1])
        r = client.get(f"{url}/mr/slo", headers={"Range": f"bytes={b2 - 10}-{b2 + 9},{b1 - 3}-{b2 + 2},7-8"})
        assert r.status_code == 206
        assert [data for _, data in byteranges(r.headers["content-type"], r.content)] == [
            whole[b2 - 10:b2 + 10], whole[b1 - 3:b2 + 3], whole[7:9]]
        r = client.get(f"{url}/mr/nested", headers={"Range": "bytes=95-104,-3"})
        nested = parts[2][:100] + whole
        assert [data for _, data in byteranges(r.headers["content-type"], r.content)] == [nested[95:105], nested[-3:]]
        # One satisfiable range among several: a plain 206; none: 416; egregious sets: 416.
        r = client.get(f"{url}/mr/slo", headers={"Range": f"bytes={size}-{size + 9},20-29"})
        assert r.status_code == 206 and r.headers["content-range"] == f"bytes 20-29/{size}"
        assert r.content == whole[20:30]
        for bad in (f"bytes={size}-,{size + 10}-{size + 20}", "bytes=0-5,1-6,2-7"):
            r = client.get(f"{url}/mr/slo", headers={"Range": bad})
            assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{size}"
        r = client.get(f"{url}/mr/slo", headers={"Range": "bytes=5-2,0-1"})  # malformed: ignored
        assert r.status_code == 200 and r.content == whole
        r = client.head(f"{url}/mr/slo", headers={"Range": "bytes=0-1,5-6"})
        assert r.status_code == 200 and r.headers["content-length"] == str(size)
        # DLO: several ranges get the whole object; one range is served; HEAD ignores a good one.
        r = client.get(f"{url}/mr/dlo", headers={"Range": "bytes=0-9,100-199,-5"})
        assert r.status_code == 200 and r.content == whole
        r = client.get(f"{url}/mr/dlo", headers={"Range": f"bytes={b1 - 2}-{b1 + 1}"})
        assert r.status_code == 206 and r.content == whole[b1 - 2:b1 + 2]
        r = client.head(f"{url}/mr/dlo", headers={"Range": "bytes=0-1"})
        assert r.status_code == 200 and r.headers["content-length"] == str(size)
        for method in ("GET", "HEAD"):
            r = client.request(method, f"{url}/mr/dlo", headers={"Range": f"bytes={size}-"})
            assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{size}"
        r = client.get(f"{url}/mr/dlo", headers={"Range": "bytes=-0"})
        assert r.status_code == 416


def test_slo_inline_data_segments_as_swift(shared_cloud: RunningCloud) -> None:
    """``{"data": <base64>}`` segments (Swift 2.17+): kept in the manifest, served inline, counted
    in the ETag as the md5 of their bytes, left alone by a delete (figures checked against Swift
    2.38 on this machine)."""
    conn = swift_connection(shared_cloud)
    conn.put_container("inline")
    seg_etag = conn.put_object("inline", "seg", b"0123456789")
    manifest = [{"data": base64.b64encode(b"head-").decode()}, {"path": "/inline/seg"}, {"data": "LXRhaWw="}]
    etag = conn.put_object("inline", "slo", json.dumps(manifest), query_string="multipart-manifest=put")
    expected = md5((md5(b"head-") + seg_etag + md5(b"-tail")).encode())
    assert etag.strip('"') == expected == "c5138e3112a348d35c2b107010640f3f"
    headers, body = conn.get_object("inline", "slo")
    assert body == b"head-0123456789-tail" and headers["etag"] == f'"{expected}"'
    client, url = http(shared_cloud)
    with client:
        r = client.get(f"{url}/inline/slo", headers={"Range": "bytes=3-6,-3"})
        assert [d for _, d in byteranges(r.headers["content-type"], r.content)] == [b"d-01", b"ail"]
        raw = client.get(f"{url}/inline/slo?multipart-manifest=get&format=raw").json()
        assert raw == [{"data": "aGVhZC0="}, {"path": "/inline/seg", "etag": seg_etag, "size_bytes": 10},
                       {"data": "LXRhaWw="}]
        for bad, text in (([{"data": "QU!J"}, {"path": "/inline/seg"}], b"Index 0: data must be valid base64"),
                          ([{"data": "LXRhaWw"}, {"path": "/inline/seg"}], b"Index 0: data must be valid base64"),
                          ([{"data": ""}, {"path": "/inline/seg"}], b"Index 0: too small"),
                          ([{"data": "QUJD", "etag": "x"}, {"path": "/inline/seg"}],
                           b'Index 0: extraneous keys "etag"'),
                          ([{"data": "QUJD"}], b"Inline data segments require at least one object-backed segment.")):
            r = client.put(f"{url}/inline/bad?multipart-manifest=put", content=json.dumps(bad))
            assert r.status_code == 400 and text.decode() in html.unescape(r.text), (bad, r.text)
        r = client.delete(f"{url}/inline/slo?multipart-manifest=delete", headers={"Accept": "application/json"})
        assert r.status_code == 200 and r.json()["Number Deleted"] == 2 and r.json()["Errors"] == []
    assert [o["name"] for o in conn.get_container("inline")[1]] == []


def test_slo_manifest_checks_refuse_bad_segments(shared_cloud: RunningCloud) -> None:
    conn = swift_connection(shared_cloud)
    conn.put_container("slo_bad")
    etag = conn.put_object("slo_bad", "s1", b"x" * 10)
    bad = [
        ([{"path": "/slo_bad/s1", "etag": "0" * 32}], 400, b"Etag Mismatch"),
        ([{"path": "/slo_bad/s1", "size_bytes": 11}], 400, b"Size Mismatch"),
        ([{"path": "/slo_bad/missing"}], 400, b"404 Not Found"),
        ([{"path": "/slo_bad/s1", "color": "red"}], 400, b"Invalid segment"),
        ([], 400, b"list of segments"),
        ("not json", 400, b"valid JSON"),
    ]
    client, url = http(shared_cloud)
    with client:
        for manifest, status, text in bad:
            body = manifest if isinstance(manifest, str) else json.dumps(manifest)
            r = client.put(f"{url}/slo_bad/m?multipart-manifest=put", content=body)
            assert r.status_code == status and text in r.content, (manifest, r.status_code, r.text)
        # The ETag of the request must be the large object's.
        r = client.put(f"{url}/slo_bad/m?multipart-manifest=put", content=json.dumps([{"path": "/slo_bad/s1"}]),
                       headers={"ETag": "f" * 32})
        assert r.status_code == 422
        assert client.head(f"{url}/slo_bad/m").status_code == 404
        # A user cannot forge a large object: the marker is not theirs to set.
        r = client.put(f"{url}/slo_bad/forged", content=json.dumps([{"name": "/slo_bad/s1", "bytes": 10,
                                                                      "hash": etag}]),
                       headers={"X-Static-Large-Object": "True"})
        assert r.status_code == 201
        r = client.head(f"{url}/slo_bad/forged")
        assert "x-static-large-object" not in r.headers and r.headers["content-length"] != "10"


def test_swift_upload_use_slo_and_dlo_segments(shared_cloud: RunningCloud, tmp_path: Path) -> None:
    data = bytes(range(256)) * 40  # 10240 bytes, in 4 segments of 3000
    (tmp_path / "file.bin").write_bytes(data)
    swift_cli(shared_cloud, "upload", "--use-slo", "--segment-size", "3000", "cli_slo", "file.bin", cwd=tmp_path)
    swift_cli(shared_cloud, "upload", "--use-dlo", "--segment-size", "3000", "cli_dlo", "file.bin", cwd=tmp_path)
    conn = swift_connection(shared_cloud)
    for container, marker in (("cli_slo", "x-static-large-object"), ("cli_dlo", "x-object-manifest")):
        headers, body = conn.get_object(container, "file.bin")
        assert body == data and marker in headers, container
        assert headers["content-length"] == str(len(data))
        out = tmp_path / f"{container}.out"
        swift_cli(shared_cloud, "download", container, "file.bin", "-o", str(out), cwd=tmp_path)
        assert out.read_bytes() == data  # the swift command checks the etag of large objects too
    swift_cli(shared_cloud, "delete", "cli_slo", "file.bin")
    _, rows = conn.get_container("cli_slo_segments")
    assert rows == []  # swift delete removes an SLO's segments (multipart-manifest=delete)


def test_dlo_concatenates_the_prefix_in_order_and_follows_new_segments(shared_cloud: RunningCloud) -> None:
    conn = swift_connection(shared_cloud)
    conn.put_container("dlo")
    for i, text in enumerate([b"one-", b"two-", b"three"]):
        conn.put_object("dlo", f"parts/{i}", text)
    conn.put_object("dlo", "manifest", b"", headers={"X-Object-Manifest": "dlo/parts/"})
    headers, body = conn.get_object("dlo", "manifest")
    assert body == b"one-two-three" and headers["x-object-manifest"] == "dlo/parts/"
    etags = "".join(md5(p) for p in (b"one-", b"two-", b"three"))
    assert headers["etag"] == f'"{md5(etags.encode())}"'
    _, body = conn.get_object("dlo", "manifest", headers={"Range": "bytes=2-9"})
    assert body == b"e-two-th"
    conn.put_object("dlo", "parts/3", b"-four")
    _, body = conn.get_object("dlo", "manifest")
    assert body == b"one-two-three-four"
    head = conn.head_object("dlo", "manifest")
    assert head["content-length"] == str(len(b"one-two-three-four"))
    _, raw = conn.get_object("dlo", "manifest", query_string="multipart-manifest=get")
    assert raw == b""
    conn.put_object("dlo", "flat", None, headers={"X-Copy-From": "dlo/manifest"})
    headers, body = conn.get_object("dlo", "flat")
    assert body == b"one-two-three-four" and "x-object-manifest" not in headers
    conn.put_object("dlo", "later", b"")  # an ordinary object made a manifest by a POST
    conn.post_object("dlo", "later", headers={"X-Object-Manifest": "dlo/parts/"})
    assert conn.get_object("dlo", "later")[1] == b"one-two-three-four"
    client, url = http(shared_cloud)
    with client:
        r = client.put(f"{url}/dlo/bad", content=b"", headers={"X-Object-Manifest": "no-slash"})
    assert r.status_code == 400
