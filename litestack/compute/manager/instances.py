"""Instances in the database: creation under quota, queries with Nova's filters, state changes
(compare-and-set on task_state, as Nova's ``instance.save(expected_task_state=...)``), metadata,
tags, faults and the instance action log."""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, func, or_, select

from litestack.common import errors
from litestack.common.db import Database
from litestack.compute import states
from litestack.compute.manager.flavors import now
from litestack.compute.manager.quotas import OverQuota, Quotas
from litestack.compute.models import (
    Instance,
    InstanceAction,
    InstanceActionEvent,
    InstanceFault,
    InstanceMetadata,
    InstanceTag,
    ServerGroup,
    ServerGroupMember,
)


class InstanceNotFound(errors.NotFound):
    pass


class InstanceInvalidState(errors.Conflict):
    """The server's state does not allow the action (Nova's ``InstanceInvalidState``, 409)."""


class UnexpectedTaskState(errors.Conflict):
    """Another action changed the server first (Nova's ``UnexpectedTaskStateError``)."""


#: Sort keys whose columns are never NULL: a page of them is cut in SQL after the marker's row.
KEYSET_COLUMNS = frozenset({"created_at", "updated_at", "display_name", "uuid", "hostname", "vm_state", "project_id",
                            "user_id"})


class Instances:
    def __init__(self, db: Database, quotas: Quotas) -> None:
        self.db = db
        self.quotas = quotas

    # --- creation ----------------------------------------------------------------------

    def create(self, base: dict[str, Any], count: int, metadata: dict[str, str], tags: Sequence[str],
               group_id: str | None, name_format: str = "{name}-{n}") -> list[Instance]:
        """``count`` instances from one request (``min_count``/``max_count``), under quota."""
        made: list[Instance] = []
        reservation = f"r-{uuid.uuid4().hex[:8]}"
        flavor = base["flavor"]
        with self.db.writer() as s:
            self.quotas.check_instances(s, base["project_id"], count, int(flavor["vcpus"]), int(flavor["ram"]))
            if len(metadata) > self.quotas.limits(s, base["project_id"])["metadata_items"] >= 0:
                raise OverQuota("Quota exceeded for metadata_items: maximum number of metadata items exceeded")
            if group_id is not None:
                group = s.get(ServerGroup, group_id)
                if group is None:
                    raise errors.BadRequest(f"Invalid input for group hint: Group {group_id} could not be found.")
                limit = self.quotas.limits(s, base["project_id"])["server_group_members"]
                if 0 <= limit < len(group.members) + count:
                    raise OverQuota("Quota exceeded, too many servers in group")
            stamp = now()
            for n in range(count):
                name = base["name"] if count == 1 else name_format.format(name=base["name"], n=n + 1)
                inst = Instance(**{**base, "name": name}, id=str(uuid.uuid4()), reservation_id=reservation,
                                launch_index=n, vm_state=states.BUILDING, task_state=states.SCHEDULING,
                                power_state=0, ports=[], tried_hosts=[], created_at=stamp, updated_at=stamp,
                                deleted=False, locked=False, progress=0)
                inst.metadata_items = [InstanceMetadata(key=k, value=v) for k, v in metadata.items()]
                inst.tags = [InstanceTag(tag=t) for t in dict.fromkeys(tags)]
                s.add(inst)
                if group_id is not None:
                    s.add(ServerGroupMember(group_id=group_id, instance_id=inst.id))
                made.append(inst)
            s.flush()
            for inst in made:
                s.refresh(inst)
        return made

    # --- queries -----------------------------------------------------------------------

    def get(self, instance_id: str, project_id: str | None = None, deleted: bool = False) -> Instance:
        with self.db.reader() as s:
            inst = s.get(Instance, instance_id)
            if inst is None or (inst.deleted and not deleted) or (project_id is not None
                                                                    and inst.project_id != project_id):
                raise InstanceNotFound(f"Instance {instance_id} could not be found.")
            return inst

    def find(self, filters: dict[str, Any], limit: int | None = None, marker: str | None = None,
             sort_key: str = "created_at", sort_dir: str = "desc") -> list[Instance]:
        columns = {"created_at": Instance.created_at, "display_name": Instance.name, "uuid": Instance.id,
                   "updated_at": Instance.updated_at, "host": Instance.host, "vm_state": Instance.vm_state,
                   "task_state": Instance.task_state, "launched_at": Instance.launched_at,
                   "availability_zone": Instance.availability_zone, "hostname": Instance.name,
                   "key_name": Instance.key_name, "instance_type_id": Instance.flavor_id,
                   "image_ref": Instance.image_id, "power_state": Instance.power_state,
                   "project_id": Instance.project_id, "user_id": Instance.user_id}
        if sort_key not in columns:
            raise errors.BadRequest(f"Invalid input for query parameters sort_key. Value: {sort_key}.")
        if sort_dir not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid input for query parameters sort_dir. Value: {sort_dir}.")
        col = columns[sort_key]
        stmt: Select[Any] = select(Instance)
        if not filters.get("deleted"):
            stmt = stmt.where(Instance.deleted.is_(False))
        for key, column in (("project_id", Instance.project_id), ("user_id", Instance.user_id),
                            ("host", Instance.host), ("image", Instance.image_id), ("flavor", Instance.flavor_id),
                            ("reservation_id", Instance.reservation_id), ("key_name", Instance.key_name),
                            ("availability_zone", Instance.availability_zone)):
            if filters.get(key) is not None:
                stmt = stmt.where(column == filters[key])
        if filters.get("vm_states") is not None:
            stmt = stmt.where(Instance.vm_state.in_(filters["vm_states"]))
        if filters.get("changes-since") is not None:
            stmt = stmt.where(Instance.updated_at >= filters["changes-since"])
        if filters.get("ids") is not None:
            stmt = stmt.where(Instance.id.in_(filters["ids"]))
        for tag in filters.get("tags", ()):
            stmt = stmt.where(Instance.id.in_(select(InstanceTag.instance_id).where(InstanceTag.tag == tag)))
        if filters.get("tags-any"):
            stmt = stmt.where(Instance.id.in_(select(InstanceTag.instance_id).where(
                InstanceTag.tag.in_(filters["tags-any"]))))
        if filters.get("not-tags"):  # not every one of these tags
            having_all = select(InstanceTag.instance_id).where(InstanceTag.tag.in_(filters["not-tags"])).group_by(
                InstanceTag.instance_id).having(func.count() == len(set(filters["not-tags"])))
            stmt = stmt.where(Instance.id.not_in(having_all))
        if filters.get("not-tags-any"):
            stmt = stmt.where(Instance.id.not_in(select(InstanceTag.instance_id).where(
                InstanceTag.tag.in_(filters["not-tags-any"]))))
        desc = sort_dir == "desc"
        stmt = stmt.order_by(col.desc() if desc else col.asc(), Instance.id.desc() if desc else Instance.id.asc())
        name = filters.get("name")
        try:
            pattern = re.compile(name) if name is not None else None
        except re.error:
            raise errors.BadRequest(f"Invalid name filter regular expression: {name}") from None
        match = filters.get("match")  # the API's own filters in Python (ip, ip6, description)
        if pattern is None and match is None and sort_key in KEYSET_COLUMNS:
            # Keyset paging in SQL: the page after the marker's (sort value, id), at most ``limit`` rows.
            if marker is not None:
                with self.db.reader() as s:
                    found = s.execute(stmt.with_only_columns(col).where(Instance.id == marker)).first()
                if found is None:
                    raise errors.BadRequest(f"marker [{marker}] not found")
                value = found[0]
                stmt = stmt.where(or_(col < value, and_(col == value, Instance.id < marker)) if desc else
                                  or_(col > value, and_(col == value, Instance.id > marker)))
            if limit is not None:
                stmt = stmt.limit(limit)
            with self.db.reader() as s:
                return list(s.scalars(stmt))
        with self.db.reader() as s:
            rows = list(s.scalars(stmt))
        if pattern is not None:
            rows = [r for r in rows if pattern.search(r.name)]
        if match is not None:
            rows = [r for r in rows if match(r)]
        if marker is not None:
            ids = [r.id for r in rows]
            if marker not in ids:
                raise errors.BadRequest(f"marker [{marker}] not found")
            rows = rows[ids.index(marker) + 1:]
        return rows[:limit] if limit is not None else rows

    def on_host(self, host: str) -> list[Instance]:
        with self.db.reader() as s:
            return list(s.scalars(select(Instance).where(Instance.host == host, Instance.deleted.is_(False))))

    # --- changes -----------------------------------------------------------------------

    def save(self, instance_id: str, expected_task_state: Sequence[str | None] | None = None,
             expected_vm_state: Sequence[str] | None = None, **fields: Any) -> Instance:
        """Change fields of a live instance; with ``expected_*`` only when its states still are
        one of those (else ``UnexpectedTaskState``: another action got there first)."""
        with self.db.writer() as s:
            inst = s.get(Instance, instance_id)
            if inst is None or inst.deleted:
                raise InstanceNotFound(f"Instance {instance_id} could not be found.")
            if expected_task_state is not None and inst.task_state not in expected_task_state:
                raise UnexpectedTaskState(
                    f"Conflict updating instance {instance_id}. Expected: {{'task_state': "
                    f"{list(expected_task_state)}}}. Actual: {{'task_state': {inst.task_state!r}}}")
            if expected_vm_state is not None and inst.vm_state not in expected_vm_state:
                raise InstanceInvalidState(
                    f"Cannot perform this action while the instance is in vm_state {inst.vm_state}")
            for k, v in fields.items():
                setattr(inst, k, v)
            inst.updated_at = now()
            return inst

    def add_fault(self, instance_id: str, code: int, message: str, details: str = "") -> None:
        with self.db.writer() as s:
            s.add(InstanceFault(instance_id=instance_id, code=code, message=message[:255], details=details,
                                created_at=now()))

    def mark_deleted(self, instance_id: str) -> Instance | None:
        with self.db.writer() as s:
            inst = s.get(Instance, instance_id)
            if inst is None or inst.deleted:
                return None
            stamp = now()
            inst.deleted, inst.deleted_at, inst.terminated_at = True, stamp, stamp
            inst.vm_state, inst.task_state, inst.power_state, inst.updated_at = states.DELETED, None, 0, stamp
            for m in list(s.scalars(select(ServerGroupMember).where(ServerGroupMember.instance_id == instance_id))):
                s.delete(m)
            return inst

    def record_action(self, instance_id: str, action: str, request_id: str, user_id: str | None,
                      project_id: str | None) -> None:
        stamp = now()
        with self.db.writer() as s:
            s.add(InstanceAction(instance_id=instance_id, action=action, request_id=request_id, user_id=user_id,
                                 project_id=project_id, start_time=stamp, updated_at=stamp))

    def finish_action(self, instance_id: str, request_id: str, message: str | None) -> None:
        with self.db.writer() as s:
            row = s.scalar(select(InstanceAction).where(InstanceAction.instance_id == instance_id,
                                                        InstanceAction.request_id == request_id))
            if row is not None:
                row.message, row.updated_at = message, now()

    def actions(self, instance_id: str) -> list[InstanceAction]:
        with self.db.reader() as s:
            return list(s.scalars(select(InstanceAction).where(InstanceAction.instance_id == instance_id)
                                  .order_by(InstanceAction.start_time.desc(), InstanceAction.id.desc())))

    def action(self, instance_id: str, request_id: str) -> InstanceAction:
        with self.db.reader() as s:
            row = s.scalar(select(InstanceAction).where(InstanceAction.instance_id == instance_id,
                                                        InstanceAction.request_id == request_id))
            if row is None:
                raise errors.NotFound(f"Action for request_id {request_id} on instance {instance_id} not found")
            return row

    # --- action events ----------------------------------------------------------------------

    def start_event(self, instance_id: str, request_id: str | None, event: str, host: str) -> int | None:
        """An event of the action of ``request_id`` (None: the server's latest action) begins;
        its id, or None when the server has no such action."""
        with self.db.writer() as s:
            stmt = select(InstanceAction).where(InstanceAction.instance_id == instance_id)
            stmt = stmt.where(InstanceAction.request_id == request_id) if request_id else stmt.order_by(
                InstanceAction.start_time.desc(), InstanceAction.id.desc()).limit(1)
            action = s.scalar(stmt)
            if action is None:
                return None
            row = InstanceActionEvent(action_id=action.id, event=event, host=host, start_time=now())
            s.add(row)
            s.flush()
            return row.id

    def finish_event(self, event_id: int, result: str, traceback: str | None = None) -> None:
        with self.db.writer() as s:
            row = s.get(InstanceActionEvent, event_id)
            if row is not None:
                row.finish_time, row.result, row.traceback = now(), result, traceback

    def events(self, action_id: int) -> list[InstanceActionEvent]:
        with self.db.reader() as s:
            return list(s.scalars(select(InstanceActionEvent).where(InstanceActionEvent.action_id == action_id)
                                  .order_by(InstanceActionEvent.id)))

    # --- metadata and tags -------------------------------------------------------------

    def set_metadata(self, instance_id: str, items: dict[str, str], replace: bool) -> dict[str, str]:
        with self.db.writer() as s:
            inst = s.get(Instance, instance_id)
            if inst is None or inst.deleted:
                raise InstanceNotFound(f"Instance {instance_id} could not be found.")
            current = {} if replace else {m.key: m.value for m in inst.metadata_items}
            current.update(items)
            limit = self.quotas.limits(s, inst.project_id)["metadata_items"]
            if 0 <= limit < len(current):
                raise OverQuota("Quota exceeded for metadata_items: maximum number of metadata items exceeded")
            inst.metadata_items = [InstanceMetadata(key=k, value=v) for k, v in current.items()]
            inst.updated_at = now()
            return current

    def delete_metadata(self, instance_id: str, key: str) -> None:
        with self.db.writer() as s:
            inst = s.get(Instance, instance_id)
            if inst is None or inst.deleted:
                raise InstanceNotFound(f"Instance {instance_id} could not be found.")
            item = next((m for m in inst.metadata_items if m.key == key), None)
            if item is None:
                raise errors.NotFound(f"Metadata item was not found: {key}")
            inst.metadata_items.remove(item)

    def set_tags(self, instance_id: str, tags: Sequence[str], replace: bool) -> list[str]:
        with self.db.writer() as s:
            inst = s.get(Instance, instance_id)
            if inst is None or inst.deleted:
                raise InstanceNotFound(f"Instance {instance_id} could not be found.")
            current = [] if replace else [t.tag for t in inst.tags]
            merged = list(dict.fromkeys([*current, *tags]))
            if len(merged) > 50:
                raise errors.BadRequest("The number of tags exceeded the per-server limit 50")
            inst.tags = [InstanceTag(tag=t) for t in merged]
            return merged

    def delete_tag(self, instance_id: str, tag: str | None) -> None:
        with self.db.writer() as s:
            inst = s.get(Instance, instance_id)
            if inst is None or inst.deleted:
                raise InstanceNotFound(f"Instance {instance_id} could not be found.")
            if tag is None:
                inst.tags = []
                return
            item = next((t for t in inst.tags if t.tag == tag), None)
            if item is None:
                raise errors.NotFound(f"Tag {tag} could not be found for instance {instance_id}.")
            inst.tags.remove(item)


def parse_time(text: str) -> datetime.datetime:
    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise errors.BadRequest(f"Invalid changes-since value: {text}") from None
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


def host_filter(hosts: Sequence[str]) -> Any:
    return or_(*(Instance.host == h for h in hosts))
