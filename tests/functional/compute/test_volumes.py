"""Volumes of servers through the compute API and the block storage service, with the real
``openstack`` CLI and openstacksdk: attach and detach (``os-volume_attachments``), boot from
volume (``block_device_mapping_v2``), delete with ``delete_on_termination``, volume-extended.

One cloud for the module: identity, image, network, placement, compute (two fake hosts,
``vol-host`` and ``vol-host-2``) and block storage with a real file backend on ``vol-host``. A
server on ``vol-host`` gets a volume as its local file; one on ``vol-host-2`` through the NBD
export block storage starts. The fake driver reads every volume through the connection info it
was given and tells on the console the size and the SHA-256 of the first sector it read: the
tests write known bytes into the volume's file and find their hash there.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningCloud, until
from tests.databases import DATABASES, cloud_on
from tests.functional.compute.conftest import Nova, nova_error, unique
from tests.functional.identity.keystone import FAST_HASH, Keystone

HOST, OTHER = "vol-host", "vol-host-2"
CONFIG = FAST_HASH + f"""
[DEFAULT]
services = ["identity", "image", "network", "placement", "compute", "volume"]

[network]
bootstrap = false

[compute]
fake_hosts = 2
fake_memory_mb = 8192
host = "{HOST}"
report_interval = 1.0
service_down_time = 6.0

[volume]
backends = ["file-1:file"]
capacity_gb = 40
report_interval = 2
host = "{HOST}"
"""


@pytest.fixture(scope="module", params=DATABASES)
def cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    # Six services migrate their databases first: on MariaDB that alone takes about 30 s here.
    with cloud_on(request.param, tmp_path_factory.mktemp(f"compute-volumes-{request.param}"), CONFIG, 90) as c:
        yield c


class Cloud(Nova):
    """The compute helper plus block storage calls and the volume files of the file backend."""

    def volume_api(self, method: str, path: str, token: str | None = None, version: str = "3.44",
                   **kw: Any) -> httpx.Response:
        headers = {"OpenStack-API-Version": f"volume {version}"}
        return self.request(method, f"/volume/v3/{self.demo_project}/{path}", token, headers=headers, **kw)

    def volume(self, volume_id: str, token: str | None = None) -> dict[str, Any]:
        r = self.volume_api("GET", f"volumes/{volume_id}", token or self.admin)
        assert r.status_code == 200, r.text
        return dict(r.json()["volume"])

    def wait_volume(self, volume_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
        assert until(lambda: self.volume(volume_id)["status"] == status, timeout), self.volume(volume_id)
        return self.volume(volume_id)

    def volume_gone(self, volume_id: str) -> bool:
        return until(lambda: self.volume_api("GET", f"volumes/{volume_id}", self.admin).status_code == 404, 30)

    def make_volume(self, size: int = 1, token: str | None = None, **fields: Any) -> str:
        r = self.volume_api("POST", "volumes", token, json={"volume": {"size": size, "name": unique("vol"),
                                                                       **fields}})
        assert r.status_code == 202, r.text
        vid = str(r.json()["volume"]["id"])
        self.wait_volume(vid, "available")
        return vid

    def path(self, volume_id: str) -> Path:
        return self.cloud.data_dir / "volume" / "file-1" / f"volume-{volume_id}"

    def mark(self, volume_id: str) -> str:
        """Write a random first sector into the volume's file; the SHA-256 a reader will see."""
        sector = os.urandom(512)
        with self.path(volume_id).open("r+b") as f:
            f.write(sector)
        return hashlib.sha256(sector).hexdigest()

    def console(self, server_id: str) -> str:
        r = self.compute("POST", f"/servers/{server_id}/action", json={"os-getConsoleOutput": {}})
        assert r.status_code == 200, r.text
        return str(r.json()["output"])

    def actions(self, server_id: str) -> list[str]:
        r = self.compute("GET", f"/servers/{server_id}/os-instance-actions")
        return [a["action"] for a in r.json()["instanceActions"]]

    def on(self, host: str, **server: Any) -> dict[str, Any]:
        """A server on ``host`` (admin's ``zone:host``), in the demo project."""
        return self.boot(availability_zone=f"nova:{host}", **server)


