"""The image service through the real ``openstack`` CLI (python-openstackclient).

Create with data, properties and tags; save gives back the same bytes; set and unset (protected,
deactivate); sharing with another project who accepts; list filters and paging; delete removes
the data file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.functional.image.conftest import Project, image_url, token

pytestmark = pytest.mark.functional


def show(cloud: RunningCloud, image: str, cloud_name: str = "litestack") -> dict[str, Any]:
    out: dict[str, Any] = json.loads(cloud.openstack("image", "show", image, "-f", "json", cloud=cloud_name).stdout)
    return out


def create(cloud: RunningCloud, name: str, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(cloud.openstack("image", "create", name, *args, "-f", "json").stdout)
    return out


def sha512(path: Path) -> str:
    return hashlib.sha512(path.read_bytes()).hexdigest()


def test_create_save_set_unset_and_delete(cloud: RunningCloud, tmp_path: Path) -> None:
    src = tmp_path / "disk.img"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    img = create(cloud, "cli-one", "--file", str(src), "--disk-format", "qcow2", "--container-format", "bare",
                 "--property", "os_distro=cirros", "--tag", "t1")
    assert img["status"] == "active" and img["size"] == src.stat().st_size
    assert img["checksum"] == hashlib.md5(src.read_bytes(), usedforsecurity=False).hexdigest()
    assert img["properties"]["os_hash_value"] == sha512(src) and img["tags"] == ["t1"]
    assert img["properties"]["os_distro"] == "cirros"
    data_file = cloud.data_dir / "image" / "stores" / "fast" / img["id"]
    assert data_file.stat().st_size == src.stat().st_size

    # save gives back exactly the bytes uploaded
    out = tmp_path / "saved.img"
    cloud.openstack("image", "save", "--file", str(out), img["id"])
    assert sha512(out) == sha512(src)

    # set and unset properties, protection
    cloud.openstack("image", "set", "--property", "hw_disk_bus=scsi", "--protected", "--min-disk", "2",
                    "--name", "cli-one-renamed", img["id"])
    shown = show(cloud, img["id"])
    assert shown["protected"] is True and shown["min_disk"] == 2 and shown["name"] == "cli-one-renamed"
    assert shown["properties"]["hw_disk_bus"] == "scsi"
    refused = cloud.openstack("image", "delete", img["id"], check=False)
    assert refused.returncode != 0 and "is protected and cannot be deleted" in refused.stderr
    cloud.openstack("image", "unset", "--property", "hw_disk_bus", img["id"])
    cloud.openstack("image", "set", "--unprotected", img["id"])
    assert "hw_disk_bus" not in show(cloud, img["id"])["properties"]

    # deactivate (admin): the owner cannot download any more; reactivate restores it
    cloud.openstack("image", "set", "--deactivate", img["id"], cloud="litestack-admin")
    assert show(cloud, img["id"])["status"] == "deactivated"
    r = httpx.get(image_url(cloud, f"/{img['id']}/file"), headers={"X-Auth-Token": token(cloud)})
    assert r.status_code == 403 and "has been deactivated" in r.json()["message"]
    cloud.openstack("image", "set", "--activate", img["id"], cloud="litestack-admin")
    assert show(cloud, img["id"])["status"] == "active"

    # delete removes the record and the data file
    cloud.openstack("image", "delete", img["id"])
    assert not data_file.exists()
    gone = cloud.openstack("image", "show", img["id"], check=False)
    assert gone.returncode != 0


def test_share_with_another_project_who_accepts(cloud: RunningCloud, other_project: Project, tmp_path: Path
                                                ) -> None:
    src = tmp_path / "shared.img"
    src.write_bytes(b"shared image data" * 1000)
    img = create(cloud, "cli-shared", "--file", str(src), "--disk-format", "raw", "--container-format", "bare",
                 "--shared")
    assert img["visibility"] == "shared"
    # Not a member yet: the other project cannot see it at all.
    assert other_project.openstack("image", "show", img["id"], check=False).returncode != 0

    cloud.openstack("image", "add", "project", img["id"], other_project.id)
    members = json.loads(cloud.openstack("image", "member", "list", img["id"], "-f", "json").stdout)
    assert [(m["Member ID"], m["Status"]) for m in members] == [(other_project.id, "pending")]
    # A pending member sees the image by id, but not in its default list (member_status=accepted).
    ids = other_project.openstack("image", "list", "-f", "value", "-c", "ID").stdout.split()
    assert img["id"] not in ids

    other_project.openstack("image", "set", "--accept", img["id"])
    members = json.loads(cloud.openstack("image", "member", "list", img["id"], "-f", "json").stdout)
    assert [(m["Member ID"], m["Status"]) for m in members] == [(other_project.id, "accepted")]
    ids = other_project.openstack("image", "list", "--shared", "-f", "value", "-c", "ID").stdout.split()
    assert img["id"] in ids
    out = tmp_path / "got.img"
    other_project.openstack("image", "save", "--file", str(out), img["id"])
    assert out.read_bytes() == src.read_bytes()
    # The member cannot change the image, nor accept for the owner.
    refused = other_project.openstack("image", "set", "--name", "mine", img["id"], check=False)
    assert refused.returncode != 0 and "403" in refused.stderr

    other_project.openstack("image", "set", "--reject", img["id"])
    ids = other_project.openstack("image", "list", "-f", "value", "-c", "ID").stdout.split()
    assert img["id"] not in ids
    cloud.openstack("image", "remove", "project", img["id"], other_project.id)
    assert other_project.openstack("image", "show", img["id"], check=False).returncode != 0


def test_list_filters_and_paging(cloud: RunningCloud, tmp_path: Path) -> None:
    src = tmp_path / "small.img"
    src.write_bytes(b"x" * 1024)
    made = []
    for i in range(3):
        args = ["--disk-format", "raw", "--container-format", "bare", "--property", f"flavor=f{i % 2}",
                "--file", str(src)]
        if i % 2 == 0:
            args += ["--tag", "even"]
        made.append(create(cloud, f"list-{i}", *args)["id"])
    # Without data (the CLI uploads its stdin when it is no terminal, so this one goes over HTTP).
    r = httpx.post(image_url(cloud), headers={"X-Auth-Token": token(cloud)},
                   json={"name": "list-3", "disk_format": "raw", "container_format": "bare", "flavor": "f1"})
    assert r.status_code == 201, r.text
    made.append(r.json()["id"])

    def names(*args: str) -> list[str]:
        out = cloud.openstack("image", "list", *args, "-f", "value", "-c", "Name").stdout.split()
        return [n for n in out if n.startswith("list-")]

    assert sorted(names("--property", "flavor=f0")) == ["list-0", "list-2"]
    assert sorted(names("--tag", "even")) == ["list-0", "list-2"]
    assert sorted(names("--tag", "even", "--property", "flavor=f1")) == []
    assert names("--status", "queued") == ["list-3"]
    assert sorted(names("--status", "active")) == ["list-0", "list-1", "list-2"]
    # --limit/--marker: pages in the default order (newest first)
    first = cloud.openstack("image", "list", "--limit", "1", "-f", "value", "-c", "ID").stdout.split()
    assert first == [made[3]]
    page = cloud.openstack("image", "list", "--limit", "2", "--marker", made[3], "-f", "value",
                           "-c", "ID", "-c", "Name").stdout.splitlines()
    # The CLI prints the page sorted by name.
    assert page == [f"{made[1]} list-1", f"{made[2]} list-2"], (page, made)
    assert names("--sort", "name:asc")[:4] == ["list-0", "list-1", "list-2", "list-3"]


def test_member_sees_only_its_own_membership(cloud: RunningCloud, other_project: Project, tmp_path: Path) -> None:
    h = {"X-Auth-Token": token(cloud)}
    img = httpx.post(image_url(cloud), json={"name": "two-members", "disk_format": "raw",
                                             "container_format": "bare"}, headers=h).json()
    for member in (other_project.id, "some-other-project"):
        r = httpx.post(image_url(cloud, f"/{img['id']}/members"), json={"member": member}, headers=h)
        assert r.status_code == 200 and r.json()["status"] == "pending", r.text
    dup = httpx.post(image_url(cloud, f"/{img['id']}/members"), json={"member": other_project.id}, headers=h)
    assert dup.status_code == 409 and "is duplicated" in dup.json()["message"]
    mine = {"X-Auth-Token": other_project.token()}
    listed = httpx.get(image_url(cloud, f"/{img['id']}/members"), headers=mine).json()["members"]
    assert [m["member_id"] for m in listed] == [other_project.id]
    other = httpx.get(image_url(cloud, f"/{img['id']}/members/some-other-project"), headers=mine)
    assert other.status_code == 404 and "not found in the member list" in other.json()["message"]
    # Only the member changes its status; the owner cannot accept for it.
    owner_try = httpx.put(image_url(cloud, f"/{img['id']}/members/{other_project.id}"), json={"status": "accepted"},
                          headers=h)
    assert owner_try.status_code == 403
    bad = httpx.put(image_url(cloud, f"/{img['id']}/members/{other_project.id}"), json={"status": "maybe"},
                    headers=mine)
    assert bad.status_code == 400
    assert httpx.delete(image_url(cloud, f"/{img['id']}"), headers=h).status_code == 204
