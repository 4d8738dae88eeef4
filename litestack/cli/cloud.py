"""Assembling and running the all-in-one cloud (``litestack up``) and single services."""

from __future__ import annotations

import asyncio
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

    def start(self, standalone: str | None = None) -> PrefixRouter | Any:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        say(f"data directory {self.data_dir}")
        t = time.monotonic()
        identity_url = self.public_url if standalone == "identity" else self.auth_url
        self.identity = IdentityService(self.conf, self.data_dir, identity_url)
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


def run(conf: config.Config, data_dir: Path, standalone: str | None = None) -> int:
    started = time.monotonic()
    log.setup(conf.get("DEFAULT", "log_level"), data_dir / "logs" / "litestack.log")
    cloud = Cloud(conf, data_dir)
    app = cloud.start(standalone)
    host, port = conf.get("DEFAULT", "host"), conf.get("DEFAULT", "port")
    state = data_dir / "state.json"

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # A signal means a clean stop. uvicorn would re-raise it once serving ends, killing the
            # process before our own clean-up (state file, database, bus) runs; forget it instead.
            super().handle_exit(sig, frame)
            self._captured_signals.clear()

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.should_exit:
                return
            state.write_text(json.dumps({"pid": os.getpid(), "url": cloud.public_url,
                                         "auth_url": cloud.auth_url if not standalone else cloud.public_url,
                                         "services": [standalone] if standalone else cloud.services,
                                         "started": time.time()}))
            say(f"ready in {time.monotonic() - started:.2f}s at {cloud.public_url}")
            say(f"credentials: {data_dir / 'clouds.yaml'}")
            say(f"try: OS_CLIENT_CONFIG_FILE={data_dir / 'clouds.yaml'} openstack --os-cloud litestack "
                f"token issue")

    server = Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                   lifespan="on", server_header=False, timeout_graceful_shutdown=5,
                                   http="httptools", loop="uvloop"))
    try:
        server.run()
    finally:
        state.unlink(missing_ok=True)
        cloud.close()
        say("stopped")
    return 0 if server.started else 1
