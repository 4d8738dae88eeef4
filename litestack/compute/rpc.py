"""The compute service's RPC APIs: topics, and client proxies that read as lists of methods.

    API ──cast build_instances──▶ conductor ──call select_destinations──▶ scheduler
    conductor ──cast build_and_run_instance (server=host)──▶ compute agent on that host
    API ──cast stop_instance, … / call get_console_output (server=host)──▶ compute agent
"""

from __future__ import annotations

from typing import Any

from litestack.common.rpc import RPCClient, Transport

CONDUCTOR = "compute-conductor"
SCHEDULER = "compute-scheduler"
COMPUTE = "compute"


class ConductorAPI:
    def __init__(self, bus: Transport) -> None:
        self.client = RPCClient(bus, CONDUCTOR, "1.0")

    async def build_instances(self, instance_ids: list[str]) -> None:
        await self.client.cast("build_instances", instance_ids=instance_ids)

    async def reschedule(self, instance_id: str, reason: str) -> None:
        await self.client.cast("reschedule", instance_id=instance_id, reason=reason)

    async def move_instance(self, instance_id: str, migration_id: int, request_id: str | None = None) -> None:
        """A resize, cold or live migration, evacuation (the migration says which) or unshelve."""
        await self.client.cast("move_instance", instance_id=instance_id, migration_id=migration_id,
                               request_id=request_id)

    async def unshelve_instance(self, instance_id: str, request_id: str | None = None) -> None:
        await self.client.cast("unshelve_instance", instance_id=instance_id, request_id=request_id)


class SchedulerAPI:
    def __init__(self, bus: Transport) -> None:
        self.client = RPCClient(bus, SCHEDULER, "1.0", timeout=60)

    async def select_destinations(self, instance_id: str, move: dict[str, Any] | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"instance_id": instance_id}
        if move is not None:
            kwargs["move"] = move
        result: dict[str, Any] = await self.client.call("select_destinations", **kwargs)
        return result


class ComputeAgentAPI:
    def __init__(self, bus: Transport) -> None:
        self.client = RPCClient(bus, COMPUTE, "1.0")

    def on(self, host: str, timeout: float = 60) -> RPCClient:
        return self.client.prepare(server=host, timeout=timeout)

    async def cast(self, host: str, method: str, **kwargs: Any) -> None:
        await self.on(host).cast(method, **kwargs)

    async def call(self, host: str, method: str, timeout: float = 30, **kwargs: Any) -> Any:
        return await self.on(host, timeout).call(method, **kwargs)
