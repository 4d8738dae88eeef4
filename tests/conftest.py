"""Fixtures shared by every test layer."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent

# The markers a test in each layer's folder can carry (the identity functional suite also runs
# as integration tests on PostgreSQL and MariaDB).
_LAYER_MARKERS = {"functional": [{"functional"}, {"functional", "integration"}],
                  "integration": [{"integration"}], "e2e": [{"e2e"}]}


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skip importing a layer's folder that ``-m`` deselects entirely.

    ``pytest -m unit`` then runs where only litestack and pytest are installed: the functional
    modules import openstacksdk, keystoneauth1 and schemathesis at module level.
    """
    from _pytest.mark.expression import Expression

    markexpr: str = config.getoption("markexpr", "") or ""
    layer = collection_path.name if collection_path.parent == REPO / "tests" else None
    if not markexpr or layer not in _LAYER_MARKERS:
        return None
    try:
        expr = Expression.compile(markexpr)
    except SyntaxError:
        return None  # pytest reports the bad expression itself
    def carries(marks: set[str]) -> Callable[..., bool]:
        return lambda name, /, **kwargs: name in marks

    if any(expr.evaluate(carries(marks)) for marks in _LAYER_MARKERS[layer]):
        return None
    return True


def until(check: Callable[[], object], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``check`` until it is true or ``timeout`` seconds pass; whether it became true.
    (Tests wait on a condition with a deadline, never a fixed sleep.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float, log: Path | None = None) -> None:
    """Wait until ``url``/healthcheck answers 200; RuntimeError (with the tail of ``log``) if the
    process exits first or time runs out."""

    def healthy() -> bool:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}\n{tail}")
        try:
            return httpx.get(f"{url}/healthcheck", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    if not until(healthy, timeout):
        raise RuntimeError(f"{url} did not become healthy in {timeout:.0f} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningCloud:
    """A live ``litestack up`` on a loopback port, with its data directory and clouds.yaml."""

    data_dir: Path
    port: int
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    config_file: Path | None = None
    extra_args: list[str] = field(default_factory=list)
    #: The ``litestack`` subcommand: ``up``, or e.g. ``serve toy`` for one service alone.
    command: list[str] = field(default_factory=lambda: ["up"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth_url(self) -> str:
        return f"{self.url}/identity"

    @property
    def clouds_yaml(self) -> Path:
        return self.data_dir / "clouds.yaml"

    def clouds(self) -> dict[str, dict[str, object]]:
        data: dict[str, dict[str, dict[str, object]]] = yaml.safe_load(self.clouds_yaml.read_text())
        return data["clouds"]

    def start(self, timeout: float = 30) -> None:
        cmd = [sys.executable, "-m", "litestack.cli.main", *self.command, "--data-dir", str(self.data_dir),
               "--port", str(self.port), *self.extra_args]
        if self.config_file is not None:
            cmd += ["--config", str(self.config_file)]
        out = self.data_dir.parent / f"{self.data_dir.name}.out"
        log = open(out, "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        wait_healthy(self.url, self.proc, timeout, out)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def openstack(self, *args: str, cloud: str = "litestack", check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the real ``openstack`` CLI against this cloud."""
        exe = shutil.which("openstack", path=str(Path(sys.executable).parent)) or "openstack"
        env = {**self.env, "OS_CLIENT_CONFIG_FILE": str(self.clouds_yaml)}
        res = subprocess.run([exe, "--os-cloud", cloud, *args], capture_output=True, text=True, env=env,
                             timeout=120)
        if check and res.returncode != 0:
            raise AssertionError(f"openstack {' '.join(args)} failed: {res.stderr}")
        return res

    def sdk(self, cloud: str = "litestack") -> Any:
        """An openstacksdk connection for a cloud of clouds.yaml (typed Any: its proxies are dynamic)."""
        import openstack

        c = self.clouds()[cloud]
        kwargs: dict[str, Any] = {k: v for k, v in c.items() if k != "auth"}
        kwargs["auth"] = dict(c["auth"])  # type: ignore[call-overload]
        return openstack.connect(**kwargs)


@pytest.fixture
def cloud_factory(tmp_path: Path) -> Iterator[Callable[..., RunningCloud]]:
    """Start ``litestack up`` processes; each gets its own data directory and port."""
    started: list[RunningCloud] = []

    def make(config: str | None = None, env: dict[str, str] | None = None) -> RunningCloud:
        data_dir = tmp_path / f"cloud{len(started)}"
        data_dir.mkdir()
        cfg = None
        if config is not None:
            cfg = tmp_path / f"cloud{len(started)}.toml"
            cfg.write_text(config)
        full_env = {**os.environ, **(env or {})}
        full_env.pop("OS_CLOUD", None)
        c = RunningCloud(data_dir, free_port(), full_env, config_file=cfg)
        started.append(c)
        c.start()
        return c

    yield make
    for c in started:
        c.stop()


@pytest.fixture(scope="module")
def shared_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    """One cloud for a whole test module (for tests that only read or clean up after themselves)."""
    data_dir = tmp_path_factory.mktemp("shared") / "cloud"
    data_dir.mkdir()
    env = {**os.environ}
    env.pop("OS_CLOUD", None)
    c = RunningCloud(data_dir, free_port(), env)
    c.start()
    yield c
    c.stop()
