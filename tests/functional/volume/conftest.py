"""Fixtures of the block storage functional tests: one cloud per test module (identity, image and
volume, with a real ``file`` backend and a ``fake`` one), a second project, and helpers that
wait on a volume's status and read a volume's bytes from its backing file."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.databases import DATABASES, cloud_on
from tests.functional.identity.keystone import FAST_HASH

VOLUME_CLOUD = ('[DEFAULT]\nservices = ["identity", "image", "volume"]\n' + FAST_HASH +
                '[volume]\nbackends = ["file-1:file", "fake-1:fake"]\ncapacity_gb = 40\nreport_interval = 2\n'
                'host = "vol-host"\n')
#: The host of the cloud's volume agent: a connector there gets the file, any other an NBD export.
VOLUME_HOST = "vol-host"


@pytest.fixture(scope="module", params=DATABASES)
def cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    """On SQLite (functional), then on PostgreSQL and MariaDB with RabbitMQ (integration)."""
    with cloud_on(request.param, tmp_path_factory.mktemp(f"volume-{request.param}"), VOLUME_CLOUD) as c:
        # The default type's volumes go to the file backend (whose bytes the tests read); types
        # that name fake-1 go to the other one.
        adm = Api(c, admin_token(c))
        r = adm("POST", "types/__DEFAULT__/extra_specs", {"extra_specs": {"volume_backend_name": "file-1"}})
        assert r.status_code == 200, r.text
        yield c


def admin_token(cloud: RunningCloud) -> str:
    from tests.fuzz import admin_token as token

    return token(cloud)


def user_token(cloud: RunningCloud, name: str = "litestack") -> str:
    token: str = cloud.sdk(name).auth_token
    return token


def project_of(cloud: RunningCloud, token: str) -> str:
    r = httpx.get(f"{cloud.auth_url}/v3/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token})
    project: str = r.json()["token"]["project"]["id"]
    return project


class Api:
    """Raw HTTP on the block storage API as one caller (negative cases, microversions)."""

    def __init__(self, cloud: RunningCloud, token: str, version: str | None = "3.60") -> None:
        self.cloud, self.token, self.version = cloud, token, version
        self.project = project_of(cloud, token)

    def url(self, path: str) -> str:
        return f"{self.cloud.url}/volume/v3/{self.project}/{path}"

    def __call__(self, method: str, path: str, json_body: Any = None, version: str | None = None,
                 **kw: Any) -> httpx.Response:
        h = {"X-Auth-Token": self.token, **kw.pop("headers", {})}
        v = version or self.version
        if v:
            h["OpenStack-API-Version"] = f"volume {v}"
        return httpx.request(method, self.url(path), json=json_body, headers=h, timeout=60, **kw)

    def wait(self, kind: str, ident: str, *statuses: str, timeout: float = 60) -> dict[str, Any]:
        """Poll until the volume or snapshot reaches one of ``statuses`` (fails on error states)."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            r = self("GET", f"{kind}s/{ident}")
            if r.status_code == 404 and "deleted" in statuses:
                return {}
            last = r.json()[kind]
            if last["status"] in statuses:
                return last
            if last["status"].startswith("error"):
                raise AssertionError(f"{kind} {ident} went to {last['status']}")
            time.sleep(0.2)
        raise AssertionError(f"{kind} {ident} stayed {last.get('status')}")


def cli_json(cloud: RunningCloud, *args: str, cloud_name: str = "litestack") -> Any:
    return json.loads(cloud.openstack(*args, "-f", "json", cloud=cloud_name).stdout)


def backing_file(cloud: RunningCloud, volume_id: str, backend: str = "file-1") -> Path:
    return cloud.data_dir / "volume" / backend / f"volume-{volume_id}"


def raw_bytes(path: Path, fmt: str = "raw", length: int | None = None) -> bytes:
    """The guest-visible bytes of a disk file (converted to raw when it is not), or their first ``length``."""
    if fmt != "raw":
        out = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.raw")
        subprocess.run(["qemu-img", "convert", "-f", fmt, "-O", "raw", str(path), str(out)], check=True)
        try:
            return raw_bytes(out, "raw", length)
        finally:
            out.unlink()
    with path.open("rb") as f:
        return f.read(length) if length is not None else f.read()


def write_at(path: Path, offset: int, data: bytes) -> None:
    """Write into a raw volume file as a guest would (in place, the file keeps its size)."""
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(data)
