"""The volume agent: one per storage host (``litestack agent volume --host NAME``; in all-in-one
it runs inside the API process). Each of its backends listens on ``volume-agent.HOST@BACKEND``,
runs the driver in a worker thread and casts the outcome back to the manager; it reports its
capacity every ``[volume] report_interval`` seconds."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from litestack.common import log
from litestack.common.errors import LitestackError
from litestack.common.rpc import Listener, Transport
from litestack.volume.backup import BackupStore, ObjectBackupStore
from litestack.volume.drivers.base import DriverError, VolumeDriver
from litestack.volume.rpc import AGENT_TOPIC, ManagerAPI

LOG = logging.getLogger(__name__)

CHUNK = 1 << 20


def _reason(exc: BaseException) -> str:
    if isinstance(exc, LitestackError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


class BackendAgent:
    """The RPC endpoint of one backend of one host."""

    rpc_methods = ("create_volume", "delete_volume", "extend_volume", "create_snapshot", "delete_snapshot",
                   "revert_to_snapshot", "upload_to_image", "connection_info", "create_backup", "restore_backup",
                   "delete_backup", "remove_export", "set_log_levels", "get_log_levels", "cleanup",
                   "manageable_volumes", "manage_volume", "manage_snapshot")
    rpc_version = "1.0"

    def __init__(self, driver: VolumeDriver, host: str, manager: ManagerAPI, scratch: Path,
                 backups: BackupStore | None = None) -> None:
        self.driver, self.host, self.manager, self.scratch = driver, host, manager, scratch
        self.backups = backups or BackupStore(scratch.parent / "backups")
        self.server = f"{host}@{driver.name}"
        self.tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, coro: Any) -> None:
        """Long operations run after the cast is acknowledged; the outcome is cast back."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _volume(self, volume_id: str, ok_status: str, error_status: str, work: Any,
                      updates: dict[str, Any] | None = None) -> None:
        try:
            await asyncio.to_thread(work)
        except Exception as exc:
            LOG.warning("volume %s: %s failed on %s: %s", volume_id, ok_status, self.server, _reason(exc))
            await self.manager.volume_done(volume_id, error_status, {"error": _reason(exc),
                                                                     "exception": type(exc).__name__})
            return
        await self.manager.volume_done(volume_id, ok_status, updates or {})

    # --- volumes ----------------------------------------------------------------------------

    async def create_volume(self, volume_id: str, size: int, source: dict[str, Any]) -> None:
        self._spawn(self._create(volume_id, size, source))

    async def _create(self, volume_id: str, size: int, source: dict[str, Any]) -> None:
        kind = source.get("kind")
        if kind == "image":
            await self._from_image(volume_id, size, source)
            return
        if kind == "snapshot":
            def work() -> None:
                self.driver.create_from_snapshot(source["id"], volume_id, size)
        elif kind == "volume":
            def work() -> None:
                self.driver.clone(source["id"], volume_id, size)
        else:
            def work() -> None:
                self.driver.create(volume_id, size)
        await self._volume(volume_id, "available", "error", work)

    async def _from_image(self, volume_id: str, size: int, source: dict[str, Any]) -> None:
        import httpx

        self.scratch.mkdir(parents=True, exist_ok=True)
        tmp = self.scratch / f"image-{volume_id}-{uuid.uuid4().hex[:8]}"
        try:
            async with httpx.AsyncClient(timeout=httpx.Timeout(60, read=600)) as http:
                async with http.stream("GET", source["url"], headers=source["headers"]) as r:
                    if r.status_code != 200:
                        raise DriverError(f"Downloading image {source.get('image_id')} failed: HTTP {r.status_code}")
                    with tmp.open("wb") as f:
                        async for chunk in r.aiter_bytes(CHUNK):
                            await asyncio.to_thread(f.write, chunk)
            await self._volume(volume_id, "available", "error",
                               lambda: self.driver.copy_image_to_volume(volume_id, tmp, source["disk_format"], size,
                                                                        consume=True))
        except Exception as exc:
            LOG.warning("volume %s: creating from image failed: %s", volume_id, _reason(exc))
            await self.manager.volume_done(volume_id, "error", {"error": _reason(exc), "exception": type(exc).__name__})
        finally:
            tmp.unlink(missing_ok=True)

    async def delete_volume(self, volume_id: str, snapshot_ids: list[str]) -> None:
        def work() -> None:
            for sid in snapshot_ids:
                self.driver.delete_snapshot(sid)
            self.driver.delete(volume_id)
        self._spawn(self._volume(volume_id, "deleted", "error_deleting", work))

    async def extend_volume(self, volume_id: str, size: int, status: str) -> None:
        self._spawn(self._volume(volume_id, status, "error_extending", lambda: self.driver.extend(volume_id, size),
                                 {"size": size}))

    async def revert_to_snapshot(self, volume_id: str, snapshot_id: str, size: int) -> None:
        self._spawn(self._volume(volume_id, "available", "error",
                                 lambda: self.driver.revert_to_snapshot(volume_id, snapshot_id, size)))

    async def upload_to_image(self, volume_id: str, status: str, upload: dict[str, Any]) -> None:
        self._spawn(self._upload(volume_id, status, upload))

    async def _upload(self, volume_id: str, status: str, upload: dict[str, Any]) -> None:
        import httpx

        self.scratch.mkdir(parents=True, exist_ok=True)
        tmp = self.scratch / f"upload-{volume_id}-{uuid.uuid4().hex[:8]}"
        try:
            await asyncio.to_thread(self.driver.copy_volume_to_image, volume_id, tmp, upload["disk_format"])

            async def chunks() -> Any:
                with tmp.open("rb") as f:
                    while block := await asyncio.to_thread(f.read, CHUNK):
                        yield block
            headers = {**upload["headers"], "Content-Type": "application/octet-stream"}
            async with httpx.AsyncClient(timeout=httpx.Timeout(60, write=600, read=600)) as http:
                r = await http.put(upload["url"], content=chunks(), headers=headers)
            if r.status_code not in (200, 201, 204):
                raise DriverError(f"Uploading to image {upload.get('image_id')} failed: HTTP {r.status_code}")
        except Exception as exc:
            # Cinder puts the volume back as it was; the image stays queued (the user deletes it).
            LOG.warning("volume %s: upload to image failed: %s", volume_id, _reason(exc))
            await self.manager.volume_done(volume_id, status, {"error": _reason(exc)})
            return
        finally:
            tmp.unlink(missing_ok=True)
        await self.manager.volume_done(volume_id, status, {})

    async def connection_info(self, volume_id: str, connector: dict[str, Any] | None) -> dict[str, Any]:
        return await asyncio.to_thread(self.driver.connection_info, volume_id, connector)

    async def remove_export(self, volume_id: str) -> None:
        await asyncio.to_thread(self.driver.remove_export, volume_id)

    # --- operations (log levels, cleanup, existing storage) ------------------------------------

    async def set_log_levels(self, prefix: str, level: str) -> None:
        log.set_levels(prefix, level)

    async def get_log_levels(self, prefix: str) -> dict[str, str]:
        return log.levels(prefix)

    async def cleanup(self, started_at: str) -> None:
        """What operations interrupted before this agent started left on this backend: their
        half-written files (those of operations in flight are newer and stay)."""
        since = datetime.fromisoformat(started_at).replace(tzinfo=UTC).timestamp()
        remove = getattr(self.driver, "remove_temporary", None)
        removed = await asyncio.to_thread(remove, since) if remove is not None else 0
        LOG.info("volume agent %s: cleanup removed %d half-written file(s)", self.server, removed)

    async def manageable_volumes(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.driver.manageable)

    async def manage_volume(self, volume_id: str, source_name: str) -> None:
        async def run() -> None:
            try:
                size = await asyncio.to_thread(self.driver.manage, volume_id, source_name)
            except Exception as exc:
                LOG.warning("volume %s: managing %s failed: %s", volume_id, source_name, _reason(exc))
                await self.manager.volume_done(volume_id, "error_managing", {"error": _reason(exc)})
                return
            await self.manager.volume_done(volume_id, "available", {"size": size})
        self._spawn(run())

    async def manage_snapshot(self, snapshot_id: str, source_name: str) -> None:
        self._spawn(self._snapshot(snapshot_id, "available", "error",
                                   lambda: self.driver.manage(snapshot_id, source_name, snapshot=True)))

    # --- backups ----------------------------------------------------------------------------

    def _store(self, target: dict[str, Any] | None) -> BackupStore | ObjectBackupStore:
        """The object-storage container ``target`` names, or this host's directory store."""
        return ObjectBackupStore(target) if target and target.get("url") else self.backups

    @staticmethod
    def _key(target: dict[str, Any] | None, backup_id: str) -> str:
        """Where a backup's data is kept: its id, or the original's for an imported record."""
        return str((target or {}).get("key") or backup_id)

    async def create_backup(self, backup_id: str, volume_id: str, parent_id: str | None, back_to: str,
                            target: dict[str, Any] | None = None, snapshot_id: str | None = None) -> None:
        self._spawn(self._backup(backup_id, volume_id, parent_id, back_to, target, snapshot_id))

    async def _backup(self, backup_id: str, volume_id: str, parent_id: str | None, back_to: str,
                      target: dict[str, Any] | None, snapshot_id: str | None = None) -> None:
        self.scratch.mkdir(parents=True, exist_ok=True)
        tmp = self.scratch / f"backup-{backup_id}.raw"

        async def source_done() -> None:
            """The snapshot (or the volume) read for the backup goes back to its status."""
            if snapshot_id:
                await self.manager.snapshot_done(snapshot_id, "available", {})
            else:
                await self.manager.volume_done(volume_id, back_to, {})

        def work() -> int:
            if snapshot_id:
                self.driver.copy_snapshot_to_image(snapshot_id, tmp, "raw")
            else:
                self.driver.copy_volume_to_image(volume_id, tmp, "raw")
            size_gb = -(-tmp.stat().st_size // (1 << 30)) or 1
            return self._store(target).create(backup_id, tmp, size_gb, parent_id)
        try:
            stored = await asyncio.to_thread(work)
        except Exception as exc:
            LOG.warning("backup %s of volume %s failed: %s", backup_id, volume_id, _reason(exc))
            await self.manager.backup_done(backup_id, "error", {"error": _reason(exc)})
            await source_done()
            return
        finally:
            tmp.unlink(missing_ok=True)
        await self.manager.backup_done(backup_id, "available", {"object_count": stored})
        await source_done()

    async def restore_backup(self, backup_id: str, volume_id: str, size: int,
                             target: dict[str, Any] | None = None) -> None:
        self._spawn(self._restore(backup_id, volume_id, size, target))

    async def _restore(self, backup_id: str, volume_id: str, size: int, target: dict[str, Any] | None) -> None:
        self.scratch.mkdir(parents=True, exist_ok=True)
        tmp = self.scratch / f"restore-{backup_id}-{uuid.uuid4().hex[:8]}.raw"

        def work() -> None:
            self._store(target).restore(self._key(target, backup_id), tmp)
            self.driver.copy_image_to_volume(volume_id, tmp, "raw", size, consume=True)
        try:
            await asyncio.to_thread(work)
        except Exception as exc:
            LOG.warning("restore of backup %s into volume %s failed: %s", backup_id, volume_id, _reason(exc))
            await self.manager.backup_done(backup_id, "available", {})
            await self.manager.volume_done(volume_id, "error_restoring", {"error": _reason(exc)})
            return
        finally:
            tmp.unlink(missing_ok=True)
        await self.manager.backup_done(backup_id, "available", {})
        await self.manager.volume_done(volume_id, "available", {})

    async def delete_backup(self, backup_id: str, target: dict[str, Any] | None = None) -> None:
        async def run() -> None:
            try:
                await asyncio.to_thread(lambda: self._store(target).delete(self._key(target, backup_id)))
            except Exception as exc:
                LOG.warning("deleting backup %s failed: %s", backup_id, _reason(exc))
                await self.manager.backup_done(backup_id, "error_deleting", {"error": _reason(exc)})
                return
            await self.manager.backup_done(backup_id, "deleted", {})
        self._spawn(run())

    # --- snapshots --------------------------------------------------------------------------

    async def _snapshot(self, snapshot_id: str, ok: str, error: str, work: Any) -> None:
        try:
            await asyncio.to_thread(work)
        except Exception as exc:
            LOG.warning("snapshot %s: %s failed: %s", snapshot_id, ok, _reason(exc))
            await self.manager.snapshot_done(snapshot_id, error, {"error": _reason(exc)})
            return
        await self.manager.snapshot_done(snapshot_id, ok, {"progress": "100%"})

    async def create_snapshot(self, volume_id: str, snapshot_id: str) -> None:
        self._spawn(self._snapshot(snapshot_id, "available", "error",
                                   lambda: self.driver.create_snapshot(volume_id, snapshot_id)))

    async def delete_snapshot(self, snapshot_id: str) -> None:
        self._spawn(self._snapshot(snapshot_id, "deleted", "error_deleting",
                                   lambda: self.driver.delete_snapshot(snapshot_id)))


class VolumeAgent:
    """Every backend of one host on the bus, and its capacity reports."""

    def __init__(self, host: str, availability_zone: str, drivers: list[VolumeDriver], scratch: Path,
                 report_interval: float, backup_dir: Path | None = None, cluster: str | None = None) -> None:
        self.host, self.availability_zone, self.cluster = host, availability_zone, cluster or None
        self.started_at = datetime.now(UTC).replace(tzinfo=None)
        self.drivers, self.scratch, self.report_interval = drivers, scratch, report_interval
        self.backends: list[BackendAgent] = []
        self.backup_store = BackupStore(backup_dir or scratch.parent / "backups")
        self._listeners: list[Listener] = []
        self._reporter: asyncio.Task[None] | None = None
        self._manager: ManagerAPI | None = None

    async def start(self, bus: Transport) -> None:
        self._manager = ManagerAPI(bus)
        for driver in self.drivers:
            removed = getattr(driver, "remove_temporary", lambda: 0)()
            if removed:
                LOG.warning("volume agent %s: removed %d file(s) a crash left half-written", self.host, removed)
            backend = BackendAgent(driver, self.host, self._manager, self.scratch, self.backup_store)
            self.backends.append(backend)
            self._listeners.append(await bus.listen(AGENT_TOPIC, backend, server=backend.server))
        await self.report()
        self._reporter = asyncio.create_task(self._report_every())

    async def report(self) -> None:
        if self._manager is None:
            return
        for driver in self.drivers:
            try:
                total, state = (await asyncio.to_thread(driver.stats)).total_capacity_gb, "up"
            except Exception as exc:  # the backend is there but cannot serve: reported down
                LOG.warning("volume agent %s: backend %s failed its stats: %s", self.host, driver.name, exc)
                total, state = 0, "down"
            await self._manager.report(f"{self.host}@{driver.name}", driver.name, self.availability_zone, total,
                                       cluster=self.cluster, backend_state=state,
                                       started_at=self.started_at.isoformat())

    async def _report_every(self) -> None:
        while True:
            await asyncio.sleep(self.report_interval)
            try:
                await self.report()
            except Exception as exc:  # the next report tries again
                LOG.warning("volume agent %s: capacity report failed: %s", self.host, exc)

    async def stop(self) -> None:
        if self._reporter is not None:
            self._reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reporter
        for listener in self._listeners:
            await listener.stop()
        for backend in self.backends:
            for task in list(backend.tasks):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(task), 5)