@pytest.fixture(scope="module")
def nova(cloud: RunningCloud) -> Iterator[Cloud]:
    ks = Keystone(cloud)
    n = Cloud(cloud, ks)
    n.network  # noqa: B018 - the demo project's one network, made before any boot

    def all_up() -> bool:
        found = n.compute("GET", "/os-hypervisors", n.admin).json().get("hypervisors", [])
        return len(found) == 2 and all(h["state"] == "up" for h in found)
    assert until(all_up, 30)
    yield n
    n.close()
    ks.close()


def cli(cloud: RunningCloud, *args: str, cloud_name: str = "litestack") -> Any:
    return json.loads(cloud.openstack(*args, "-f", "json", cloud=cloud_name).stdout)


def test_cli_add_and_remove_volume_reaches_the_volume_file(cloud: RunningCloud, nova: Cloud) -> None:
    srv = nova.on(HOST)
    vid = nova.make_volume()
    digest = nova.mark(vid)
    cloud.openstack("server", "add", "volume", srv["id"], vid, "--device", "/dev/vdb")
    vol = nova.wait_volume(vid, "in-use")
    assert vol["attachments"][0]["server_id"] == srv["id"]
    assert vol["attachments"][0]["device"] == "/dev/vdb"
    assert vol["attachments"][0]["host_name"] == HOST
    shown = nova.server(srv["id"])
    assert shown["os-extended-volumes:volumes_attached"] == [{"id": vid}]
    listed = cli(cloud, "server", "volume", "list", srv["id"])
    assert [(v["Volume ID"], v["Device"]) for v in listed] == [(vid, "/dev/vdb")]
    # The fake guest read the volume's file through the connection info it was given.
    assert until(lambda: f"first sector sha256:{digest}" in nova.console(srv["id"]), 10), nova.console(srv["id"])
    assert f"[vdb] 2097152 512-byte logical blocks (1.07 GB/1.00 GiB) volume {vid} over local" in nova.console(
        srv["id"])
    attachment = nova.volume_api("GET", f"attachments/{vol['attachments'][0]['attachment_id']}", nova.admin).json()
    info = attachment["attachment"]["connection_info"]
    assert info["driver_volume_type"] == "local" and Path(info["data"]["device_path"]) == nova.path(vid)
    assert "attach_volume" in nova.actions(srv["id"])

    cloud.openstack("server", "remove", "volume", srv["id"], vid)
    assert nova.wait_volume(vid, "available")["attachments"] == []
    assert until(lambda: nova.server(srv["id"])["os-extended-volumes:volumes_attached"] == [], 10)
    assert "[vdb] removed" in nova.console(srv["id"])
    assert "detach_volume" in nova.actions(srv["id"])
    nova.compute("DELETE", f"/servers/{srv['id']}")
    assert nova.gone(srv["id"])
    assert nova.volume(vid)["status"] == "available"


def test_sdk_attach_on_another_host_reads_through_the_nbd_export(cloud: RunningCloud, nova: Cloud) -> None:
    conn = cloud.sdk()
    srv = nova.on(OTHER)
    vid = nova.make_volume(2)
    digest = nova.mark(vid)
    att = conn.compute.create_volume_attachment(srv["id"], volume_id=vid)
    assert att.volume_id == vid and att.device == "/dev/vdb"
    vol = nova.wait_volume(vid, "in-use")
    assert vol["attachments"][0]["host_name"] == OTHER
    assert until(lambda: f"first sector sha256:{digest}" in nova.console(srv["id"]), 10), nova.console(srv["id"])
    assert f"[vdb] 4194304 512-byte logical blocks (2.15 GB/2.00 GiB) volume {vid} over nbd" in nova.console(
        srv["id"])
    pid_file = nova.path(vid).with_name(f".nbd-{vid}.pid")
    assert pid_file.exists()  # the export the other host reads through
    assert [a.volume_id for a in conn.compute.volume_attachments(srv["id"])] == [vid]
    conn.compute.delete_volume_attachment(srv["id"], vid)
    nova.wait_volume(vid, "available")
    assert until(lambda: not pid_file.exists(), 10)  # the export stopped with the last attachment
    nova.compute("DELETE", f"/servers/{srv['id']}")
    assert nova.gone(srv["id"])


