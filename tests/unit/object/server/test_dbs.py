"""Container and account databases: listings, merges by timestamp, deletes."""

from __future__ import annotations

from pathlib import Path

import pytest

from litestack.object.server.dbs import Broker

pytestmark = pytest.mark.unit

NAMES = ["a", "b/1", "b/2", "b/3/x", "c", "d/e/f", "é"]


@pytest.fixture
def container(tmp_path: Path) -> Broker:
    b = Broker(tmp_path, "container", 7, "0" * 29 + "abc")
    assert b.initialize("0000000001.00000")
    for i, n in enumerate(NAMES):
        b.put_object(n, f"00000000{10 + i}.00000", len(n), "text/plain", "etag", False)
    return b


def names(rows: list[dict[str, object]]) -> list[object]:
    return [r.get("name", r.get("subdir")) for r in rows]


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({}, NAMES),
    ({"prefix": "b/"}, ["b/1", "b/2", "b/3/x"]),
    ({"delimiter": "/"}, ["a", "b/", "c", "d/", "é"]),
    ({"prefix": "b/", "delimiter": "/"}, ["b/1", "b/2", "b/3/"]),
    ({"marker": "b/2"}, ["b/3/x", "c", "d/e/f", "é"]),
    ({"end_marker": "c"}, ["a", "b/1", "b/2", "b/3/x"]),
    ({"marker": "a", "end_marker": "c", "limit": 2}, ["b/1", "b/2"]),
    ({"reverse": True, "limit": 3}, ["é", "d/e/f", "c"]),
    ({"reverse": True, "marker": "c"}, ["b/3/x", "b/2", "b/1", "a"]),
    ({"reverse": True, "delimiter": "/"}, ["é", "d/", "c", "b/", "a"]),
    ({"delimiter": "/", "marker": "b/"}, ["c", "d/", "é"]),
    ({"delimiter": "/", "limit": 2}, ["a", "b/"]),
])
def test_listing(container: Broker, kwargs: dict[str, object], expected: list[str]) -> None:
    assert names(container.list(**kwargs)) == expected  # type: ignore[arg-type]


def test_an_older_update_never_replaces_a_newer_row(container: Broker) -> None:
    container.put_object("a", "0000000005.00000", 999, "old/type", "old", False)
    row = container.list(prefix="a", limit=1)[0]
    assert row["bytes"] == 1 and row["content_type"] == "text/plain"
    container.put_object("a", "0000000099.00000", 0, "", "", True)  # a newer delete wins
    assert "a" not in names(container.list())
    info = container.info()
    assert info is not None and info["object_count"] == len(NAMES) - 1


def test_a_container_with_objects_cannot_be_deleted(container: Broker) -> None:
    assert not container.mark_deleted("0000000100.00000")
    for n in NAMES:
        container.put_object(n, "0000000200.00000", 0, "", "", True)
    assert container.mark_deleted("0000000300.00000")
    info = container.info()
    assert info is not None and info["deleted"]
    assert container.initialize("0000000400.00000")  # created again: 201
    info = container.info()
    assert info is not None and not info["deleted"]


def test_metadata_merges_by_timestamp_and_empty_removes(container: Broker) -> None:
    container.update_metadata({"X-Container-Meta-A": ("1", "0000000010.00000")})
    container.update_metadata({"X-Container-Meta-A": ("old", "0000000005.00000"),
                               "X-Container-Meta-B": ("2", "0000000010.00000")})
    info = container.info()
    assert info is not None
    assert {k: v[0] for k, v in info["metadata"].items()} == {"X-Container-Meta-A": "1", "X-Container-Meta-B": "2"}
    container.update_metadata({"X-Container-Meta-A": ("", "0000000011.00000")})
    info = container.info()
    assert info is not None and list(info["metadata"]) == ["X-Container-Meta-B"]


def test_account_rows_carry_counts(tmp_path: Path) -> None:
    acct = Broker(tmp_path, "account", 1, "f" * 32)
    acct.initialize("0000000001.00000")
    acct.put_container("c1", "0000000002.00000", "0", 3, 30)
    acct.put_container("c2", "0000000002.00000", "0", 1, 5)
    acct.put_container("c2", "0000000002.00000", "0000000003.00000", 0, 0)  # deleted
    info = acct.info()
    assert info is not None
    assert (info["container_count"], info["object_count"], info["bytes_used"]) == (1, 3, 30)
    assert [r["name"] for r in acct.list()] == ["c1"]


def test_replicas_converge_by_merging_dumps(tmp_path: Path) -> None:
    a = Broker(tmp_path / "a", "container", 3, "f" * 32)
    b = Broker(tmp_path / "b", "container", 3, "f" * 32)
    a.initialize("0000000001.00000")
    a.put_object("x", "0000000002.00000", 1, "t", "e", False)
    a.put_object("gone", "0000000002.00000", 1, "t", "e", True)
    b.initialize("0000000001.50000")
    b.put_object("x", "0000000003.00000", 5, "t", "e2", False)
    b.put_object("y", "0000000002.00000", 2, "t", "e", False)
    a.merge(b.dump() or {})
    b.merge(a.dump() or {})
    assert a.digest() == b.digest()
    assert [r["name"] for r in a.list()] == ["x", "y"] and a.list()[0]["bytes"] == 5
    assert a.reclaim("0000000009.00000") == 1  # the deleted row is forgotten after the reclaim age
