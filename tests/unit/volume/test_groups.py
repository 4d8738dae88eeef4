"""Groups, group types and group snapshots on a real (SQLite) database: placement on a backend
that satisfies every volume type, the groups quota, Cinder's update and delete rules, and the
aggregate status that follows the members (and the reaper)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from litestack.common import errors
from litestack.common.db import Database, upgrade
from litestack.volume.manager import Caller, now
from litestack.volume.manager.groups import GroupLimitExceeded, GroupNotFound, Groups, InvalidGroup, replicated
from litestack.volume.manager.quotas import Quotas
from litestack.volume.manager.types import Types
from litestack.volume.manager.volumes import Volumes
from litestack.volume.models import Base, Group, GroupSnapshot

pytestmark = pytest.mark.unit

ME = Caller("p1", "u1")
STRANGER = Caller("p2", "u2")


class Parts:
    def __init__(self, tmp_path: Path) -> None:
        self.db = Database(f"sqlite:///{tmp_path / 'volume.db'}")
        upgrade(self.db, "litestack.volume.migrations", Base, "volume")
        self.quotas = Quotas(self.db, {"volumes": 10, "snapshots": 3, "gigabytes": 100, "groups": 2})
        self.types = Types(self.db)
        self.types.ensure_default()
        self.volumes = Volumes(self.db, self.quotas)
        self.groups = Groups(self.db, self.quotas, "gt-default")
        self.volumes.report("h1@a", "a", "nova", 50)
        self.volumes.report("h2@b", "b", "nova", 10)

    def volume(self, group: Group | None = None, type_name: str = "__DEFAULT__") -> str:
        vtype = self.types.get(type_name, ME)
        fields = {"size": 1, "availability_zone": "nova", "name": None, "description": None,
                  "group_id": group.id if group else None}
        vol = self.volumes.create(ME, fields, vtype, self.types.names(), 60, group.host if group else None)
        self.volumes.finish(vol.id, "available", {})
        return vol.id


@pytest.fixture
def parts(tmp_path: Path) -> Parts:
    return Parts(tmp_path)


def test_group_types_default_and_specs(parts: Parts) -> None:
    g = parts.groups
    with pytest.raises(errors.NotFound, match="Default group type can not be found"):
        g.default_type()
    gt = g.create_type("gt-default", "d", True, {"k": "v"})
    assert g.default_type().id == gt.id and g.get_type("gt-default", ME).id == gt.id
    with pytest.raises(errors.Conflict):
        g.create_type("gt-default", None, True, {})
    hidden = g.create_type("private", None, False, {})
    assert [t.name for t in g.types(ME, None)] == ["gt-default"]
    assert {t.name for t in g.types(Caller(None, is_admin=True), False)} == {"private"}
    with pytest.raises(errors.NotFound):
        g.get_type(hidden.id, ME)
    assert g.set_specs(gt.id, {"group_replication_enabled": "<is> True"}) == {
        "k": "v", "group_replication_enabled": "<is> True"}
    assert replicated(g.get_type(gt.id, ME))
    g.unset_spec(gt.id, "k")
    with pytest.raises(errors.NotFound, match="has no specs with key k"):
        g.unset_spec(gt.id, "k")


def test_placement_on_a_backend_of_every_type_and_the_quota(parts: Parts) -> None:
    g = parts.groups
    gt = g.create_type("gt", None, True, {})
    default = parts.types.default()
    on_b = parts.types.create("on-b", None, True, {"volume_backend_name": "b"})
    first = g.create(ME, "g1", None, gt, [default], "nova", 60)
    assert first.status == "available" and first.host == "h1@a#a"  # the most free capacity
    second = g.create(ME, "g2", None, gt, [default, on_b], "nova", 60)
    assert second.host == "h2@b#b"  # the only one that satisfies both types
    with pytest.raises(GroupLimitExceeded, match=r"Maximum number of groups allowed \(2\) exceeded") as exc:
        g.create(ME, "g3", None, gt, [default], "nova", 60)
    assert exc.value.status == 413
    # another project has its own count; a type no fresh backend satisfies leaves the group in error
    nowhere = parts.types.create("nowhere", None, True, {"volume_backend_name": "zz"})
    lost = g.create(STRANGER, "g4", None, gt, [nowhere], "nova", 60)
    assert lost.status == "error" and lost.host is None
    assert parts.quotas.show("p1", parts.types.names(), True)["groups"]["in_use"] == 2
    with pytest.raises(GroupNotFound):
        g.get(first.id, STRANGER)
    with pytest.raises(errors.BadRequest, match="still in use"):
        g.delete_type(gt.id)


def test_update_adds_and_removes_volumes_by_cinders_rules(parts: Parts) -> None:
    g = parts.groups
    gt = g.create_type("gt", None, True, {})
    grp = g.create(ME, "g", None, gt, [parts.types.default()], "nova", 60)
    inside = parts.volume(grp)
    loose = parts.volume()
    with pytest.raises(InvalidGroup, match="both add and remove"):
        g.update(grp.id, ME, None, None, [loose], [loose])
    with pytest.raises(InvalidGroup, match="no valid name"):
        g.update(grp.id, ME, "g", None, [inside], [])  # same name, already a member: nothing to do
    with pytest.raises(InvalidGroup, match="not in the group"):
        g.update(grp.id, ME, None, None, [], [loose])
    g.update(grp.id, ME, "renamed", None, [loose], [inside])
    assert g.volume_ids([grp.id]) == {grp.id: [loose]}
    assert g.get(grp.id, ME).name == "renamed"
    # a volume of another type, of another backend, or in another group cannot come in
    other_type = parts.types.create("t2", None, True, {"volume_backend_name": "a"})
    with pytest.raises(InvalidGroup, match="not supported by the group"):
        g.update(grp.id, ME, None, None, [parts.volume(type_name="t2")], [])
    other = g.create(ME, "g2", None, gt, [parts.types.default(), other_type], "nova", 60)
    with pytest.raises(InvalidGroup, match="already in group"):
        g.update(other.id, ME, None, None, [loose], [])


def test_delete_needs_delete_volumes_and_the_group_goes_with_its_last_volume(parts: Parts) -> None:
    g = parts.groups
    gt = g.create_type("gt", None, True, {})
    grp = g.create(ME, "g", None, gt, [parts.types.default()], "nova", 60)
    vids = [parts.volume(grp), parts.volume(grp)]
    with pytest.raises(InvalidGroup, match="delete-volumes flag is required"):
        g.start_delete(grp.id, ME, False)
    left, vols = g.start_delete(grp.id, ME, True)
    assert left is not None and left.status == "deleting" and {v.status for v in vols} == {"deleting"}
    parts.volumes.finish(vids[0], "deleted", {})
    g.settle_group(grp.id)
    assert g.get(grp.id, ME).status == "deleting"
    parts.volumes.finish(vids[1], "deleted", {})
    assert g.settle_group(grp.id) == "deleted"
    with pytest.raises(GroupNotFound):
        g.get(grp.id, ME)
    empty = g.create(ME, "e", None, gt, [parts.types.default()], "nova", 60)
    assert g.start_delete(empty.id, ME, False) == (None, [])


def test_group_snapshot_follows_its_members_and_the_reaper(parts: Parts) -> None:
    g = parts.groups
    gt = g.create_type("gt", None, True, {})
    grp = g.create(ME, "g", None, gt, [parts.types.default()], "nova", 60)
    for _ in range(2):
        parts.volume(grp)
    names = parts.types.names()
    gs, made = g.create_snapshot(ME, grp.id, "gs", None, names)
    assert gs.status == "creating" and len(made) == 2
    assert {s.group_snapshot_id for s, _ in made} == {gs.id}
    parts.volumes.snapshot_finish(made[0][0].id, "available", {})
    g.settle_snapshot(gs.id)
    assert g.snapshot(gs.id, ME).status == "creating"
    parts.volumes.snapshot_finish(made[1][0].id, "available", {})
    assert g.settle_snapshot(gs.id) == "available"  # what the manager endpoint announces
    assert g.snapshot(gs.id, ME).status == "available"
    # the snapshot quota (3) counts every member: a second group snapshot of two would pass it
    with pytest.raises(errors.PayloadTooLarge):
        g.create_snapshot(ME, grp.id, "gs2", None, names)
    assert len(g.snapshot_members(gs.id)) == 2
    with pytest.raises(InvalidGroup, match="existing snapshots"):
        g.start_delete(grp.id, ME, True)

    # deleting: the group snapshot goes with its last member
    left, snaps = g.start_delete_snapshot(gs.id, ME)
    assert left is not None and len(snaps) == 2
    for snap in snaps:
        parts.volumes.snapshot_finish(snap.id, "deleted", {})
    g.settle_snapshot(gs.id)
    with pytest.raises(errors.NotFound):
        g.snapshot(gs.id, ME)

    # a member report that never comes: the reaper ends the wait in error
    stuck, _ = g.create_snapshot(ME, grp.id, "stuck", None, names)
    with parts.db.writer() as s:
        row = s.get(GroupSnapshot, stuck.id)
        assert row is not None
        row.task_started_at = now() - timedelta(seconds=3600)
    assert stuck.id in g.reap(600)
    assert g.snapshot(stuck.id, ME).status == "error"
