"""The image service's ``swift`` store, on this cloud's object storage: the whole image store
contract suite (``tests/unit/image/test_store_contract.py``) runs against it over real HTTP, and
glance's ``copy-image`` copies an image between a file store and object storage with the real
``openstack`` CLI."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from litestack.image.drivers import Store, make_store
from litestack.image.drivers.swift import SwiftStore
from tests.conftest import RunningCloud, free_port, until
from tests.functional.object.helpers import auth
from tests.unit.image import test_store_contract as contract
from tests.unit.image.test_store_contract import *  # noqa: F403 (the contract suite, run here again)
from tests.unit.image.test_store_contract import CHUNK, Kit

pytestmark = [pytest.mark.functional, pytest.mark.timeout(120)]

# Tests of the registry itself, not of a store: run once, in the unit suite.
for _name in ("test_every_registered_driver_runs_this_suite", "test_a_second_driver_of_the_same_kind_is_refused",
              "test_a_new_kind_is_built_by_name", "test_unknown_kinds_and_options_are_configuration_errors",
              "test_a_full_memory_store_says_so"):
    globals().pop(_name, None)

CONFIG = """[image]
stores = ["fast:file", "objects:swift"]
"""


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    base = tmp_path_factory.mktemp("imagestore")
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


@pytest.fixture  # type: ignore[no-redef]  # (replaces the suite's kit)
def kit(cloud: RunningCloud, tmp_path: Path) -> Kit:
    """Swift stores as the admin user, each test in containers of its own."""
    a = auth(cloud, "litestack-admin")
    run = uuid.uuid4().hex[:8]

    def make(name: str, container: str | None = None) -> Store:
        return make_store("swift", name, auth_url=a["auth_url"], user=a["username"], password=a["password"],
                          project=a["project_name"], container=container or f"contract-{run}-{name}",
                          spool=tmp_path / "spool" / name, chunk_size=CHUNK)

    def restart(store: Store) -> Store:
        assert isinstance(store, SwiftStore)
        return make(store.name, store.container)

    return Kit(make, restart)


def test_the_contract_suite_is_here() -> None:
    assert "test_written_data_reads_back_whole_after_commit" in globals() and "swift" in contract.KITS


def _image(cloud: RunningCloud, image_id: str, name: str = "litestack") -> dict[str, Any]:
    token = cloud.sdk(name).session.get_token()
    r = httpx.get(f"{cloud.url}/image/v2/images/{image_id}", headers={"X-Auth-Token": token})
    body: dict[str, Any] = r.json()
    return body


def test_copy_image_between_a_file_store_and_object_storage(cloud: RunningCloud, tmp_path: Path) -> None:
    stores = cloud.sdk().image.stores()
    assert {s.id for s in stores} == {"fast", "objects"}
    src = tmp_path / "disk.raw"
    data = os.urandom(3 * 1024 * 1024 + 17)
    src.write_bytes(data)
    created = cloud.openstack("image", "create", "--disk-format", "raw", "--container-format", "bare",
                              "--file", str(src), "from-file", "-f", "json")
    image_id = json.loads(created.stdout)["id"]
    assert until(lambda: _image(cloud, image_id).get("stores") == "fast", 30)
    # copy-image (the admin's) to object storage: the data becomes an object of the glance
    # service user's account, in three replicas on the devices.
    cloud.openstack("image", "import", image_id, "--method", "copy-image", "--store", "objects",
                    cloud="litestack-admin")
    assert until(lambda: _image(cloud, image_id).get("stores") == "fast,objects", 60), _image(cloud, image_id)
    replicas = [p for p in (cloud.data_dir / "object" / "devices").rglob("*.data")
                if p.stat().st_size > len(data)]
    assert len(replicas) == 3
    # The copy in the file store goes: downloads now come from object storage, intact.
    admin = cloud.sdk("litestack-admin")
    token = admin.session.get_token()
    r = httpx.delete(f"{cloud.url}/image/v2/stores/fast/{image_id}", headers={"X-Auth-Token": token})
    assert r.status_code == 204
    assert _image(cloud, image_id)["stores"] == "objects"
    out = tmp_path / "back.raw"
    cloud.openstack("image", "save", "--file", str(out), image_id)
    assert out.read_bytes() == data
    # And back: copy-image from object storage to the file store.
    cloud.openstack("image", "import", image_id, "--method", "copy-image", "--store", "fast",
                    cloud="litestack-admin")
    assert until(lambda: _image(cloud, image_id).get("stores") in ("objects,fast", "fast,objects"), 60)
    assert (cloud.data_dir / "image" / "stores" / "fast" / image_id).read_bytes() == data
    # Deleting the image deletes its object too.
    cloud.openstack("image", "delete", image_id)
    assert until(lambda: not [p for p in (cloud.data_dir / "object" / "devices").rglob("*.data")
                              if p.stat().st_size > len(data)], 30)
