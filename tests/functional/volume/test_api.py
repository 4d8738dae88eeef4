"""The block storage API with openstacksdk and raw HTTP: versions and microversions, Cinder's error
bodies (never a 500), project isolation and RBAC, the attachments API and the legacy attach
actions with real connection info, quotas (413 overLimit), capacity freed exactly, and a bounded
schemathesis run over the published OpenAPI document."""

from __future__ import annotations

import os
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.functional.image.conftest import Project
from tests.functional.volume.conftest import VOLUME_HOST, Api, admin_token, backing_file, raw_bytes, user_token

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def other(cloud: RunningCloud) -> Project:
    name = f"p-{uuid.uuid4().hex[:8]}"
    user, password = f"u-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = "litestack-admin"
    pid = cloud.openstack("project", "create", name, "-f", "value", "-c", "id", cloud=admin).stdout.strip()
    cloud.openstack("user", "create", user, "--password", password, "--project", name, cloud=admin)
    cloud.openstack("role", "add", "--user", user, "--project", name, "member", cloud=admin)
    return Project(cloud, pid, name, user, password)


def fault(r: httpx.Response, code: int, name: str) -> str:
    assert r.status_code == code, (r.status_code, r.text)
    body = r.json()
    assert list(body) == [name] and body[name]["code"] == code, body
    message: str = body[name]["message"]
    return message


def new_volume(api: Api, size: int = 1, **extra: Any) -> dict[str, Any]:
    r = api("POST", "volumes", {"volume": {"size": size, **extra}})
    assert r.status_code == 202, r.text
    return api.wait("volume", r.json()["volume"]["id"], "available")


def test_versions_and_microversions(cloud: RunningCloud) -> None:
    r = httpx.get(f"{cloud.url}/volume/")
    assert r.status_code == 300
    v = r.json()["versions"][0]
    assert v["id"] == "v3.0" and v["min_version"] == "3.0" and v["version"] == "3.60"
    api = Api(cloud, user_token(cloud), version=None)
    r = api("GET", "volumes")
    assert r.status_code == 200 and r.headers["OpenStack-API-Version"] == "volume 3.0"
    assert "OpenStack-API-Version" in r.headers["Vary"]
    assert api("GET", "volumes", version="latest").headers["OpenStack-API-Version"] == "volume 3.60"
    r = api("GET", "volumes", version="3.99")
    assert r.status_code == 406
    # attachments appear with 3.27
    fault(api("GET", "attachments", version="3.26"), 404, "itemNotFound")
    assert api("GET", "attachments", version="3.27").status_code == 200


def test_sdk_volume_lifecycle_and_capacity(cloud: RunningCloud) -> None:
    conn = cloud.sdk("litestack")
    admin = cloud.sdk("litestack-admin")
    pools = {p.name: p for p in admin.block_storage.backend_pools(details=True)}
    pool = next(p for name, p in pools.items() if name.endswith("@file-1#file-1"))
    free_before = pool.capabilities["free_capacity_gb"]
    vol = conn.block_storage.create_volume(size=2, name="sdk-one", metadata={"a": "1"})
    vol = conn.block_storage.wait_for_status(vol, "available", wait=60, interval=0.3)
    assert vol.size == 2 and vol.metadata == {"a": "1"}
    assert [v.id for v in conn.block_storage.volumes(name="sdk-one")] == [vol.id]
    conn.block_storage.update_volume(vol, name="sdk-renamed", description="d")
    assert conn.block_storage.get_volume(vol.id).name == "sdk-renamed"
    pool = next(p for p in admin.block_storage.backend_pools(details=True) if p.name == pool.name)
    assert pool.capabilities["free_capacity_gb"] == free_before - 2
    snap = conn.block_storage.create_snapshot(volume_id=vol.id, name="sdk-snap", metadata={"k": "v"})
    snap = conn.block_storage.wait_for_status(snap, "available", wait=60, interval=0.3)
    assert snap.size == 2 and snap.metadata == {"k": "v"}
    pool = next(p for p in admin.block_storage.backend_pools(details=True) if p.name == pool.name)
    assert pool.capabilities["free_capacity_gb"] == free_before - 4
    conn.block_storage.delete_snapshot(snap)
    conn.block_storage.wait_for_delete(snap, wait=60, interval=0.3)
    conn.block_storage.delete_volume(vol)
    conn.block_storage.wait_for_delete(vol, wait=60, interval=0.3)
    pool = next(p for p in admin.block_storage.backend_pools(details=True) if p.name == pool.name)
    assert pool.capabilities["free_capacity_gb"] == free_before  # freed exactly
    assert not backing_file(cloud, vol.id).exists()
    caps = admin.block_storage.get_capabilities(pool.name.partition("#")[0])
    assert caps.volume_backend_name == "file-1" and caps.storage_protocol == "local"
    zones = [z.name for z in conn.block_storage.availability_zones()]
    assert zones == ["nova"]
    services = {(s.binary, s.state) for s in admin.block_storage.services()}
    assert ("cinder-volume", "up") in services and ("cinder-scheduler", "up") in services
    assert any(e.alias == "os-volume-actions" for e in conn.block_storage.extensions())
    limits = conn.block_storage.get_limits()
    assert limits.absolute.max_total_volumes >= 1


