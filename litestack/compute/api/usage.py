"""Usage and quota classes: ``os-simple-tenant-usage`` (hours of servers over a period, from the
instance records) and ``os-quota-class-sets`` (class ``default`` is every project's defaults)."""

from __future__ import annotations

import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op
from litestack.common.api.middleware import context_of
from litestack.common.api.policy import Target, body, policy_target
from litestack.compute.api.admin import LEGACY_QUOTAS, dropped_quotas
from litestack.compute.api.base import ComputeAPI, microversion, v
from litestack.compute.manager.quotas import RESOURCES
from litestack.compute.manager.usage import ServerUsage, totals

_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S")
_QUOTA_CLASS = {"type": "object", "required": ["quota_class_set"], "additionalProperties": False, "properties": {
    "quota_class_set": {"type": "object", "additionalProperties": False, "properties": {
        **{r: {"type": ["integer", "string"], "pattern": "^-?[0-9]{1,10}$", "minimum": -1, "maximum": 2**31 - 1}
           for r in (*RESOURCES, *LEGACY_QUOTAS, "networks")}}}}}
#: The quota class resources 2.50 added (before, a quota class had the network proxies instead).
_SINCE_2_50 = ("server_groups", "server_group_members")


def parse_time(text: str | None) -> datetime.datetime:
    if not text:
        return datetime.datetime.now(datetime.UTC)
    for fmt in _FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.UTC)
        except ValueError:
            continue
    raise errors.BadRequest(f"Invalid time format {text!r}: expected e.g. 2024-01-31T12:00:00(.ffffff).")


def _stamp(dt: datetime.datetime | None) -> str | None:
    return dt.replace(tzinfo=None).isoformat() if dt is not None else None


