"""Through the API: ``.start`` is announced with the request before the manager acts, ``.end``
with the committed resource after; a request refused by policy or validation announces nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from litestack.common.config import load
from litestack.common.db import Database, upgrade
from litestack.common.notify import Notifier
from litestack.common.policy import Enforcer
from litestack.network import api
from litestack.network.manager import Manager
from litestack.network.models import Base
from litestack.network.policy import RULES

pytestmark = pytest.mark.unit


def member_of(project: str) -> Any:
    """Stands in for the auth middleware: a member (and reader) of ``project``."""
    def wrap(app: ASGIApp) -> ASGIApp:
        async def mw(scope: Scope, receive: Receive, send: Send) -> None:
            c = scope["state"]["context"]
            c.user_id, c.project_id, c.roles = "u1", project, ["member", "reader"]
            await app(scope, receive, send)
        return mw
    return wrap


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, list[tuple[str, dict[str, Any]]]]]:
    import litestack.network.options  # noqa: F401 - registers [network]

    db = Database(f"sqlite:///{tmp_path / 'network.db'}")
    upgrade(db, "litestack.network.migrations", Base)
    notifier = Notifier("network", "test")
    events: list[tuple[str, dict[str, Any]]] = []
    notifier.listeners.append(lambda event, payload: events.append((event, payload)))
    app = api.build(Manager(db, load(None), notifier), Enforcer(RULES), member_of("p1"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t/v2.0") as c:
        yield c, events
    db.dispose()


async def test_start_and_end_around_each_change(client: Any) -> None:
    c, events = client
    r = await c.post("/networks", json={"network": {"name": "n1"}})
    assert r.status_code == 201, r.text
    nid = r.json()["network"]["id"]
    assert (await c.put(f"/networks/{nid}", json={"network": {"name": "n2"}})).status_code == 200
    assert (await c.delete(f"/networks/{nid}")).status_code == 204
    assert [e for e, _ in events] == ["network.create.start", "network.create.end", "network.update.start",
                                      "network.update.end", "network.delete.start", "network.delete.end"]
    assert events[0][1] == {"network": {"name": "n1", "project_id": "p1"}}
    assert events[1][1]["network"]["id"] == nid and events[3][1]["network"]["name"] == "n2"
    assert events[4][1] == {"network_id": nid}


async def test_refused_requests_announce_nothing(client: Any) -> None:
    c, events = client
    assert (await c.post("/networks", json={"network": {"shared": True}})).status_code == 403
    assert (await c.post("/networks", json={"network": {"color": "red"}})).status_code == 400
    assert (await c.delete("/networks/nope")).status_code == 404
    assert events == []