def test_errors_are_cinders_and_never_500(cloud: RunningCloud, other: Project) -> None:
    api = Api(cloud, user_token(cloud))
    fault(api("POST", "volumes", {"volume": {"size": 0}}), 400, "badRequest")
    fault(api("POST", "volumes", {"volume": {"size": "big"}}), 400, "badRequest")
    fault(api("POST", "volumes", {"volume": {}}), 400, "badRequest")
    fault(api("POST", "volumes", {"volume": {"size": 1, "volume_type": "no-such-type"}}), 404, "itemNotFound")
    fault(api("POST", "volumes", {"volume": {"size": 1, "snapshot_id": str(uuid.uuid4())}}), 404, "itemNotFound")
    fault(api("POST", "volumes", {"volume": {"size": 1, "imageRef": str(uuid.uuid4())}}), 400, "badRequest")
    fault(api("POST", "volumes", {"volume": {"size": 1, "availability_zone": "mars"}}), 400, "badRequest")
    r = httpx.post(api.url("volumes"), content=b"{not json", headers={"X-Auth-Token": api.token,
                                                                     "Content-Type": "application/json"})
    fault(r, 400, "badRequest")
    fault(api("GET", f"volumes/{uuid.uuid4()}"), 404, "itemNotFound")
    fault(api("GET", f"volumes/detail?marker={uuid.uuid4()}"), 404, "itemNotFound")
    fault(api("GET", f"snapshots?marker={uuid.uuid4()}"), 404, "itemNotFound")
    fault(api("GET", "volumes?offset=-1"), 400, "badRequest")
    assert api("GET", "snapshots/detail?sort_key=display_name&sort_dir=asc&offset=0").status_code == 200

    vol = new_volume(api)
    # extend to a smaller size, unknown action, bad status
    assert "greater than current size" in fault(api("POST", f"volumes/{vol['id']}/action",
                                                    {"os-extend": {"new_size": 1}}), 400, "badRequest")
    fault(api("POST", f"volumes/{vol['id']}/action", {"os-nothing": {}}), 400, "badRequest")
    fault(api("POST", f"volumes/{vol['id']}/action", {"os-extend": {"new_size": "x"}}), 400, "badRequest")
    # a member may not reset a status (admin only): 403
    fault(api("POST", f"volumes/{vol['id']}/action", {"os-reset_status": {"status": "error"}}), 403, "forbidden")

    # another project's volume is 404 for every verb
    stranger = Api(cloud, other.token())
    for method, path, body in (("GET", f"volumes/{vol['id']}", None),
                               ("PUT", f"volumes/{vol['id']}", {"volume": {"name": "x"}}),
                               ("DELETE", f"volumes/{vol['id']}", None),
                               ("POST", f"volumes/{vol['id']}/action", {"os-extend": {"new_size": 5}})):
        r = httpx.request(method, f"{cloud.url}/volume/v3/{stranger.project}/{path}", json=body,
                          headers={"X-Auth-Token": stranger.token})
        fault(r, 404, "itemNotFound")
    assert vol["id"] not in {v["id"] for v in stranger("GET", "volumes").json()["volumes"]}

    # admin: all_tenants shows it, reset-status works
    adm = Api(cloud, admin_token(cloud))
    listed = adm("GET", "volumes/detail?all_tenants=1").json()["volumes"]
    assert vol["id"] in {v["id"] for v in listed}
    assert adm("POST", f"volumes/{vol['id']}/action", {"os-reset_status": {"status": "error"}}).status_code == 202
    assert api("GET", f"volumes/{vol['id']}").json()["volume"]["status"] == "error"
    # a volume in error may be deleted
    assert api("DELETE", f"volumes/{vol['id']}").status_code == 202
    api.wait("volume", vol["id"], "deleted")


