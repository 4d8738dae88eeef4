"""Generic volume groups (Cinder 3.13), their group types (3.11) and group snapshots (3.14).

A group holds volumes of the types it lists, all on one backend: the group is placed when it is
created (a backend that satisfies every one of its volume types) and a volume created in it, or
added to it, lives there. The file and fake backends keep nothing for a group itself (Cinder's
generic group implementation neither); what a group does on the backends goes through the
existing volume and snapshot paths: a group snapshot is one snapshot of each volume, made by the
agent like any other, and a group created from a group snapshot or a source group is one volume
per member, made from the snapshot or cloned. The aggregate status follows its members':
``settle_*`` are called when an agent reports on a member, and by the reaper.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from litestack.common import errors
from litestack.common.api import pagination
from litestack.common.db import Database
from litestack.volume.manager import Caller, new_id, now, retry_deadlocks
from litestack.volume.manager.quotas import QuotaExceeded, Quotas
from litestack.volume.manager.volumes import _marker, _offset, allocated_gb, capabilities, satisfies
from litestack.volume.models import BackendService, Group, GroupSnapshot, GroupType, Snapshot, Volume, VolumeType

LOG = logging.getLogger(__name__)

GROUP_STATUSES = ("available", "error", "creating", "deleting", "updating", "in-use", "error_deleting")
GROUP_SNAPSHOT_STATUSES = ("available", "error", "creating", "deleting", "updating", "error_deleting")
VALID_ADD = ("available", "in-use")
VALID_REMOVE = ("available", "in-use", "error", "error_deleting")
#: Transitional statuses and where the reaper sends them when they last too long.
GROUP_TIMEOUTS = {"creating": "error", "deleting": "error_deleting", "updating": "available"}
GROUP_SNAPSHOT_TIMEOUTS = {"creating": "error", "deleting": "error_deleting"}

GROUPS = pagination.Listing(
    Group,
    filters={"status": Group.status, "name": Group.name, "availability_zone": Group.availability_zone,
             "group_type_id": Group.group_type_id},
    sort_keys={"created_at": Group.created_at, "id": Group.id, "name": Group.name, "status": Group.status,
               "updated_at": Group.updated_at},
    default_sort=[("created_at", True)])
GROUP_SNAPSHOTS = pagination.Listing(
    GroupSnapshot,
    filters={"status": GroupSnapshot.status, "name": GroupSnapshot.name, "group_id": GroupSnapshot.group_id},
    sort_keys={"created_at": GroupSnapshot.created_at, "id": GroupSnapshot.id, "name": GroupSnapshot.name,
               "status": GroupSnapshot.status},
    default_sort=[("created_at", True)])


class GroupTypeNotFound(errors.NotFound):
    """No group type of that id or name visible to the caller."""


class GroupNotFound(errors.NotFound):
    """No group of that id visible to the caller."""


class GroupSnapshotNotFound(errors.NotFound):
    """No group snapshot of that id visible to the caller."""


class InvalidGroup(errors.BadRequest):
    """The group (or a volume named with it) is not in a state the operation accepts (Cinder's
    InvalidGroup, InvalidVolume, InvalidGroupSnapshot, InvalidGroupType: 400)."""


class GroupLimitExceeded(QuotaExceeded):
    """One group more would take the project over its ``groups`` quota (413)."""


def replicated(gtype: GroupType) -> bool:
    """Cinder's replication group type: ``group_replication_enabled`` is ``<is> True``."""
    value = str((gtype.group_specs or {}).get("group_replication_enabled", "")).replace(" ", "").lower()
    return value == "<is>true"