def test_boot_from_an_existing_volume_with_the_cli(cloud: RunningCloud, nova: Cloud) -> None:
    vid = nova.make_volume(1, imageRef=nova.image)  # a bootable volume from the image
    digest = nova.mark(vid)
    name = unique("bfv")
    srv = cli(cloud, "server", "create", "--flavor", "1", "--volume", vid, "--network", nova.network[0],
              "--wait", name)
    assert srv["status"] == "ACTIVE"
    shown = nova.server(srv["id"])
    assert shown["image"] == ""
    assert shown["os-extended-volumes:volumes_attached"] == [{"id": vid}]
    vol = nova.volume(vid)
    assert vol["status"] == "in-use" and vol["attachments"][0]["device"] == "/dev/vda"
    console = nova.console(srv["id"])
    assert f"Booting from volume {vid} (vda)" in console and f"first sector sha256:{digest}" in console
    # The root disk is in block storage: the host's claim has no DISK_GB (m1.tiny's 1 GiB).
    claim = nova.placement(f"/allocations/{srv['id']}").json()["allocations"]
    assert [sorted(a["resources"]) for a in claim.values()] == [["MEMORY_MB", "VCPU"]]
    # The root volume cannot be detached.
    nova_error(nova.compute("DELETE", f"/servers/{srv['id']}/os-volume_attachments/{vid}"), 400, "badRequest",
               "root device")
    cloud.openstack("server", "delete", "--wait", srv["id"])
    # Not delete_on_termination: the volume is free again, with its data.
    assert nova.wait_volume(vid, "available")["attachments"] == []


