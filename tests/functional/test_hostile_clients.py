"""Hostile clients cannot take the server down (issue 7 §3), against a real ``litestack up``.

Huge and endless bodies, slow and piled-up connections, and input no database can store must
cost the server neither its memory, its file descriptors, nor a 500.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningCloud, free_port

pytestmark = pytest.mark.functional
HEADER_TIMEOUT = 2.0
MAX_CONNECTIONS = 300
CONFIG = f"""
[DEFAULT]
header_timeout = {HEADER_TIMEOUT}
body_timeout = {HEADER_TIMEOUT}
max_connections = {MAX_CONNECTIONS}
trusted_proxies = ["127.0.0.1"]

[identity]
# High enough that the concurrency test below shows the fair queue, not the failure throttle.
auth_failures_per_source = 1000
"""


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    base = tmp_path_factory.mktemp("hostile")
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


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def connect(cloud: RunningCloud, timeout: float = 10) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", cloud.port), timeout=timeout)
    return s


def read_response(s: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or the socket times out)."""
    data = b""
    try:
        while chunk := s.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def admin_token(cloud: RunningCloud) -> str:
    auth = cloud.clouds()["litestack-admin"]["auth"]
    assert isinstance(auth, dict)
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": auth["username"], "domain": {"name": "Default"}, "password": auth["password"]}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    r = httpx.post(f"{cloud.auth_url}/v3/auth/tokens", json=body, timeout=30)
    assert r.status_code == 201, r.text
    return r.headers["x-subject-token"]


def server_log(cloud: RunningCloud) -> str:
    return (cloud.data_dir / "logs" / "litestack.log").read_text(errors="replace")


