"""Probe tests of the background daemons, Swift's way: real storage servers and real files on
disk. Bit rot is quarantined by the auditor and repaired by the replicator, a delete made while a
device was away does not come back, handoff copies move home, expired objects go away; in each,
no acknowledged object is lost."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from swiftclient.client import ClientException

from litestack.object.ring import Ring, hash_path
from litestack.object.server.diskfile import check_data_file
from tests.conftest import RunningCloud, free_port, until
from tests.functional.object.helpers import http, swift_connection

pytestmark = pytest.mark.functional

CONFIG = """[object]
aio_devices = 4
replicator_interval = 0.5
auditor_interval = 0.5
auditor_files_per_second = 0
expirer_interval = 0.5
updater_interval = 0.5
"""


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    base = tmp_path_factory.mktemp("daemons")
    data_dir = base / "cloud"
    data_dir.mkdir()
    cfg = base / "cloud.toml"
    cfg.write_text(CONFIG)
    env = {**os.environ}
    env.pop("OS_CLOUD", None)
    c = RunningCloud(data_dir, free_port(), env, config_file=cfg)
    c.start()
    yield c
    c.stop()


class Layout:
    """Where the replicas of a name are on this cloud's devices."""

    def __init__(self, cloud: RunningCloud, account: str) -> None:
        self.devices = cloud.data_dir / "object" / "devices"
        self.ring = Ring.load(cloud.data_dir / "object" / "object.ring.gz")
        self.account = account

    def primaries(self, container: str, obj: str | None = None) -> list[str]:
        return [d.device for d in self.ring.get_nodes(self.account, container, obj)[1]]

    def object_dir(self, device: str, container: str, obj: str) -> Path:
        part = self.ring.partition(self.account, container, obj)
        h = hash_path(self.ring.hash_prefix, self.ring.hash_suffix, self.account, container, obj)
        return self.devices / device / "objects" / str(part) / h[-3:] / h

    def files(self, device: str, container: str, obj: str) -> list[str]:
        d = self.object_dir(device, container, obj)
        return sorted(os.listdir(d)) if d.is_dir() else []

    def container_db(self, device: str, container: str) -> Path:
        part = self.ring.partition(self.account, container)
        h = hash_path(self.ring.hash_prefix, self.ring.hash_suffix, self.account, container)
        return self.devices / device / "containers" / str(part) / h[-3:] / h / f"{h}.db"

    def all_devices(self) -> list[str]:
        return [d.device for d in self.ring.live_devices()]


def _layout(cloud: RunningCloud) -> tuple[Layout, object]:
    conn = swift_connection(cloud)
    account = conn.get_auth()[0].rsplit("/", 1)[1]
    return Layout(cloud, account), conn


def test_bit_rot_is_quarantined_by_the_auditor_and_repaired_by_the_replicator(cloud: RunningCloud) -> None:
    lay, conn = _layout(cloud)
    conn.put_container("rot")  # type: ignore[attr-defined]
    original = os.urandom(5000)
    conn.put_object("rot", "victim", original)  # type: ignore[attr-defined]
    primaries = lay.primaries("rot", "victim")
    bad = primaries[0]
    data = next(f for f in lay.files(bad, "rot", "victim") if f.endswith(".data"))
    path = lay.object_dir(bad, "rot", "victim") / data
    raw = bytearray(path.read_bytes())
    raw[100] ^= 0xFF  # one flipped byte, same length: only the md5 tells
    path.write_bytes(bytes(raw))
    assert not check_data_file(path)
    quarantined = lay.devices / bad / "quarantined" / "objects"
    assert until(lambda: quarantined.is_dir() and any(quarantined.iterdir()), 20), "auditor did not quarantine"
    # The replicator of another replica pushes a good copy back to where the bad one was.
    assert until(lambda: (lay.object_dir(bad, "rot", "victim") / data).exists()
                 and check_data_file(lay.object_dir(bad, "rot", "victim") / data), 20), "not restored"
    for dev in primaries:
        assert check_data_file(lay.object_dir(dev, "rot", "victim") / data)
    assert conn.get_object("rot", "victim")[1] == original  # type: ignore[attr-defined]


