"""Backups in object storage: on a cloud whose catalog has object-store, ``openstack volume backup
create/restore/delete`` keep the chunks and the manifest in the ``volumebackups`` container of
the backup project's account (as Cinder's swift driver); the objects are checked over raw HTTP
with the user's token, the restored bytes in the volume's backing file."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.databases import cloud_on
from tests.functional.identity.keystone import FAST_HASH
from tests.functional.volume.conftest import Api, admin_token, backing_file, cli_json, raw_bytes, user_token, write_at
from tests.functional.volume.test_api import Project, other

__all__ = ["other"]  # the second project's fixture, shared with test_api

pytestmark = pytest.mark.functional

MiB = 1 << 20
CONFIG = ('[DEFAULT]\nservices = ["identity", "image", "volume", "object"]\n' + FAST_HASH +
          '[volume]\nbackends = ["file-1:file"]\ncapacity_gb = 20\nreport_interval = 2\nhost = "vol-host"\n')


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    with cloud_on("sqlite", tmp_path_factory.mktemp("volume-object"), CONFIG) as c:
        adm = Api(c, admin_token(c))
        r = adm("POST", "types/__DEFAULT__/extra_specs", {"extra_specs": {"volume_backend_name": "file-1"}})
        assert r.status_code == 200, r.text
        yield c


def objects(cloud: RunningCloud, token: str, project: str, prefix: str) -> list[str]:
    url = f"{cloud.url}/object-store/v1/AUTH_{project}/volumebackups"
    r = httpx.get(url, params={"prefix": prefix, "format": "json"}, headers={"X-Auth-Token": token})
    if r.status_code == 404:
        return []
    assert r.status_code == 200, r.text
    return sorted(o["name"] for o in r.json())


def test_backups_go_to_object_storage(cloud: RunningCloud, other: Project) -> None:
    token = user_token(cloud)
    api = Api(cloud, token)
    vol = cli_json(cloud, "volume", "create", "--size", "1", "obj-bk")
    api.wait("volume", vol["id"], "available")
    path = backing_file(cloud, vol["id"])
    first = os.urandom(5 * MiB)  # chunks 0 and 1 (4 MiB each)
    write_at(path, 2 * MiB, first)
    full = cli_json(cloud, "volume", "backup", "create", "--name", "obj-full", "obj-bk")
    shown = api.wait("backup", full["id"], "available")
    assert shown["container"] == "volumebackups" and shown["object_count"] == 2
    assert objects(cloud, token, api.project, f"backup_{full['id']}/") == [
        f"backup_{full['id']}/chunk-000000", f"backup_{full['id']}/chunk-000001", f"backup_{full['id']}/manifest"]
    assert not (cloud.data_dir / "volume" / "backups").exists() or \
        list((cloud.data_dir / "volume" / "backups").iterdir()) == []  # nothing in the directory store

    second = os.urandom(MiB)
    write_at(path, 50 * MiB, second)  # chunk 12 only
    incr = cli_json(cloud, "volume", "backup", "create", "--incremental", "--name", "obj-incr", "obj-bk")
    shown = api.wait("backup", incr["id"], "available")
    assert shown["is_incremental"] is True and shown["object_count"] == 1
    assert objects(cloud, token, api.project, f"backup_{incr['id']}/") == [
        f"backup_{incr['id']}/chunk-000012", f"backup_{incr['id']}/manifest"]
    expected = raw_bytes(path)

    # restore the incremental backup into a new volume: chunks of both backups read back
    restored = cli_json(cloud, "volume", "backup", "restore", "obj-incr", "obj-restored")
    rid = restored["volume_id"]
    api.wait("volume", rid, "available")
    assert raw_bytes(backing_file(cloud, rid)) == expected

    # another project sees neither the backup nor the container
    stranger = Api(cloud, other.token())
    r = httpx.get(f"{cloud.url}/volume/v3/{stranger.project}/backups/{incr['id']}",
                  headers={"X-Auth-Token": stranger.token, "OpenStack-API-Version": "volume 3.60"})
    assert r.status_code == 404
    r = httpx.get(f"{cloud.url}/object-store/v1/AUTH_{api.project}/volumebackups",
                  headers={"X-Auth-Token": stranger.token})
    assert r.status_code == 403

    # delete removes the objects (the incremental first: the full one has a child)
    for b in (incr["id"], full["id"]):
        cloud.openstack("volume", "backup", "delete", b)
        api.wait("backup", b, "deleted")
    assert objects(cloud, token, api.project, "backup_") == []
    cloud.openstack("volume", "delete", vol["id"], rid)
    for v in (vol["id"], rid):
        api.wait("volume", v, "deleted")
