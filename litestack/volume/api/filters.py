"""Cinder's generalised resource filters (3.31): which query filters each list takes
(``/resource_filters``, 3.33), ``~`` like filters (3.34); an unknown filter is 400 from 3.31 on
(admins excepted, as in Cinder), ignored before."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op
from litestack.volume.api.base import V, VolumeAPI, require

#: The filters each list takes (Cinder's ``resource_filters.json``, with what this cloud has).
RESOURCE_FILTERS: dict[str, list[str]] = {
    "volume": ["name", "status", "metadata", "bootable", "migration_status", "availability_zone", "size",
               "volume_type", "glance_metadata", "created_at", "updated_at", "group_id"],
    "backup": ["name", "status", "volume_id"],
    "snapshot": ["name", "status", "volume_id", "metadata", "availability_zone"],
    "attachment": ["volume_id", "status", "instance_id", "attach_status"],
    "message": ["resource_uuid", "resource_type", "event_id", "request_id", "message_level"],
    "pool": ["name", "volume_type"],
    "volume_type": ["is_public"],
}
#: Filters that appear with a microversion (before it they are no filter at all).
SINCE = {"glance_metadata": V(3, 4), "group_id": V(3, 10), "created_at": V(3, 60), "updated_at": V(3, 60)}
#: Like filters, per resource: the filters ``key~`` applies to (strings only).
LIKE = {"volume": ("name", "status", "availability_zone", "migration_status"),
        "snapshot": ("name", "status"), "backup": ("name", "status"),
        "message": ("resource_type", "event_id", "request_id", "message_level")}
#: Query parameters that are not filters.
NOT_FILTERS = {"limit", "marker", "offset", "sort", "sort_key", "sort_dir", "with_count", "all_tenants", "fields",
               "project_id", "display_name", "detail", "usage", "is_public"}


def check_filters(api: VolumeAPI, request: Request, resource: str, params: dict[str, str]) -> dict[str, str]:
    """``params`` without what this microversion does not take as a filter; from 3.31 a filter
    the resource does not take is 400 for anyone but an admin."""
    v = api.version(request)
    allowed = set(RESOURCE_FILTERS.get(resource, ()))
    out: dict[str, str] = {}
    invalid: list[str] = []
    for key, value in params.items():
        base = key[:-1] if key.endswith("~") else key
        if key in NOT_FILTERS:
            out[key] = value
            continue
        usable = base in allowed and v >= SINCE.get(base, V(3, 0))
        if key.endswith("~"):
            usable = usable and v >= V(3, 34) and base in LIKE.get(resource, ())
        if usable:
            out[key] = value
        else:
            invalid.append(key)
    if invalid and v >= V(3, 31) and not api.caller(request).is_admin:
        raise errors.BadRequest(f"Invalid input received: Invalid filters {', '.join(sorted(invalid))[:200]} are "
                                f"found in query options.")
    return out


def ops(api: VolumeAPI) -> list[Op]:
    async def resource_filters(request: Request) -> Response:
        require(api, request, V(3, 33))
        wanted = request.query_params.get("resource")
        v = api.version(request)
        out: list[dict[str, Any]] = []
        for resource, names in RESOURCE_FILTERS.items():
            if wanted is None or wanted == resource:
                out.append({"resource": resource, "filters": [n for n in names if v >= SINCE.get(n, V(3, 0))]})
        return JSON({"resource_filters": out})

    return [Op("GET", "/v3/{project_id}/resource_filters", resource_filters, "List the filters of each list (3.33)",
               rule="volume:get_all", target=api.own(), query=("resource",), tag="resource filters")]
