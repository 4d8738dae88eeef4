"""The block storage service's RPC API, both ways.

- ``AgentAPI`` (topic ``volume-agent``, one server per backend, ``host@backend``): what the API and
  scheduler ask a volume agent to do. Long operations are casts; the agent answers them by casting
  the outcome back.
- ``ManagerAPI`` (topic ``volume``, served by every API process): what agents report: capacity,
  and the outcome of each operation (``volume_done``, ``snapshot_done``), which the manager
  writes to the database. A lost message leaves the resource in its transitional state until the
  reaper (``[volume] operation_timeout``) sends it to error: callers reconcile, never retry blindly.
"""

from __future__ import annotations

from typing import Any

from litestack.common.rpc import RPCClient, Transport

AGENT_TOPIC = "volume-agent"
MANAGER_TOPIC = "volume"
VERSION = "1.0"


class AgentAPI:
    def __init__(self, transport: Transport) -> None:
        self.client = RPCClient(transport, AGENT_TOPIC, VERSION)

    def _to(self, server: str, timeout: float = 60.0) -> RPCClient:
        return self.client.prepare(server=server, timeout=timeout)

    async def create_volume(self, server: str, volume_id: str, size: int, source: dict[str, Any]) -> None:
        await self._to(server).cast("create_volume", volume_id=volume_id, size=size, source=source)

    async def delete_volume(self, server: str, volume_id: str, snapshot_ids: list[str]) -> None:
        await self._to(server).cast("delete_volume", volume_id=volume_id, snapshot_ids=snapshot_ids)

    async def extend_volume(self, server: str, volume_id: str, size: int, status: str) -> None:
        await self._to(server).cast("extend_volume", volume_id=volume_id, size=size, status=status)

    async def create_snapshot(self, server: str, volume_id: str, snapshot_id: str) -> None:
        await self._to(server).cast("create_snapshot", volume_id=volume_id, snapshot_id=snapshot_id)

    async def delete_snapshot(self, server: str, snapshot_id: str) -> None:
        await self._to(server).cast("delete_snapshot", snapshot_id=snapshot_id)

    async def revert_to_snapshot(self, server: str, volume_id: str, snapshot_id: str, size: int) -> None:
        await self._to(server).cast("revert_to_snapshot", volume_id=volume_id, snapshot_id=snapshot_id, size=size)

    async def upload_to_image(self, server: str, volume_id: str, status: str, upload: dict[str, Any]) -> None:
        await self._to(server).cast("upload_to_image", volume_id=volume_id, status=status, upload=upload)

    async def create_backup(self, server: str, backup_id: str, volume_id: str, parent_id: str | None,
                            back_to: str, target: dict[str, Any] | None = None, snapshot_id: str | None = None
                            ) -> None:
        await self._to(server).cast("create_backup", backup_id=backup_id, volume_id=volume_id, parent_id=parent_id,
                                    back_to=back_to, target=target, snapshot_id=snapshot_id)

    async def restore_backup(self, server: str, backup_id: str, volume_id: str, size: int,
                             target: dict[str, Any] | None = None) -> None:
        await self._to(server).cast("restore_backup", backup_id=backup_id, volume_id=volume_id, size=size,
                                    target=target)

    async def delete_backup(self, server: str, backup_id: str, target: dict[str, Any] | None = None) -> None:
        await self._to(server).cast("delete_backup", backup_id=backup_id, target=target)

    async def remove_export(self, server: str, volume_id: str) -> None:
        await self._to(server).cast("remove_export", volume_id=volume_id)

    async def set_log_levels(self, server: str, prefix: str, level: str) -> None:
        await self._to(server, 10).call("set_log_levels", prefix=prefix, level=level)

    async def get_log_levels(self, server: str, prefix: str) -> dict[str, str]:
        levels: dict[str, str] = await self._to(server, 10).call("get_log_levels", prefix=prefix)
        return levels

    async def cleanup(self, server: str, started_at: str) -> None:
        """Ask a backend to remove what operations interrupted before ``started_at`` left behind."""
        await self._to(server).cast("cleanup", started_at=started_at)

    async def manageable_volumes(self, server: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._to(server, 30).call("manageable_volumes")
        return found

    async def manage_volume(self, server: str, volume_id: str, source_name: str) -> None:
        await self._to(server).cast("manage_volume", volume_id=volume_id, source_name=source_name)

    async def manage_snapshot(self, server: str, snapshot_id: str, source_name: str) -> None:
        await self._to(server).cast("manage_snapshot", snapshot_id=snapshot_id, source_name=source_name)

    async def connection_info(self, server: str, volume_id: str, connector: dict[str, Any] | None
                              ) -> dict[str, Any]:
        info: dict[str, Any] = await self._to(server, 30).call("connection_info", volume_id=volume_id,
                                                               connector=connector)
        return info


class ManagerAPI:
    def __init__(self, transport: Transport) -> None:
        self.client = RPCClient(transport, MANAGER_TOPIC, VERSION)

    async def report(self, host: str, backend: str, availability_zone: str, total_capacity_gb: int,
                     cluster: str | None = None, backend_state: str = "up", started_at: str | None = None) -> None:
        await self.client.fanout("report", host=host, backend=backend, availability_zone=availability_zone,
                                 total_capacity_gb=total_capacity_gb, cluster=cluster, backend_state=backend_state,
                                 started_at=started_at)

    async def set_log_levels(self, prefix: str, level: str) -> None:
        """Every API process (the API and scheduler side) sets its loggers under ``prefix``."""
        await self.client.fanout("set_log_levels", prefix=prefix, level=level)

    async def volume_done(self, volume_id: str, status: str, updates: dict[str, Any]) -> None:
        await self.client.cast("volume_done", volume_id=volume_id, status=status, updates=updates)

    async def snapshot_done(self, snapshot_id: str, status: str, updates: dict[str, Any]) -> None:
        await self.client.cast("snapshot_done", snapshot_id=snapshot_id, status=status, updates=updates)

    async def backup_done(self, backup_id: str, status: str, updates: dict[str, Any]) -> None:
        await self.client.cast("backup_done", backup_id=backup_id, status=status, updates=updates)