def ops(api: ComputeAPI) -> list[Op]:
    def window(request: Request) -> tuple[datetime.datetime, datetime.datetime]:
        q = request.query_params
        start, end = parse_time(q.get("start")), parse_time(q.get("end"))
        if start > end:
            raise errors.BadRequest("Invalid start time. The start time cannot occur after the end time.")
        return start, end

    def server_usage(u: ServerUsage, now: datetime.datetime) -> dict[str, Any]:
        inst, f = u.instance, u.instance.flavor or {}
        terminated = inst.deleted
        ended = u.ended_at if terminated else None
        return {"instance_id": inst.id, "name": inst.name, "hours": u.hours, "memory_mb": int(f.get("ram", 0)),
                "local_gb": int(f.get("disk", 0)), "vcpus": int(f.get("vcpus", 0)), "tenant_id": inst.project_id,
                "flavor": f.get("name", inst.flavor_id), "started_at": _stamp(u.started_at),
                "ended_at": _stamp(ended), "state": "terminated" if terminated else inst.vm_state,
                "uptime": int(((ended or now) - u.started_at).total_seconds())}

    def page(request: Request, usages: list[ServerUsage]) -> tuple[list[ServerUsage], dict[str, Any]]:
        """2.40: ``limit`` and ``marker`` (a server id) page over the servers."""
        q = request.query_params
        if microversion(request) < v(40):
            return usages, {}
        if q.get("marker"):
            ids = [u.instance.id for u in usages]
            if q["marker"] not in ids:
                raise errors.BadRequest(f"Marker {q['marker']} could not be found.")
            usages = usages[ids.index(q["marker"]) + 1:]
        links: dict[str, Any] = {}
        if "limit" in q:
            try:
                limit = int(q["limit"])
            except ValueError:
                raise errors.BadRequest(f"Invalid input for query parameters limit. Value: {q['limit']}.") from None
            if limit < 1:
                raise errors.BadRequest(f"Invalid input for query parameters limit. Value: {limit}.")
            if len(usages) >= limit:
                base = f"{api.self_url(request)}?limit={limit}&marker={usages[limit - 1].instance.id}"
                for k in ("start", "end", "detailed"):
                    if q.get(k):
                        base += f"&{k}={q[k]}"
                links = {"links": [{"rel": "next", "href": base}]}
            usages = usages[:limit]
        return usages, links

    def summary(project_id: str, usages: list[ServerUsage], start: datetime.datetime, end: datetime.datetime,
                detailed: bool) -> dict[str, Any]:
        now = datetime.datetime.now(datetime.UTC)
        out: dict[str, Any] = {"tenant_id": project_id, "start": _stamp(start), "stop": _stamp(end), **totals(usages)}
        if detailed:
            out["server_usages"] = [server_usage(u, now) for u in usages]
        return out

    async def index(request: Request) -> Response:
        if request.url.path.endswith("/"):  # a show with an empty project id
            raise errors.NotFound("The resource could not be found.")
        start, end = window(request)
        usages, links = page(request, await api.run(api.p.usage.servers, start, end))
        by_project: dict[str, list[ServerUsage]] = {}
        for u in usages:
            by_project.setdefault(u.instance.project_id, []).append(u)
        detailed = request.query_params.get("detailed", "0") not in ("0", "", "false", "False")
        out: dict[str, Any] = {"tenant_usages": [summary(p, us, start, end, detailed)
                                                 for p, us in by_project.items()]}
        if links:
            out["tenant_usages_links"] = links["links"]
        return JSON(out)

    async def show(request: Request) -> Response:
        pid = api.param(request, "tenant_id")
        start, end = window(request)
        usages, links = page(request, await api.run(api.p.usage.servers, start, end, pid))
        out: dict[str, Any] = {"tenant_usage": summary(pid, usages, start, end, True) if usages else {}}
        if links:
            out["tenant_usage_links"] = links["links"]
        return JSON(out)

    async def tenant_target(request: Request) -> Target:
        return Target(policy_target(project_id=api.param(request, "tenant_id"),
                                    user_id=context_of(request).user_id))

    # --- quota classes -------------------------------------------------------------------

    def class_body(request: Request, limits: dict[str, int]) -> dict[str, Any]:
        mv = microversion(request)
        dropped = dropped_quotas(mv) | ({"networks"} if mv >= v(50) else set())
        out: dict[str, Any] = {}
        if mv < v(50):  # the network proxy quotas (the network service enforces its own)
            out.update({k: limits.get(k, LEGACY_QUOTAS[k]) for k in ("fixed_ips", "floating_ips", "security_groups",
                                                                     "security_group_rules")})
        out.update({k: limits.get(k, n) for k, n in LEGACY_QUOTAS.items()
                    if k.startswith("injected") and k not in dropped})
        for r in RESOURCES:
            if r in _SINCE_2_50 and mv < v(50):
                continue
            out[r] = limits[r]
        return out

    async def class_show(request: Request) -> Response:
        name = api.param(request, "class_name")
        limits = await api.run(api.p.quotas.class_limits_of, name)
        return JSON({"quota_class_set": {"id": name, **class_body(request, limits)}})

    async def class_update(request: Request) -> Response:
        name = api.param(request, "class_name")
        if len(name) > 255:
            raise errors.BadRequest("The quota class name must be at most 255 characters.")
        given = body(request)["quota_class_set"]
        mv = microversion(request)
        refused = (dropped_quotas(mv) | ({"networks"} if mv >= v(50) else set(_SINCE_2_50))) & set(given)
        if refused:
            raise errors.BadRequest(f"Invalid input for field/attribute quota_class_set. Additional properties are "
                                    f"not allowed ('{sorted(refused)[0]}' was unexpected)")
        values = {k: int(n) for k, n in given.items()}
        limits = await api.run(api.p.quotas.update_class, name, values)
        return JSON({"quota_class_set": class_body(request, limits)})

    stu, qc = "os_compute_api:os-simple-tenant-usage", "os_compute_api:os-quota-class-sets"
    return [
        Op("GET", "/v2.1/os-simple-tenant-usage", index, rule=f"{stu}:list", tag="usage",
           query=("start", "end", "detailed", "limit", "marker")),
        Op("GET", "/v2.1/os-simple-tenant-usage/{tenant_id}", show, rule=f"{stu}:show", target=tenant_target,
           tag="usage", query=("start", "end", "limit", "marker")),
        Op("GET", "/v2.1/os-quota-class-sets/{class_name}", class_show, rule=f"{qc}:show", tag="quotas"),
        Op("PUT", "/v2.1/os-quota-class-sets/{class_name}", class_update, body=_QUOTA_CLASS, rule=f"{qc}:update",
           tag="quotas"),
    ]
