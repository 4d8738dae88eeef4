"""Keystone's basic notifications: ``identity.<resource>.<operation>`` with the resource's id,
told after the change is committed, and nothing for a change that failed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from litestack.common import config, errors
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


def test_create_update_delete_are_announced_after_commit(mgr: Manager) -> None:
    seen: list[tuple[str, str, dict[str, Any]]] = []

    def listener(resource: str, operation: str, payload: dict[str, Any]) -> None:
        if (resource, operation) == ("project", "created"):  # a reader in another session sees it
            with mgr.db.reader() as s:
                assert s.get(m.Project, payload["resource_info"]) is not None
        seen.append((resource, operation, payload))

    mgr.shared.change_listeners.append(listener)
    project = mgr.resources.create_project({"name": "p1", "domain_id": "default"})
    mgr.resources.update_project(project.id, {"description": "d"})
    user = mgr.users.create_user({"name": "u1", "domain_id": "default", "password": "secret-Pass1"})
    role = mgr.assignments.create_role({"name": "r1"})
    mgr.assignments.create_grant(role.id, "user", user.id, "project", project.id)
    mgr.assignments.delete_grant(role.id, "user", user.id, "project", project.id)
    mgr.users.delete_user(user.id)
    mgr.resources.delete_project(project.id)
    grant = {"role": role.id, "user": user.id, "project": project.id, "inherited_to_projects": False}
    assert seen == [
        ("project", "created", {"resource_info": project.id}),
        ("project", "updated", {"resource_info": project.id}),
        ("user", "created", {"resource_info": user.id}),
        ("role", "created", {"resource_info": role.id}),
        ("role_assignment", "created", grant),
        ("role_assignment", "deleted", grant),
        ("user", "deleted", {"resource_info": user.id}),
        ("project", "deleted", {"resource_info": project.id}),
    ]
    # Passwords are not part of any notification.
    assert "secret-Pass1" not in repr(seen)


def test_a_failed_change_announces_nothing(mgr: Manager) -> None:
    seen: list[tuple[str, str]] = []
    mgr.shared.change_listeners.append(lambda r, o, p: seen.append((r, o)))
    mgr.resources.create_project({"name": "dup", "domain_id": "default"})
    with pytest.raises(errors.Conflict):
        mgr.resources.create_project({"name": "dup", "domain_id": "default"})
    with pytest.raises(errors.NotFound):
        mgr.resources.delete_project("no-such-project")
    assert seen == [("project", "created")]


def test_a_failing_listener_does_not_fail_the_change(mgr: Manager) -> None:
    def broken(resource: str, operation: str, payload: dict[str, Any]) -> None:
        raise RuntimeError("listener down")

    mgr.shared.change_listeners.append(broken)
    group = mgr.users.create_group({"name": "g1", "domain_id": "default"})
    assert mgr.users.get_group(group.id).name == "g1"
