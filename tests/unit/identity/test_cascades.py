"""Deleting a domain, project, user or group removes what the other parts of the identity
manager keep about it, through "…deleted" events in the same transaction (common/events.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from litestack.common import config
from litestack.common.db import Database, upgrade
from litestack.identity import models as m
from litestack.identity.manager import Manager
from litestack.identity.models import Base

pytestmark = pytest.mark.unit


@pytest.fixture
def mgr(tmp_path: Path) -> Iterator[Manager]:
    conf = config.load(None, environ={"LITESTACK_IDENTITY_PASSWORD_HASH_ROUNDS": "4"})
    db = Database(f"sqlite:///{tmp_path / 'identity.db'}")
    upgrade(db, "litestack.identity.migrations", Base)
    manager = Manager(db, conf, tmp_path)
    manager.resources.create_domain({"id": "default", "name": "Default"})
    yield manager
    manager.close()


def count(mgr: Manager, model: type, **where: str) -> int:
    with mgr.db.reader() as s:
        q = select(func.count()).select_from(model)
        for col, value in where.items():
            q = q.where(getattr(model, col) == value)
        return int(s.scalar(q) or 0)


def test_every_deletion_event_has_the_handlers_of_the_parts_that_refer_to_it(mgr: Manager) -> None:
    handlers = {e: [getattr(h, "__name__", "lambda") for h in mgr.events.handlers(e)]
                for e in ("domain.deleted", "project.deleted", "user.deleted", "group.deleted")}
    assert "_grants_on_target_deleted" in handlers["project.deleted"]
    assert "_credentials_of_project_deleted" in handlers["project.deleted"]
    assert "_limits_of_deleted" in handlers["project.deleted"] and "_limits_of_deleted" in handlers["domain.deleted"]
    assert "_credentials_of_user_deleted" in handlers["user.deleted"]
    assert "_grants_to_actor_deleted" in handlers["group.deleted"]


def test_deleting_a_disabled_domain_removes_everything_in_it(mgr: Manager) -> None:
    dom = mgr.resources.create_domain({"name": "doomed"})
    proj = mgr.resources.create_project({"name": "p", "domain_id": dom.id})
    child = mgr.resources.create_project({"name": "c", "parent_id": proj.id})
    user = mgr.users.create_user({"name": "u", "domain_id": dom.id, "password": "pw-123456"})
    group = mgr.users.create_group({"name": "g", "domain_id": dom.id})
    mgr.users.add_user_to_group(group.id, user.id)
    role = mgr.assignments.create_role({"name": "local", "domain_id": dom.id})
    member = mgr.assignments.create_role({"name": "member"})
    mgr.assignments.create_grant(member.id, "user", user.id, "project", child.id)
    mgr.assignments.create_grant(member.id, "group", group.id, "domain", dom.id)
    mgr.credentials.create_credential({"type": "ec2", "user_id": user.id, "project_id": child.id,
                           "blob": '{"access": "a1", "secret": "s1"}'})

    mgr.resources.update_domain(dom.id, {"enabled": False})
    mgr.resources.delete_domain(dom.id)

    for model, where in ((m.Project, {"domain_id": dom.id}), (m.User, {"domain_id": dom.id}),
                         (m.Group, {"domain_id": dom.id}), (m.Role, {"id": role.id}),
                         (m.Assignment, {"role_id": member.id}), (m.Credential, {"user_id": user.id}),
                         (m.Membership, {"user_id": user.id}), (m.Password, {"user_id": user.id})):
        assert count(mgr, model, **where) == 0, model.__name__
    assert count(mgr, m.Role, id=member.id) == 1  # a global role stays


def test_a_failing_cascade_leaves_nothing_half_deleted(mgr: Manager) -> None:
    proj = mgr.resources.create_project({"name": "kept", "domain_id": "default"})
    member = mgr.assignments.create_role({"name": "member"})
    user = mgr.users.create_user({"name": "u2", "domain_id": "default", "password": "pw-123456"})
    mgr.assignments.create_grant(member.id, "user", user.id, "project", proj.id)

    def broken(s: object, project_id: str) -> None:
        raise RuntimeError("a part failed")

    mgr.events.subscribe("project.deleted", broken)
    with pytest.raises(RuntimeError):
        mgr.resources.delete_project(proj.id)
    assert count(mgr, m.Project, id=proj.id) == 1
    assert count(mgr, m.Assignment, target_id=proj.id) == 1
