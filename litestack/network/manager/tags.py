"""Tags of networks, subnets, ports and security groups (``/v2.0/{resources}/{id}/tags``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from litestack.network import exceptions as exc
from litestack.network.manager.base import Caller, Part, set_tags, touch
from litestack.network.models import Tag

RowGetter = Callable[[Session, Caller, str], Any]
MAX_TAG = 255


def check_tag(tag: Any) -> str:
    if not isinstance(tag, str) or not tag or len(tag) > MAX_TAG or "," in tag:
        raise exc.HTTPBadRequest.attr("tags", f"'{str(tag)[:64]}' is not a valid tag")
    return tag


class Tags(Part):
    def __init__(self, *args: Any, rows: dict[str, RowGetter]) -> None:
        super().__init__(*args)
        self.rows = rows

    def _row(self, s: Session, caller: Caller, resource: str, rid: str) -> Any:
        return self.rows[resource](s, caller, rid)

    def find(self, caller: Caller, resource: str, rid: str) -> list[str]:
        with self.db.reader() as s:
            row = self._row(s, caller, resource, rid)
            return sorted(s.scalars(select(Tag.tag).where(Tag.resource_id == row.id)))

    def check(self, caller: Caller, resource: str, rid: str, tag: str) -> None:
        with self.db.reader() as s:
            row = self._row(s, caller, resource, rid)
            if s.get(Tag, (row.id, tag)) is None:
                raise exc.TagNotFound(resource.rstrip("s"), rid, tag)

    def replace(self, caller: Caller, resource: str, rid: str, tags: list[str]) -> list[str]:
        tags = [check_tag(t) for t in tags]
        with self.db.writer() as s:
            row = self._row(s, caller, resource, rid)
            set_tags(s, resource, row.id, tags)
            touch(row)
        self.notify("tag.update.end", {"resource": resource, "id": rid, "tags": sorted(set(tags))})
        return sorted(set(tags))

    def add(self, caller: Caller, resource: str, rid: str, tag: str) -> None:
        check_tag(tag)
        with self.db.writer() as s:
            row = self._row(s, caller, resource, rid)
            if s.get(Tag, (row.id, tag)) is None:
                s.add(Tag(resource_id=row.id, tag=tag, resource_type=resource))
                touch(row)
        self.notify("tag.create.end", {"resource": resource, "id": rid, "tag": tag})

    def remove(self, caller: Caller, resource: str, rid: str, tag: str | None) -> None:
        with self.db.writer() as s:
            row = self._row(s, caller, resource, rid)
            stmt = delete(Tag).where(Tag.resource_id == row.id)
            if tag is not None:
                if s.get(Tag, (row.id, tag)) is None:
                    raise exc.TagNotFound(resource.rstrip("s"), rid, tag)
                stmt = stmt.where(Tag.tag == tag)
            s.execute(stmt)
            touch(row)
        self.notify("tag.delete.end", {"resource": resource, "id": rid, "tag": tag})