def test_a_delete_while_a_device_is_away_does_not_come_back(cloud: RunningCloud) -> None:
    lay, conn = _layout(cloud)
    conn.put_container("zombie")  # type: ignore[attr-defined]
    keep = {f"keep-{i}": os.urandom(300) for i in range(5)}
    for name, data in keep.items():
        conn.put_object("zombie", name, data)  # type: ignore[attr-defined]
    conn.put_object("zombie", "gone", b"delete me")  # type: ignore[attr-defined]
    away = lay.primaries("zombie", "gone")[0]
    assert any(f.endswith(".data") for f in lay.files(away, "zombie", "gone"))
    os.rename(lay.devices / away, lay.devices / f"{away}.away")
    try:
        conn.delete_object("zombie", "gone")  # type: ignore[attr-defined]
    finally:
        os.rename(lay.devices / f"{away}.away", lay.devices / away)
    # The tombstone reaches the device that was away; its old .data is gone.
    assert until(lambda: [f[-3:] for f in lay.files(away, "zombie", "gone")] == [".ts"], 20), \
        lay.files(away, "zombie", "gone")
    for _ in range(5):
        with pytest.raises(ClientException) as exc:
            conn.get_object("zombie", "gone")  # type: ignore[attr-defined]
        assert exc.value.http_status == 404
    assert until(lambda: {r["name"] for r in conn.get_container("zombie")[1]} == set(keep), 20)  # type: ignore[attr-defined]
    for name, data in keep.items():
        assert conn.get_object("zombie", name)[1] == data  # type: ignore[attr-defined]


def test_handoff_copies_move_home_when_the_device_returns(cloud: RunningCloud) -> None:
    lay, conn = _layout(cloud)
    away = "d1"
    os.rename(lay.devices / away, lay.devices / f"{away}.away")
    try:
        conn.put_container("handoff")  # type: ignore[attr-defined]
        written = {f"h{i}": os.urandom(700 + i) for i in range(12)}
        for name, data in written.items():
            conn.put_object("handoff", name, data)  # type: ignore[attr-defined]
        homeless = [n for n in written if away in lay.primaries("handoff", n)]
        assert homeless, "with 4 devices and 3 replicas some objects have a primary on d1"
        # While d1 is away, each of those has a copy on the device that is not its primary.
        for n in homeless:
            spare = [d for d in lay.all_devices() if d not in lay.primaries("handoff", n)]
            assert any(f.endswith(".data") for d in spare for f in lay.files(d, "handoff", n)), \
                (n, {d: lay.files(d, "handoff", n) for d in lay.all_devices()}, lay.primaries("handoff", n))
    finally:
        os.rename(lay.devices / f"{away}.away", lay.devices / away)

    def home() -> bool:
        for n in written:
            prim = lay.primaries("handoff", n)
            if not all(any(f.endswith(".data") for f in lay.files(d, "handoff", n)) for d in prim):
                return False
            if any(lay.files(d, "handoff", n) for d in lay.all_devices() if d not in prim):
                return False
        return True

    assert until(home, 30), "the handoff copies did not move to their primaries"
    for name, data in written.items():
        assert conn.get_object("handoff", name)[1] == data  # type: ignore[attr-defined]
    # The container's replica on d1 (made on a handoff while d1 was away) came home too, with
    # every object listed.
    if away in lay.primaries("handoff"):
        db = lay.container_db(away, "handoff")

        def listed() -> set[str]:
            if not db.exists():
                return set()
            with sqlite3.connect(db) as c:
                return {r[0] for r in c.execute("SELECT name FROM objects WHERE deleted = 0")}

        assert until(lambda: listed() == set(written), 30)
    spare_dbs = [lay.container_db(d, "handoff") for d in lay.all_devices() if d not in lay.primaries("handoff")]
    assert until(lambda: not any(p.exists() for p in spare_dbs), 30)