def test_huge_declared_body_is_refused_at_once_without_growing_memory(cloud: RunningCloud) -> None:
    assert cloud.proc is not None
    pid = cloud.proc.pid
    before = rss_kb(pid)
    for size in (400 << 20, 600 << 20, 600 << 20):
        s = connect(cloud)
        s.sendall(b"POST /identity/v3/auth/tokens HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + str(size).encode() + b"\r\n\r\n")
        started = time.monotonic()
        try:  # the client goes on sending; the server must answer without waiting for it all
            for _ in range(16):
                s.sendall(b" " * 65536)
        except OSError:
            pass  # the server closed on us: what we want
        reply = read_response(s)
        s.close()
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
        assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["error"]["code"] == 413
        assert b"connection: close" in reply.lower()
        assert time.monotonic() - started < 5
    assert rss_kb(pid) - before < 30_000, (before, rss_kb(pid))


def test_chunked_body_is_cut_off_at_the_limit(cloud: RunningCloud) -> None:
    s = connect(cloud)
    s.sendall(b"POST /identity/v3/auth/tokens HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    sent = 0
    chunk = b"10000\r\n" + b" " * 65536 + b"\r\n"
    try:
        while sent < 200 << 20:
            s.sendall(chunk)
            sent += 65536
    except OSError:
        pass
    reply = read_response(s)
    s.close()
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert sent < 32 << 20  # the server stopped reading long before the client stopped sending


def test_endless_headers_are_refused_without_growing_memory(cloud: RunningCloud) -> None:
    assert cloud.proc is not None
    before = rss_kb(cloud.proc.pid)
    for one_header in (False, True):  # many headers, then one header that never ends
        s = connect(cloud)
        s.sendall(b"GET /identity/v3 HTTP/1.1\r\nHost: t\r\n" + (b"X-Junk: " if one_header else b""))
        sent = 0
        try:
            while sent < 300 << 20:
                s.sendall(b"a" * 65000 if one_header else b"X-Junk: " + b"a" * 65000 + b"\r\n")
                sent += 65000
        except OSError:
            pass
        reply = read_response(s)
        s.close()
        assert reply.startswith(b"HTTP/1.1 431"), reply[:100]
        assert sent < 32 << 20
    assert rss_kb(cloud.proc.pid) - before < 30_000


def test_slow_clients_are_dropped_while_others_are_served(cloud: RunningCloud) -> None:
    assert cloud.proc is not None
    pid = cloud.proc.pid
    fds_before = open_fds(pid)
    slow = []
    for _ in range(200):
        s = connect(cloud, timeout=HEADER_TIMEOUT + 10)
        s.sendall(b"GET /identity/v3 HTTP/1.1\r\nHost: t\r\n")  # and then nothing
        slow.append(s)
    started = time.monotonic()
    r = httpx.get(f"{cloud.auth_url}/v3", timeout=10)
    assert r.status_code == 200
    assert time.monotonic() - started < HEADER_TIMEOUT  # served while the slow ones still hang
    replies = [read_response(s) for s in slow]
    assert time.monotonic() - started < HEADER_TIMEOUT + 10
    assert all(rep.startswith(b"HTTP/1.1 408") for rep in replies), {rep[:40] for rep in replies}
    for s in slow:
        s.close()
    deadline = time.monotonic() + 10
    while open_fds(pid) > fds_before + 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_fds(pid) <= fds_before + 5


def test_body_that_stops_arriving_is_dropped(cloud: RunningCloud) -> None:
    s = connect(cloud, timeout=HEADER_TIMEOUT + 10)
    s.sendall(b"POST /identity/v3/auth/tokens HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
              b"Content-Length: 1000\r\n\r\n{\"auth\": ")  # and then nothing
    started = time.monotonic()
    reply = read_response(s)
    s.close()
    assert reply.startswith(b"HTTP/1.1 408"), reply[:100]
    assert time.monotonic() - started < HEADER_TIMEOUT + 5


def test_endless_body_to_a_path_that_reads_none_is_not_read_forever(cloud: RunningCloud) -> None:
    s = connect(cloud, timeout=10)
    s.sendall(b"POST /healthcheck HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
    sent = 0
    try:
        while sent < 200 << 20:
            s.sendall(b"10000\r\n" + b" " * 65536 + b"\r\n")
            sent += 65536
    except OSError:
        pass
    reply = read_response(s)
    s.close()
    assert reply.startswith(b"HTTP/1.1 200") and b"connection: close" in reply.lower()
    assert sent < 32 << 20


def test_idle_connection_that_never_speaks_is_closed(cloud: RunningCloud) -> None:
    s = connect(cloud, timeout=HEADER_TIMEOUT + 10)
    started = time.monotonic()
    assert read_response(s) == b""  # closed, silently
    assert time.monotonic() - started < HEADER_TIMEOUT + 5
    s.close()


def test_connections_beyond_the_cap_are_refused_not_left_hanging(cloud: RunningCloud) -> None:
    conns = [connect(cloud, timeout=5) for _ in range(MAX_CONNECTIONS + 20)]
    try:
        refused = 0
        deadline = time.monotonic() + 5
        pending = list(conns)
        while pending and refused < 20 and time.monotonic() < deadline:
            for s in list(pending):
                s.settimeout(0.001)
                try:
                    data = s.recv(4096)
                except TimeoutError:
                    continue
                pending.remove(s)
                if data.startswith(b"HTTP/1.1 503"):
                    refused += 1
        assert refused >= 20
    finally:
        for s in conns:
            s.close()
    # Once those are gone, everyone is served again.
    deadline = time.monotonic() + 10
    while True:
        try:
            r = httpx.get(f"{cloud.auth_url}/v3", timeout=5)
            if r.status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline
        time.sleep(0.1)


SURROGATE = "\\ud800"  # a JSON escape, as a client sends it


@pytest.mark.parametrize("user", [
    {"name": f"a{SURROGATE}", "domain": {"id": "default"}},
    {"name": "admin", "domain": {"name": f"x{SURROGATE}"}},
    {"id": f"{SURROGATE}"},
])
def test_surrogate_in_password_auth_is_a_400(cloud: RunningCloud, user: dict[str, Any]) -> None:
    # json.dumps escapes the backslash; undo that so the server gets the \ud800 escape itself.
    user_json = json.dumps({**user, "password": "x"}).replace("\\\\", "\\")
    body = '{"auth": {"identity": {"methods": ["password"], "password": {"user": ' + user_json + "}}}}"
    r = httpx.post(f"{cloud.auth_url}/v3/auth/tokens", content=body.encode(),
                   headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == 400


def test_bad_json_is_a_400_and_leaves_no_traceback(cloud: RunningCloud) -> None:
    token = admin_token(cloud)
    bodies = [
        ("/v3/auth/tokens", '{"auth": {"identity": {"methods": ["application_credential"], '
                            '"application_credential": {"id": "\\ud800", "secret": "x"}}}}'),
        ("/v3/users", '{"user": {"name": "bad\\udc00name", "domain_id": "default"}}'),
        ("/v3/users", '{"user": {"name": "nul\\u0000", "domain_id": "default"}}'),
        ("/v3/auth/tokens", "[" * 5000 + "]" * 5000),
        ("/v3/users", '{"user": ' * 5000 + "1" + "}" * 5000),
    ]
    for path, body in bodies:
        r = httpx.post(f"{cloud.auth_url}{path}", content=body.encode(), timeout=30,
                       headers={"content-type": "application/json", "x-auth-token": token})
        assert r.status_code == 400, (path, body[:60], r.text)
        assert r.json()["error"]["code"] == 400
    assert "Traceback" not in server_log(cloud)


def test_bad_paths_and_queries_are_4xx(cloud: RunningCloud) -> None:
    headers = {"x-auth-token": admin_token(cloud)}
    for path in ["/v3/users/%ED%A0%80", "/v3/users/%FF%FE", "/v3/domains/%C0%AF", "/v3/projects/a%00b",
                 "/v3/users?name=%ED%A0%80", "/v3/users?name=%FF", "/v3/users?name=%00",
                 "/v3/projects?name=a%0Ab"]:
        r = httpx.get(f"{cloud.auth_url}{path}", headers=headers, timeout=30)
        assert r.status_code in (200, 400, 404), (path, r.status_code, r.text)
        assert r.json()  # a JSON body in the service's format, not a bare text page
    assert "Traceback" not in server_log(cloud)
    # A newline in the path cannot forge a line in the log.
    httpx.get(f"{cloud.auth_url}/v3/users/x%0A2099-01-01 forged", headers=headers, timeout=30)
    assert not any(line.startswith("2099-01-01") for line in server_log(cloud).splitlines())


def login_body(name: str, password: str, project: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"name": "Default"}, "password": password}}}}}
    if project:
        body["auth"]["scope"] = {"project": {"name": project, "domain": {"name": "Default"}}}
    return body


