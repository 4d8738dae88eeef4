"""The block storage service through the real ``openstack`` CLI, with the data checked byte for byte
in the backing files: create empty, snapshot, from a snapshot, clone, extend, revert, from an
image, upload to an image, delete (cascade) with nothing left on disk; types pick the backend."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningCloud
from tests.functional.volume.conftest import Api, admin_token, backing_file, cli_json, raw_bytes, user_token, write_at

pytestmark = pytest.mark.functional

MiB = 1 << 20
GiB = 1 << 30


def volume_create(cloud: RunningCloud, api: Api, *args: str) -> dict[str, Any]:
    vol: dict[str, Any] = cli_json(cloud, "volume", "create", *args)
    return api.wait("volume", vol["id"], "available")


def test_empty_snapshot_clone_extend_revert_delete(cloud: RunningCloud) -> None:
    api = Api(cloud, user_token(cloud))
    vol = volume_create(cloud, api, "--size", "1", "--property", "tier=gold", "cli-a")
    path = backing_file(cloud, vol["id"])
    assert path.stat().st_size == GiB and path.stat().st_blocks * 512 < MiB  # thin: a sparse raw file
    assert vol["metadata"] == {"tier": "gold"} and vol["volume_type"] == "__DEFAULT__"

    first = os.urandom(MiB)
    write_at(path, 7 * MiB, first)
    snap = cli_json(cloud, "volume", "snapshot", "create", "--volume", "cli-a", "cli-a-snap")
    api.wait("snapshot", snap["id"], "available")
    write_at(path, 7 * MiB, os.urandom(MiB))  # the volume changes after its snapshot

    from_snap = volume_create(cloud, api, "--snapshot", "cli-a-snap", "--size", "2", "cli-b")
    b = backing_file(cloud, from_snap["id"])
    assert b.stat().st_size == 2 * GiB
    assert raw_bytes(b, length=8 * MiB)[7 * MiB:] == first  # the snapshot's data, not the later write

    clone = volume_create(cloud, api, "--source", "cli-a", "cli-c")
    assert raw_bytes(backing_file(cloud, clone["id"])) == raw_bytes(path)

    # extend keeps the data
    before = raw_bytes(path)
    cloud.openstack("volume", "set", "--size", "3", "cli-a")
    extended = api.wait("volume", vol["id"], "available")
    assert extended["size"] == 3 and path.stat().st_size == 3 * GiB
    assert raw_bytes(path, length=GiB) == before

    # revert to the latest snapshot (3.40): the snapshot's bytes come back, the size stays
    cloud.openstack("--os-volume-api-version", "3.40", "volume", "revert", "cli-a-snap")
    api.wait("volume", vol["id"], "available")
    assert raw_bytes(path, length=8 * MiB)[7 * MiB:] == first

    # delete with its snapshot (cascade): no file left behind
    shown = cli_json(cloud, "volume", "list", "--long")
    assert {v["Name"] for v in shown} >= {"cli-a", "cli-b", "cli-c"}
    refused = cloud.openstack("volume", "delete", "cli-a", check=False)
    assert refused.returncode != 0 and "dependent snapshots" in refused.stderr
    cloud.openstack("volume", "delete", "--purge", "cli-a")
    cloud.openstack("volume", "delete", "cli-b", "cli-c")
    for ident in (vol["id"], from_snap["id"], clone["id"]):
        api.wait("volume", ident, "deleted")
    left = {p.name for p in (cloud.data_dir / "volume" / "file-1").iterdir()}
    assert not {n for n in left if vol["id"] in n or snap["id"] in n or from_snap["id"] in n or clone["id"] in n}


def test_from_image_and_upload_to_image(cloud: RunningCloud, tmp_path: Path) -> None:
    api = Api(cloud, user_token(cloud))
    data = os.urandom(3 * MiB + 4096)
    src = tmp_path / "disk.raw"
    src.write_bytes(data)
    qcow = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(src), str(qcow)], check=True)
    cli_json(cloud, "image", "create", "--file", str(qcow), "--disk-format", "qcow2", "--container-format", "bare",
             "--property", "os_distro=cirros", "cli-img")

    vol = volume_create(cloud, api, "--image", "cli-img", "--size", "1", "cli-from-image")
    assert vol["bootable"] == "true"
    meta = vol["volume_image_metadata"]
    assert meta["image_name"] == "cli-img" and meta["disk_format"] == "qcow2" and meta["os_distro"] == "cirros"
    assert raw_bytes(backing_file(cloud, vol["id"]), length=len(data)) == data  # qcow2 converted to raw

    up = cli_json(cloud, "image", "create", "--volume", "cli-from-image", "--disk-format", "qcow2", "cli-up")
    assert up["status"] == "uploading"
    api.wait("volume", vol["id"], "available")
    out = tmp_path / "saved.qcow2"
    for _ in range(100):
        img = cli_json(cloud, "image", "show", "cli-up")
        if img["status"] == "active":
            break
        import time

        time.sleep(0.2)
    assert img["status"] == "active" and img["disk_format"] == "qcow2"
    cloud.openstack("image", "save", "--file", str(out), "cli-up")
    saved = raw_bytes(out, "qcow2")
    assert len(saved) == GiB and saved[:len(data)] == data and saved[len(data):].count(0) == GiB - len(data)
    cloud.openstack("volume", "delete", "cli-from-image")
    api.wait("volume", vol["id"], "deleted")


def test_types_choose_the_backend(cloud: RunningCloud) -> None:
    admin = "litestack-admin"
    cli_json(cloud, "volume", "type", "create", "--property", "volume_backend_name=fake-1", "cli-fast",
             cloud_name=admin)
    cloud.openstack("volume", "type", "set", "--property", "color=red", "cli-fast", cloud=admin)
    shown = cli_json(cloud, "volume", "type", "show", "cli-fast", cloud_name=admin)
    assert shown["properties"] == {"volume_backend_name": "fake-1", "color": "red"}
    api = Api(cloud, user_token(cloud))
    vol = volume_create(cloud, api, "--type", "cli-fast", "--size", "5", "cli-fake")
    host = cli_json(cloud, "volume", "show", vol["id"], cloud_name=admin)["os-vol-host-attr:host"]
    assert host.endswith("@fake-1#fake-1")
    assert not backing_file(cloud, vol["id"]).exists()  # the fake backend keeps no data
    refused = cloud.openstack("volume", "type", "delete", "cli-fast", cloud=admin, check=False)
    assert refused.returncode != 0  # still in use
    cloud.openstack("volume", "delete", vol["id"])
    api.wait("volume", vol["id"], "deleted")
    cloud.openstack("volume", "type", "delete", "cli-fast", cloud=admin)


def test_quota_show_and_set(cloud: RunningCloud) -> None:
    admin = "litestack-admin"
    api = Api(cloud, user_token(cloud))
    cloud.openstack("quota", "set", "--volumes", "7", "--gigabytes", "3", api.project, cloud=admin)
    q = cli_json(cloud, "quota", "show", api.project, cloud_name=admin)
    flat = {e["Resource"]: e["Limit"] for e in q} if isinstance(q, list) else q
    assert flat["volumes"] == 7 and flat["gigabytes"] == 3
    over = cloud.openstack("volume", "create", "--size", "4", "cli-too-big", check=False)
    assert over.returncode != 0 and "gigabytes" in over.stderr and "413" in over.stderr
    cloud.openstack("quota", "set", "--volumes", "10", "--gigabytes", "1000", api.project, cloud=admin)


def test_backup_full_incremental_and_restore(cloud: RunningCloud) -> None:
    api = Api(cloud, user_token(cloud))
    vol = volume_create(cloud, api, "--size", "1", "--property", "purpose=db", "cli-bk")
    path = backing_file(cloud, vol["id"])
    first = os.urandom(3 * MiB)
    write_at(path, 5 * MiB, first)
    full = cli_json(cloud, "volume", "backup", "create", "--name", "bk-full", "cli-bk")
    api.wait("backup", full["id"], "available")
    assert api("GET", f"volumes/{vol['id']}").json()["volume"]["status"] == "available"
    second = os.urandom(MiB)
    write_at(path, 100 * MiB, second)
    incr = cli_json(cloud, "volume", "backup", "create", "--incremental", "--name", "bk-incr", "cli-bk")
    shown = api.wait("backup", incr["id"], "available")
    assert shown["is_incremental"] is True and shown["object_count"] == 1  # only the changed 4 MiB chunk
    expected_after_incr = raw_bytes(path)

    # restore the full backup into a new volume: the bytes of the first state
    restored = cli_json(cloud, "volume", "backup", "restore", "bk-full", "restored-full")
    rid = restored["volume_id"]
    assert api.wait("volume", rid, "available")["metadata"] == {"purpose": "db"}  # restored with the data
    renamed = api("PUT", f"backups/{full['id']}", {"backup": {"name": "bk-full-2", "description": "d"}})
    assert renamed.status_code == 200 and renamed.json()["backup"]["name"] == "bk-full-2"
    got = raw_bytes(backing_file(cloud, rid))
    assert got[5 * MiB:8 * MiB] == first and got[100 * MiB:101 * MiB] == bytes(MiB)

    # wipe the original, then restore the incremental backup into it
    write_at(path, 5 * MiB, bytes(3 * MiB))
    r = api("POST", f"backups/{incr['id']}/restore", {"restore": {"volume_id": vol["id"]}})
    assert r.status_code == 202, r.text
    api.wait("volume", vol["id"], "available")
    assert raw_bytes(path) == expected_after_incr

    # the full backup cannot go while the incremental one depends on it
    refused = api("DELETE", f"backups/{full['id']}")
    assert refused.status_code == 400
    for b in (incr["id"], full["id"]):
        assert api("DELETE", f"backups/{b}").status_code == 202
        api.wait("backup", b, "deleted")
    assert not (cloud.data_dir / "volume" / "backups").exists() or \
        list((cloud.data_dir / "volume" / "backups").iterdir()) == []
    for v in (vol["id"], rid):
        api("DELETE", f"volumes/{v}")
        api.wait("volume", v, "deleted")


def test_qos_specs_with_the_cli(cloud: RunningCloud) -> None:
    """Create, set, unset, associate, list associations, delete refused while associated, force."""
    admin = "litestack-admin"
    qos = cli_json(cloud, "volume", "qos", "create", "--consumer", "front-end", "--property", "read_iops_sec=100",
                   "cli-qos", cloud_name=admin)
    assert qos["consumer"] == "front-end" and qos["name"] == "cli-qos"
    cloud.openstack("volume", "qos", "set", "--property", "write_iops_sec=200", "cli-qos", cloud=admin)
    cloud.openstack("volume", "qos", "unset", "--property", "read_iops_sec", "cli-qos", cloud=admin)
    vt = cli_json(cloud, "volume", "type", "create", "cli-qos-type", cloud_name=admin)
    cloud.openstack("volume", "qos", "associate", "cli-qos", "cli-qos-type", cloud=admin)
    shown = cli_json(cloud, "volume", "qos", "show", "cli-qos", cloud_name=admin)
    assert shown["properties"] == {"write_iops_sec": "200"}
    assert shown["associations"] == ["cli-qos-type"] or "cli-qos-type" in str(shown["associations"])
    listed = cli_json(cloud, "volume", "qos", "list", cloud_name=admin)
    assert [q["Name"] for q in listed if q["ID"] == qos["id"]] == ["cli-qos"]
    adm = Api(cloud, admin_token(cloud))
    assert adm("GET", f"types/{vt['id']}").json()["volume_type"]["qos_specs_id"] == qos["id"]
    # a type has one spec: a second spec cannot take it
    other = adm("POST", "qos-specs", {"qos_specs": {"name": "cli-qos-2"}}).json()["qos_specs"]
    assert other["consumer"] == "back-end"
    r = adm("GET", f"qos-specs/{other['id']}/associate?vol_type_id={vt['id']}")
    assert r.status_code == 400, r.text
    # bad input and RBAC
    assert adm("POST", "qos-specs", {"qos_specs": {"name": "x", "consumer": "nowhere"}}).status_code == 400
    assert adm("POST", "qos-specs", {"qos_specs": {"name": "cli-qos"}}).status_code == 409
    assert adm("GET", "qos-specs/no-such-spec").status_code == 404
    assert adm("PUT", f"qos-specs/{qos['id']}/delete_keys", {"keys": ["absent"]}).status_code == 404
    member = Api(cloud, user_token(cloud))
    assert member("GET", "qos-specs").status_code == 403
    assert member("POST", "qos-specs", {"qos_specs": {"name": "mine"}}).status_code == 403
    # associated: delete refused without force, then forced (which disassociates)
    refused = cloud.openstack("volume", "qos", "delete", "cli-qos", cloud=admin, check=False)
    assert refused.returncode != 0
    assert adm("GET", f"qos-specs/{qos['id']}").status_code == 200
    cloud.openstack("volume", "qos", "disassociate", "--volume-type", "cli-qos-type", "cli-qos", cloud=admin)
    assert adm("GET", f"qos-specs/{qos['id']}/associations").json() == {"qos_associations": []}
    cloud.openstack("volume", "qos", "associate", "cli-qos", "cli-qos-type", cloud=admin)
    cloud.openstack("volume", "qos", "delete", "--force", "cli-qos", "cli-qos-2", cloud=admin)
    assert adm("GET", f"qos-specs/{qos['id']}").status_code == 404
    assert adm("GET", f"types/{vt['id']}").json()["volume_type"]["qos_specs_id"] is None
    cloud.openstack("volume", "type", "delete", "cli-qos-type", cloud=admin)
