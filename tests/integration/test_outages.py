"""Runtime faults of identity on PostgreSQL or MariaDB and RabbitMQ (issue 7 §4): the database or the broker
goes away under a running server, reached through proxies the test cuts."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import REPO, free_port, until
from tests.databases import database
from tests.proxy import CuttableProxy

pytestmark = pytest.mark.integration


class Server:
    def __init__(self, tmp: Path, db_url: str, amqp_port: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = tmp / "data"
        self.out = tmp / "server.out"
        cfg = tmp / "c.toml"
        cfg.write_text(f'[DEFAULT]\ndatabase_url = "{db_url}"\n'
                       f'transport_url = "amqp://guest:guest@127.0.0.1:{amqp_port}/"\n'
                       '[identity]\npassword_hash_rounds = 4\n')
        self.proc = subprocess.Popen([sys.executable, "-m", "litestack.cli.main", "serve", "identity", "--port",
                                      str(self.port), "--config", str(cfg), "--data-dir", str(self.data)],
                                     stdout=self.out.open("wb"), stderr=subprocess.STDOUT, cwd=REPO)
        assert until(lambda: self.health()[0] == 200, 60), self.out.read_text()[-2000:]

    def health(self) -> tuple[int, dict[str, object]]:
        try:
            r = httpx.get(f"{self.url}/healthcheck", timeout=5)
        except httpx.HTTPError:
            return 0, {}
        return r.status_code, r.json()

    def login(self) -> httpx.Response:
        pw = yaml.safe_load((self.data / "clouds.yaml").read_text())["clouds"]["litestack-admin"]["auth"]["password"]
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": pw}}}}}
        return httpx.post(f"{self.url}/v3/auth/tokens", json=body, timeout=60)

    def log(self) -> str:
        return (self.data / "logs" / "litestack.log").read_text()


@pytest.fixture(params=["postgresql", "mariadb"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Server, CuttableProxy, CuttableProxy]]:
    with database(request.param) as url:
        port = 5432 if request.param == "postgresql" else 3306
        pg = CuttableProxy("127.0.0.1", port)  # the database, whichever it is
        mq = CuttableProxy("127.0.0.1", 5672)
        server = Server(tmp_path, url.replace(f"127.0.0.1:{port}", f"127.0.0.1:{pg.port}"), mq.port)
        try:
            yield server, pg, mq
        finally:
            if server.proc.poll() is None:
                server.proc.kill()
                server.proc.wait()
            pg.close()
            mq.close()


def test_a_database_outage_is_503_and_unhealthy_then_recovers(setup: tuple[Server, CuttableProxy, CuttableProxy]
                                                              ) -> None:
    server, pg, _ = setup
    assert server.login().status_code == 201

    pg.cut()
    # The load balancer sees the host go unhealthy ...
    assert until(lambda: server.health()[0] == 503, 20)
    assert "database unreachable" in str(server.health()[1]["services"])
    # ... and a request gets the service's 503 in bounded time, not a hang or a 500.
    started = time.monotonic()
    r = server.login()
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == 503
    assert time.monotonic() - started < 20
    # Unhealthy means 5 s without a successful poll (one a second): several polls have failed by
    # now, and the outage is in the log once, not once a poll.
    assert server.log().count("identity database unreachable") == 1
    assert "Traceback" not in server.log()

    pg.restore()
    assert until(lambda: server.health()[0] == 200, 20)
    assert server.login().status_code == 201
    assert "identity database reachable again" in server.log()


def test_sigterm_ends_the_process_in_seconds_with_the_broker_gone(setup: tuple[Server, CuttableProxy, CuttableProxy]
                                                                  ) -> None:
    server, _, mq = setup
    mq.cut()
    assert until(lambda: server.health()[1].get("bus") == "error: disconnected", 20)
    assert server.health()[0] == 503
    started = time.monotonic()
    server.proc.terminate()
    server.proc.wait(20)
    assert time.monotonic() - started < 10