def cloud_user(cloud: RunningCloud, name: str = "litestack-admin") -> tuple[str, str]:
    auth = cloud.clouds()[name]["auth"]
    assert isinstance(auth, dict)
    return str(auth["username"]), str(auth["password"])


def test_password_guessing_from_one_source_does_not_starve_another(cloud: RunningCloud) -> None:
    """200 concurrent guesses (unknown users: a full bcrypt check each) from one address; a real
    login from another address completes in about one check's time, not 200 checks' time."""
    name, password = cloud_user(cloud)

    async def attack_and_login() -> tuple[list[int], float, int]:
        limits = httpx.Limits(max_connections=250, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=cloud.auth_url, timeout=120, limits=limits) as client:
            async def guess(i: int) -> int:
                r = await client.post("/v3/auth/tokens", json=login_body(f"nobody-{i}", "guess"),
                                      headers={"X-Forwarded-For": "203.0.113.66"})
                return r.status_code

            attack = [asyncio.create_task(guess(i)) for i in range(200)]
            await asyncio.sleep(0)  # let the attack reach the server first
            while not any(t.done() for t in attack):  # the server is busy with it
                await asyncio.sleep(0.01)
            started = time.monotonic()
            r = await client.post("/v3/auth/tokens", json=login_body(name, password, "admin"),
                                  headers={"X-Forwarded-For": "198.51.100.7"})
            took = time.monotonic() - started
            return list(await asyncio.gather(*attack)), took, r.status_code

    statuses, took, status = asyncio.run(attack_and_login())
    print(f"real login under 200 concurrent guesses: {took:.2f}s; guesses: {statuses.count(401)} checked "
          f"(401), {statuses.count(429)} refused at once (429)")
    assert status == 201
    # Measured: 0.5-0.9 s alone and 1.3-4.5 s under the attack on a loaded 2-core machine; 147 s before.
    assert took < 10, f"a real login took {took:.2f}s under 200 concurrent guesses"
    # Each guess is refused: 401 after a real check, or 429 at once when its address already has
    # its share of checks waiting. Never a 500.
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) >= 2


