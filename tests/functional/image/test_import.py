"""Interoperable import through openstacksdk, the CLI and raw HTTP: glance-direct (stage then
import), copy-image between the two file stores, the tasks API, and Glance's import errors."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningCloud, until
from tests.functional.image.conftest import image_url, token

pytestmark = pytest.mark.functional


def get(cloud: RunningCloud, image_id: str, name: str = "litestack") -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(image_url(cloud, f"/{image_id}"),
                                     headers={"X-Auth-Token": token(cloud, name)}).json()
    return body


def test_sdk_stage_and_glance_direct_import(cloud: RunningCloud) -> None:
    conn = cloud.sdk()
    data = os.urandom(1024 * 1024 + 5)
    img = conn.image.create_image(name="staged", disk_format="raw", container_format="bare")
    conn.image.stage_image(img, data=data)
    staged = get(cloud, img.id)
    assert staged["status"] == "uploading" and staged["size"] == len(data)
    # Staged data is not downloadable yet.
    assert httpx.get(image_url(cloud, f"/{img.id}/file"), headers={"X-Auth-Token": token(cloud)}).status_code == 204
    conn.image.import_image(img, method="glance-direct")
    assert until(lambda: get(cloud, img.id)["status"] == "active", 20)
    done = get(cloud, img.id)
    assert done["checksum"] == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert done["os_hash_value"] == hashlib.sha512(data).hexdigest() and done["stores"] == "fast"
    assert done["os_glance_failed_import"] == "" and "os_glance_import_task" not in done
    assert conn.image.download_image(img).content == data
    assert list((cloud.data_dir / "image" / "staging").iterdir()) == []
    # The import ran as a task: the image lists it; the tasks API shows it to the admin.
    tasks = httpx.get(image_url(cloud, f"/{img.id}/tasks"), headers={"X-Auth-Token": token(cloud)}).json()["tasks"]
    assert [(t["type"], t["status"]) for t in tasks] == [("api_image_import", "success")]
    admin = {"X-Auth-Token": token(cloud, "litestack-admin")}
    shown = httpx.get(f"{cloud.url}/image/v2/tasks/{tasks[0]['id']}", headers=admin)
    assert shown.status_code == 200 and shown.json()["result"] == {"image_id": img.id}
    # A second glance-direct import of an active image conflicts.
    again = httpx.post(image_url(cloud, f"/{img.id}/import"), json={"method": {"name": "glance-direct"}},
                       headers={"X-Auth-Token": token(cloud)})
    assert again.status_code == 409 and "active cannot be target for import" in again.json()["message"]


def test_cli_import_and_copy_image_between_stores(cloud: RunningCloud, tmp_path: Path) -> None:
    src = tmp_path / "disk.raw"
    src.write_bytes(os.urandom(500_000))
    h = {"X-Auth-Token": token(cloud)}
    created = httpx.post(image_url(cloud), json={"name": "cli-import", "disk_format": "raw",
                                                 "container_format": "bare"}, headers=h).json()
    cloud.openstack("image", "stage", "--file", str(src), created["id"])
    cloud.openstack("image", "import", created["id"], "--method", "glance-direct")
    assert until(lambda: get(cloud, created["id"])["status"] == "active", 20)
    # copy-image is the admin's; the data lands in the second store too.
    refused = httpx.post(image_url(cloud, f"/{created['id']}/import"),
                         json={"method": {"name": "copy-image"}, "stores": ["cheap"]}, headers=h)
    assert refused.status_code == 403 and "copy_image" in refused.json()["message"]
    cloud.openstack("image", "import", created["id"], "--method", "copy-image", "--store", "cheap",
                    cloud="litestack-admin")
    assert until(lambda: get(cloud, created["id"]).get("stores") == "cheap,fast", 20)
    copy = cloud.data_dir / "image" / "stores" / "cheap" / created["id"]
    assert copy.read_bytes() == src.read_bytes()
    admin = {"X-Auth-Token": token(cloud, "litestack-admin")}
    present = httpx.post(image_url(cloud, f"/{created['id']}/import"),
                         json={"method": {"name": "copy-image"}, "stores": ["cheap"]}, headers=admin)
    assert present.status_code == 400 and "already present at store 'cheap'" in present.json()["message"]
    # The admin drops the copy in one store, but never the last one.
    by_store = f"{cloud.url}/image/v2/stores/cheap/{created['id']}"
    assert httpx.delete(by_store, headers=h).status_code == 403
    assert httpx.delete(by_store, headers=admin).status_code == 204
    assert not copy.exists() and get(cloud, created["id"])["stores"] == "fast"
    last = httpx.delete(f"{cloud.url}/image/v2/stores/fast/{created['id']}", headers=admin)
    assert last.status_code == 403 and "only store containing it" in last.json()["message"]
    cloud.openstack("image", "import", created["id"], "--method", "copy-image", "--store", "cheap",
                    cloud="litestack-admin")
    assert until(lambda: get(cloud, created["id"]).get("stores") == "cheap,fast", 20)
    # Deleting the image deletes the data in both stores.
    assert httpx.delete(image_url(cloud, f"/{created['id']}"), headers=h).status_code == 204
    assert not copy.exists() and not (cloud.data_dir / "image" / "stores" / "fast" / created["id"]).exists()


def test_import_errors(cloud: RunningCloud) -> None:
    h = {"X-Auth-Token": token(cloud)}
    img = httpx.post(image_url(cloud), json={"name": "imp-err", "disk_format": "raw", "container_format": "bare"},
                     headers=h).json()
    url = image_url(cloud, f"/{img['id']}/import")

    def post(body: Any) -> httpx.Response:
        return httpx.post(url, json=body, headers=h)

    for body, status, text in (
            ({}, 400, "requires a 'method' field"),
            ({"method": {}}, 400, "requires a 'name' field"),
            ({"method": {"name": "web-download", "uri": "http://example.com/x"}}, 400,
             "Unknown import method name 'web-download'."),
            ({"method": {"name": "glance-direct"}}, 409, "needs to be staged"),
            ({"method": {"name": "glance-direct"}, "all_stores": "yes"}, 400, "'all_stores' must be boolean"),
            ({"method": {"name": "glance-direct"}, "stores": ["nowhere"]}, 409, "nowhere")):
        r = post(body)
        assert r.status_code == status and text in r.json()["message"], (body, r.text)
    # Stage twice: the second finds the image uploading.
    put = httpx.put(image_url(cloud, f"/{img['id']}/stage"), content=b"abc",
                    headers={**h, "Content-Type": "application/octet-stream"})
    assert put.status_code == 204
    again = httpx.put(image_url(cloud, f"/{img['id']}/stage"), content=b"abc",
                      headers={**h, "Content-Type": "application/octet-stream"})
    assert again.status_code == 409 and "uploading" in again.json()["message"]
    # Tasks are the admin's (Glance's tasks_api_access).
    r = httpx.get(f"{cloud.url}/image/v2/tasks/00000000-0000-0000-0000-000000000000", headers=h)
    assert r.status_code == 403 and "tasks_api_access" in r.json()["message"]
    admin = {"X-Auth-Token": token(cloud, "litestack-admin")}
    r = httpx.get(f"{cloud.url}/image/v2/tasks/00000000-0000-0000-0000-000000000000", headers=admin)
    assert r.status_code == 404 and r.json()["code"] == "404 Not Found"
    # Deleting a staged image removes the staged data.
    assert httpx.delete(image_url(cloud, f"/{img['id']}"), headers=h).status_code == 204
    assert list((cloud.data_dir / "image" / "staging").iterdir()) == []


def test_web_download_when_enabled(cloud_factory: Callable[..., RunningCloud], tmp_path: Path) -> None:
    """Off by default (the other tests' cloud answers Glance's "Unknown import method"); on, an
    http URL is fetched into the stores, and loopback is refused unless its host is allowed."""
    import http.server
    import threading

    payload = os.urandom(300_000)
    (tmp_path / "disk.raw").write_bytes(payload)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        conf = ("[identity]\npassword_hash_rounds = 4\n[image]\nweb_download_enabled = true\n"
                'web_download_allowed_hosts = ["127.0.0.1"]\n')
        cloud = cloud_factory(config=conf)
        h = {"X-Auth-Token": token(cloud)}
        methods = httpx.get(f"{cloud.url}/image/v2/info/import", headers=h).json()["import-methods"]["value"]
        assert "web-download" in methods
        img = httpx.post(image_url(cloud), json={"name": "web", "disk_format": "raw", "container_format": "bare"},
                         headers=h).json()
        url = image_url(cloud, f"/{img['id']}/import")
        refused = httpx.post(url, json={"method": {"name": "web-download", "uri": "ftp://127.0.0.1/x"}}, headers=h)
        assert refused.status_code == 400 and "does not pass filtering" in refused.json()["message"]
        refused = httpx.post(url, json={"method": {"name": "web-download", "uri": "http://localhost:1/x"}},
                             headers=h)
        assert refused.status_code == 400 and "does not pass filtering" in refused.json()["message"]
        uri = f"http://127.0.0.1:{server.server_address[1]}/disk.raw"
        ok = httpx.post(url, json={"method": {"name": "web-download", "uri": uri}}, headers=h)
        assert ok.status_code == 202, ok.text
        assert until(lambda: get(cloud, img["id"])["status"] == "active", 20), get(cloud, img["id"])
        assert httpx.get(image_url(cloud, f"/{img['id']}/file"), headers=h).content == payload
        # A URL that does not answer 200 fails the import: the image goes back to queued.
        img2 = httpx.post(image_url(cloud), json={"name": "web2", "disk_format": "raw",
                                                  "container_format": "bare"}, headers=h).json()
        missing = f"http://127.0.0.1:{server.server_address[1]}/missing.raw"
        assert httpx.post(image_url(cloud, f"/{img2['id']}/import"),
                          json={"method": {"name": "web-download", "uri": missing}}, headers=h).status_code == 202
        assert until(lambda: get(cloud, img2["id"]).get("os_glance_failed_import") == "fast", 20)
        assert get(cloud, img2["id"])["status"] == "queued"
    finally:
        server.shutdown()