class Groups:
    def __init__(self, db: Database, quotas: Quotas, default_type: str = "") -> None:
        self.db, self.quotas, self.default_type_name = db, quotas, default_type

    # --- group types --------------------------------------------------------------------------

    def get_type(self, ident: str, caller: Caller) -> GroupType:
        """By id, then by name; private types are the admin's only (Cinder has no group type access API)."""
        with self.db.reader() as s:
            gt = s.get(GroupType, ident) if len(ident) <= 36 else None
            if gt is None:
                gt = s.scalar(select(GroupType).where(GroupType.name == ident[:255]))
        if gt is None or not (gt.is_public or caller.is_admin):
            raise GroupTypeNotFound(f"Group type {ident[:64]} could not be found.")
        return gt

    def default_type(self) -> GroupType:
        """The type named by ``[volume] default_group_type`` (Cinder's ``default_group_type``)."""
        gt = None
        if self.default_type_name:
            with self.db.reader() as s:
                gt = s.scalar(select(GroupType).where(GroupType.name == self.default_type_name))
        if gt is None:
            raise GroupTypeNotFound("Default group type can not be found.")
        return gt

    def types(self, caller: Caller, is_public: bool | None) -> list[GroupType]:
        stmt = select(GroupType).order_by(GroupType.created_at, GroupType.id)
        if not caller.is_admin:
            stmt = stmt.where(GroupType.is_public.is_(True))
        elif is_public is not None:
            stmt = stmt.where(GroupType.is_public.is_(is_public))
        with self.db.reader() as s:
            return list(s.scalars(stmt))

    def create_type(self, name: str, description: str | None, is_public: bool, specs: dict[str, str]) -> GroupType:
        with self.db.writer() as s:
            if s.scalar(select(GroupType.id).where(GroupType.name == name)) is not None:
                raise errors.Conflict(f"Group Type {name} already exists.")
            gt = GroupType(id=new_id(), name=name, description=description, is_public=is_public,
                           group_specs=dict(specs), created_at=now())
            s.add(gt)
        return gt

    def update_type(self, type_id: str, changes: dict[str, Any]) -> GroupType:
        with self.db.writer() as s:
            gt = s.get(GroupType, type_id)
            if gt is None:
                raise GroupTypeNotFound(f"Group type {type_id} could not be found.")
            if "name" in changes and changes["name"] != gt.name and s.scalar(
                    select(GroupType.id).where(GroupType.name == changes["name"])) is not None:
                raise errors.Conflict(f"Group Type {changes['name']} already exists.")
            for key, value in changes.items():
                setattr(gt, key, value)
            gt.updated_at = now()
        return gt

    def delete_type(self, type_id: str) -> None:
        with self.db.writer() as s:
            gt = s.get(GroupType, type_id)
            if gt is None:
                raise GroupTypeNotFound(f"Group type {type_id} could not be found.")
            used = s.scalar(select(Group.id).where(Group.group_type_id == type_id).limit(1)) or s.scalar(
                select(GroupSnapshot.id).where(GroupSnapshot.group_type_id == type_id).limit(1))
            if used is not None:
                raise errors.BadRequest("Target group type is still in use.")
            s.delete(gt)

    def set_specs(self, type_id: str, specs: dict[str, str]) -> dict[str, str]:
        with self.db.writer() as s:
            gt = s.get(GroupType, type_id)
            if gt is None:
                raise GroupTypeNotFound(f"Group type {type_id} could not be found.")
            gt.group_specs = {**(gt.group_specs or {}), **specs}
            gt.updated_at = now()
            return dict(gt.group_specs)

    def unset_spec(self, type_id: str, key: str) -> None:
        with self.db.writer() as s:
            gt = s.get(GroupType, type_id)
            if gt is None:
                raise GroupTypeNotFound(f"Group type {type_id} could not be found.")
            specs = dict(gt.group_specs or {})
            if key not in specs:
                raise errors.NotFound(f"Group Type {type_id} has no specs with key {key[:255]}.")
            del specs[key]
            gt.group_specs = specs
            gt.updated_at = now()

    # --- groups: reads ------------------------------------------------------------------------

    def get(self, group_id: str, caller: Caller) -> Group:
        with self.db.reader() as s:
            g = s.get(Group, group_id) if len(group_id) <= 36 else None
        if g is None or not (caller.is_admin or g.project_id == caller.project_id):
            raise GroupNotFound(f"Group {group_id[:64]} could not be found.")
        return g

    def list_groups(self, caller: Caller, params: dict[str, str], all_tenants: bool) -> tuple[list[Group], bool]:
        q = pagination.parse(params, GROUPS, default_limit=1000, max_limit=1000)
        stmt = pagination.query(GROUPS)
        if not (caller.is_admin and all_tenants):
            stmt = stmt.where(Group.project_id == caller.project_id)
        elif "project_id" in params:
            stmt = stmt.where(Group.project_id == params["project_id"])
        with self.db.reader() as s:
            _marker(s, Group, q.marker)
            pg = pagination.fetch(s, stmt.offset(_offset(params)), GROUPS, q)
        return pg.items, pg.more

    def volume_ids(self, group_ids: Iterable[str]) -> dict[str, list[str]]:
        ids = list(group_ids)
        out: dict[str, list[str]] = {i: [] for i in ids}
        if ids:
            with self.db.reader() as s:
                for vid, gid in s.execute(select(Volume.id, Volume.group_id).where(Volume.group_id.in_(ids))
                                          .order_by(Volume.created_at)):
                    out[str(gid)].append(vid)
        return out

    def members(self, group_id: str) -> list[Volume]:
        with self.db.reader() as s:
            return list(s.scalars(select(Volume).where(Volume.group_id == group_id).order_by(Volume.created_at)))

    # --- groups: create -----------------------------------------------------------------------

    def _check_quota(self, s: Session, project_id: str) -> None:
        if not self.db.is_sqlite:
            s.execute(select(Group.id).where(Group.project_id == project_id).with_for_update())
        limit = self.quotas.limits(s, project_id, []).get("groups", -1)
        used = int(s.scalar(select(func.count()).select_from(Group).where(Group.project_id == project_id)) or 0)
        if limit >= 0 and used + 1 > limit:
            raise GroupLimitExceeded(f"GroupLimitExceeded: Maximum number of groups allowed ({limit}) exceeded")

    def create(self, caller: Caller, name: str | None, description: str | None, gtype: GroupType,
               vtypes: list[VolumeType], zone: str, down_time: int) -> Group:
        """Place the group on a backend that satisfies every volume type (``available``), or
        record it in ``error`` when none does, after the ``groups`` quota check."""
        return retry_deadlocks(lambda: self._create(caller, name, description, gtype, vtypes, zone, down_time))

    def _create(self, caller: Caller, name: str | None, description: str | None, gtype: GroupType,
                vtypes: list[VolumeType], zone: str, down_time: int) -> Group:
        assert caller.project_id is not None
        with self.db.writer() as s:
            self._check_quota(s, caller.project_id)
            host = choose_group_backend(s, vtypes, zone, down_time)
            t = now()
            g = Group(id=new_id(), project_id=caller.project_id, user_id=caller.user_id, name=name,
                      description=description, status="available" if host else "error", availability_zone=zone,
                      group_type_id=gtype.id, volume_type_ids=[v.id for v in vtypes], host=host,
                      replication_status="disabled", created_at=t, updated_at=t)
            s.add(g)
        return g

    def create_from(self, caller: Caller, name: str | None, description: str | None,
                    source: Group, group_snapshot: GroupSnapshot | None) -> Group:
        """The new group (``creating``) on the source's backend, with the source's types; its
        volumes are then made one by one (``finish_from``)."""
        def run() -> Group:
            assert caller.project_id is not None
            with self.db.writer() as s:
                self._check_quota(s, caller.project_id)
                t = now()
                g = Group(id=new_id(), project_id=caller.project_id, user_id=caller.user_id, name=name,
                          description=description, status="creating", availability_zone=source.availability_zone,
                          group_type_id=group_snapshot.group_type_id if group_snapshot else source.group_type_id,
                          volume_type_ids=list(source.volume_type_ids or []), host=source.host,
                          group_snapshot_id=group_snapshot.id if group_snapshot else None,
                          source_group_id=None if group_snapshot else source.id, replication_status="disabled",
                          created_at=t, updated_at=t, task_started_at=t)
                s.add(g)
            return g
        return retry_deadlocks(run)

    # --- groups: changes ----------------------------------------------------------------------

    def update(self, group_id: str, caller: Caller, name: str | None, description: str | None,
               add: list[str], remove: list[str]) -> Group:
        """Cinder's update: name and description, volumes added (same project, a type of the group,
        available or in-use, on the group's backend, in no other group) and removed."""
        both = sorted(set(add) & set(remove))
        if both:
            raise InvalidGroup(f"Invalid volume: UUIDs {both} are in both add and remove volume list.")
        with self.db.writer() as s:
            g = s.get(Group, group_id)
            if g is None or not (caller.is_admin or g.project_id == caller.project_id):
                raise GroupNotFound(f"Group {group_id} could not be found.")
            current = {v.id: v for v in s.scalars(select(Volume).where(Volume.group_id == g.id))}
            adding = [self._addable(s, g, vid) for vid in dict.fromkeys(add) if vid not in current]
            removing = []
            for vid in dict.fromkeys(remove):
                vol = current.get(vid)
                if vol is None:
                    raise InvalidGroup(f"Invalid volume: Cannot remove volume {vid[:64]} from group {g.id} because "
                                       "it is not in the group.")
                if vol.status not in VALID_REMOVE:
                    raise InvalidGroup(f"Invalid volume: Cannot remove volume {vid} from group {g.id} because "
                                       f"volume is in an invalid state: {vol.status}. Valid states are: "
                                       f"{VALID_REMOVE}.")
                removing.append(vol)
            name = None if name == g.name else name
            description = None if description == g.description else description
            if name is None and description is None and not adding and not removing:
                raise InvalidGroup(f"Invalid group: Cannot update group {g.id} because no valid name, description, "
                                   "add_volumes, or remove_volumes were provided.")
            if (adding or removing) and g.status != "available":
                raise InvalidGroup("Invalid group: Group status must be available.")
            if name is not None:
                g.name = name
            if description is not None:
                g.description = description
            for vol in adding:
                vol.group_id, vol.updated_at = g.id, now()
            for vol in removing:
                vol.group_id, vol.updated_at = None, now()
            g.updated_at = now()
        return g

    @staticmethod
    def _addable(s: Session, g: Group, vid: str) -> Volume:
        vol = s.get(Volume, vid) if len(vid) <= 36 else None
        pre = f"Invalid volume: Cannot add volume {vid[:64]} to group {g.id}"
        if vol is None or vol.project_id != g.project_id:
            raise InvalidGroup(f"{pre} because volume cannot be found.")
        if vol.group_id:
            raise InvalidGroup(f"{pre} because it is already in group {vol.group_id}.")
        if vol.volume_type_id not in (g.volume_type_ids or []):
            raise InvalidGroup(f"{pre} because volume type {vol.volume_type_id} is not supported by the group.")
        if vol.status not in VALID_ADD:
            raise InvalidGroup(f"{pre} because volume is in an invalid state: {vol.status}. Valid states are: "
                               f"{VALID_ADD}.")
        if (vol.host or "").partition("#")[0] != (g.host or "").partition("#")[0]:
            raise InvalidGroup("Invalid volume: Volume is not local to this node.")
        return vol

    def start_delete(self, group_id: str, caller: Caller, delete_volumes: bool) -> tuple[Group | None, list[Volume]]:
        """Cinder's delete: refused while the group has group snapshots or (without
        ``delete-volumes``) volumes; with it, no volume may be attached or have snapshots. A group
        without volumes goes at once (None); otherwise it and its volumes go ``deleting`` and the
        volumes are returned for the agents, the group row going with its last volume."""
        with self.db.writer() as s:
            g = s.get(Group, group_id)
            if g is None or not (caller.is_admin or g.project_id == caller.project_id):
                raise GroupNotFound(f"Group {group_id} could not be found.")
            if not delete_volumes and g.status not in ("available", "error"):
                raise InvalidGroup(f"Invalid group: Group status must be available or error, but current status "
                                   f"is: {g.status}")
            if s.scalar(select(GroupSnapshot.id).where(GroupSnapshot.group_id == g.id).limit(1)) is not None:
                raise InvalidGroup("Invalid group: Group has existing snapshots.")
            if s.scalar(select(Group.id).where(Group.source_group_id == g.id, Group.status == "creating")
                        .limit(1)) is not None:
                raise InvalidGroup(f"Invalid group: Cannot delete group {g.id}: it is the source of a group being "
                                   "created.")
            vols = list(s.scalars(select(Volume).where(Volume.group_id == g.id)))
            if vols and not delete_volumes:
                raise InvalidGroup(f"Invalid group: Group {g.id} still contains volumes. The delete-volumes flag is "
                                   "required to delete it.")
            for vol in vols:
                if vol.attach_status == "attached" or vol.status in ("in-use", "attaching", "detaching", "reserved"):
                    raise InvalidGroup(f"Invalid group: Volume in group {g.id} is attached. Need to detach first.")
                if s.scalar(select(Snapshot.id).where(Snapshot.volume_id == vol.id).limit(1)) is not None:
                    raise InvalidGroup("Invalid group: Volume in group still has dependent snapshots.")
                if vol.status in ("creating", "deleting", "extending", "downloading", "uploading", "backing-up",
                                  "restoring-backup", "reverting", "retyping"):
                    raise InvalidGroup(f"Invalid group: Volume {vol.id} in group {g.id} is {vol.status}.")
            if not vols:
                s.delete(g)
                return None, []
            t = now()
            g.status, g.task_started_at, g.updated_at = "deleting", t, t
            for vol in vols:
                vol.status, vol.task_started_at, vol.updated_at = "deleting", t, t
        return g, vols

    def reset_status(self, group_id: str, status: str) -> None:
        with self.db.writer() as s:
            g = s.get(Group, group_id)
            if g is None:
                raise GroupNotFound(f"Group {group_id} could not be found.")
            g.status, g.task_started_at, g.updated_at = status, None, now()

    def check_replication(self, group: Group, gtype: GroupType, vtypes: list[VolumeType]) -> None:
        """Cinder's checks before a replication action (400 for a type that does not replicate);
        past them: no backend here replicates, which is the honest 400 that follows."""
        if not replicated(gtype):
            raise InvalidGroup(f"Invalid group type: Group {group.id} is not a replication group type.")
        for vt in vtypes:
            value = str((vt.extra_specs or {}).get("replication_enabled", "")).replace(" ", "").lower()
            if value != "<is>true":
                raise InvalidGroup(f"Invalid volume type: Volume type {vt.id} does not have 'replication_enabled' "
                                   "spec key set to '<is> True'.")

    # --- group snapshots ----------------------------------------------------------------------

    def snapshot(self, ident: str, caller: Caller) -> GroupSnapshot:
        with self.db.reader() as s:
            gs = s.get(GroupSnapshot, ident) if len(ident) <= 36 else None
        if gs is None or not (caller.is_admin or gs.project_id == caller.project_id):
            raise GroupSnapshotNotFound(f"GroupSnapshot {ident[:64]} could not be found.")
        return gs

    def list_snapshots(self, caller: Caller, params: dict[str, str], all_tenants: bool
                       ) -> tuple[list[GroupSnapshot], bool]:
        q = pagination.parse(params, GROUP_SNAPSHOTS, default_limit=1000, max_limit=1000)
        stmt = pagination.query(GROUP_SNAPSHOTS)
        if not (caller.is_admin and all_tenants):
            stmt = stmt.where(GroupSnapshot.project_id == caller.project_id)
        elif "project_id" in params:
            stmt = stmt.where(GroupSnapshot.project_id == params["project_id"])
        with self.db.reader() as s:
            _marker(s, GroupSnapshot, q.marker)
            pg = pagination.fetch(s, stmt.offset(_offset(params)), GROUP_SNAPSHOTS, q)
        return pg.items, pg.more

    def snapshot_members(self, group_snapshot_id: str) -> list[Snapshot]:
        with self.db.reader() as s:
            return list(s.scalars(select(Snapshot).where(Snapshot.group_snapshot_id == group_snapshot_id)
                                  .order_by(Snapshot.created_at)))

    def create_snapshot(self, caller: Caller, group_id: str, name: str | None, description: str | None,
                        type_names: dict[str, str]) -> tuple[GroupSnapshot, list[tuple[Snapshot, Volume]]]:
        """The group snapshot and one snapshot row per volume (``creating``), in one transaction
        with the snapshot quota checked for each; the caller casts them to the agents."""
        return retry_deadlocks(lambda: self._create_snapshot(caller, group_id, name, description, type_names))

    def _create_snapshot(self, caller: Caller, group_id: str, name: str | None, description: str | None,
                         type_names: dict[str, str]) -> tuple[GroupSnapshot, list[tuple[Snapshot, Volume]]]:
        with self.db.writer() as s:
            g = s.get(Group, group_id) if len(group_id) <= 36 else None
            if g is None or not (caller.is_admin or g.project_id == caller.project_id):
                raise GroupNotFound(f"Group {group_id[:64]} could not be found.")
            if g.status != "available":
                raise InvalidGroup(f"Invalid group: Group {g.id} status must be available, but current status is: "
                                   f"{g.status}.")
            vols = list(s.scalars(select(Volume).where(Volume.group_id == g.id).order_by(Volume.created_at)))
            for vol in vols:
                if vol.status not in ("available", "in-use"):
                    raise InvalidGroup(f"Invalid volume: Volume {vol.id} status must be available or in-use, but "
                                       f"current status is: {vol.status}.")
            t = now()
            gs = GroupSnapshot(id=new_id(), group_id=g.id, project_id=g.project_id, user_id=caller.user_id,
                               name=name, description=description, status="creating" if vols else "available",
                               group_type_id=g.group_type_id, created_at=t, updated_at=t,
                               task_started_at=t if vols else None)
            s.add(gs)
            made: list[tuple[Snapshot, Volume]] = []
            for vol in vols:
                self.quotas.check(s, g.project_id, type_names, type_names.get(vol.volume_type_id, ""), "snapshots",
                                  vol.size)
                snap = Snapshot(id=new_id(), volume_id=vol.id, project_id=g.project_id, user_id=caller.user_id,
                                size=vol.size, status="creating", progress="0%", host=vol.host, created_at=t,
                                updated_at=t, task_started_at=t, name=name, description=description,
                                group_snapshot_id=gs.id)
                snap.metadata_ = {}
                s.add(snap)
                s.flush()  # the next volume's quota check counts this snapshot
                made.append((snap, vol))
        return gs, made

    def start_delete_snapshot(self, gs_id: str, caller: Caller) -> tuple[GroupSnapshot | None, list[Snapshot]]:
        """Available or error, and no group being created from it; its snapshots go ``deleting``
        (returned for the agents). Without members the row goes at once (None)."""
        with self.db.writer() as s:
            gs = s.get(GroupSnapshot, gs_id)
            if gs is None or not (caller.is_admin or gs.project_id == caller.project_id):
                raise GroupSnapshotNotFound(f"GroupSnapshot {gs_id} could not be found.")
            busy = s.scalar(select(Group.id).where(Group.group_snapshot_id == gs.id, Group.status == "creating")
                            .limit(1))
            if gs.status not in ("available", "error") or busy is not None:
                raise InvalidGroup("Invalid group snapshot: GroupSnapshot status must be available or error, and no "
                                   "Group can be currently using it as source for its creation.")
            snaps = list(s.scalars(select(Snapshot).where(Snapshot.group_snapshot_id == gs.id)))
            if not snaps:
                s.delete(gs)
                return None, []
            t = now()
            gs.status, gs.task_started_at, gs.updated_at = "deleting", t, t
            for snap in snaps:
                snap.status, snap.task_started_at, snap.updated_at = "deleting", t, t
        return gs, snaps

    def reset_snapshot_status(self, gs_id: str, status: str) -> None:
        with self.db.writer() as s:
            gs = s.get(GroupSnapshot, gs_id)
            if gs is None:
                raise GroupSnapshotNotFound(f"GroupSnapshot {gs_id} could not be found.")
            gs.status, gs.task_started_at, gs.updated_at = status, None, now()

    # --- aggregate status from the members --------------------------------------------------

    def settle_group(self, group_id: str | None) -> str | None:
        """A group being created from a source is available once every volume is (error when one
        failed); a group being deleted goes with its last volume (error_deleting when one failed).
        Returns what it became ("available", "error", "deleted", "error_deleting"), or None."""
        if not group_id:
            return None
        with self.db.writer() as s:
            g = s.get(Group, group_id)
            if g is None or g.status not in ("creating", "deleting") or g.task_started_at is None:
                return None  # nothing of ours under way (an admin's reset_status is left alone)
            statuses = [v for v, in s.execute(select(Volume.status).where(Volume.group_id == g.id))]
            new: str | None = None
            if g.status == "deleting":
                if not statuses:
                    s.delete(g)
                    return "deleted"
                if any(x.startswith("error") for x in statuses) and "deleting" not in statuses:
                    new = "error_deleting"
            elif any(x.startswith("error") for x in statuses):
                new = "error"
            elif statuses and all(x in ("available", "in-use") for x in statuses) and \
                    len(statuses) >= self._expected(s, g):
                new = "available"
            if new is not None:
                g.status, g.task_started_at, g.updated_at = new, None, now()
            return new

    @staticmethod
    def _expected(s: Session, g: Group) -> int:
        """How many volumes a group made from a source will have."""
        if g.group_snapshot_id:
            return int(s.scalar(select(func.count()).select_from(Snapshot)
                                .where(Snapshot.group_snapshot_id == g.group_snapshot_id)) or 0)
        if g.source_group_id:
            return int(s.scalar(select(func.count()).select_from(Volume)
                                .where(Volume.group_id == g.source_group_id)) or 0)
        return 0

    def settle_snapshot(self, gs_id: str | None) -> str | None:
        """A group snapshot is available once each member snapshot is (error when one failed), and
        goes with its last member when it is being deleted (error_deleting when one failed).
        Returns what it became, or None."""
        if not gs_id:
            return None
        with self.db.writer() as s:
            gs = s.get(GroupSnapshot, gs_id)
            if gs is None or gs.status not in ("creating", "deleting") or gs.task_started_at is None:
                return None  # nothing of ours under way (an admin's reset_status is left alone)
            statuses = [x for x, in s.execute(select(Snapshot.status).where(Snapshot.group_snapshot_id == gs.id))]
            new: str | None = None
            if gs.status == "deleting":
                if not statuses:
                    s.delete(gs)
                    return "deleted"
                if "error_deleting" in statuses and "deleting" not in statuses:
                    new = "error_deleting"
            elif any(x.startswith("error") for x in statuses):
                new = "error"
            elif all(x == "available" for x in statuses):
                new = "available"
            if new is not None:
                gs.status, gs.task_started_at, gs.updated_at = new, None, now()
            return new

    def fail_creating(self, group_id: str, reason: str) -> None:
        """A group from a source whose volumes could not all be made (quota, no backend)."""
        with self.db.writer() as s:
            g = s.get(Group, group_id)
            if g is not None and g.status == "creating":
                g.status, g.task_started_at, g.updated_at = "error", None, now()
                LOG.warning("group %s: creation from its source failed: %s", group_id, reason)

    def reap(self, timeout: int) -> list[str]:
        """Settle what stayed transitional (a member's report lost), then send what is still
        transitional past ``timeout`` seconds to its error status. A status an admin set with
        reset_status (no ``task_started_at``) is left as it is."""
        limit = now() - timedelta(seconds=timeout)
        with self.db.reader() as s:
            groups = list(s.scalars(select(Group.id).where(Group.status.in_(["creating", "deleting"]),
                                                           Group.task_started_at.is_not(None))))
            snaps = list(s.scalars(select(GroupSnapshot.id).where(GroupSnapshot.status.in_(["creating", "deleting"]),
                                                                  GroupSnapshot.task_started_at.is_not(None))))
        for gid in groups:
            self.settle_group(gid)
        for sid in snaps:
            self.settle_snapshot(sid)
        reaped: list[str] = []
        with self.db.writer() as s:
            for g in s.scalars(select(Group).where(Group.status.in_(list(GROUP_TIMEOUTS)),
                                                   Group.task_started_at < limit)):
                g.status, g.task_started_at = GROUP_TIMEOUTS[g.status], None
                reaped.append(g.id)
            for gs in s.scalars(select(GroupSnapshot).where(GroupSnapshot.status.in_(list(GROUP_SNAPSHOT_TIMEOUTS)),
                                                            GroupSnapshot.task_started_at < limit)):
                gs.status, gs.task_started_at = GROUP_SNAPSHOT_TIMEOUTS[gs.status], None
                reaped.append(gs.id)
        return reaped


def choose_group_backend(session: Session, vtypes: list[VolumeType], zone: str | None, down_time: int
                         ) -> str | None:
    """The backend of a new group (``host@backend#pool``): fresh, enabled, in the zone, and
    satisfying every one of the group's volume types; the one with the most free capacity wins."""
    fresh = now() - timedelta(seconds=down_time)
    best: tuple[int, BackendService] | None = None
    for row in session.scalars(select(BackendService).where(BackendService.updated_at >= fresh,
                                                            BackendService.disabled.is_(False))):
        if zone and row.availability_zone != zone:
            continue
        caps = capabilities(row)
        if not all(satisfies(caps, vt.extra_specs or {}) for vt in vtypes):
            continue
        free = row.total_capacity_gb - allocated_gb(session, row.host)
        if best is None or free > best[0]:
            best = (free, row)
    return None if best is None else f"{best[1].host}#{best[1].backend_name}"
