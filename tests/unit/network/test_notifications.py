"""Every change is announced after its commit, under Neutron's event names, with the resource."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from litestack.common.config import load
from litestack.common.db import Database, upgrade
from litestack.common.notify import Notifier
from litestack.network import exceptions as exc
from litestack.network.manager import Manager
from litestack.network.manager.base import Caller, Query
from litestack.network.models import Base, Network

pytestmark = pytest.mark.unit


@pytest.fixture
def manager(tmp_path: Path) -> Any:
    import litestack.network.options  # noqa: F401 - registers [network]

    db = Database(f"sqlite:///{tmp_path / 'network.db'}")
    upgrade(db, "litestack.network.migrations", Base)
    mgr = Manager(db, load(None), Notifier("network", "test"))
    yield mgr
    db.dispose()


def test_each_change_is_announced_with_the_committed_resource(manager: Manager) -> None:
    events: list[tuple[str, dict[str, Any]]] = []

    def seen(event: str, payload: dict[str, Any]) -> None:
        # Emitted after the commit: a reader in another session already sees the change.
        if event == "network.create.end":
            with manager.db.reader() as s:
                assert s.get(Network, payload["network"]["id"]) is not None
        events.append((event, payload))

    manager.notifier.listeners.append(seen)
    me = Caller("p1")
    net = manager.networks.create(me, {"name": "n", "project_id": "p1"})
    sub = manager.subnets.create(me, {"network_id": net["id"], "ip_version": 4, "cidr": "10.0.0.0/28",
                                      "project_id": "p1"})
    port = manager.ports.create(me, {"network_id": net["id"], "project_id": "p1"})
    manager.ports.update(me, port["id"], {"name": "renamed"}, None)
    rule = manager.security_groups.create_rule(me, {"security_group_id": port["security_groups"][0],
                                                    "direction": "ingress", "protocol": "tcp", "project_id": "p1"})
    manager.security_groups.delete_rule(me, rule["id"])
    manager.ports.delete(me, port["id"])
    manager.subnets.delete(me, sub["id"])
    manager.networks.delete(me, net["id"])
    assert [e for e, _ in events] == [
        "network.create.end", "subnet.create.end", "port.create.end", "port.update.end",
        "security_group_rule.create.end", "security_group_rule.delete.end", "port.delete.end", "subnet.delete.end",
        "network.delete.end"]
    assert events[3][1]["port"]["name"] == "renamed" and events[3][1]["port"]["revision_number"] == 1
    assert events[-1][1] == {"network_id": net["id"]}


def test_a_refused_change_is_not_announced(manager: Manager) -> None:
    events: list[str] = []
    manager.notifier.listeners.append(lambda event, payload: events.append(event))
    with pytest.raises(exc.InvalidInput):
        manager.networks.create(Caller("p1", True), {"project_id": "p1", "provider:network_type": "bogus"})
    assert events == [] and manager.networks.find(Caller("p1"), Query()) == []
