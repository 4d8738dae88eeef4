"""Assembling and running the all-in-one cloud (``litestack up``) and single services.

Nothing here knows a service by name: the cloud builds every enabled service from the
registry (``litestack.common.service``) and mounts each under its path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import uvicorn

from litestack.common import config, log
from litestack.common.auth import REVOCATION_EVENT, TokenCache
from litestack.common.rpc import Notification, Transport, get_transport
from litestack.common.server import PrefixRouter, uvicorn_config
from litestack.common.service import (
    ServiceContext,
    ServiceRuntime,
    ServiceSpec,
    from_config,
    resolve,
)

LOG = logging.getLogger(__name__)
#: Seconds each service, then the bus, may take to stop before the process exits anyway.
SHUTDOWN_TIMEOUT = 3.0


def say(msg: str) -> None:
    print(f"litestack: {msg}", flush=True)


class Cloud:
    """The services of one cloud in this process, sharing a data directory and a bus."""

    def __init__(self, conf: config.Config, data_dir: Path, standalone: str | None = None) -> None:
        self.conf = conf
        self.data_dir = data_dir
        self.standalone = standalone
        host = conf.get("DEFAULT", "host")
        port = conf.get("DEFAULT", "port")
        self.public_url = conf.get("DEFAULT", "public_url") or f"http://{_url_host(host)}:{port}"
        registry = from_config(conf)
        names = [standalone] if standalone else (list(conf.get("DEFAULT", "services")) or registry.default_names())
        try:
            self.specs: tuple[ServiceSpec, ...] = registry.enabled(names)
        except config.ConfigError as exc:
            raise config.ConfigError(f"[DEFAULT] services: {exc.message}") from None
        # The service of catalog type "identity" owns the catalog and validates tokens; a cloud
        # needs it, in this process or (for ``serve`` of another service) at [auth] identity_url.
        identity = [s for s in registry if any(e.type == "identity" for e in s.catalog)]
        if len(identity) != 1:
            raise config.ConfigError("exactly one registered service must provide the identity catalog type")
        self.identity_spec = identity[0]
        self.identity_url = conf.get("auth", "identity_url").rstrip("/")
        if self.identity_spec not in self.specs and not self.identity_url:
            raise config.ConfigError(
                f"[DEFAULT] services must include {self.identity_spec.name}"
                if standalone is None else
                f"`serve {standalone}` needs [auth] identity_url: where the identity service runs")
        self.services: list[str] = [s.name for s in self.specs]
        self.runtimes: dict[str, ServiceRuntime] = {}
        self.contexts: dict[str, ServiceContext] = {}
        self.transport: Transport | None = None
        # The token cache the auth middleware of every non-identity service shares in this process.
        self.token_cache = TokenCache(conf.get("auth", "cache_ttl"), conf.get("auth", "cache_size"))

    def url_of(self, spec: ServiceSpec) -> str:
        """Where a service is reached: at the root of its port when standalone, else under its path."""
        return self.public_url if self.standalone == spec.name else self.public_url + spec.path

    @property
    def auth_url(self) -> str:
        """The identity API: in this process when it runs here, else ``[auth] identity_url``."""
        if self.identity_spec in self.specs:
            return self.url_of(self.identity_spec)
        return self.identity_url

    def start(self, prepare: bool = True) -> PrefixRouter:
        """Open the databases and build the apps; ``prepare`` also bootstraps (catalog, clouds.yaml)
        (a multi-worker parent prepares once; its workers only open and serve)."""
        if prepare:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            os.chmod(self.data_dir, 0o700)
            say(f"data directory {self.data_dir}")
        for spec in self.specs:
            t = time.monotonic()
            ctx = ServiceContext(conf=self.conf, data_dir=self.data_dir, public_url=self.public_url,
                                 service_url=self.url_of(spec), auth_url=self.auth_url,
                                 standalone=self.standalone is not None, token_cache=self.token_cache,
                                 services=self.specs, prepare=prepare, say=say)
            self.runtimes[spec.name] = resolve(spec.factory)(ctx)
            self.contexts[spec.name] = ctx
            if prepare:
                say(f"{spec.name} database ready ({time.monotonic() - t:.2f}s)")
        if prepare:
            t = time.monotonic()
            for runtime in self.runtimes.values():
                runtime.bootstrap()
            say(f"bootstrap done ({time.monotonic() - t:.2f}s)")
        apps = {("" if self.standalone == spec.name else spec.path): self.runtimes[spec.name].app
                for spec in self.specs}
        return PrefixRouter(apps, self.health, self.startup, self.shutdown)

    async def startup(self) -> None:
        """Connect the RPC bus; each service starts on it, and the token cache listens for
        revocations (from identity in this process or any other)."""
        self.transport = get_transport(self.conf.get("DEFAULT", "transport_url"))
        await self.transport.start()
        for runtime in self.runtimes.values():
            await runtime.startup(self.transport)

        async def on_event(note: Notification) -> None:
            if note.event_type == REVOCATION_EVENT:
                self.token_cache.evict(note.payload)

        # Every process has its own pool, so each cache gets its own copy of every event.
        await self.transport.subscribe(on_event, pool=f"tokencache-{uuid.uuid4().hex[:12]}", transient=True)

    async def shutdown(self) -> None:
        """Stop every service, then the bus; bounded, so that SIGTERM ends the process in seconds
        whatever is down (a bus that cannot be reached would otherwise be waited for)."""
        for name, runtime in reversed(self.runtimes.items()):
            try:
                await asyncio.wait_for(runtime.shutdown(), SHUTDOWN_TIMEOUT)
            except Exception as exc:  # one service failing to stop must not keep the others running
                LOG.warning("service %s did not stop cleanly: %s", name, exc or type(exc).__name__)
        for name, ctx in self.contexts.items():  # the services' internal REST clients
            try:
                await asyncio.wait_for(ctx.aclose(), SHUTDOWN_TIMEOUT)
            except Exception as exc:
                LOG.warning("service %s: its REST clients did not close cleanly: %s", name, exc or type(exc).__name__)
        if self.transport is not None:
            try:
                await asyncio.wait_for(self.transport.stop(grace=1.0), SHUTDOWN_TIMEOUT)
            except Exception as exc:
                LOG.warning("the message bus did not disconnect cleanly: %s", exc or type(exc).__name__)

    async def health(self) -> dict[str, Any]:
        """Each service's own check (no I/O on the event loop: they read what pollers saw) and the
        bus; anything but ok makes the cloud ``degraded`` and /healthcheck answer 503."""
        status = "ok"
        checks: dict[str, Any] = {}
        for name, runtime in self.runtimes.items():
            try:
                checks[name] = runtime.health()
            except Exception as exc:  # health reports every failure instead of raising it
                checks[name] = f"error: {type(exc).__name__}"
            if checks[name] != "ok":
                status = "degraded"
        body: dict[str, Any] = {"status": status, "services": checks}
        if self.transport is not None:
            body["bus"] = "ok" if self.transport.connected else "error: disconnected"
            if body["bus"] != "ok":
                body["status"] = "degraded"
        return body

    def share(self, counter: Any) -> None:
        for runtime in self.runtimes.values():
            runtime.share(counter)

    def close(self) -> None:
        for runtime in reversed(self.runtimes.values()):
            runtime.close()

    def state(self, pids: list[int]) -> dict[str, Any]:
        """What state.json records for ``litestack status`` and ``litestack verify``."""
        verify: dict[str, Any] = {}
        for spec in self.specs:
            if spec.tempest.state is not None:
                verify[spec.name] = resolve(spec.tempest.state)(self.conf)
        return {"pid": os.getpid(), "workers": pids, "url": self.public_url, "auth_url": self.auth_url,
                "services": self.services,
                "endpoints": {spec.name: self.url_of(spec) for spec in self.specs},
                "verify": verify, "started": time.time()}


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
    return uvicorn_config(app, conf)


def run(conf: config.Config, data_dir: Path, standalone: str | None = None) -> int:
    """Serve in the foreground until SIGINT or SIGTERM; one process, or a parent and N workers."""
    started = time.monotonic()
    log.setup(conf.get("DEFAULT", "log_level"), data_dir / "logs" / "litestack.log",
              conf.get("DEFAULT", "log_max_bytes"), conf.get("DEFAULT", "log_backup_count"))
    cloud = Cloud(conf, data_dir, standalone)
    state = data_dir / "state.json"
    workers = conf.get("DEFAULT", "workers")

    def ready(pids: list[int]) -> None:
        state.write_text(json.dumps(cloud.state(pids)))
        say(f"ready in {time.monotonic() - started:.2f}s at {cloud.public_url}"
            + (f" ({len(pids)} worker processes)" if len(pids) > 1 else ""))
        say(f"credentials: {data_dir / 'clouds.yaml'}")
        say(f"try: OS_CLIENT_CONFIG_FILE={data_dir / 'clouds.yaml'} openstack --os-cloud litestack token issue")

    if workers > 1:
        return _run_workers(cloud, conf, standalone, workers, ready, state)
    app = cloud.start()
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

    cloud.start(prepare=True)
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
                worker = Cloud(conf, cloud.data_dir, standalone)
                app = worker.start(prepare=False)
                worker.share(counter)
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
