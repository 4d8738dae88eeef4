"""Assembling and running the all-in-one cloud (``litestack up``) and single services."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import uvicorn

from litestack.common import config, log
from litestack.common.auth import TokenCache
from litestack.common.rpc import Notification, Transport, get_transport
from litestack.common.server import PrefixRouter
from litestack.identity.bootstrap import CATALOG, bootstrap, load_or_create_secrets, write_clouds_yaml
from litestack.identity.service import IdentityService

KNOWN_SERVICES = ("identity",)


def say(msg: str) -> None:
    print(f"litestack: {msg}", flush=True)


class Cloud:
    """The services of one all-in-one cloud, sharing a data directory."""

    def __init__(self, conf: config.Config, data_dir: Path) -> None:
        self.conf = conf
        self.data_dir = data_dir
        host = conf.get("DEFAULT", "host")
        port = conf.get("DEFAULT", "port")
        self.public_url = conf.get("DEFAULT", "public_url") or f"http://{_url_host(host)}:{port}"
        self.services: list[str] = list(conf.get("DEFAULT", "services"))
        for svc in self.services:
            if svc not in KNOWN_SERVICES:
                raise config.ConfigError(f"[DEFAULT] services: unknown service {svc!r}; "
                                         f"known: {', '.join(KNOWN_SERVICES)}")
        if "identity" not in self.services:
            raise config.ConfigError("[DEFAULT] services must include identity")
        self.identity: IdentityService | None = None
        self.transport: Transport | None = None
        # The token cache the auth middleware of every non-identity service shares in this process.
        self.token_cache = TokenCache(conf.get("auth", "cache_ttl"), conf.get("auth", "cache_size"))

    @property
    def auth_url(self) -> str:
        return self.public_url + CATALOG["identity"][2]

    def start(self, standalone: str | None = None, prepare: bool = True) -> PrefixRouter:
        """Open the databases and build the app; ``prepare`` also bootstraps and writes clouds.yaml
        (a multi-worker parent prepares once; its workers only open and serve)."""
        identity_url = self.public_url if standalone == "identity" else self.auth_url
        t = time.monotonic()
        if prepare:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            os.chmod(self.data_dir, 0o700)
            say(f"data directory {self.data_dir}")
        self.identity = IdentityService(self.conf, self.data_dir, identity_url)
        if prepare:
            say(f"identity database ready ({time.monotonic() - t:.2f}s)")
            admin_pw = self.conf.get("identity", "admin_password")
            creds = load_or_create_secrets(self.data_dir, admin_pw)
            t = time.monotonic()
            bootstrap(self.identity.manager, creds, self.public_url, self.conf.get("DEFAULT", "region"),
                      self.services, reset_admin=bool(admin_pw), standalone=standalone is not None)
            say(f"bootstrap done ({time.monotonic() - t:.2f}s)")
            write_clouds_yaml(self.data_dir / "clouds.yaml", identity_url, self.conf.get("DEFAULT", "region"),
                              creds)
        apps = {"": self.identity.app} if standalone == "identity" else {"/identity": self.identity.app}
        return PrefixRouter(apps, self.health, self.startup, self.shutdown)

    async def startup(self) -> None:
        """Connect the RPC bus: identity announces revocations, token caches listen for them."""
        self.transport = get_transport(self.conf.get("DEFAULT", "transport_url"))
        await self.transport.start()
        loop = asyncio.get_running_loop()
        transport = self.transport
        publisher = f"identity.{socket.gethostname()}"

        def announce(event: dict[str, Any]) -> None:
            # Called from worker threads after the revocation is committed.
            asyncio.run_coroutine_threadsafe(
                transport.notify("identity.revocation", event, publisher_id=publisher), loop)

        if self.identity is not None:
            self.identity.manager.on_revoke.append(announce)

        async def on_event(note: Notification) -> None:
            if note.event_type == "identity.revocation":
                self.token_cache.evict(note.payload)

        # Every process has its own pool, so each cache gets its own copy of every event.
        await transport.subscribe(on_event, pool=f"tokencache-{uuid.uuid4().hex[:12]}")

    async def shutdown(self) -> None:
        if self.transport is not None:
            await self.transport.stop()

    def health(self) -> dict[str, Any]:
        status = "ok"
        checks: dict[str, Any] = {}
        if self.identity is not None:
            try:
                self.identity.manager.generation.current()
                checks["identity"] = "ok"
            except Exception as exc:  # health reports every failure instead of raising it
                checks["identity"] = f"error: {type(exc).__name__}"
                status = "degraded"
        return {"status": status, "services": checks}

    def close(self) -> None:
        if self.identity is not None:
            self.identity.close()


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


class _Server(uvicorn.Server):
    on_ready: Any = None

    def handle_exit(self, sig: int, frame: Any) -> None:
        # A signal means a clean stop. uvicorn would re-raise it once serving ends, killing the
        # process before our own clean-up (state file, database, bus) runs; forget it instead.
        super().handle_exit(sig, frame)
        self._captured_signals.clear()

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if not self.should_exit and self.on_ready is not None:
            self.on_ready()


def _uvicorn_config(app: Any, conf: config.Config) -> uvicorn.Config:
    return uvicorn.Config(app, host=conf.get("DEFAULT", "host"), port=conf.get("DEFAULT", "port"),
                          log_level="warning", access_log=False, lifespan="on", server_header=False,
                          timeout_graceful_shutdown=5, http="httptools", loop="uvloop")


def identity_state(conf: config.Config) -> dict[str, Any]:
    """The identity settings recorded in state.json for ``litestack verify`` (tempest.conf).

    ``security_compliance`` is true when any PCI-DSS option of ``[identity]`` is on;
    ``minimum_password_age`` is in days, as in the config and in tempest.
    """
    ident = conf.section("identity")
    compliance = (ident["lockout_failure_attempts"] > 0 or ident["password_expires_days"] > 0
                  or ident["unique_last_password_count"] > 1 or ident["minimum_password_age"] > 0
                  or bool(ident["password_regex"]) or bool(ident["change_password_upon_first_use"])
                  or ident["disable_user_account_days_inactive"] > 0)
    return {"security_compliance": compliance,
            "lockout_failure_attempts": ident["lockout_failure_attempts"],
            "lockout_duration": ident["lockout_duration"],
            "unique_last_password_count": ident["unique_last_password_count"],
            "minimum_password_age": ident["minimum_password_age"],
            "trust": True}  # OS-TRUST is part of the identity API, with no switch


def run(conf: config.Config, data_dir: Path, standalone: str | None = None) -> int:
    """Serve in the foreground until SIGINT or SIGTERM; one process, or a parent and N workers."""
    started = time.monotonic()
    log.setup(conf.get("DEFAULT", "log_level"), data_dir / "logs" / "litestack.log")
    cloud = Cloud(conf, data_dir)
    state = data_dir / "state.json"
    workers = conf.get("DEFAULT", "workers")

    def ready(pids: list[int]) -> None:
        state.write_text(json.dumps({"pid": os.getpid(), "workers": pids, "url": cloud.public_url,
                                     "auth_url": cloud.auth_url if not standalone else cloud.public_url,
                                     "services": [standalone] if standalone else cloud.services,
                                     "identity": identity_state(conf), "started": time.time()}))
        say(f"ready in {time.monotonic() - started:.2f}s at {cloud.public_url}"
            + (f" ({len(pids)} worker processes)" if len(pids) > 1 else ""))
        say(f"credentials: {data_dir / 'clouds.yaml'}")
        say(f"try: OS_CLIENT_CONFIG_FILE={data_dir / 'clouds.yaml'} openstack --os-cloud litestack token issue")

    if workers > 1:
        return _run_workers(cloud, conf, standalone, workers, ready, state)
    app = cloud.start(standalone)
    server = _Server(_uvicorn_config(app, conf))
    server.on_ready = lambda: ready([os.getpid()])
    try:
        server.run()
    finally:
        state.unlink(missing_ok=True)
        cloud.close()
        say("stopped")
    return 0 if server.started else 1


def _run_workers(cloud: Cloud, conf: config.Config, standalone: str | None, workers: int,
                 ready: Any, state: Path) -> int:
    """A parent that prepares once, then forks workers sharing one listening socket.

    Workers share a cache-generation counter in shared memory, so a write in one (a revocation,
    a role change) invalidates the caches of all at once, with no I/O.
    """
    import multiprocessing
    import signal

    cloud.start(standalone, prepare=True)
    cloud.close()  # the parent serves nothing; connections and threads must not cross fork()
    counter = multiprocessing.get_context("fork").Value("q", 0)
    sock = socket.create_server((conf.get("DEFAULT", "host"), conf.get("DEFAULT", "port")),
                                family=socket.AF_INET6 if ":" in conf.get("DEFAULT", "host") else socket.AF_INET,
                                reuse_port=False, backlog=2048)
    sock.set_inheritable(True)
    stopping = False

    def spawn() -> int:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                worker = Cloud(conf, cloud.data_dir)
                app = worker.start(standalone, prepare=False)
                assert worker.identity is not None
                worker.identity.manager.generation.share(counter)
                server = _Server(_uvicorn_config(app, conf))
                try:
                    server.run(sockets=[sock])
                finally:
                    worker.close()
                code = 0
            finally:
                os._exit(code)
        return pid

    def stop(_sig: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    children = [spawn() for _ in range(workers)]
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _wait_healthy(cloud.public_url)
    ready(children)
    try:
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            if pid in children:
                children.remove(pid)
                if not stopping:
                    say(f"worker {pid} exited ({status}); starting another")
                    children.append(spawn())
    finally:
        state.unlink(missing_ok=True)
        sock.close()
        say("stopped")
    return 0


def _wait_healthy(url: str, timeout: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthcheck", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("workers did not become healthy")
