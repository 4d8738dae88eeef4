"""A declared resource gives list, show, create, update and delete in OpenStack's shapes."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request

from litestack.common import errors
from litestack.common.api.app import build_app
from litestack.common.api.crud import Resource, crud_ops
from litestack.common.api.resource import ServiceAPI
from litestack.common.api.schema import wrapped
from litestack.common.auth import AuthMiddleware, TokenCache
from litestack.common.policy import Enforcer, RuleDefault
from tests.unit.common.test_api_app import Client, FakeValidator

pytestmark = pytest.mark.unit


class Widgets:
    """A recording fake manager."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []

    def list(self, request: Request, limit: int | None) -> list[dict[str, Any]]:
        self.calls.append("list")
        rows = sorted(self.rows.values(), key=lambda r: r["name"])
        return rows if limit is None else rows[:limit + 1]

    def get(self, ident: str) -> dict[str, Any]:
        self.calls.append("get")
        if ident not in self.rows:
            raise errors.NotFound(f"Could not find widget: {ident}.")
        return self.rows[ident]

    def create(self, data: dict[str, Any]) -> dict[str, Any]:
        row = {"id": f"w{len(self.rows)}", **data}
        self.rows[row["id"]] = row
        return row

    def update(self, ident: str, data: dict[str, Any]) -> dict[str, Any]:
        return self.get(ident) | data

    def delete(self, ident: str) -> None:
        self.get(ident)
        del self.rows[ident]


class API(ServiceAPI):
    prefix = "/v1"
    limit: int | None = None

    @property
    def list_limit(self) -> int | None:
        return self.limit


def view(base: str, row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "links": {"self": f"{base}/v1/widgets/{row['id']}"}}


RULES = [RuleDefault(f"toy:{verb}", "role:member") for verb in
         ("list_widgets", "get_widget", "create_widget", "update_widget")] + [
    RuleDefault("toy:delete_widget", "role:admin")]


def make(limit: int | None = None) -> tuple[Client, Widgets, API]:
    api = API(Enforcer(RULES))
    api.limit = limit
    mgr = Widgets()
    res = Resource("widgets", "widget", "widgets", "widget_id", view, "toy:{verb}_widget", lister=mgr.list,
                   getter=mgr.get, creator=mgr.create, updater=mgr.update, deleter=mgr.delete,
                   create_body=wrapped("widget", {"name": {"type": "string"}}, ["name"]),
                   update_body=wrapped("widget", {"name": {"type": "string"}}))
    app = build_app("identity", crud_ops(api, res), enforcer=api.enforcer,
                    middleware=[lambda a: AuthMiddleware(a, FakeValidator(), TokenCache(60, 100), "http://id")])
    return Client(app), mgr, api


T = {"X-Auth-Token": "good"}  # a member, not an admin


def test_one_declaration_routes_the_five_operations_with_their_rules() -> None:
    _, _, api = make()
    res = Resource("widgets", "widget", "widgets", "widget_id", view, "toy:{verb}_widget", lister=lambda r, n: [],
                   getter=str, creator=dict, updater=lambda i, d: d, deleter=str)
    table = {(op.method, op.path): op.rule for op in crud_ops(api, res)}
    assert table == {("GET", "/v1/widgets"): "toy:list_widgets", ("POST", "/v1/widgets"): "toy:create_widget",
                     ("GET", "/v1/widgets/{widget_id}"): "toy:get_widget",
                     ("PATCH", "/v1/widgets/{widget_id}"): "toy:update_widget",
                     ("DELETE", "/v1/widgets/{widget_id}"): "toy:delete_widget"}


def test_create_show_update_list_in_openstack_shapes() -> None:
    c, _, _ = make()
    r = c.post("/v1/widgets", json={"widget": {"name": "b"}}, headers=T)
    assert r.status_code == 201
    assert r.json() == {"widget": {"id": "w0", "name": "b", "links": {"self": "http://t/v1/widgets/w0"}}}
    c.post("/v1/widgets", json={"widget": {"name": "a"}}, headers=T)
    assert c.get("/v1/widgets/w0", headers=T).json()["widget"]["name"] == "b"
    assert c.request("PATCH", "/v1/widgets/w0", json={"widget": {"name": "c"}}, headers=T).json()["widget"][
        "name"] == "c"
    listed = c.get("/v1/widgets", headers=T).json()
    assert [w["name"] for w in listed["widgets"]] == ["a", "b"]
    assert listed["links"] == {"self": "http://t/v1/widgets", "previous": None, "next": None}


def test_a_list_cut_by_the_services_limit_says_truncated() -> None:
    c, mgr, _ = make(limit=1)
    for name in "xyz":
        mgr.create({"name": name})
    body = c.get("/v1/widgets", headers=T).json()
    assert [w["name"] for w in body["widgets"]] == ["x"] and body["truncated"] is True


def test_policy_is_checked_before_the_manager_is_called() -> None:
    c, mgr, _ = make()
    mgr.create({"name": "x"})
    assert c.delete("/v1/widgets/w0", headers=T).status_code == 403  # members may not delete
    assert "w0" in mgr.rows
    assert c.get("/v1/widgets/nope", headers=T).status_code == 404
    assert c.post("/v1/widgets", json={"widget": {}}, headers=T).status_code == 400
