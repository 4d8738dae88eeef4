"""Object directories on disk: cleanup, tombstone reclaim, suffix hashes, the auditor's check."""

from __future__ import annotations

import time
from pathlib import Path

from litestack.object.server.diskfile import (
    ObjectDir,
    check_data_file,
    cleanup_dir,
    normalize_timestamp,
    read_range,
    suffix_hashes,
    write_trailer_and_sync,
)


def _put(od: ObjectDir, ts: float, body: bytes) -> Path:
    import hashlib

    tmp = od.tmp_file()
    with open(tmp, "wb") as f:
        f.write(body)
        write_trailer_and_sync(f, {"name": "/a/c/o", "Content-Length": len(body),
                                   "ETag": hashlib.md5(body, usedforsecurity=False).hexdigest(),
                                   "Content-Type": "text/plain", "X-Timestamp": normalize_timestamp(ts)})
    od.commit_data(tmp, normalize_timestamp(ts))
    return od.path / f"{normalize_timestamp(ts)}.data"


def test_cleanup_keeps_the_newest_and_reclaims_old_tombstones(tmp_path: Path) -> None:
    od = ObjectDir(tmp_path, 1, "0" * 29 + "abc")
    now = time.time()
    _put(od, now - 100, b"old")
    od.write_tombstone(normalize_timestamp(now - 50))
    assert [f[-3:] for f in cleanup_dir(od.path)] == [".ts"]
    assert cleanup_dir(od.path, reclaim_before=now - 60) != []  # younger than the reclaim age: kept
    assert cleanup_dir(od.path, reclaim_before=now) == []  # older: reclaimed, directory removed
    assert not od.path.exists()


def test_suffix_hashes_differ_exactly_when_the_files_do(tmp_path: Path) -> None:
    a = ObjectDir(tmp_path / "a", 1, "1" * 29 + "abc")
    b = ObjectDir(tmp_path / "b", 1, "1" * 29 + "abc")
    _put(a, 1000, b"x")
    _put(b, 1000, b"x")
    part_a, part_b = a.path.parent.parent, b.path.parent.parent
    assert suffix_hashes(part_a) == suffix_hashes(part_b) != {}
    _put(b, 1001, b"y")
    assert suffix_hashes(part_a) != suffix_hashes(part_b)


def test_check_data_file_finds_a_flipped_byte(tmp_path: Path) -> None:
    od = ObjectDir(tmp_path, 1, "2" * 32)
    path = _put(od, 1000, b"hello world" * 100)
    assert check_data_file(path)
    raw = bytearray(path.read_bytes())
    raw[5] ^= 1
    path.write_bytes(bytes(raw))
    assert not check_data_file(path)
    path.write_bytes(b"no trailer at all")
    assert not check_data_file(path)


def test_read_range_reads_any_slice_in_blocks(tmp_path: Path) -> None:
    path = tmp_path / "f"
    data = bytes(range(256)) * 100_000  # 25.6 MB: past the read-ahead window
    path.write_bytes(data)
    for start, end in ((0, len(data)), (5, 17_000_003), (len(data) - 3, len(data)), (10, 10)):
        blocks = list(read_range(path, start, end, 1 << 20))
        assert b"".join(blocks) == data[start:end]
        assert all(len(b) <= 1 << 20 for b in blocks)
