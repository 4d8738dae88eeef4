"""Object storage's registry entry (``SERVICE``) and its runtime: the proxy, plus the storage
server of this host's devices (in all-in-one mode), on a ring made at the first start."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator
from pathlib import Path
from typing import Any

from litestack.common.service import (
    AgentSpec,
    CatalogEntry,
    ServiceContext,
    ServiceRuntime,
    ServiceSpec,
    TempestSettings,
    policy_file,
)

LOG = logging.getLogger(__name__)

SERVICE = ServiceSpec(
    name="object",
    code_name="Swift",
    description="Object storage (Swift v1)",
    catalog=(CatalogEntry("object-store", "swift", "Object storage service", suffix="/v1/AUTH_$(project_id)s"),),
    port=8080,
    path="/object-store",
    service_user="swift",
    factory="litestack.object.service:ObjectService",
    ops="litestack.object.proxy:op_table",
    options="litestack.object.options",
    policy="litestack.object.policy:RULES",
    tempest=TempestSettings(prefixes=("tempest.api.object_storage.",), flags=("swift",)),
    cli="litestack.object.cli:register",
    roles=("ResellerAdmin",),
    agents=(AgentSpec("object-storage", "Storage server (account, container and object) of this host's devices",
                      main="litestack.object.agent:main", arguments="litestack.object.agent:arguments"),),
)


def devices_dir(conf: Any, data_dir: Path) -> Path:
    return Path(conf.get("object", "devices") or data_dir / "object" / "devices")


def daemon_settings(conf: Any, ring_path: Path, addresses: set[tuple[str, int]]) -> Any:
    """The background daemons of a storage server, from the ``[object]`` options."""
    from litestack.object.server.app import Daemons

    return Daemons(ring_path=ring_path, addresses=frozenset(addresses),
                   replicator_interval=conf.get("object", "replicator_interval"),
                   auditor_interval=conf.get("object", "auditor_interval"),
                   auditor_files_per_second=conf.get("object", "auditor_files_per_second"),
                   expirer_interval=conf.get("object", "expirer_interval"),
                   reclaim_age=conf.get("object", "reclaim_age"))


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def initial_ring(conf: Any, data_dir: Path, say: Any = print) -> None:
    """At the first start: N devices in N zones under the devices directory, served by this
    process's storage server on a free port, and a ring of ``replicas`` over them."""
    from litestack.object.cluster import cluster_file, load_or_create, ring_file
    from litestack.object.ring import RingBuilder

    path = ring_file(data_dir)
    if path.exists():
        return
    cluster = load_or_create(cluster_file(data_dir))
    devices = devices_dir(conf, data_dir)
    host = conf.get("object", "storage_host")
    port = _free_port(host)
    builder = RingBuilder.create(conf.get("object", "part_power"), conf.get("object", "replicas"),
                                 cluster.hash_prefix, cluster.hash_suffix)
    for n in range(1, conf.get("object", "aio_devices") + 1):
        (devices / f"d{n}").mkdir(parents=True, exist_ok=True)
        builder.add_device(1, n, host, port, f"d{n}", 100)
    builder.rebalance()
    builder.to_ring().save(path)
    say(f"object: ring of {builder.replicas} replicas over {len(builder.devices)} devices in "
        f"{devices} (storage server on {host}:{port})")
    from litestack.object import storage_policy

    for policy in storage_policy.POLICIES:
        if policy.index == 0:
            continue
        one = RingBuilder.create(conf.get("object", "part_power"), policy.replicas or builder.replicas,
                                 cluster.hash_prefix, cluster.hash_suffix)
        for dev in builder.live_devices():
            one.add_device(dev.region, dev.zone, dev.ip, dev.port, dev.device, dev.weight)
        one.rebalance()
        one.to_ring().save(storage_policy.ring_path(path, policy.index))


class _QuietServer:
    """A uvicorn server for the storage server inside ``litestack up``: it must not take the
    process's signal handlers (the cloud's own server owns them)."""

    @staticmethod
    def make(app: Any, sock: socket.socket) -> Any:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Generator[None, None, None]:
                yield

        cfg = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                             server_header=False, timeout_keep_alive=30)
        server = Server(cfg)
        return server


def storage_socket(host: str, port: int) -> socket.socket:
    """A listening socket several worker processes may share (SO_REUSEPORT)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class ObjectService(ServiceRuntime):
    """The proxy in this process, and the storage server of the devices it finds here."""

    def __init__(self, ctx: ServiceContext) -> None:
        from litestack.common.policy import Enforcer
        from litestack.object import proxy
        from litestack.object.backend import Backend
        from litestack.object.cluster import cluster_file, load_or_create, ring_file
        from litestack.object.constraints import Limits
        from litestack.object.ring import Ring
        from litestack.object.server.app import StorageServer

        conf = ctx.conf
        self.ctx = ctx
        self.cluster = load_or_create(cluster_file(ctx.data_dir))
        if ctx.prepare and conf.get("object", "storage_servers"):
            initial_ring(conf, ctx.data_dir, ctx.say)
        self.ring_path = ring_file(ctx.data_dir)
        self.devices = devices_dir(conf, ctx.data_dir)
        self.backend = Backend(self.ring_path, self.cluster.secret, conf.get("object", "node_timeout"))
        limits = Limits(max_file_size=conf.get("object", "max_file_size"))
        self.enforcer = Enforcer(SERVICE.rules(), policy_file(conf, SERVICE.name))
        from litestack.common.notify import Notifier

        the_proxy = proxy.Proxy(self.backend, limits)
        self.notifier = the_proxy.notifier = Notifier("object")
        self.app = proxy.build(the_proxy, self.enforcer, ctx.auth_middleware(SERVICE))
        # The addresses of ring devices that live in this host's devices directory.
        self.listen: set[tuple[str, int]] = set()
        if conf.get("object", "storage_servers") and self.ring_path.exists():
            ring = Ring.load(self.ring_path)
            self.listen = {(d.ip, d.port) for d in ring.live_devices() if (self.devices / d.device).is_dir()}
        self.storage = StorageServer(self.devices, self.cluster.secret, self.cluster.hash_prefix,
                                     self.cluster.hash_suffix, conf.get("object", "updater_interval"),
                                     daemons=daemon_settings(conf, self.ring_path, self.listen))
        self._servers: list[tuple[Any, asyncio.Task[None]]] = []

    async def startup(self, bus: Any) -> None:
        self.notifier.bind(bus)
        for host, port in sorted(self.listen):
            sock = storage_socket(host, port)
            server = _QuietServer.make(self.storage, sock)
            task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
            self._servers.append((server, task))
        if self.listen:
            self.storage.start()

    async def shutdown(self) -> None:
        for server, _ in self._servers:
            server.should_exit = True
        for _, task in self._servers:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, 5)
        self._servers.clear()
        await self.storage.stop()
        await self.notifier.drain()
        await self.backend.aclose()

    def health(self) -> str:
        if not self.ring_path.exists():
            raise RuntimeError(f"no ring at {self.ring_path}")
        return "ok"