def test_expiring_objects_read_as_404_then_the_expirer_removes_them(cloud: RunningCloud) -> None:
    lay, conn = _layout(cloud)
    client, url = http(cloud)
    conn.put_container("expiry")  # type: ignore[attr-defined]
    r = client.put(f"{url}/expiry/soon", content=b"short-lived", headers={"X-Delete-After": "2"})
    assert r.status_code == 201, r.text
    r = client.put(f"{url}/expiry/later", content=b"kept", headers={"X-Delete-At": str(int(time.time()) + 3600)})
    assert r.status_code == 201
    head = client.head(f"{url}/expiry/later")
    assert head.status_code == 200 and abs(int(head.headers["x-delete-at"]) - time.time() - 3600) < 60
    # A POST sets an expiry on an object that had none.
    client.put(f"{url}/expiry/posted", content=b"p")
    assert client.post(f"{url}/expiry/posted", headers={"X-Delete-After": "1"}).status_code == 202
    assert client.get(f"{url}/expiry/soon").content == b"short-lived"
    assert until(lambda: client.get(f"{url}/expiry/soon").status_code == 404, 10)
    assert until(lambda: client.get(f"{url}/expiry/posted").status_code == 404, 10)
    # The expirer writes the tombstones and takes them out of the listing.
    assert until(lambda: all(lay.files(d, "expiry", "soon")[-1:] and lay.files(d, "expiry", "soon")[-1].endswith(".ts")
                             for d in lay.primaries("expiry", "soon")), 20)
    assert until(lambda: [o["name"] for o in conn.get_container("expiry")[1]] == ["later"], 20)  # type: ignore[attr-defined]
    assert client.get(f"{url}/expiry/later").content == b"kept"


@pytest.mark.parametrize(("headers", "text"), [
    ({"X-Delete-After": "soon"}, "Non-integer X-Delete-After"),
    ({"X-Delete-After": "-5"}, "X-Delete-After in past"),
    ({"X-Delete-At": "x"}, "Non-integer X-Delete-At"),
    ({"X-Delete-At": "1000"}, "X-Delete-At in past"),
])
def test_bad_expiry_headers_are_400(cloud: RunningCloud, headers: dict[str, str], text: str) -> None:
    client, url = http(cloud)
    client.put(f"{url}/badexp")
    r = client.put(f"{url}/badexp/o", content=b"x", headers=headers)
    assert r.status_code == 400 and text in r.text
    client.put(f"{url}/badexp/p", content=b"x")
    r = client.post(f"{url}/badexp/p", headers=headers)
    assert r.status_code == 400 and text in r.text


def test_a_one_replica_storage_policy(cloud: RunningCloud) -> None:
    lay, conn = _layout(cloud)
    client, url = http(cloud)
    info = client.get(url.split("/v1/")[0] + "/info").json()["swift"]
    assert [(p["name"], p.get("default", False)) for p in info["policies"]] == [("Policy-0", True),
                                                                                ("single", False)]
    assert client.put(f"{url}/once", headers={"X-Storage-Policy": "single"}).status_code == 201
    assert client.head(f"{url}/once").headers["x-storage-policy"] == "single"
    conn.put_container("thrice")  # type: ignore[attr-defined]
    assert client.head(f"{url}/thrice").headers["x-storage-policy"] == "Policy-0"
    data = {f"s{i}": os.urandom(100 + i) for i in range(10)}
    for name, body in data.items():
        conn.put_object("once", name, body)  # type: ignore[attr-defined]
    for name, body in data.items():
        assert conn.get_object("once", name)[1] == body  # type: ignore[attr-defined]
    # One replica of each, in the policy's own directory of the devices.
    copies = sum(1 for d in lay.all_devices() for _ in (lay.devices / d / "objects-1").rglob("*.data"))
    assert copies == len(data)
    assert {o["name"] for o in conn.get_container("once")[1]} == set(data)  # type: ignore[attr-defined]
    conn.delete_object("once", "s0")  # type: ignore[attr-defined]
    with pytest.raises(ClientException) as exc:
        conn.get_object("once", "s0")  # type: ignore[attr-defined]
    assert exc.value.http_status == 404
    # A container keeps its policy; an unknown policy is refused.
    assert client.put(f"{url}/thrice", headers={"X-Storage-Policy": "single"}).status_code == 409
    r = client.put(f"{url}/other", headers={"X-Storage-Policy": "gold"})
    assert r.status_code == 400 and "Invalid X-Storage-Policy" in r.text
