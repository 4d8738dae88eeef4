"""Identity on several hosts, as docs/operations.md sets it up (issue 7 §4).

Two ``litestack serve identity`` processes, each with its own data directory, share one
PostgreSQL or MariaDB database and RabbitMQ, with ``key_store = "database"`` and one master key.
They start at the same moment on an empty database, and then act as one cloud: a token or a
credential from either host works on both, a revocation on one reaches the other, a key rotation
keeps both working, and neither rewrites the cloud's URL in the catalog.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from cryptography.fernet import Fernet, InvalidToken

from tests.conftest import REPO, free_port, until, wait_healthy
from tests.databases import database

pytestmark = pytest.mark.integration

AMQP = "amqp://guest:guest@127.0.0.1:5672/"
#: identity checks revocation events and shared keys at most this often (Generation and key polls).
BOUND = 5.0


class Host:
    def __init__(self, root: Path, name: str, db_url: str, master: str, public_url: str, port: int) -> None:
        self.dir = root / name
        self.dir.mkdir()
        self.db_url, self.master = db_url, master
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.config = root / f"{name}.toml"
        self.config.write_text(
            f'[DEFAULT]\ndatabase_url = "{db_url}"\ntransport_url = "{AMQP}"\npublic_url = "{public_url}"\n'
            f'[identity]\nkey_store = "database"\nmaster_key = "{master}"\npassword_hash_rounds = 4\n')
        self.proc: subprocess.Popen[bytes] | None = None

    def cmd(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "litestack.cli.main", *args, "--config", str(self.config),
                "--data-dir", str(self.dir)]

    def start(self) -> None:
        log = (self.dir.parent / f"{self.dir.name}.out").open("ab")
        self.proc = subprocess.Popen(self.cmd("serve", "identity", "--port", str(self.port)), stdout=log,
                                     stderr=subprocess.STDOUT, cwd=REPO)

    def wait(self, timeout: float = 60) -> None:
        assert self.proc is not None
        wait_healthy(self.url, self.proc, timeout, self.dir.parent / f"{self.dir.name}.out")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def admin_password(self) -> str:
        clouds = yaml.safe_load((self.dir / "clouds.yaml").read_text())["clouds"]
        return str(clouds["litestack-admin"]["auth"]["password"])

    def token(self, password: str) -> str:
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
        r = httpx.post(f"{self.url}/v3/auth/tokens", json=body, timeout=30)
        assert r.status_code == 201, r.text
        return r.headers["x-subject-token"]

    def validate(self, auth: str, subject: str) -> int:
        return httpx.get(f"{self.url}/v3/auth/tokens", timeout=30,
                         headers={"X-Auth-Token": auth, "X-Subject-Token": subject}).status_code


def _until(check: Callable[[], object], timeout: float = BOUND) -> bool:
    return until(check, timeout)


def made_with_primary(host: Host, token: str) -> bool:
    """Whether ``token`` is encrypted with the current primary key of the shared store (read from
    the database with the master key, as every host does)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(host.db_url)
    try:
        with engine.connect() as conn:
            value = conn.execute(text("SELECT value FROM stored_key WHERE repo = 'fernet-keys' "
                                      "ORDER BY idx DESC LIMIT 1")).scalar_one()
    finally:
        engine.dispose()
    primary = Fernet(host.master.encode()).decrypt(value.encode())
    stripped = token.rstrip("=").encode()
    try:
        Fernet(primary).decrypt(stripped + b"=" * (-len(stripped) % 4))
    except InvalidToken:
        return False
    return True


def tokencache_queues() -> int:
    out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "name"], capture_output=True, text=True, timeout=60)
    return sum(1 for line in out.stdout.splitlines() if ".tokencache-" in line)


@pytest.fixture(params=["postgresql", "mariadb"])
def hosts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Host, Host]]:
    with database(request.param) as url:
        master = Fernet.generate_key().decode()
        port_a, port_b = free_port(), free_port()
        lb = f"http://127.0.0.1:{port_a}"  # the load balancer's address stands in as the cloud's URL
        a = Host(tmp_path, "a", url, master, lb, port_a)
        b = Host(tmp_path, "b", url, master, lb, port_b)
        try:
            yield a, b
        finally:
            a.stop()
            b.stop()