def test_attachments_and_legacy_attach(cloud: RunningCloud) -> None:
    api = Api(cloud, user_token(cloud))
    vol = new_volume(api)
    server = str(uuid.uuid4())
    connector = {"host": VOLUME_HOST, "initiator": "iqn.test", "multipath": False}
    r = api("POST", "attachments", {"attachment": {"volume_uuid": vol["id"], "instance_uuid": server,
                                                   "connector": connector}})
    assert r.status_code == 200, r.text
    att = r.json()["attachment"]
    info = att["connection_info"]
    assert info["driver_volume_type"] == "local"
    assert info["data"]["device_path"] == str(backing_file(cloud, vol["id"]))
    assert info["data"]["access_mode"] == "rw" and att["status"] == "attaching"
    assert api("GET", f"volumes/{vol['id']}").json()["volume"]["status"] == "attaching"
    assert api("POST", f"attachments/{att['id']}/action", {"os-complete": {}}).status_code == 204
    shown = api("GET", f"volumes/{vol['id']}").json()["volume"]
    assert shown["status"] == "in-use" and shown["attachments"][0]["server_id"] == server
    # an in-use volume cannot be deleted, nor attached again (not multiattach)
    fault(api("DELETE", f"volumes/{vol['id']}"), 400, "badRequest")
    fault(api("POST", "attachments", {"attachment": {"volume_uuid": vol["id"], "instance_uuid": str(uuid.uuid4())}}),
          400, "badRequest")
    # snapshot of an in-use volume needs force
    fault(api("POST", "snapshots", {"snapshot": {"volume_id": vol["id"]}}), 400, "badRequest")
    forced = api("POST", "snapshots", {"snapshot": {"volume_id": vol["id"], "force": True}})
    assert forced.status_code == 202
    api.wait("snapshot", forced.json()["snapshot"]["id"], "available")
    r = api("DELETE", f"attachments/{att['id']}")
    assert r.status_code == 200 and r.json() == {"attachments": []}
    assert api("GET", f"volumes/{vol['id']}").json()["volume"]["status"] == "available"

    # the legacy flow, from another host: reserve, initialize_connection (an NBD export), attach,
    # begin_detaching, detach; what the other host writes through the export is in the file
    act = f"volumes/{vol['id']}/action"
    assert api("POST", act, {"os-reserve": None}).status_code == 202
    assert api("GET", f"volumes/{vol['id']}").json()["volume"]["status"] == "attaching"
    r = api("POST", act, {"os-initialize_connection": {"connector": {"host": "compute-1"}}})
    assert r.status_code == 200
    nbd = r.json()["connection_info"]
    assert nbd["driver_volume_type"] == "nbd" and nbd["data"]["name"] == f"volume-{vol['id']}"
    import subprocess

    subprocess.run(["qemu-io", "-f", "raw", "-c", "write -P 0x33 4M 64k", nbd["data"]["uri"]], check=True,
                   capture_output=True)
    assert api("POST", act, {"os-attach": {"instance_uuid": server, "mountpoint": "/dev/vdb"}}).status_code == 202
    shown = api("GET", f"volumes/{vol['id']}").json()["volume"]
    assert shown["status"] == "in-use" and shown["attachments"][0]["device"] == "/dev/vdb"
    assert api("POST", act, {"os-begin_detaching": {}}).status_code == 202
    assert api("POST", act, {"os-roll_detaching": {}}).status_code == 202
    assert api("GET", f"volumes/{vol['id']}").json()["volume"]["status"] == "in-use"
    assert api("POST", act, {"os-detach": {}}).status_code == 202
    assert api("GET", f"volumes/{vol['id']}").json()["volume"]["status"] == "available"
    assert api("POST", act, {"os-terminate_connection": {"connector": {"host": "compute-1"}}}).status_code == 202
    assert raw_bytes(backing_file(cloud, vol["id"]), length=(4 << 20) + 65536)[4 << 20:] == b"\x33" * 65536
    assert api("DELETE", f"volumes/{vol['id']}?cascade=true").status_code == 202
    api.wait("volume", vol["id"], "deleted")


