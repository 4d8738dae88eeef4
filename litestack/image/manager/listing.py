"""The image list in SQL: Glance's visibility rules, filters, sorting and marker pagination."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select

from litestack.common import errors
from litestack.common.api.pagination import Listing, ListQuery, apply, compare
from litestack.common.db import Database
from litestack.image.manager import Caller
from litestack.image.models import Image, ImageMember, ImageProperty, ImageTag

SORT_KEYS = ("name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at")
LISTING = Listing(model=Image, sort_keys={k: getattr(Image, k) for k in SORT_KEYS})
#: Query parameters that are no property filters.
_RESERVED = {"limit", "marker", "sort", "sort_key", "sort_dir", "member_status", "tag", "visibility", "os_hidden",
             "protected", "owner", "name", "id", "status", "container_format", "disk_format", "size_min", "size_max",
             "created_at", "updated_at", "checksum", "os_hash_value", "changes-since", "size", "virtual_size",
             "min_disk", "min_ram"}


def parse_time(value: str) -> datetime:
    """ISO 8601 as Glance's filters take it, as naive UTC."""
    t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def _boolean(params: Mapping[str, str], name: str) -> bool | None:
    raw = params.get(name)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false"):
        raise errors.BadRequest(f"Invalid value '{raw}' for '{name}' filter. Valid values are 'true' or 'false'.")
    return raw.lower() == "true"


def sort_order(params: Sequence[tuple[str, str]]) -> list[tuple[str, bool]]:
    """``sort=k:dir,...`` or repeated ``sort_key``/``sort_dir`` (one dir for all, or one each)."""
    keys = [v.strip() for k, v in params if k == "sort_key"]
    dirs = [v.strip() for k, v in params if k == "sort_dir"]
    new = [v for k, v in params if k == "sort"]
    if new:
        if keys or dirs:
            raise errors.BadRequest("Old and new sorting syntax cannot be combined")
        keys, dirs = [], []
        for part in new[-1].strip().split(","):
            key, _, direction = part.partition(":")
            keys.append(key.strip())
            dirs.append(direction.strip() or "desc")
    elif len(dirs) > 1 and len(dirs) != len(keys):
        raise errors.BadRequest("Number of sort dirs does not match the number of sort keys")
    for key in keys:
        if key not in SORT_KEYS:
            raise errors.BadRequest(f"Invalid sort key: {key}. It must be one of the following: "
                                    f"{', '.join(SORT_KEYS)}.")
    for d in dirs:
        if d not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid sort direction: {d}")
    keys = keys or ["created_at"]
    if len(dirs) <= 1:
        dirs = [dirs[0] if dirs else "desc"] * len(keys)
    order = [(k, d == "desc") for k, d in zip(keys, dirs, strict=True)]
    if "created_at" not in keys:
        order.append(("created_at", dirs[0] == "desc"))
    return order


def statement(params: Sequence[tuple[str, str]], caller: Caller) -> Select[Any]:
    """The filtered ``select`` of the images the caller may list (before sorting and paging)."""
    flat = dict(params)
    member_status = flat.get("member_status", "accepted")
    if member_status not in ("pending", "accepted", "rejected", "all"):
        raise errors.BadRequest(f"Invalid status: {member_status}")
    visibility = flat.get("visibility")
    if visibility is not None and visibility not in ("community", "public", "private", "shared", "all"):
        raise errors.BadRequest(f"Invalid visibility value: {visibility}")
    if "changes-since" in flat:
        raise errors.BadRequest('The "changes-since" filter is no longer available on v2.')
    project = caller.project_id
    stmt = select(Image).where(Image.status != "killed")
    if not caller.is_admin:
        shared = exists().where(ImageMember.image_id == Image.id, ImageMember.member == project)
        if member_status != "all":
            shared = shared.where(ImageMember.status == member_status)
        seen = [Image.visibility.in_(("public", "community")),
                and_(Image.visibility == "shared", shared)]
        if project is not None:
            seen.append(Image.owner == project)
        stmt = stmt.where(or_(*seen))
    if visibility is not None:
        if visibility != "all":
            stmt = stmt.where(Image.visibility == visibility)
    elif project is None:
        stmt = stmt.where(Image.visibility != "community")
    else:
        stmt = stmt.where(or_(Image.owner == project, Image.visibility != "community"))
    hidden = _boolean(flat, "os_hidden")
    stmt = stmt.where(Image.os_hidden == bool(hidden))
    protected = _boolean(flat, "protected")
    if protected is not None:
        stmt = stmt.where(Image.protected == protected)
    for name in ("name", "id", "status", "container_format", "disk_format"):
        if name in flat:
            stmt = stmt.where(compare(getattr(Image, name), flat[name]))
    for name in ("owner", "checksum", "os_hash_value"):
        if name in flat:
            stmt = stmt.where(getattr(Image, name) == flat[name])
    for name in ("size", "virtual_size", "min_disk", "min_ram"):
        if name in flat:
            try:
                stmt = stmt.where(getattr(Image, name) == int(flat[name]))
            except ValueError:
                raise errors.BadRequest(f"Invalid value for filter {name}: an integer is expected.") from None
    for name, op in (("size_min", "__ge__"), ("size_max", "__le__")):
        if name in flat:
            try:
                bound = int(flat[name])
            except ValueError:
                raise errors.BadRequest("Unable to filter on a range with a non-numeric value.") from None
            stmt = stmt.where(getattr(Image.size, op)(bound))
    for name in ("created_at", "updated_at"):
        if name in flat:
            try:
                stmt = stmt.where(compare(getattr(Image, name), flat[name], parse_time,
                                          allowed=("eq", "neq", "gt", "gte", "lt", "lte")))
            except errors.BadRequest as exc:
                if "operator" in exc.message:
                    raise
                raise errors.BadRequest(f'Bad "{name}" query filter format. Use ISO 8601 DateTime notation.') \
                    from None
    for tag in dict.fromkeys(v.strip() for k, v in params if k == "tag"):
        stmt = stmt.where(exists().where(ImageTag.image_id == Image.id, ImageTag.value == tag))
    for key, value in flat.items():
        if key not in _RESERVED:
            stmt = stmt.where(exists().where(ImageProperty.image_id == Image.id, ImageProperty.name == key,
                                             ImageProperty.value == value))
    return stmt


def list_images(db: Database, params: Sequence[tuple[str, str]], caller: Caller, limit: int,
                marker: str | None) -> list[Image]:
    """At most ``limit + 1`` images (the extra one says a next page exists)."""
    stmt = statement(params, caller)
    q = ListQuery(sort=sort_order(params), limit=limit, marker=marker)
    with db.reader() as s:
        if marker is not None and s.get(Image, marker) is None:
            raise errors.BadRequest(f"No image found with ID {marker}")
        return list(s.scalars(apply(stmt, LISTING, q, s)))