def build_agent(conf: Any, data_dir: Path, host: str) -> VolumeAgent:
    """The agent of this host from ``[volume]`` (``ConfigError`` when a backend is wrong)."""
    from litestack.common.errors import ConfigError
    from litestack.volume.drivers import make_driver

    drivers: list[VolumeDriver] = []
    for entry in conf.get("volume", "backends"):
        name, sep, kind = entry.partition(":")
        if not sep or not name or not kind or any(c in name for c in "@#/ "):
            raise ConfigError(f'[volume] backends: {entry!r} is not "name:kind"')
        try:
            drivers.append(make_driver(kind, name, data_dir, volume_format=conf.get("volume", "volume_format"),
                                       capacity_gb=conf.get("volume", "capacity_gb"), host=host,
                                       export_address=conf.get("volume", "export_address")))
        except ValueError as exc:
            raise ConfigError(f"[volume] backends: {exc}") from None
    if not drivers:
        raise ConfigError("[volume] backends: at least one backend is needed")
    scratch = Path(conf.get("volume", "image_conversion_dir") or data_dir / "volume" / "conversion")
    return VolumeAgent(host, conf.get("volume", "availability_zone"), drivers, scratch,
                       conf.get("volume", "report_interval"), data_dir / "volume" / "backups",
                       conf.get("volume", "cluster"))


def arguments(p: argparse.ArgumentParser) -> None:
    """No options beyond ``--host``, ``--config`` and ``--data-dir``: backends come from ``[volume]``."""


def main(conf: Any, data_dir: Path, args: argparse.Namespace) -> int:
    from litestack.common.rpc import get_transport

    log.setup(conf.get("DEFAULT", "log_level"), data_dir / "logs" / f"volume-agent-{args.agent_host}.log")
    agent = build_agent(conf, data_dir, args.agent_host)

    async def run() -> None:
        bus = get_transport(conf.get("DEFAULT", "transport_url"))
        await bus.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await agent.start(bus)
        print(f"litestack: volume agent {args.agent_host} serving backends "
              f"{', '.join(d.name for d in agent.drivers)}", flush=True)
        await stop.wait()
        await agent.stop()
        await bus.stop()

    asyncio.run(run())
    return 0