def test_multiattach(cloud: RunningCloud) -> None:
    api = Api(cloud, user_token(cloud))
    vol = new_volume(api, multiattach=True)
    ids = []
    for _ in range(2):
        r = api("POST", "attachments", {"attachment": {"volume_uuid": vol["id"], "instance_uuid": str(uuid.uuid4()),
                                                       "connector": {"host": "h"}}})
        assert r.status_code == 200, r.text
        ids.append(r.json()["attachment"]["id"])
        assert api("POST", f"attachments/{ids[-1]}/action", {"os-complete": {}}).status_code == 204
    assert len(api("GET", f"volumes/{vol['id']}").json()["volume"]["attachments"]) == 2
    api("DELETE", f"attachments/{ids[0]}")
    assert api("GET", f"volumes/{vol['id']}").json()["volume"]["status"] == "in-use"
    api("DELETE", f"attachments/{ids[1]}")
    assert api("GET", f"volumes/{vol['id']}").json()["volume"]["status"] == "available"
    api("DELETE", f"volumes/{vol['id']}")
    api.wait("volume", vol["id"], "deleted")


def test_quota_exceeded_is_413_overlimit(cloud: RunningCloud, other: Project) -> None:
    adm = Api(cloud, admin_token(cloud))
    r = adm("PUT", f"os-quota-sets/{other.id}", {"quota_set": {"volumes": 1, "snapshots": 0}})
    assert r.status_code == 200 and r.json()["quota_set"]["volumes"] == 1
    api = Api(cloud, other.token())
    vol = new_volume(api)
    msg = fault(api("POST", "volumes", {"volume": {"size": 1}}), 413, "overLimit")
    assert "VolumeLimitExceeded" in msg and "'volumes'" in msg
    fault(api("POST", "snapshots", {"snapshot": {"volume_id": vol["id"]}}), 413, "overLimit")
    usage = api("GET", f"os-quota-sets/{other.id}?usage=True").json()["quota_set"]
    assert usage["volumes"] == {"limit": 1, "in_use": 1, "reserved": 0, "allocated": 0}
    assert usage["gigabytes"]["in_use"] == 1
    # a member may not raise their own quota
    fault(api("PUT", f"os-quota-sets/{other.id}", {"quota_set": {"volumes": 100}}), 403, "forbidden")
    api("DELETE", f"volumes/{vol['id']}")
    api.wait("volume", vol["id"], "deleted")
    assert adm("DELETE", f"os-quota-sets/{other.id}").status_code == 200


def test_api_conforms_to_its_openapi_document(cloud: RunningCloud) -> None:
    from tests.fuzz import fuzz, openapi

    api = Api(cloud, admin_token(cloud))
    vol = new_volume(api)
    snap = api("POST", "snapshots", {"snapshot": {"volume_id": vol["id"]}}).json()["snapshot"]
    api.wait("snapshot", snap["id"], "available")
    types = api("GET", "types").json()["volume_types"]
    schema = openapi(f"{cloud.url}/volume", api.token)
    ids = {"project_id": api.project, "volume_id": vol["id"], "snapshot_id": snap["id"],
           "type_id": types[0]["id"], "target_project_id": api.project, "class_name": "default",
           "attachment_id": str(uuid.uuid4()), "key": "k"}
    result = fuzz(schema, ids, 8)
    assert result.ran >= 40, f"only {result.ran} operations were fuzzed"
    assert not result.failures, "\n\n".join(result.failures)