def test_two_hosts_on_one_database_are_one_cloud(hosts: tuple[Host, Host]) -> None:
    a, b = hosts
    queues_before = tokencache_queues()
    # Both start at once on an empty database: migrations and bootstrap take turns.
    a.start()
    b.start()
    a.wait()
    b.wait()

    # One admin password (the first host's choice), so either clouds.yaml works on either host.
    password = a.admin_password()
    assert b.admin_password() == password
    tok_a, tok_b = a.token(password), b.token(password)
    assert a.validate(tok_a, tok_b) == 200 and b.validate(tok_b, tok_a) == 200

    # A credential stored through one host is decrypted by the other (shared credential keys).
    headers = {"X-Auth-Token": tok_a}
    user_id = httpx.get(f"{a.url}/v3/auth/tokens", headers={**headers, "X-Subject-Token": tok_a}
                        ).json()["token"]["user"]["id"]
    cred = httpx.post(f"{a.url}/v3/credentials", headers=headers, json={"credential": {
        "type": "totp", "user_id": user_id, "blob": "GEZDGNBVGY3TQOJQ"}})
    assert cred.status_code == 201, cred.text
    seen = httpx.get(f"{b.url}/v3/credentials/{cred.json()['credential']['id']}", headers={"X-Auth-Token": tok_b})
    assert seen.status_code == 200 and seen.json()["credential"]["blob"] == "GEZDGNBVGY3TQOJQ"

    # The catalog names the cloud's URL, not the host that started last.
    catalog = httpx.get(f"{b.url}/v3/auth/catalog", headers={"X-Auth-Token": tok_b}).json()["catalog"]
    urls = {e["url"] for s in catalog for e in s["endpoints"]}
    assert urls == {a.url}

    # A revocation on one host reaches the other within the bound.
    victim = b.token(password)
    assert a.validate(tok_a, victim) == 200
    assert httpx.delete(f"{b.url}/v3/auth/tokens", headers={"X-Auth-Token": tok_b,
                                                             "X-Subject-Token": victim}).status_code == 204
    assert _until(lambda: a.validate(tok_a, victim) == 404)

    # A rotation from either host keeps both working: old tokens stay valid, new ones cross over.
    r = subprocess.run(a.cmd("identity", "rotate-keys"), capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "database:fernet-keys" in r.stdout
    # Each host takes the new keys up within its poll: wait until b issues with the new primary.
    assert _until(lambda: made_with_primary(b, b.token(password)))
    assert a.validate(tok_a, b.token(password)) == 200
    assert b.validate(tok_b, tok_a) == 200  # issued before the rotation: its key is now a secondary
    tok_mid = b.token(password)
    r = subprocess.run(b.cmd("identity", "rotate-keys"), capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 0, r.stderr
    assert _until(lambda: b.validate(b.token(password), a.token(password)) == 200)
    assert a.validate(a.token(password), tok_mid) == 200
    # With max_active_keys = 3 a token outlives one rotation, not two (as with Keystone's key files).
    assert _until(lambda: a.validate(a.token(password), tok_a) == 404)

    # Stopped processes leave no token-cache queue behind on the broker.
    a.stop()
    b.stop()
    assert _until(lambda: tokencache_queues() == queues_before, timeout=15)


def test_a_host_with_another_master_key_is_refused_clearly(hosts: tuple[Host, Host], tmp_path: Path) -> None:
    a, b = hosts
    a.start()
    a.wait()
    b.config.write_text(b.config.read_text().replace(
        b.config.read_text().split('master_key = "')[1].split('"')[0], Fernet.generate_key().decode()))
    r = subprocess.run(b.cmd("serve", "identity", "--port", str(b.port)), capture_output=True, text=True,
                       cwd=REPO, timeout=60, env={**os.environ})
    assert r.returncode != 0
    assert "master_key" in r.stderr and "Traceback" not in r.stderr
