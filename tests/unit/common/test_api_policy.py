"""Policy enforced by the dispatcher: the rule an Op names, its target loader, Keystone's 403-before-404."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, build_app
from litestack.common.api.policy import Target, body, loaded, stash, target
from litestack.common.api.resource import ServiceAPI
from litestack.common.auth import AuthMiddleware, TokenCache
from litestack.common.policy import Enforcer, RuleDefault
from tests.unit.common.test_api_app import Client, FakeValidator

pytestmark = pytest.mark.unit

THINGS = {"t1": {"id": "t1", "owner": "u1"}, "t2": {"id": "t2", "owner": "someone-else"}}
RULES = [RuleDefault("thing:get", "user_id:%(target.thing.owner)s or role:admin"),
         RuleDefault("thing:create", "user_id:%(target.thing.owner)s"),
         RuleDefault("thing:list", "role:member"),
         RuleDefault("thing:admin_list", "role:admin")]
SCHEMA = {"type": "object", "required": ["thing"], "properties": {"thing": {
    "type": "object", "required": ["owner"], "properties": {"owner": {"type": "string"}}}}}


def make() -> tuple[Client, list[str]]:
    api = ServiceAPI(Enforcer(RULES))
    calls: list[str] = []

    def get_thing(ident: str) -> dict[str, Any]:
        calls.append(ident)
        if ident not in THINGS:
            raise errors.NotFound(f"Could not find thing: {ident}.")
        return THINGS[ident]

    thing_target = api.lookup("thing_id", get_thing, "thing", lambda t: {"owner": t["owner"] if t else None})

    async def show(request: Request) -> Response:
        return JSON({"thing": loaded(request)})

    async def new_target(request: Request) -> Target:
        return target({"thing": body(request)["thing"]})

    async def create(request: Request) -> Response:
        return JSON({"thing": body(request)["thing"]}, status_code=201)

    async def list_target(request: Request) -> Target:
        if request.query_params.get("all"):
            return Target(rule="thing:admin_list")
        stash(request, "mine")
        return Target()

    async def listing(request: Request) -> Response:
        return JSON({"things": [], "which": getattr(request.state, "loaded", "all")})

    ops = [Op("GET", "/things/{thing_id}", show, rule="thing:get", target=thing_target),
           Op("POST", "/things", create, body=SCHEMA, status=201, rule="thing:create", target=new_target),
           Op("GET", "/things", listing, rule="thing:list", alt_rules=("thing:admin_list",), target=list_target)]
    v = FakeValidator()
    app = build_app("identity", ops, enforcer=api.enforcer,
                    middleware=[lambda a: AuthMiddleware(a, v, TokenCache(60, 100), "http://id/identity")])
    return Client(app), calls


TOKEN = {"X-Auth-Token": "good"}  # user u1 with role member (GOOD in test_api_app)


def test_the_rule_is_checked_against_the_loaded_resource_which_the_handler_gets_without_a_second_lookup() -> None:
    c, calls = make()
    r = c.get("/things/t1", headers=TOKEN)
    assert r.status_code == 200 and r.json() == {"thing": THINGS["t1"]}
    assert calls == ["t1"]
    assert c.get("/things/t2", headers=TOKEN).status_code == 403


def test_a_missing_resource_is_403_not_404_to_a_caller_who_could_not_see_it() -> None:
    c, _ = make()
    # The rule is checked against an empty target first: a member who is not the owner of an
    # absent thing learns nothing (403); nobody passes the owner check for it, so no 404 here.
    r = c.get("/things/nope", headers=TOKEN)
    assert r.status_code == 403


def test_a_malformed_body_is_400_before_the_policy_check() -> None:
    c, _ = make()
    assert c.post("/things", json={"thing": {}}, headers=TOKEN).status_code == 400
    assert c.post("/things", json={"thing": {"owner": "someone-else"}}, headers=TOKEN).status_code == 403
    r = c.post("/things", json={"thing": {"owner": "u1"}}, headers=TOKEN)
    assert r.status_code == 201 and r.json() == {"thing": {"owner": "u1"}}


def test_a_target_loader_may_pick_one_of_the_ops_other_rules() -> None:
    c, _ = make()
    r = c.get("/things", headers=TOKEN)
    assert r.status_code == 200 and r.json()["which"] == "mine"
    assert c.get("/things?all=1", headers=TOKEN).status_code == 403


def test_unauthenticated_callers_get_401_before_any_policy_or_lookup() -> None:
    c, calls = make()
    assert c.get("/things/t1").status_code == 401
    assert calls == []
