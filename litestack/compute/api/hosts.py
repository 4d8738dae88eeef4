"""``os-hosts`` (until 2.42: the compute hosts, their resources and usage per project, enabling and
disabling them) and a hypervisor's uptime (from its agent's driver)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op
from litestack.common.api.policy import body
from litestack.compute.api.base import ComputeAPI, microversion, v

_UPDATE = {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": {
    "status": {"enum": ["enable", "disable", "Enable", "Disable", "ENABLE", "DISABLE"]},
    "maintenance_mode": {"enum": ["enable", "disable", "Enable", "Disable", "ENABLE", "DISABLE"]}}}
RULE = "os_compute_api:os-hosts"


def ops(api: ComputeAPI) -> list[Op]:
    async def host_of(request: Request) -> Any:
        api.since(request, 1, 42)
        name = api.param(request, "host_name")
        svc = await api.run(api.p.hosts.by_host, name)
        if svc is None:
            raise errors.NotFound(f"Compute host {name} could not be found.")
        return svc

    async def index(request: Request) -> Response:
        api.since(request, 1, 42)
        zone = request.query_params.get("zone")
        rows = [s for s in await api.run(api.p.hosts.find) if not zone or s.availability_zone == zone]
        return JSON({"hosts": [{"host_name": s.host, "service": "compute", "zone": s.availability_zone}
                               for s in rows]})

    async def show(request: Request) -> Response:
        svc = await host_of(request)
        servers = await api.run(api.p.instances.on_host, svc.host)

        def row(project: str, cpu: int, mem: int, disk: int) -> dict[str, Any]:
            return {"resource": {"host": svc.host, "project": project, "cpu": cpu, "memory_mb": mem,
                                 "disk_gb": disk}}
        per_project: dict[str, list[int]] = {}
        for inst in servers:
            u = per_project.setdefault(inst.project_id, [0, 0, 0])
            f = inst.flavor or {}
            u[0] += int(f.get("vcpus", 0))
            u[1] += int(f.get("ram", 0))
            u[2] += int(f.get("disk", 0)) + int(f.get("OS-FLV-EXT-DATA:ephemeral", 0) or 0)
        used = [sum(u[i] for u in per_project.values()) for i in range(3)]
        rows = [row("(total)", svc.vcpus, svc.memory_mb, svc.local_gb), row("(used_now)", *used),
                row("(used_max)", *used)]
        rows += [row(p, *u) for p, u in sorted(per_project.items())]
        return JSON({"host": rows})

    async def update(request: Request) -> Response:
        svc = await host_of(request)
        data = {k: str(val).lower() for k, val in body(request).items()}
        if "maintenance_mode" in data:
            raise errors.NotImplementedYet("Virt driver does not implement host maintenance mode.")
        disabled = data["status"] == "disable"
        await api.run(lambda: api.p.hosts.update(svc.id, disabled=disabled,
                                                 disabled_reason=None if not disabled else svc.disabled_reason))
        return JSON({"host": svc.host, "status": "disabled" if disabled else "enabled"})

    def power(action: str) -> Any:
        async def handler(request: Request) -> Response:
            await host_of(request)
            # Powering whole hosts is the business of the hardware, not of a virt driver here.
            raise errors.NotImplementedYet(f"Virt driver does not implement host {action}.")
        return handler

    async def uptime(request: Request) -> Response:
        hid = api.param(request, "hypervisor_id")
        svc = await api.run(api.p.hosts.get, hid)
        up = api.p.hosts.is_up(svc)
        if not up:
            raise errors.BadRequest(f"Compute service of {svc.host} is unavailable at this time.")
        try:
            line = await api.p.agents.call(svc.host, "get_host_uptime")
        except Exception as exc:  # the agent did not answer: as Nova, the service is unavailable
            raise errors.BadRequest(f"Compute service of {svc.host} is unavailable at this time.") from exc
        return JSON({"hypervisor": {"id": svc.node_uuid if microversion(request) >= v(53) else svc.number,
                                    "hypervisor_hostname": svc.host, "state": "up",
                                    "status": "disabled" if svc.disabled else "enabled", "uptime": line}})

    return [
        Op("GET", "/v2.1/os-hosts", index, rule=f"{RULE}:list", tag="hosts", query=("zone",)),
        Op("GET", "/v2.1/os-hosts/{host_name}", show, rule=f"{RULE}:show", tag="hosts"),
        Op("PUT", "/v2.1/os-hosts/{host_name}", update, body=_UPDATE, rule=f"{RULE}:update", tag="hosts",
           errors=(400, 401, 403, 404, 501)),
        Op("GET", "/v2.1/os-hosts/{host_name}/reboot", power("reboot"), rule=f"{RULE}:reboot", tag="hosts",
           errors=(401, 403, 404, 501)),
        Op("GET", "/v2.1/os-hosts/{host_name}/shutdown", power("shutdown"), rule=f"{RULE}:shutdown", tag="hosts",
           errors=(401, 403, 404, 501)),
        Op("GET", "/v2.1/os-hosts/{host_name}/startup", power("startup"), rule=f"{RULE}:start", tag="hosts",
           errors=(401, 403, 404, 501)),
        Op("GET", "/v2.1/os-hypervisors/{hypervisor_id}/uptime", uptime, rule="os_compute_api:os-hypervisors:uptime",
           tag="hypervisors", errors=(400, 401, 403, 404)),
    ]
