"""A server killed in the middle of an upload: after the restart the image is ``queued``, no
partial file is left in the store, and a new upload works."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import RunningCloud, until
from tests.functional.image.conftest import IMAGE_CLOUD, image_url, token

pytestmark = pytest.mark.functional


def test_kill_during_upload_then_restart(cloud_factory: Callable[..., RunningCloud]) -> None:
    cloud = cloud_factory(config=IMAGE_CLOUD)
    h = {"X-Auth-Token": token(cloud)}
    img = httpx.post(image_url(cloud), json={"name": "crash", "disk_format": "raw", "container_format": "bare"},
                     headers=h).json()
    url = image_url(cloud, f"/{img['id']}")
    store = cloud.data_dir / "image" / "stores" / "fast"
    total = 1 << 30  # announced: 1 GiB; the server dies long before it arrives
    with socket.create_connection(("127.0.0.1", cloud.port)) as s:
        s.sendall((f"PUT /image/v2/images/{img['id']}/file HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {h['X-Auth-Token']}"
                   f"\r\nContent-Type: application/octet-stream\r\nContent-Length: {total}\r\n\r\n").encode())
        block = os.urandom(1 << 20)
        for _ in range(64):
            s.sendall(block)
        assert until(lambda: httpx.get(url, headers=h).json()["status"] == "saving", 10)
        assert until(lambda: any(p.name.startswith(".tmp-") for p in store.iterdir()), 10)
        assert cloud.proc is not None
        cloud.proc.send_signal(signal.SIGKILL)
        cloud.proc.wait(10)
    cloud.proc = None
    cloud.start()
    h = {"X-Auth-Token": token(cloud)}
    assert httpx.get(url, headers=h).json()["status"] == "queued"
    assert list(store.iterdir()) == []
    data = os.urandom(1 << 20)
    ok = httpx.put(url + "/file", content=data, headers={**h, "Content-Type": "application/octet-stream"})
    assert ok.status_code == 204, ok.text
    assert httpx.get(url + "/file", headers=h).content == data
    assert [p.name for p in store.iterdir()] == [img["id"]]