def test_boot_from_image_snapshot_and_blank_volumes_deletes_on_termination(cloud: RunningCloud,
                                                                            nova: Cloud) -> None:
    content = os.urandom(512) + b"\0" * 512
    r = nova.request("POST", "/image/v2/images", json={"name": unique("img"), "disk_format": "raw",
                                                       "container_format": "bare"})
    image = r.json()["id"]
    r = nova.request("PUT", f"/image/v2/images/{image}/file", content=content,
                     headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text
    # --boot-from-volume: the CLI asks compute to make the root volume from the image.
    srv = cli(cloud, "server", "create", "--flavor", "1", "--image", image, "--boot-from-volume", "1",
              "--delete-on-termination", "--network", nova.network[0], "--wait", unique("bfv"))
    shown = nova.server(srv["id"])
    assert shown["image"] == "" and len(shown["os-extended-volumes:volumes_attached"]) == 1
    root = shown["os-extended-volumes:volumes_attached"][0]["id"]
    vol = nova.volume(root)
    assert vol["bootable"] == "true" and vol["size"] == 1 and vol["status"] == "in-use"
    assert f"first sector sha256:{hashlib.sha256(content[:512]).hexdigest()}" in nova.console(srv["id"])
    cloud.openstack("server", "delete", "--wait", srv["id"])
    assert nova.volume_gone(root)  # --delete-on-termination

    # Raw API: data volumes from a snapshot and empty, beside an image-backed root disk.
    src = nova.make_volume(1)
    digest = nova.mark(src)
    r = nova.volume_api("POST", "snapshots", json={"snapshot": {"volume_id": src, "name": unique("snap")}})
    assert r.status_code == 202, r.text
    snap = r.json()["snapshot"]["id"]
    assert until(lambda: nova.volume_api("GET", f"snapshots/{snap}").json()["snapshot"]["status"] == "available",
                 30)
    bdm = [{"source_type": "image", "destination_type": "local", "uuid": nova.image, "boot_index": 0},
           {"source_type": "snapshot", "destination_type": "volume", "uuid": snap, "boot_index": -1,
            "delete_on_termination": True},
           {"source_type": "blank", "destination_type": "volume", "volume_size": 2, "delete_on_termination": True}]
    srv = nova.boot(block_device_mapping_v2=bdm)
    attached = [v["id"] for v in srv["os-extended-volumes:volumes_attached"]]
    assert len(attached) == 2
    listed = nova.compute("GET", f"/servers/{srv['id']}/os-volume_attachments").json()["volumeAttachments"]
    assert sorted(a["device"] for a in listed) == ["/dev/vdb", "/dev/vdc"]
    sizes = sorted(nova.volume(v)["size"] for v in attached)
    assert sizes == [1, 2]
    assert f"first sector sha256:{digest}" in nova.console(srv["id"])  # the snapshot's bytes
    nova.compute("DELETE", f"/servers/{srv['id']}")
    assert nova.gone(srv["id"])
    for v in attached:
        assert nova.volume_gone(v)
    assert nova.volume(src)["status"] == "available"


def test_negative_cases_are_novas_errors(nova: Cloud) -> None:
    srv = nova.on(HOST)
    sid = srv["id"]
    vid = nova.make_volume()
    path = f"/servers/{sid}/os-volume_attachments"
    # Bad bodies and devices: 400.
    nova_error(nova.compute("POST", path, json={"volumeAttachment": {}}), 400, "badRequest")
    nova_error(nova.compute("POST", path, json={"volumeAttachment": {"volumeId": "nope"}}), 400, "badRequest")
    nova_error(nova.compute("POST", path, json={"volumeAttachment": {"volumeId": vid, "device": "sda1!"}}),
               400, "badRequest", "invalid")
    # 2.49's tag is refused below 2.49.
    nova_error(nova.compute("POST", path, json={"volumeAttachment": {"volumeId": vid, "tag": "x"}}), 400,
               "badRequest")
    # A volume that does not exist: 404.
    missing = "5d6a3e6c-4a2c-4e4f-9f0a-0d1c3b9f8e11"
    nova_error(nova.compute("POST", path, json={"volumeAttachment": {"volumeId": missing}}), 404, "itemNotFound")
    # Another project's server: 404; its user cannot attach our volume to their server either.
    other_token, _ = nova.other
    nova_error(nova.compute("POST", path, other_token, json={"volumeAttachment": {"volumeId": vid}}), 404,
               "itemNotFound")
    r = nova.request("POST", "/image/v2/images", nova.admin, json={
        "name": unique("public"), "disk_format": "raw", "container_format": "bare", "visibility": "public"})
    public = r.json()["id"]
    r = nova.request("PUT", f"/image/v2/images/{public}/file", nova.admin, content=b"\0" * 1024,
                     headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text
    theirs = nova.boot(token=other_token, wait=None, imageRef=public)
    nova_error(nova.compute("POST", f"/servers/{theirs['id']}/os-volume_attachments",
                            json={"volumeAttachment": {"volumeId": vid}}), 404, "itemNotFound")
    # Detach or show of a volume that is not attached: 404.
    nova_error(nova.compute("DELETE", f"{path}/{vid}"), 404, "itemNotFound")
    nova_error(nova.compute("GET", f"{path}/{vid}"), 404, "itemNotFound")
    # Attached once; the same volume again (to this or another server) is in use: 400.
    r = nova.compute("POST", path, json={"volumeAttachment": {"volumeId": vid}})
    assert r.status_code == 200, r.text
    assert r.json()["volumeAttachment"] == {"id": vid, "serverId": sid, "volumeId": vid, "device": "/dev/vdb"}
    nova.wait_volume(vid, "in-use")
    nova_error(nova.compute("POST", path, json={"volumeAttachment": {"volumeId": vid}}), 400, "badRequest")
    second = nova.on(HOST)
    nova_error(nova.compute("POST", f"/servers/{second['id']}/os-volume_attachments",
                            json={"volumeAttachment": {"volumeId": vid}}), 400, "badRequest")
    # A device name already taken: 400.
    other_vol = nova.make_volume()
    nova_error(nova.compute("POST", path, json={"volumeAttachment": {"volumeId": other_vol, "device": "/dev/vdb"}}),
               400, "badRequest", "in use")
    # Boot from an in-use volume, another project's volume, an image volume without size: 400.
    nova_error(nova.compute("POST", "/servers", json={"server": {
        "name": unique("bfv"), "flavorRef": "1", "block_device_mapping_v2": [
            {"source_type": "volume", "destination_type": "volume", "uuid": vid, "boot_index": 0}]}}),
        400, "badRequest")
    r = nova.volume_api("POST", "volumes", other_token, json={"volume": {"size": 1}})
    assert r.status_code == 202, r.text
    nova_error(nova.compute("POST", "/servers", json={"server": {
        "name": unique("bfv"), "flavorRef": "1", "block_device_mapping_v2": [
            {"source_type": "volume", "destination_type": "volume", "uuid": r.json()["volume"]["id"],
             "boot_index": 0}]}}), 400, "badRequest", "failed to get volume")
    nova_error(nova.compute("POST", "/servers", json={"server": {
        "name": unique("bfv"), "flavorRef": "1", "block_device_mapping_v2": [
            {"source_type": "image", "destination_type": "volume", "uuid": nova.image, "boot_index": 0}]}}),
        400, "badRequest", "non-zero size")
    nova_error(nova.compute("POST", "/servers", json={"server": {
        "name": unique("bfv"), "flavorRef": "1", "block_device_mapping_v2": [
            {"source_type": "blank", "destination_type": "volume", "volume_size": 1, "boot_index": 1}]}}),
        400, "badRequest", "Boot sequence")
    # A server whose state does not allow it: 409 (locked, for its member).
    r = nova.compute("POST", f"/servers/{second['id']}/action", json={"lock": None})
    assert r.status_code == 202
    nova_error(nova.compute("POST", f"/servers/{second['id']}/os-volume_attachments",
                            json={"volumeAttachment": {"volumeId": other_vol}}), 409, "conflictingRequest")
    nova.compute("POST", f"/servers/{second['id']}/action", json={"unlock": None})
    # A stopped server takes volumes (Nova allows it).
    r = nova.compute("POST", f"/servers/{second['id']}/action", json={"os-stop": None})
    assert r.status_code == 202
    nova.wait(second["id"], "SHUTOFF")
    r = nova.compute("POST", f"/servers/{second['id']}/os-volume_attachments",
                     json={"volumeAttachment": {"volumeId": other_vol}})
    assert r.status_code == 200, r.text
    nova.wait_volume(other_vol, "in-use")
    for s in (sid, second["id"], theirs["id"]):
        nova.compute("DELETE", f"/servers/{s}", other_token if s == theirs["id"] else None)
    assert nova.gone(sid) and nova.gone(second["id"])
    assert nova.wait_volume(vid, "available") and nova.wait_volume(other_vol, "available")


def test_extending_an_attached_volume_tells_the_server(nova: Cloud) -> None:
    srv = nova.on(HOST)
    vid = nova.make_volume(1)
    r = nova.compute("POST", f"/servers/{srv['id']}/os-volume_attachments", json={"volumeAttachment": {
        "volumeId": vid}})
    assert r.status_code == 200, r.text
    nova.wait_volume(vid, "in-use")
    assert until(lambda: "attached" == nova.volume(vid)["attachments"][0].get("attach_status", "attached"), 5)
    r = nova.volume_api("POST", f"volumes/{vid}/action", version="3.42", json={"os-extend": {"new_size": 3}})
    assert r.status_code == 202, r.text
    assert nova.wait_volume(vid, "in-use")["size"] == 3
    # Block storage sent volume-extended; the guest was shown the size read through its connection.
    assert until(lambda: "[vdb] new size: 6291456 512-byte logical blocks" in nova.console(srv["id"]), 10), \
        nova.console(srv["id"])
    assert until(lambda: "extend_volume" in nova.actions(srv["id"]), 5)
    nova.compute("DELETE", f"/servers/{srv['id']}")
    assert nova.gone(srv["id"])


def test_server_delete_with_its_host_down_releases_the_volumes(nova: Cloud) -> None:
    """A server that never got a host (no valid host: ERROR) is deleted by the API itself; its
    volumes are given back there too."""
    vid = nova.make_volume()
    r = nova.compute("POST", "/flavors", nova.admin, json={"flavor": {"name": unique("huge"), "ram": 16384,
                                                                      "vcpus": 1, "disk": 0}})
    assert r.status_code == 200, r.text
    r = nova.compute("POST", "/servers", json={"server": {
        "name": unique("huge"), "flavorRef": r.json()["flavor"]["id"], "block_device_mapping_v2": [
            {"source_type": "volume", "destination_type": "volume", "uuid": vid, "boot_index": 0}]}})
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    nova.wait(sid, "ERROR")  # 16 GiB of RAM fits no fake host
    assert nova.volume(vid)["status"] == "reserved"
    nova.compute("DELETE", f"/servers/{sid}")
    assert nova.gone(sid)
    assert nova.wait_volume(vid, "available")["attachments"] == []


def test_tag_from_2_49(nova: Cloud) -> None:
    """Runs once the API advertises 2.49 or more (the compute-api branch raises it; here 2.2):
    2.49 takes a tag, 2.70 shows it; 2.3 shows delete_on_termination in volumes_attached."""
    top = nova.http.get("/compute/").json()["versions"][1]["version"]
    if tuple(int(x) for x in top.split(".")) < (2, 49):
        pytest.skip(f"the compute API advertises {top}: volume attachment tags need 2.49")
    srv = nova.on(HOST)
    vid = nova.make_volume()
    path = f"/servers/{srv['id']}/os-volume_attachments"
    r = nova.compute("POST", path, json={"volumeAttachment": {"volumeId": vid, "tag": "data"}},
                     headers={"OpenStack-API-Version": "compute 2.49"})
    assert r.status_code == 200, r.text
    assert "tag" not in r.json()["volumeAttachment"]  # shown from 2.70
    nova.wait_volume(vid, "in-use")
    if tuple(int(x) for x in top.split(".")) >= (2, 70):
        h = {"OpenStack-API-Version": "compute 2.70"}
        assert nova.compute("GET", path, headers=h).json()["volumeAttachments"][0]["tag"] == "data"
    shown = nova.compute("GET", f"/servers/{srv['id']}", headers={"OpenStack-API-Version": "compute 2.3"})
    assert shown.json()["server"]["os-extended-volumes:volumes_attached"] == [
        {"id": vid, "delete_on_termination": False}]
    nova.compute("DELETE", f"/servers/{srv['id']}")
    assert nova.gone(srv["id"])


def test_boot_from_an_image_of_a_volume_backed_server(nova: Cloud) -> None:
    """The image a snapshot (createImage) of a volume-backed server makes carries the mappings of
    its volume snapshots (``volume_backed_image_properties``); a boot from it makes the volumes
    again from the snapshots, with their bytes."""
    from types import SimpleNamespace

    from litestack.compute.api.boot_volumes import volume_backed_image_properties

    src = nova.make_volume(1, imageRef=nova.image)
    digest = nova.mark(src)
    r = nova.volume_api("POST", "snapshots", json={"snapshot": {"volume_id": src, "name": unique("snap")}})
    assert r.status_code == 202, r.text
    snap = r.json()["snapshot"]
    assert until(lambda: nova.volume_api("GET", f"snapshots/{snap['id']}").json()["snapshot"]["status"]
                 == "available", 30)
    root = SimpleNamespace(device_name="/dev/vda", boot_index=0, delete_on_termination=True, tag=None,
                           volume_type=None, volume_size=1)
    props = volume_backed_image_properties([(root, snap)])
    r = nova.request("POST", "/image/v2/images", json={"name": unique("vb-snap"), "disk_format": "raw",
                                                       "container_format": "bare", **props})
    assert r.status_code == 201, r.text
    image = r.json()["id"]
    r = nova.request("PUT", f"/image/v2/images/{image}/file", content=b"",
                     headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text
    srv = nova.boot(imageRef=image)
    assert srv["image"] == ""
    (made,) = [v["id"] for v in srv["os-extended-volumes:volumes_attached"]]
    assert made != src and nova.volume(made)["status"] == "in-use"
    assert f"first sector sha256:{digest}" in nova.console(srv["id"])  # the snapshot's bytes
    nova.compute("DELETE", f"/servers/{srv['id']}")
    assert nova.gone(srv["id"]) and nova.volume_gone(made)


def test_os_volumes_and_os_snapshots_proxies(nova: Cloud) -> None:
    r = nova.compute("POST", "/os-volumes", json={"volume": {"size": 1, "display_name": "proxied",
                                                             "metadata": {"k": "v"}}})
    assert r.status_code == 200, r.text
    vol = r.json()["volume"]
    assert vol["displayName"] == "proxied" and vol["size"] == 1 and vol["attachments"] == [{}]
    assert until(lambda: nova.compute("GET", f"/os-volumes/{vol['id']}").json()["volume"]["status"]
                 == "available", 30)
    assert vol["id"] in [v["id"] for v in nova.compute("GET", "/os-volumes/detail").json()["volumes"]]
    r = nova.compute("POST", "/os-snapshots", json={"snapshot": {"volume_id": vol["id"], "display_name": "s"}})
    assert r.status_code == 200, r.text
    snap = r.json()["snapshot"]
    assert snap["volumeId"] == vol["id"] and snap["displayName"] == "s"
    assert until(lambda: nova.compute("GET", f"/os-snapshots/{snap['id']}").json()["snapshot"]["status"]
                 == "available", 30)
    assert snap["id"] in [s["id"] for s in nova.compute("GET", "/os-snapshots").json()["snapshots"]]
    for bad in ({"size": 0}, {"size": "#$%"}, {}):
        nova_error(nova.compute("POST", "/os-volumes", json={"volume": bad}), 400, "badRequest")
    nova_error(nova.compute("GET", "/os-volumes/f0a2d3e1-2b1c-4f7e-9a4b-123456789abc"), 404, "itemNotFound")
    nova_error(nova.compute("GET", "/os-volumes/"), 404, "itemNotFound")
    other_token, _ = nova.other
    nova_error(nova.compute("GET", f"/os-volumes/{vol['id']}", other_token), 404, "itemNotFound")
    assert nova.compute("DELETE", f"/os-snapshots/{snap['id']}").status_code == 202
    assert until(lambda: nova.compute("GET", f"/os-snapshots/{snap['id']}").status_code == 404, 30)
    assert nova.compute("DELETE", f"/os-volumes/{vol['id']}").status_code == 202
    assert nova.volume_gone(vol["id"])


def test_volume_routes_conform_to_the_openapi_document(cloud: RunningCloud, nova: Cloud) -> None:
    """Schemathesis over the volume routes (attachments and the proxies) with block storage there:
    no 5xx, declared status codes only."""
    from tests.fuzz import admin_token, fuzz, openapi

    srv = nova.on(HOST)
    vid = nova.make_volume()
    r = nova.compute("POST", f"/servers/{srv['id']}/os-volume_attachments", json={"volumeAttachment": {
        "volumeId": vid}})
    assert r.status_code == 200, r.text
    schema = openapi(f"{cloud.url}/compute", admin_token(cloud))
    mine = r"^(?!.*(os-volume_attachments|os-volumes|os-snapshots))"
    result = fuzz(schema, {"server_id": srv["id"], "volume_id": vid, "item_id": vid}, 10,
                  excluded=[(".*", mine)])
    assert result.ran >= 14, f"only {result.ran} operations were fuzzed"
    assert not result.failures, "\n\n".join(result.failures)
    nova.compute("DELETE", f"/servers/{srv['id']}")
    assert nova.gone(srv["id"])


def test_block_storage_quota_refuses_a_boot_volume_with_403(nova: Cloud) -> None:
    """A volume a boot would create over the user's block-storage quota: Cinder's 413 is answered
    as Nova's 403, and nothing is left behind (no server, no volume)."""
    token, project = nova.other
    before = nova.request("GET", f"/volume/v3/{project}/volumes", token).json()["volumes"]
    servers = nova.compute("GET", "/servers", token).json()["servers"]
    r = nova.request("PUT", f"/volume/v3/{project}/os-quota-sets/{project}", nova.admin,
                     json={"quota_set": {"volumes": len(before)}})  # no room for one more
    assert r.status_code == 200, r.text
    r = nova.compute("POST", "/servers", token, json={"server": {
        "name": unique("bfv"), "flavorRef": "1", "block_device_mapping_v2": [
            {"source_type": "blank", "destination_type": "volume", "volume_size": 1, "boot_index": 0}]}})
    nova_error(r, 403, "forbidden", "quota")
    assert nova.compute("GET", "/servers", token).json()["servers"] == servers
    assert nova.request("GET", f"/volume/v3/{project}/volumes", token).json()["volumes"] == before


def test_cli_block_device_option(cloud: RunningCloud, nova: Cloud) -> None:
    """``openstack server create --block-device``: an empty data volume beside the image's root disk."""
    srv = cli(cloud, "server", "create", "--flavor", "1", "--image", nova.image, "--network", nova.network[0],
              "--block-device", "source_type=blank,destination_type=volume,volume_size=2,delete_on_termination=true",
              "--wait", unique("bd"))
    shown = nova.server(srv["id"])
    (vid,) = [v["id"] for v in shown["os-extended-volumes:volumes_attached"]]
    vol = nova.volume(vid)
    assert vol["size"] == 2 and vol["status"] == "in-use" and vol["attachments"][0]["device"] == "/dev/vdb"
    assert shown["image"]["id"] == nova.image
    cloud.openstack("server", "delete", "--wait", srv["id"])
    assert nova.volume_gone(vid)