def test_actions_metadata_and_types(cloud: RunningCloud, other: Project) -> None:
    api = Api(cloud, user_token(cloud))
    adm = Api(cloud, admin_token(cloud))
    vol = new_volume(api, metadata={"a": "1"})
    vid = vol["id"]
    act = f"volumes/{vid}/action"
    # metadata: add, replace one item, delete one
    assert api("POST", f"volumes/{vid}/metadata", {"metadata": {"b": "2"}}).json()["metadata"] == {"a": "1", "b": "2"}
    assert api("PUT", f"volumes/{vid}/metadata/b", {"meta": {"b": "3"}}).json() == {"meta": {"b": "3"}}
    assert api("DELETE", f"volumes/{vid}/metadata/a").status_code == 200
    assert api("GET", f"volumes/{vid}/metadata").json() == {"metadata": {"b": "3"}}
    fault(api("GET", f"volumes/{vid}/metadata/zz"), 404, "itemNotFound")
    # a snapshot's metadata: the same sub-resource
    snap = api("POST", "snapshots", {"snapshot": {"volume_id": vid, "metadata": {"s": "1"}}}).json()["snapshot"]
    api.wait("snapshot", snap["id"], "available")
    sm = f"snapshots/{snap['id']}/metadata"
    assert api("POST", sm, {"metadata": {"t": "2"}}).json() == {"metadata": {"s": "1", "t": "2"}}
    assert api("PUT", f"{sm}/t", {"meta": {"t": "3"}}).json() == {"meta": {"t": "3"}}
    fault(api("PUT", f"{sm}/t", {"meta": {"u": "3"}}), 400, "badRequest")
    assert api("DELETE", f"{sm}/s").status_code == 200
    assert api("GET", f"{sm}/t").json() == {"meta": {"t": "3"}}
    assert api("PUT", sm, {"metadata": {"v": "4"}}).json() == {"metadata": {"v": "4"}}
    fault(api("GET", f"{sm}/t"), 404, "itemNotFound")
    assert api("DELETE", f"snapshots/{snap['id']}").status_code == 202
    api.wait("snapshot", snap["id"], "deleted")
    # bootable, readonly, image metadata
    assert api("POST", act, {"os-set_bootable": {"bootable": True}}).status_code == 200
    assert api("POST", act, {"os-update_readonly_flag": {"readonly": True}}).status_code == 202
    assert api("GET", f"volumes/{vid}").json()["volume"]["bootable"] == "true"
    r = api("POST", act, {"os-set_image_metadata": {"metadata": {"hw_disk_bus": "scsi"}}})
    assert r.json() == {"metadata": {"hw_disk_bus": "scsi"}}
    assert api("POST", act, {"os-show_image_metadata": None}).json() == {"metadata": {"hw_disk_bus": "scsi"}}
    assert api("POST", act, {"os-unset_image_metadata": {"key": "hw_disk_bus"}}).status_code == 200
    fault(api("POST", act, {"os-unset_image_metadata": {"key": "hw_disk_bus"}}), 404, "itemNotFound")
    # a read-only volume's connection is read-only
    info = api("POST", act, {"os-initialize_connection": {"connector": {"host": VOLUME_HOST}}}).json()
    assert info["connection_info"]["data"]["access_mode"] == "ro"
    # admin resets status and attach status
    r = adm("POST", act, {"os-reset_status": {"status": "error_extending", "attach_status": "detached"}})
    assert r.status_code == 202
    assert api("GET", f"volumes/{vid}").json()["volume"]["status"] == "error_extending"
    assert adm("POST", act, {"os-reset_status": {"status": "available"}}).status_code == 202

    # a private type with extra specs, given to the user's project; retype onto it
    t = adm("POST", "types", {"volume_type": {"name": f"priv-{uuid.uuid4().hex[:6]}", "is_public": False,
                                              "extra_specs": {"volume_backend_name": "file-1"}}}).json()["volume_type"]
    assert t["is_public"] is False and t["extra_specs"] == {"volume_backend_name": "file-1"}
    fault(api("GET", f"types/{t['id']}"), 404, "itemNotFound")
    assert adm("POST", f"types/{t['id']}/action", {"addProjectAccess": {"project": api.project}}).status_code == 202
    assert api("GET", f"types/{t['id']}").status_code == 200
    assert "extra_specs" not in api("GET", f"types/{t['id']}").json()["volume_type"]  # admin-only field
    access = adm("GET", f"types/{t['id']}/os-volume-type-access").json()["volume_type_access"]
    assert access == [{"volume_type_id": t["id"], "project_id": api.project}]
    fault(Api(cloud, other.token())("GET", f"types/{t['id']}"), 404, "itemNotFound")
    fault(api("POST", "types", {"volume_type": {"name": "mine"}}), 403, "forbidden")
    assert adm("PUT", f"types/{t['id']}/extra_specs/color", {"color": "red"}).json() == {"color": "red"}
    assert adm("GET", f"types/{t['id']}/extra_specs").json()["extra_specs"]["color"] == "red"
    assert api("POST", act, {"os-retype": {"new_type": t["name"]}}).status_code == 202
    assert api("GET", f"volumes/{vid}").json()["volume"]["volume_type"] == t["name"]

    # snapshot metadata and admin status reset
    snap = api("POST", "snapshots", {"snapshot": {"volume_id": vid, "metadata": {"x": "1"}}}).json()["snapshot"]
    api.wait("snapshot", snap["id"], "available")
    assert api("PUT", f"snapshots/{snap['id']}/metadata", {"metadata": {"y": "2"}}).json() == {"metadata": {"y": "2"}}
    assert api("PUT", f"snapshots/{snap['id']}", {"snapshot": {"name": "renamed"}}).json()["snapshot"]["name"] == \
        "renamed"
    assert adm("POST", f"snapshots/{snap['id']}/action", {"os-reset_status": {"status": "error"}}).status_code == 202
    assert api("GET", f"snapshots/{snap['id']}").json()["snapshot"]["status"] == "error"
    assert api("DELETE", f"volumes/{vid}?cascade=true").status_code == 202
    api.wait("volume", vid, "deleted")
    assert adm("DELETE", f"types/{t['id']}").status_code == 202


