"""Hosts and projects: os-services, os-hypervisors, availability zones, external events from
the network service, server groups, quota sets and limits."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, no_content
from litestack.common.api.microversion import Version
from litestack.common.api.middleware import context_of
from litestack.common.api.policy import body
from litestack.compute.api.base import ComputeAPI, iso_us, microversion, v
from litestack.compute.api.catalog import BOOLEAN
from litestack.compute.manager.groups import POLICIES
from litestack.compute.manager.quotas import RESOURCES

_HOST_BINARY = {"type": "object", "required": ["host", "binary"], "properties": {
    "host": {"type": "string", "minLength": 1, "maxLength": 255}, "binary": {"type": "string", "minLength": 1},
    "disabled_reason": {"type": "string", "minLength": 1, "maxLength": 255}}, "additionalProperties": False}
_EVENTS = {"type": "object", "required": ["events"], "additionalProperties": False, "properties": {
    "events": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["name", "server_uuid"], "additionalProperties": False, "properties": {
            "name": {"enum": ["network-changed", "network-vif-plugged", "network-vif-unplugged",
                              "network-vif-deleted", "volume-extended", "power-update", "accelerator-request-bound",
                              "volume-reimaged"]},
            "server_uuid": {"type": "string", "format": "uuid"},
            "tag": {"type": "string", "maxLength": 255},
            "status": {"enum": ["failed", "completed", "in-progress"]}}}}}}
_GROUP = {"type": "object", "required": ["server_group"], "additionalProperties": False, "properties": {
    "server_group": {"type": "object", "required": ["name", "policies"], "additionalProperties": False,
                     "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 255},
                                    "policies": {"type": "array", "minItems": 1, "maxItems": 1,
                                                 "items": {"enum": list(POLICIES)}}}}}}
_QUOTA = {"type": "object", "required": ["quota_set"], "additionalProperties": False, "properties": {
    "quota_set": {"type": "object", "additionalProperties": False, "properties": {
        **{r: {"type": ["integer", "string"], "pattern": "^-?[0-9]{1,10}$", "minimum": -1, "maximum": 2**31 - 1}
           for r in RESOURCES},
        "force": {"type": ["boolean", "string"]},
        **{r: {"type": ["integer", "string"]} for r in ("fixed_ips", "floating_ips", "security_groups",
                                                        "security_group_rules", "injected_files",
                                                        "injected_file_content_bytes", "injected_file_path_bytes")}}}}}

#: The deprecated proxy quotas Nova still shows at 2.1 (they are not enforced by the compute service).
LEGACY_QUOTAS = {"fixed_ips": -1, "floating_ips": -1, "security_groups": -1, "security_group_rules": -1,
                 "injected_files": 5, "injected_file_content_bytes": 10240, "injected_file_path_bytes": 255}


_FORCE_DOWN = {"type": "object", "required": ["host", "binary"], "additionalProperties": False, "properties": {
    "host": {"type": "string", "minLength": 1, "maxLength": 255}, "binary": {"type": "string", "minLength": 1},
    "forced_down": BOOLEAN}}
_SERVICE_UPDATE = {"type": "object", "additionalProperties": False, "properties": {
    "status": {"enum": ["enabled", "disabled"]}, "disabled_reason": {"type": "string", "minLength": 1,
                                                                     "maxLength": 255},
    "forced_down": {"type": "boolean"}}}
_HYP_QUERY = ("limit", "marker", "hypervisor_hostname_pattern", "with_servers")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _limit(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise errors.BadRequest(f"Invalid input for query parameters limit. Value: {text}.") from None
    if n < 0:
        raise errors.BadRequest(f"Invalid input for query parameters limit. Value: {text}.")
    return n


def dropped_quotas(mv: Version) -> set[str]:
    """The quota names a microversion no longer shows: the network proxies (2.36), injected files (2.57)."""
    out: set[str] = set()
    if mv >= v(36):
        out |= {"fixed_ips", "floating_ips", "security_groups", "security_group_rules", "networks"}
    if mv >= v(57):
        out |= {"injected_files", "injected_file_content_bytes", "injected_file_path_bytes"}
    return out


def ops(api: ComputeAPI) -> list[Op]:
    # --- os-services -----------------------------------------------------------------------

    def service_view(request: Request, svc: Any) -> dict[str, Any]:
        mv = microversion(request)
        view = {"id": svc.id if mv >= v(53) else svc.number, "binary": svc.binary, "host": svc.host,
                "zone": svc.availability_zone, "status": "disabled" if svc.disabled else "enabled",
                "state": "up" if api.p.hosts.is_up(svc) else "down",
                "updated_at": iso_us(svc.last_seen_up), "disabled_reason": svc.disabled_reason}
        if mv >= v(11):
            view["forced_down"] = bool(svc.forced_down)
        return view

    async def services(request: Request) -> Response:
        q = request.query_params
        # The compute agents' records only: the conductor and scheduler run inside the compute API's
        # process and keep no service record (no heartbeat to judge them by), so none is shown.
        rows = await api.run(api.p.hosts.find, q.get("host"), q.get("binary"))
        return JSON({"services": [service_view(request, s) for s in rows]})

    def toggle(disable: bool, reason: bool) -> Any:
        async def handler(request: Request) -> Response:
            api.since(request, 1, 52)
            data = body(request)
            svc = next((s for s in await api.run(api.p.hosts.find, data["host"], data["binary"])), None)
            if svc is None:
                raise errors.NotFound(f"Host '{data['host']}' is not mapped to any cell")
            fields: dict[str, Any] = {"disabled": disable, "disabled_reason": data.get("disabled_reason")
                                      if reason else None}
            await api.run(lambda: api.p.hosts.update(svc.id, **fields))
            out = {"host": svc.host, "binary": svc.binary, "status": "disabled" if disable else "enabled"}
            if reason:
                out["disabled_reason"] = data.get("disabled_reason")
            return JSON({"service": out})
        return handler

    async def force_down(request: Request) -> Response:
        api.since(request, 11, 52)
        data = body(request)
        if "forced_down" not in data:
            raise errors.BadRequest("Invalid input for field/attribute service. 'forced_down' is a required property")
        svc = next((s for s in await api.run(api.p.hosts.find, data["host"], data["binary"])), None)
        if svc is None:
            raise errors.NotFound(f"Host '{data['host']}' is not mapped to any cell")
        forced = data["forced_down"] if isinstance(data["forced_down"], bool) else \
            str(data["forced_down"]).lower() in ("1", "t", "true", "on", "y", "yes")
        await api.run(lambda: api.p.hosts.update(svc.id, forced_down=forced))
        return JSON({"service": {"host": svc.host, "binary": svc.binary, "forced_down": forced}})

    async def service_update(request: Request) -> Response:
        """2.53: one service by its uuid: status, disabled_reason, forced_down."""
        api.since(request, 53)
        sid = api.param(request, "service_id")
        if not _is_uuid(sid):
            raise errors.BadRequest(f"Invalid uuid {sid}")
        data = body(request)
        if not data:
            raise errors.BadRequest("No updates were requested. Fields 'status' or 'forced_down' should be "
                                    "specified.")
        if "disabled_reason" in data and data.get("status") != "disabled":
            raise errors.BadRequest("Specifying 'disabled_reason' with status 'enabled' is invalid.")
        svc = await api.run(api.p.hosts.get, sid)
        fields: dict[str, Any] = {}
        if "status" in data:
            fields["disabled"] = data["status"] == "disabled"
            fields["disabled_reason"] = data.get("disabled_reason") if fields["disabled"] else None
        if "forced_down" in data:
            fields["forced_down"] = data["forced_down"]
        svc = await api.run(lambda: api.p.hosts.update(svc.id, **fields))
        return JSON({"service": service_view(request, svc)})

    async def service_delete(request: Request) -> Response:
        sid = api.param(request, "service_id")
        if microversion(request) >= v(53) and not _is_uuid(sid):
            raise errors.BadRequest(f"Invalid uuid {sid}")
        svc = await api.run(api.p.hosts.get, sid)
        if await api.run(api.p.instances.on_host, svc.host):
            raise errors.Conflict(f"Unable to delete compute service that has in-progress migrations or instances "
                                  f"on host {svc.host}.")
        await api.run(api.p.hosts.delete, svc.id)
        return no_content()

    # --- hypervisors -----------------------------------------------------------------------

    async def usage() -> dict[str, dict[str, int]]:
        used: dict[str, dict[str, int]] = {}
        for inst in await api.run(api.p.instances.find, {}):
            if not inst.host:
                continue
            u = used.setdefault(inst.host, {"vcpus": 0, "ram": 0, "disk": 0, "count": 0})
            u["vcpus"] += int(inst.flavor["vcpus"])
            u["ram"] += int(inst.flavor["ram"])
            u["disk"] += int(inst.flavor["disk"])
            u["count"] += 1
        return used

    def hypervisor_view(request: Request, svc: Any, u: dict[str, int] | None, detail: bool) -> dict[str, Any]:
        u = u or {"vcpus": 0, "ram": 0, "disk": 0, "count": 0}
        mv = microversion(request)
        view: dict[str, Any] = {"id": svc.node_uuid if mv >= v(53) else svc.number, "hypervisor_hostname": svc.host,
                                "state": "up" if api.p.hosts.is_up(svc) else "down",
                                "status": "disabled" if svc.disabled else "enabled"}
        if detail:
            view.update({"vcpus": svc.vcpus, "memory_mb": svc.memory_mb, "local_gb": svc.local_gb,
                         "vcpus_used": u["vcpus"], "memory_mb_used": u["ram"], "local_gb_used": u["disk"],
                         "free_ram_mb": svc.memory_mb - u["ram"], "free_disk_gb": svc.local_gb - u["disk"],
                         "current_workload": 0, "running_vms": u["count"], "disk_available_least": svc.local_gb,
                         "hypervisor_type": svc.hypervisor_type, "hypervisor_version": 1000,
                         "host_ip": svc.host_ip,
                         # 2.28: an object, no longer its JSON text
                         "cpu_info": {} if mv >= v(28) else "{}",
                         "service": {"host": svc.host, "id": svc.id if mv >= v(53) else svc.number,
                                     "disabled_reason": svc.disabled_reason}})
        return view

    async def with_servers(request: Request, svc: Any, view: dict[str, Any]) -> dict[str, Any]:
        on = await api.run(api.p.instances.on_host, svc.host)
        if on or microversion(request) >= v(53):
            view["servers"] = [{"uuid": i.id, "name": f"instance-{i.id[:8]}"} for i in on]
        return view

    def hypervisors(detail: bool) -> Any:
        async def handler(request: Request) -> Response:
            q, mv = request.query_params, microversion(request)
            rows, used = await api.run(api.p.hosts.find), await usage()
            out: dict[str, Any] = {}
            if mv >= v(53) and q.get("hypervisor_hostname_pattern"):
                if "limit" in q or "marker" in q:
                    raise errors.BadRequest("Paging over hypervisors with 'hypervisor_hostname_pattern' is not "
                                            "supported.")
                rows = matching(q["hypervisor_hostname_pattern"], rows)
            if mv >= v(33):
                if q.get("marker"):
                    ids = [str(s.node_uuid if mv >= v(53) else s.number) for s in rows]
                    if q["marker"] not in ids:
                        raise errors.BadRequest(f"marker [{q['marker']}] not found")
                    rows = rows[ids.index(q["marker"]) + 1:]
                if "limit" in q:
                    limit = _limit(q["limit"])
                    if len(rows) > limit and limit:
                        last = rows[limit - 1]
                        out["hypervisors_links"] = [{"rel": "next", "href": f"{api.self_url(request)}?limit={limit}"
                                                     f"&marker={last.node_uuid if mv >= v(53) else last.number}"}]
                    rows = rows[:limit]
            views = [hypervisor_view(request, s, used.get(s.host), detail) for s in rows]
            if mv >= v(53) and q.get("with_servers", "").lower() in ("1", "true", "yes", "on"):
                views = [await with_servers(request, s, view) for s, view in zip(rows, views, strict=True)]
            return JSON({"hypervisors": views, **out})
        return handler

    async def hypervisor_show(request: Request) -> Response:
        hid = api.param(request, "hypervisor_id")
        if microversion(request) >= v(53) and not _is_uuid(hid):
            raise errors.BadRequest(f"Invalid uuid {hid}")
        svc = await api.run(api.p.hosts.get, hid)
        view = hypervisor_view(request, svc, (await usage()).get(svc.host), True)
        if microversion(request) >= v(53) and request.query_params.get("with_servers", "").lower() in (
                "1", "true", "yes", "on"):
            view = await with_servers(request, svc, view)
        return JSON({"hypervisor": view})

    def matching(pattern: str, rows: list[Any]) -> list[Any]:
        found = [s for s in rows if pattern in s.host]
        if not found:
            raise errors.NotFound(f"No hypervisor matching '{pattern}' could be found.")
        return found

    async def search(request: Request) -> Response:
        api.since(request, 1, 52)
        rows = matching(api.param(request, "pattern"), await api.run(api.p.hosts.find))
        return JSON({"hypervisors": [hypervisor_view(request, s, None, False) for s in rows]})

    async def servers_on(request: Request) -> Response:
        api.since(request, 1, 52)
        rows = matching(api.param(request, "pattern"), await api.run(api.p.hosts.find))
        return JSON({"hypervisors": [await with_servers(request, s, hypervisor_view(request, s, None, False))
                                     for s in rows]})

    async def statistics(request: Request) -> Response:
        rows, used = await api.run(api.p.hosts.find), await usage()
        views = [hypervisor_view(request, s, used.get(s.host), True) for s in rows]
        keys = ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used", "free_ram_mb",
                "free_disk_gb", "current_workload", "running_vms", "disk_available_least")
        stats = {k: sum(v[k] for v in views) for k in keys}
        return JSON({"hypervisor_statistics": {"count": len(views), **stats}})

    # --- availability zones ----------------------------------------------------------------

    async def zones(request: Request) -> Response:
        rows = await api.run(api.p.hosts.find)
        names = sorted({s.availability_zone for s in rows if not s.disabled})
        return JSON({"availabilityZoneInfo": [{"zoneName": z, "zoneState": {"available": True}, "hosts": None}
                                              for z in names]})

    async def zones_detail(request: Request) -> Response:
        rows = await api.run(api.p.hosts.find)
        by_zone: dict[str, dict[str, Any]] = {}
        for s in rows:
            by_zone.setdefault(s.availability_zone, {})[s.host] = {"nova-compute": {
                "available": api.p.hosts.is_up(s) and not s.disabled, "active": not s.disabled,
                "updated_at": iso_us(s.last_seen_up)}}
        out = [{"zoneName": z, "zoneState": {"available": True}, "hosts": h} for z, h in sorted(by_zone.items())]
        return JSON({"availabilityZoneInfo": out})

    # --- external events ---------------------------------------------------------------------

    async def events(request: Request) -> Response:
        results, accepted = [], 0
        for ev in body(request)["events"]:
            out = {**ev, "status": ev.get("status", "completed")}
            try:
                inst = await api.run(api.p.instances.get, ev["server_uuid"])
            except errors.NotFound:
                results.append({**out, "code": 404})
                continue
            if not inst.host:
                results.append({**out, "code": 422})
                continue
            # As Nova: during a move the event also goes to the migration's hosts (the destination
            # plugs the ports while the server's host is still the source).
            moving = await api.run(api.p.extra["migrations"].in_progress, inst.id) if "migrations" in api.p.extra \
                else None
            hosts = dict.fromkeys([inst.host, *((moving.source_compute, moving.dest_compute) if moving else ())])
            for host in [h for h in hosts if h]:
                await api.p.agents.cast(host, "external_instance_event", instance_id=inst.id, name=ev["name"],
                                        tag=ev.get("tag"), status=out["status"])
            results.append({**out, "code": 200})
            accepted += 1
        if not accepted:
            raise errors.NotFound("No instances found for any event")
        return JSON({"events": results}, status_code=200 if accepted == len(results) else 207)

    # --- server groups -------------------------------------------------------------------------

    def group_view(request: Request, g: Any) -> dict[str, Any]:
        view = {"id": g.id, "name": g.name, "policies": [g.policy], "members": [m.instance_id for m in g.members],
                "metadata": {}}
        if microversion(request) >= v(13):
            view.update({"user_id": g.user_id, "project_id": g.project_id})
        return view

    async def groups(request: Request) -> Response:
        c = context_of(request)
        everyone = api.is_admin(request) and "all_projects" in request.query_params
        rows = await api.run(api.p.groups.find, None if everyone else c.project_id)
        return JSON({"server_groups": [group_view(request, g) for g in rows]})

    async def group_create(request: Request) -> Response:
        data = body(request)["server_group"]
        c = context_of(request)
        if data["policies"][0].startswith("soft-") and microversion(request) < v(15):
            raise errors.BadRequest(f"Invalid input for field/attribute policies. Value: {data['policies']}. "
                                    f"'{data['policies'][0]}' is not one of ['anti-affinity', 'affinity']")
        g = await api.run(api.p.groups.create, c.project_id, c.user_id, data["name"], data["policies"][0], {})
        return JSON({"server_group": group_view(request, g)})

    async def group_show(request: Request) -> Response:
        c = context_of(request)
        g = await api.run(api.p.groups.get, api.param(request, "group_id"),
                          None if api.is_admin(request) else c.project_id)
        return JSON({"server_group": group_view(request, g)})

    async def group_delete(request: Request) -> Response:
        c = context_of(request)
        await api.run(api.p.groups.delete, api.param(request, "group_id"),
                      None if api.is_admin(request) else c.project_id)
        return no_content()

    # --- quotas and limits -----------------------------------------------------------------------

    async def quota_target(request: Request) -> Any:
        from litestack.common.api.policy import Target, policy_target

        return Target(policy_target(project_id=api.param(request, "project_id")))

    def quota_body(request: Request, project_id: str, limits: dict[str, int],
                   used: dict[str, int] | None = None) -> dict[str, Any]:
        dropped = dropped_quotas(microversion(request))
        legacy = {k: (n if used is None else {"limit": n, "in_use": 0, "reserved": 0})
                  for k, n in LEGACY_QUOTAS.items() if k not in dropped}
        out: dict[str, Any] = {"id": project_id, **legacy}
        for r in RESOURCES:
            out[r] = limits[r] if used is None else {"limit": limits[r], "in_use": used.get(r, 0), "reserved": 0}
        return out

    async def quota_show(request: Request) -> Response:
        pid = api.param(request, "project_id")
        return JSON({"quota_set": quota_body(request, pid, await api.run(api.p.quotas.limits_of, pid))})

    async def quota_detail(request: Request) -> Response:
        pid = api.param(request, "project_id")
        limits = await api.run(api.p.quotas.limits_of, pid)
        used = await api.run(api.p.quotas.usage_of, pid, context_of(request).user_id)
        return JSON({"quota_set": quota_body(request, pid, limits, used)})

    async def quota_defaults(request: Request) -> Response:
        pid = api.param(request, "project_id")
        return JSON({"quota_set": quota_body(request, pid, await api.run(api.p.quotas.default_limits))})

    async def quota_update(request: Request) -> Response:
        pid = api.param(request, "project_id")
        given = body(request)["quota_set"]
        gone = sorted(set(given) & dropped_quotas(microversion(request)))
        if gone:
            raise errors.BadRequest(f"Invalid input for field/attribute quota_set. Additional properties are not "
                                    f"allowed ('{gone[0]}' was unexpected)")
        values = {k: int(n) for k, n in given.items() if k in RESOURCES}
        if any(not -1 <= v <= 2**31 - 1 for v in values.values()):
            raise errors.BadRequest("Quota limit must be -1 or between 0 and 2147483647.")
        limits = await api.run(api.p.quotas.update, pid, values)
        out = quota_body(request, pid, limits)
        out.pop("id")
        return JSON({"quota_set": out})

    async def quota_delete(request: Request) -> Response:
        await api.run(api.p.quotas.reset, api.param(request, "project_id"))
        return Response(status_code=202)

    async def limits(request: Request) -> Response:
        c = context_of(request)
        pid = request.query_params.get("tenant_id") if api.is_admin(request) else None
        pid = pid or str(c.project_id)
        lim = await api.run(api.p.quotas.limits_of, pid)
        used = await api.run(api.p.quotas.usage_of, pid, c.user_id)
        absolute = {"maxTotalInstances": lim["instances"], "maxTotalCores": lim["cores"],
                    "maxTotalRAMSize": lim["ram"], "maxTotalKeypairs": lim["key_pairs"],
                    "maxServerMeta": lim["metadata_items"], "maxServerGroups": lim["server_groups"],
                    "maxServerGroupMembers": lim["server_group_members"], "maxImageMeta": 128,
                    "maxPersonality": 5, "maxPersonalitySize": 10240, "maxSecurityGroups": -1,
                    "maxSecurityGroupRules": -1, "maxTotalFloatingIps": -1,
                    "totalInstancesUsed": used["instances"], "totalCoresUsed": used["cores"],
                    "totalRAMUsed": used["ram"], "totalServerGroupsUsed": used["server_groups"],
                    "totalSecurityGroupsUsed": 0, "totalFloatingIpsUsed": 0}
        mv = microversion(request)
        for since, keys in ((36, ("maxSecurityGroups", "maxSecurityGroupRules", "maxTotalFloatingIps",
                                  "totalSecurityGroupsUsed", "totalFloatingIpsUsed")),
                            (39, ("maxImageMeta",)), (57, ("maxPersonality", "maxPersonalitySize"))):
            if mv >= v(since):
                for k in keys:
                    absolute.pop(k)
        return JSON({"limits": {"rate": [], "absolute": absolute}})

    svc, hyp, q = "os_compute_api:os-services", "os_compute_api:os-hypervisors", "os_compute_api:os-quota-sets"
    grp = "os_compute_api:os-server-groups"
    own = api.own_project
    return [
        Op("GET", "/v2.1/os-services", services, rule=f"{svc}:list", tag="services", query=("host", "binary")),
        Op("PUT", "/v2.1/os-services/enable", toggle(False, False), body=_HOST_BINARY, rule=f"{svc}:update",
           tag="services"),
        Op("PUT", "/v2.1/os-services/disable", toggle(True, False), body=_HOST_BINARY, rule=f"{svc}:update",
           tag="services"),
        Op("PUT", "/v2.1/os-services/disable-log-reason", toggle(True, True), body=_HOST_BINARY,
           rule=f"{svc}:update", tag="services"),
        Op("PUT", "/v2.1/os-services/force-down", force_down, body=_FORCE_DOWN, rule=f"{svc}:update",
           tag="services"),
        Op("PUT", "/v2.1/os-services/{service_id}", service_update, body=_SERVICE_UPDATE, rule=f"{svc}:update",
           tag="services"),
        Op("DELETE", "/v2.1/os-services/{service_id}", service_delete, rule=f"{svc}:delete", tag="services",
           status=204, errors=(401, 403, 404, 409)),
        Op("GET", "/v2.1/os-hypervisors", hypervisors(False), rule=f"{hyp}:list", tag="hypervisors",
           query=_HYP_QUERY),
        Op("GET", "/v2.1/os-hypervisors/detail", hypervisors(True), rule=f"{hyp}:list-detail", tag="hypervisors",
           query=_HYP_QUERY),
        Op("GET", "/v2.1/os-hypervisors/statistics", statistics, rule=f"{hyp}:statistics", tag="hypervisors"),
        Op("GET", "/v2.1/os-hypervisors/{hypervisor_id}", hypervisor_show, rule=f"{hyp}:show", tag="hypervisors",
           query=("with_servers",)),
        Op("GET", "/v2.1/os-hypervisors/{pattern}/search", search, rule=f"{hyp}:search", tag="hypervisors"),
        Op("GET", "/v2.1/os-hypervisors/{pattern}/servers", servers_on, rule=f"{hyp}:servers", tag="hypervisors"),
        Op("GET", "/v2.1/os-availability-zone", zones, rule="os_compute_api:os-availability-zone:list",
           tag="availability-zones"),
        Op("GET", "/v2.1/os-availability-zone/detail", zones_detail,
           rule="os_compute_api:os-availability-zone:detail", tag="availability-zones"),
        Op("POST", "/v2.1/os-server-external-events", events, body=_EVENTS,
           rule="os_compute_api:os-server-external-events:create", tag="events"),
        Op("GET", "/v2.1/os-server-groups", groups, rule=f"{grp}:index", target=own, tag="server-groups",
           query=("all_projects", "limit", "offset")),
        Op("POST", "/v2.1/os-server-groups", group_create, body=_GROUP, rule=f"{grp}:create", target=own,
           tag="server-groups"),
        Op("GET", "/v2.1/os-server-groups/{group_id}", group_show, rule=f"{grp}:show", target=own,
           tag="server-groups"),
        Op("DELETE", "/v2.1/os-server-groups/{group_id}", group_delete, rule=f"{grp}:delete", target=own,
           tag="server-groups", status=204),
        Op("GET", "/v2.1/os-quota-sets/{project_id}", quota_show, rule=f"{q}:show", target=quota_target,
           tag="quotas"),
        Op("GET", "/v2.1/os-quota-sets/{project_id}/detail", quota_detail, rule=f"{q}:detail", target=quota_target,
           tag="quotas"),
        Op("GET", "/v2.1/os-quota-sets/{project_id}/defaults", quota_defaults, rule=f"{q}:defaults",
           target=quota_target, tag="quotas"),
        Op("PUT", "/v2.1/os-quota-sets/{project_id}", quota_update, body=_QUOTA, rule=f"{q}:update",
           target=quota_target, tag="quotas"),
        Op("DELETE", "/v2.1/os-quota-sets/{project_id}", quota_delete, rule=f"{q}:delete", target=quota_target,
           tag="quotas", status=202),
        Op("GET", "/v2.1/limits", limits, rule="os_compute_api:limits", target=own, tag="limits",
           query=("tenant_id",)),
    ]