THROTTLE = """
[DEFAULT]
trusted_proxies = ["127.0.0.1"]

[identity]
password_hash_rounds = 4
auth_failures_per_user = 3
auth_failures_per_source = 6
auth_failure_window = 600
"""


def test_repeated_failures_are_throttled_by_user_name_and_by_source(
        cloud_factory: Callable[..., RunningCloud]) -> None:
    c = cloud_factory(config=THROTTLE)

    def login(body: dict[str, Any], source: str) -> httpx.Response:
        return httpx.post(f"{c.auth_url}/v3/auth/tokens", json=body, headers={"X-Forwarded-For": source},
                          timeout=30)

    # An unknown name: three failures, then 429 from any address, without a password check.
    assert [login(login_body("nobody", "x"), f"192.0.2.{i}").status_code for i in range(3)] == [401] * 3
    r = login(login_body("nobody", "x"), "192.0.2.99")
    assert r.status_code == 429
    assert r.json()["error"]["code"] == 429 and int(r.headers["retry-after"]) > 0
    # A real name is counted the same way, so the answers tell nothing about which names exist;
    # while it lasts, even the right password waits (that is what stops a distributed guess).
    demo, demo_pw = cloud_user(c, "litestack")
    assert [login(login_body(demo, "wrong"), f"192.0.2.{i}").status_code for i in range(3)] == [401] * 3
    assert login(login_body(demo, demo_pw), "192.0.2.50").status_code == 429
    # By address: six failures on six different names, then this address is refused even for a
    # good password of another user, while other addresses log in.
    admin, admin_pw = cloud_user(c)
    assert [login(login_body(f"x{i}", "x"), "198.51.100.1").status_code for i in range(6)] == [401] * 6
    assert login(login_body(admin, admin_pw), "198.51.100.1").status_code == 429
    r = login(login_body(admin, admin_pw, "admin"), "198.51.100.2")
    assert r.status_code == 201
    # The self-service password change needs no token, so it is a password oracle too.
    headers = {"x-auth-token": r.headers["x-subject-token"]}
    r = httpx.post(f"{c.auth_url}/v3/users", headers=headers, timeout=30,
                   json={"user": {"name": "changer", "domain_id": "default", "password": "old-pw"}})
    assert r.status_code == 201, r.text
    url = f"{c.auth_url}/v3/users/{r.json()['user']['id']}/password"

    def change(original: str, source: str) -> int:
        return httpx.post(url, json={"user": {"original_password": original, "password": "new-pw"}},
                          headers={"X-Forwarded-For": source}, timeout=30).status_code

    assert [change("guess", f"203.0.113.{i}") for i in range(3)] == [401] * 3
    assert change("old-pw", "203.0.113.9") == 429


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(
        cloud_factory: Callable[..., RunningCloud]) -> None:
    c = cloud_factory(config=THROTTLE.replace('trusted_proxies = ["127.0.0.1"]', ""))
    # Every attempt counts against the real peer (127.0.0.1), whatever the header claims.
    codes = [httpx.post(f"{c.auth_url}/v3/auth/tokens", json=login_body(f"y{i}", "x"), timeout=30,
                        headers={"X-Forwarded-For": f"192.0.2.{i}"}).status_code for i in range(7)]
    assert codes == [401] * 6 + [429]


def test_password_longer_than_72_bytes_counts_whole(cloud: RunningCloud) -> None:
    headers = {"x-auth-token": admin_token(cloud)}
    name = f"long-{time.monotonic_ns()}"
    r = httpx.post(f"{cloud.auth_url}/v3/users", headers=headers, timeout=30,
                   json={"user": {"name": name, "domain_id": "default", "password": "Z" * 72 + "SECRET"}})
    assert r.status_code == 201, r.text

    def login(password: str) -> int:
        return httpx.post(f"{cloud.auth_url}/v3/auth/tokens", json=login_body(name, password), timeout=30,
                          headers={"X-Forwarded-For": "192.0.2.72"}).status_code

    assert login("Z" * 72 + "anything") == 401
    assert login("Z" * 72) == 401
    assert login("Z" * 72 + "SECRET") == 201
