"""Helpers of the object storage tests: swiftclient connections and raw HTTP with a token."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from swiftclient.client import Connection

from tests.conftest import RunningCloud


def auth(cloud: RunningCloud, name: str = "litestack") -> dict[str, Any]:
    a: dict[str, Any] = dict(cloud.clouds()[name]["auth"])  # type: ignore[call-overload]
    return a


def swift_connection(cloud: RunningCloud, name: str = "litestack") -> Connection:
    a = auth(cloud, name)
    return Connection(authurl=a["auth_url"] + "/v3", user=a["username"], key=a["password"], auth_version="3",
                      os_options={"project_name": a["project_name"], "user_domain_name": a["user_domain_name"],
                                  "project_domain_name": a["project_domain_name"]},
                      retries=0)


def token_and_url(cloud: RunningCloud, name: str = "litestack") -> tuple[str, str]:
    """A token and the account's storage URL, as swiftclient got them from the catalog."""
    url, token = swift_connection(cloud, name).get_auth()
    return token, url


def swift_cli(cloud: RunningCloud, *args: str, cwd: Path | None = None, check: bool = True,
              name: str = "litestack") -> subprocess.CompletedProcess[str]:
    """The real ``swift`` command of python-swiftclient."""
    a = auth(cloud, name)
    exe = shutil.which("swift", path=str(Path(sys.executable).parent)) or "swift"
    env = {**os.environ, "OS_AUTH_URL": a["auth_url"] + "/v3", "OS_USERNAME": a["username"],
           "OS_PASSWORD": a["password"], "OS_PROJECT_NAME": a["project_name"],
           "OS_USER_DOMAIN_NAME": a["user_domain_name"], "OS_PROJECT_DOMAIN_NAME": a["project_domain_name"],
           "OS_IDENTITY_API_VERSION": "3"}
    env.pop("OS_CLOUD", None)
    res = subprocess.run([exe, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
    if check and res.returncode != 0:
        raise AssertionError(f"swift {' '.join(args)} failed: {res.stdout}\n{res.stderr}")
    return res


def http(cloud: RunningCloud, name: str = "litestack") -> tuple[httpx.Client, str]:
    token, url = token_and_url(cloud, name)
    return httpx.Client(headers={"X-Auth-Token": token}, timeout=30), url


def swift_error(status: int, title: str, text: str) -> str:
    return f"<html><h1>{title}</h1><p>{text}</p></html>"


def byteranges(content_type: str, body: bytes) -> list[tuple[str, bytes]]:
    """The parts of a ``multipart/byteranges`` answer: each one's Content-Range and bytes. Checks
    the framing Swift uses (``--b`` parts, each ending in CRLF, then ``--b--``)."""
    kind, _, boundary = content_type.partition(";boundary=")
    assert kind == "multipart/byteranges" and boundary, content_type
    delimiter = f"--{boundary}".encode()
    assert body.endswith(delimiter + b"--")
    parts = body[:-len(delimiter) - 2].split(delimiter + b"\r\n")
    assert parts[0] == b""
    out = []
    for part in parts[1:]:
        head, _, data = part.partition(b"\r\n\r\n")
        assert data.endswith(b"\r\n")
        fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        out.append((fields["Content-Range"], data[:-2]))
    return out