def test_twenty_parallel_creates_from_one_image(cloud: RunningCloud, tmp_path: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    api = Api(cloud, user_token(cloud))
    data = os.urandom(1 << 20)
    img = httpx.post(f"{cloud.url}/image/v2/images", headers={"X-Auth-Token": api.token},
                     json={"name": "par", "disk_format": "raw", "container_format": "bare"}).json()
    r = httpx.put(f"{cloud.url}/image/v2/images/{img['id']}/file", content=data,
                  headers={"X-Auth-Token": api.token, "Content-Type": "application/octet-stream"})
    assert r.status_code == 204
    adm = Api(cloud, admin_token(cloud))
    adm("PUT", f"os-quota-sets/{api.project}", {"quota_set": {"volumes": 40}})

    def create(i: int) -> str:
        r = api("POST", "volumes", {"volume": {"size": 1, "imageRef": img["id"], "name": f"par-{i}"}})
        assert r.status_code == 202, r.text
        ident: str = r.json()["volume"]["id"]
        return ident

    with ThreadPoolExecutor(20) as pool:
        ids = list(pool.map(create, range(20)))
    for ident in ids:
        api.wait("volume", ident, "available", timeout=120)
        with backing_file(cloud, ident).open("rb") as f:
            assert f.read(len(data)) == data
    for ident in ids:
        assert api("DELETE", f"volumes/{ident}").status_code == 202
    for ident in ids:
        api.wait("volume", ident, "deleted")
    adm("DELETE", f"os-quota-sets/{api.project}")


def test_transfer_with_the_cli(cloud: RunningCloud, other: Project) -> None:
    import json

    api = Api(cloud, user_token(cloud))
    vol = new_volume(api, name="to-give")
    snap = api("POST", "snapshots", {"snapshot": {"volume_id": vol["id"]}}).json()["snapshot"]
    api.wait("snapshot", snap["id"], "available")
    offer = json.loads(cloud.openstack("volume", "transfer", "request", "create", "--name", "gift", vol["id"],
                                       "-f", "json").stdout)
    assert offer["auth_key"] and offer["volume_id"] == vol["id"]
    assert api("GET", f"volumes/{vol['id']}").json()["volume"]["status"] == "awaiting-transfer"
    # a wrong key is refused; the other project cannot see the transfer in its list
    taker = Api(cloud, other.token())
    fault(taker("POST", f"os-volume-transfer/{offer['id']}/accept", {"accept": {"auth_key": "wrong"}}), 400,
          "badRequest")
    assert taker("GET", "os-volume-transfer").json()["transfers"] == []
    other.openstack("volume", "transfer", "request", "accept", "--auth-key", offer["auth_key"], offer["id"])
    moved = taker("GET", f"volumes/{vol['id']}").json()["volume"]
    assert moved["status"] == "available"
    fault(api("GET", f"volumes/{vol['id']}"), 404, "itemNotFound")  # gone from the giver
    assert taker("GET", f"snapshots/{snap['id']}").status_code == 200  # the snapshot went with it
    assert taker("DELETE", f"volumes/{vol['id']}?cascade=true").status_code == 202
    taker.wait("volume", vol["id"], "deleted")
