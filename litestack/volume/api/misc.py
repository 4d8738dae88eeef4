"""Version discovery, limits, quota sets and classes, availability zones, the services list, pools
and the extensions list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op
from litestack.common.api.policy import Target, body, policy_target
from litestack.volume.api import schemas
from litestack.volume.api.base import VERSIONS, V, VolumeAPI, isotime
from litestack.volume.manager import now
from litestack.volume.manager import volumes as scheduler
from litestack.volume.manager.volumes import allocated_gb

UPDATED = "2023-09-01T00:00:00Z"
EXTENSIONS = [
    ("os-admin-actions", "AdminActions", "Enable admin actions."),
    ("backups", "Backups", "Backups support."),
    ("os-availability-zone", "AvailabilityZones", "Describe Availability Zones."),
    ("os-extended-snapshot-attributes", "ExtendedSnapshotAttributes", "Extended SnapshotAttributes support."),
    ("os-quota-class-sets", "QuotaClasses", "Quota classes management support."),
    ("os-quota-sets", "Quotas", "Quota management support."),
    ("os-services", "Services", "Services support."),
    ("os-snapshot-actions", "SnapshotActions", "Enable snapshot manager actions."),
    ("os-types-extra-specs", "TypesExtraSpecs", "Type extra specs support."),
    ("os-types-manage", "TypesManage", "Types manage support."),
    ("os-used-limits", "UsedLimits", "Provide data on limited resources that are being used."),
    ("os-vol-host-attr", "VolumeHostAttribute", "Expose host as an attribute of a volume."),
    ("os-vol-image-meta", "VolumeImageMetadata", "Show image metadata associated with the volume."),
    ("os-vol-mig-status-attr", "VolumeMigStatusAttribute", "Expose migration_status as an attribute of a volume."),
    ("os-vol-tenant-attr", "VolumeTenantAttribute", "Expose the internal project_id as an attribute of a volume."),
    ("os-volume-actions", "VolumeActions", "Enable volume actions."),
    ("os-volume-manage", "VolumeManage", "Allows existing backend storage to be 'managed' by Cinder."),
    ("os-volume-unmanage", "VolumeUnmanage", "Enable volume unmanage operation."),
    ("os-snapshot-manage", "SnapshotManage", "Allows existing backend storage to be 'managed' by Cinder."),
    ("os-snapshot-unmanage", "SnapshotUnmanage", "Enable volume unmanage operation."),
    ("os-volume-type-access", "VolumeTypeAccess", "Volume type access support."),
    ("os-volume-transfer", "VolumeTransfer", "Volume transfer management support."),
    ("scheduler-stats", "Scheduler_stats", "Scheduler stats support."),
]


def version_doc(base: str) -> dict[str, Any]:
    return {"id": "v3.0", "status": "CURRENT", "version": str(VERSIONS.maximum),
            "min_version": str(VERSIONS.minimum), "updated": "2023-08-31T00:00:00Z",
            "links": [{"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
                      {"rel": "self", "href": f"{base}/v3/"}],
            "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}]}


def ops(api: VolumeAPI) -> list[Op]:
    async def versions(request: Request) -> Response:
        return JSON({"versions": [version_doc(api.base(request))]}, status_code=300)

    async def v3(request: Request) -> Response:
        return JSON({"versions": [version_doc(api.base(request))]})

    async def limits(request: Request) -> Response:
        project = api.caller(request).project_id or ""
        asked = request.query_params.get("project_id")
        if asked and api.version(request) >= V(3, 39) and api.caller(request).is_admin:
            project = asked[:64]  # 3.39: an admin reads another project's limits
        names = await api.run(api.types.names)
        q = await api.run(api.quotas.show, project, names, True)
        absolute = {"maxTotalVolumes": q["volumes"]["limit"], "maxTotalSnapshots": q["snapshots"]["limit"],
                    "maxTotalVolumeGigabytes": q["gigabytes"]["limit"], "maxTotalBackups": q["backups"]["limit"],
                    "maxTotalBackupGigabytes": q["backup_gigabytes"]["limit"],
                    "totalVolumesUsed": q["volumes"]["in_use"], "totalGigabytesUsed": q["gigabytes"]["in_use"],
                    "totalSnapshotsUsed": q["snapshots"]["in_use"], "totalBackupsUsed": q["backups"]["in_use"],
                    "totalBackupGigabytesUsed": q["backup_gigabytes"]["in_use"]}
        return JSON({"limits": {"rate": [], "absolute": absolute}})

    async def quota_target(request: Request) -> Target:
        return Target(policy_target(None, project_id=api.param(request, "target_project_id")))

    async def quota_show(request: Request) -> Response:
        target = api.param(request, "target_project_id")
        names = await api.run(api.types.names)
        usage = request.query_params.get("usage", "").lower() in ("true", "1", "yes")
        out = await api.run(api.quotas.show, target, names, usage)
        return JSON({"quota_set": {"id": target, **out}})

    async def quota_defaults(request: Request) -> Response:
        target = api.param(request, "target_project_id")
        names = await api.run(api.types.names)
        return JSON({"quota_set": {"id": target, **(await api.run(api.quotas.defaults_of, names))}})

    def ints(raw: dict[str, Any]) -> dict[str, int]:
        out = {}
        for k, v in raw.items():
            if k in ("id", "tenant_id") or v is None:
                continue
            out[k] = int(v)
        return out

    async def quota_update(request: Request) -> Response:
        target = api.param(request, "target_project_id")
        names = await api.run(api.types.names)
        out = await api.run(api.quotas.update, target, ints(body(request)["quota_set"]), names)
        return JSON({"quota_set": out})

    async def quota_delete(request: Request) -> Response:
        await api.run(api.quotas.reset, api.param(request, "target_project_id"))
        return Response(status_code=200)

    async def class_show(request: Request) -> Response:
        names = await api.run(api.types.names)
        name = api.param(request, "class_name")
        return JSON({"quota_class_set": {"id": name, **(await api.run(api.quotas.defaults_of, names))}})

    async def class_update(request: Request) -> Response:
        names = await api.run(api.types.names)
        if api.param(request, "class_name") != "default":
            raise errors.BadRequest("Only the default quota class can be changed.")
        out = await api.run(api.quotas.update_class, ints(body(request)["quota_class_set"]), names)
        return JSON({"quota_class_set": out})

    async def zones(request: Request) -> Response:
        services = await api.run(api.volumes.services)
        down = timedelta(seconds=api.flow.settings.service_down_time)
        found: dict[str, bool] = {}
        for s in services:
            found[s.availability_zone] = found.get(s.availability_zone, False) or (
                not s.disabled and s.updated_at >= now() - down)
        found.setdefault(api.flow.settings.availability_zone, False)
        return JSON({"availabilityZoneInfo": [{"zoneName": z, "zoneState": {"available": ok}}
                                              for z, ok in sorted(found.items())]})

    async def services(request: Request) -> Response:
        rows = await api.run(api.volumes.services)
        down = timedelta(seconds=api.flow.settings.service_down_time)
        binary = request.query_params.get("binary")
        host = request.query_params.get("host")
        out: list[dict[str, Any]] = [{
            "binary": "cinder-scheduler", "host": api.flow.settings.scheduler_host,
            "zone": api.flow.settings.availability_zone, "status": "enabled", "state": "up",
            "updated_at": isotime(now()), "disabled_reason": None}]
        v = api.version(request)
        if v >= V(3, 7):
            out[0]["cluster"] = None
        for s in rows:
            item = {"binary": "cinder-volume", "host": s.host, "zone": s.availability_zone,
                    "status": "disabled" if s.disabled else "enabled",
                    "state": "up" if s.updated_at >= now() - down else "down",
                    "updated_at": isotime(s.updated_at), "disabled_reason": s.disabled_reason,
                    "frozen": bool(s.frozen), "replication_status": "disabled", "active_backend_id": None}
            if v >= V(3, 7):
                item["cluster"] = s.cluster_name
            if v >= V(3, 49):
                item["backend_state"] = s.backend_state or "up"
            out.append(item)
        # A host names the service's host, with or without its backend (Cinder's host@backend).
        out = [s for s in out if (binary is None or s["binary"] == binary)
               and (host is None or s["host"] == host or s["host"].startswith(f"{host}@"))]
        return JSON({"services": out})

    async def pools(request: Request) -> Response:
        detail = request.query_params.get("detail", "").lower() in ("true", "1", "yes")
        rows = await api.run(api.volumes.services)
        v = api.version(request)
        if v >= V(3, 28) and "name" in request.query_params:  # 3.28: filters
            name = request.query_params["name"]
            rows = [r for r in rows if f"{r.host}#{r.backend_name}" == name or r.host == name]
        if v >= V(3, 35) and "volume_type" in request.query_params:  # 3.35: the pools a type may use
            vtype = await api.run(api.types.get, request.query_params["volume_type"], api.caller(request))
            rows = [r for r in rows if scheduler.satisfies(scheduler.capabilities(r), vtype.extra_specs or {})]

        def stats() -> list[dict[str, Any]]:
            out = []
            with api.volumes.db.reader() as s:
                for row in rows:
                    pool: dict[str, Any] = {"name": f"{row.host}#{row.backend_name}"}
                    if detail:
                        used = allocated_gb(s, row.host)
                        pool["capabilities"] = {
                            "volume_backend_name": row.backend_name, "total_capacity_gb": row.total_capacity_gb,
                            "free_capacity_gb": row.total_capacity_gb - used, "allocated_capacity_gb": used,
                            "provisioned_capacity_gb": used, "thin_provisioning_support": True,
                            "thick_provisioning_support": False, "storage_protocol": "local",
                            "vendor_name": "litestack", "driver_version": "1.0", "reserved_percentage": 0,
                            "timestamp": isotime(row.updated_at), "pool_name": row.backend_name,
                            "multiattach": True}
                    out.append(pool)
            return out
        return JSON({"pools": await api.run(stats)})

    async def capabilities(request: Request) -> Response:
        host = api.param(request, "host").partition("#")[0]
        row = next((r for r in await api.run(api.volumes.services) if r.host == host), None)
        if row is None:
            raise errors.NotFound(f"No volume backend {host[:64]} has reported itself.")
        return JSON({"namespace": f"OS::Storage::Capabilities::{row.host}", "vendor_name": "litestack",
                     "volume_backend_name": row.backend_name, "pool_name": None, "driver_version": "1.0",
                     "storage_protocol": "local", "display_name": None, "description": None, "visibility": None,
                     "replication_targets": [], "properties": {
                         "thin_provisioning": {"title": "Thin Provisioning", "type": "boolean",
                                               "description": "Volumes are sparse files, allocated on write."},
                         "multiattach": {"title": "Multiattach", "type": "boolean",
                                         "description": "Volumes may be attached to several servers."}}})

    async def extensions(request: Request) -> Response:
        return JSON({"extensions": [{"alias": a, "name": n, "description": d, "links": [], "updated": UPDATED}
                                    for a, n, d in EXTENSIONS]})

    p = "/v3/{project_id}"
    qt = quota_target
    return [
        Op("GET", "/", versions, "List API versions", status=300, public=True, tag="versions"),
        Op("GET", "/v3", v3, "Show API v3", public=True, tag="versions"),
        Op("GET", f"{p}/limits", limits, "Show absolute limits", rule="limits_extension:used_limits",
           target=api.own(), tag="limits"),
        Op("GET", f"{p}/os-quota-sets/{{target_project_id}}", quota_show, "Show a project's quotas",
           rule="volume_extension:quotas:show", target=qt, query=("usage",), tag="quotas"),
        Op("GET", f"{p}/os-quota-sets/{{target_project_id}}/defaults", quota_defaults, "Show default quotas",
           rule="volume_extension:quotas:show", target=qt, tag="quotas"),
        Op("PUT", f"{p}/os-quota-sets/{{target_project_id}}", quota_update, "Update a project's quotas",
           body=schemas.QUOTA_SET, rule="volume_extension:quotas:update", target=qt, tag="quotas"),
        Op("DELETE", f"{p}/os-quota-sets/{{target_project_id}}", quota_delete, "Reset a project's quotas",
           rule="volume_extension:quotas:delete", target=qt, tag="quotas"),
        Op("GET", f"{p}/os-quota-class-sets/{{class_name}}", class_show, "Show a quota class",
           rule="volume_extension:quota_classes", target=api.own(), tag="quotas"),
        Op("PUT", f"{p}/os-quota-class-sets/{{class_name}}", class_update, "Update the default quota class",
           body=schemas.QUOTA_CLASS_SET, rule="volume_extension:quota_classes", target=api.own(), tag="quotas"),
        Op("GET", f"{p}/os-availability-zone", zones, "List availability zones",
           rule="volume_extension:availability_zone_list", target=api.own(), tag="availability zones"),
        Op("GET", f"{p}/os-services", services, "List services", rule="volume_extension:services:index",
           target=api.own(), query=("binary", "host"), tag="services"),
        Op("GET", f"{p}/scheduler-stats/get_pools", pools, "List backend pools",
           rule="scheduler_extension:scheduler_stats:get_pools", target=api.own(),
           query=("detail", "name", "volume_type"), tag="scheduler"),
        Op("GET", f"{p}/capabilities/{{host}}", capabilities, "Show a backend's capabilities",
           rule="volume_extension:capabilities", target=api.own(), tag="scheduler"),
        Op("GET", f"{p}/extensions", extensions, "List extensions", rule="volume_extension:extensions:index",
           target=api.own(), tag="extensions"),
    ]
