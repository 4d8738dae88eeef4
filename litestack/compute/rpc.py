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


class SchedulerAPI:
    def __init__(self, bus: Transport) -> None:
        self.client = RPCClient(bus, SCHEDULER, "1.0", timeout=60)

    async def select_destinations(self, instance_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.client.call("select_destinations", instance_id=instance_id)
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
