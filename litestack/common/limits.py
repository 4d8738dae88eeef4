"""Unified limits: a service's quotas, kept in identity and read over REST (as oslo.limit does).

A service declares the resources it limits in its spec (``ServiceSpec.limits``); identity's
bootstrap registers each with its default. An operator changes a default with
``openstack registered limit set`` or gives one project its own with ``openstack limit create``.
When it enforces, a service asks identity for the project's limits, counts its own usage from
its own database (in the transaction that adds to it, so two requests cannot both pass), and
refuses what would go over with ``ProjectOverLimit`` turned into its own error body.

The flat enforcement model only: a project's limit, else the registered default.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from litestack.common import errors
from litestack.common.client import ServiceClient


@dataclass(frozen=True)
class Over:
    resource_name: str
    limit: int
    current_usage: int
    delta: int


class ProjectOverLimit(Exception):
    """The message is oslo.limit's, which services (Glance) put in their error bodies as it is."""

    def __init__(self, project_id: str, over: list[Over]) -> None:
        self.project_id, self.over = project_id, over
        parts = ", ".join(f"Resource {o.resource_name} is over limit of {o.limit} due to current usage "
                          f"{o.current_usage} and delta {o.delta}" for o in over)
        super().__init__(f"Project {project_id} is over a limit for [{parts}]")


def check(project_id: str, limits: Mapping[str, int], usage: Mapping[str, int], deltas: Mapping[str, int]) -> None:
    """Raise ``ProjectOverLimit`` when ``usage + delta`` exceeds a limit for any resource in
    ``deltas`` (a delta of 0 checks that the project is not over already). A resource without a
    limit is unlimited."""
    over = [Over(name, limits[name], usage.get(name, 0), delta) for name, delta in deltas.items()
            if name in limits and usage.get(name, 0) + delta > limits[name]]
    if over:
        raise ProjectOverLimit(project_id, over)


class UnifiedLimits:
    """Reads one service's limits from identity, with its internal REST client."""

    def __init__(self, client: ServiceClient, service_type: str, region: str | None = None) -> None:
        self.client, self.service_type, self.region = client, service_type, region
        self._service_id: str | None = None

    async def service_id(self) -> str:
        if self._service_id is None:
            for service in await self.client.session.catalog():
                if service.get("type") == self.service_type:
                    self._service_id = str(service["id"])
                    break
            else:
                raise errors.ServiceUnavailable(f"The catalog has no {self.service_type} service.")
        return self._service_id

    async def _get(self, path: str, key: str, params: dict[str, str]) -> list[dict[str, Any]]:
        r = await self.client.request("GET", "identity", path, params=params)
        if r.status_code != 200:
            raise errors.ServiceUnavailable(f"identity answered {r.status_code} to {path}.")
        items: list[dict[str, Any]] = r.json()[key]
        return items

    async def for_project(self, project_id: str, names: Iterable[str]) -> dict[str, int]:
        """The project's limit of each resource: its own limit, else the registered default.
        A resource identity knows nothing about is absent (unlimited)."""
        wanted = set(names)
        params = {"service_id": await self.service_id()}
        if self.region:
            params["region_id"] = self.region
        registered, own = await asyncio.gather(
            self._get("/v3/registered_limits", "registered_limits", params),
            self._get("/v3/limits", "limits", {**params, "project_id": project_id}))
        out = {r["resource_name"]: int(r["default_limit"]) for r in registered if r["resource_name"] in wanted}
        out.update({r["resource_name"]: int(r["resource_limit"]) for r in own
                    if r["resource_name"] in wanted and r.get("project_id") == project_id})
        return out
