"""What a list request costs in SQL, and Keystone's list_limit: the identity API in-process on a
new SQLite database (no server), with the queries counted by SQLAlchemy's cursor events."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from sqlalchemy import event

from litestack.common import config
from litestack.common.auth import TokenCache
from litestack.common.db import Database, upgrade
from litestack.common.policy import Enforcer
from litestack.identity import api
from litestack.identity.manager import Manager
from litestack.identity.models import Base
from litestack.identity.policy import RULES

pytestmark = pytest.mark.unit


class Identity:
    """A manager, an admin token and the API app over them."""

    def __init__(self, data_dir: Path, **options: Any) -> None:
        environ = {f"LITESTACK_IDENTITY_{k.upper()}": str(v)
                   for k, v in {"password_hash_rounds": 4, **options}.items()}
        conf = config.load(None, environ=environ)
        self.db = Database(f"sqlite:///{data_dir / 'identity.db'}")
        upgrade(self.db, "litestack.identity.migrations", Base)
        self.mgr = Manager(self.db, conf, data_dir)
        self.mgr.resources.create_domain({"id": "default", "name": "Default"})
        role = self.mgr.assignments.create_role({"name": "admin"})
        project = self.mgr.resources.create_project({"name": "admin", "domain_id": "default"})
        admin = self.mgr.users.create_user({"name": "admin", "domain_id": "default", "password": "secret"})
        self.mgr.assignments.create_grant(role.id, "user", admin.id, "project", project.id)
        payload = self.mgr.auth.authenticate({"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": "secret"}}},
            "scope": {"project": {"id": project.id}}})
        self.token = self.mgr.auth.issue(payload)
        self.app = api.build(self.mgr, Enforcer(RULES), TokenCache(0, 0), None)

    def get(self, path: str) -> httpx.Response:
        async def go() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                         base_url="http://t") as c:
                return await c.get(path, headers={"X-Auth-Token": self.token})
        return asyncio.run(go())

    def add_users(self, n: int, password: bool = True) -> None:
        start = len(self.mgr.users.list_users({}))
        for i in range(n):
            data: dict[str, Any] = {"name": f"user{start + i:03d}", "domain_id": "default"}
            if password:
                data["password"] = "pw"
            self.mgr.users.create_user(data)

    def queries(self, path: str) -> tuple[httpx.Response, list[str]]:
        """The response to ``GET path`` and the SQL statements it ran (the cache-generation
        poller's, from its own thread, are not the request's)."""
        seen: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            # SQLite's BEGIN is a transaction marker, not a query.
            if threading.current_thread().name != "identity-generation" and not statement.startswith("BEGIN"):
                seen.append(statement)

        event.listen(self.db.engine, "before_cursor_execute", count)
        try:
            response = self.get(path)
        finally:
            event.remove(self.db.engine, "before_cursor_execute", count)
        return response, seen

    def warm_queries(self, path: str) -> tuple[httpx.Response, list[str]]:
        """``queries`` of a request whose token caches are warm. The writes before it bump the
        cache generation, and the poller of the generation table may see the bump only after a
        first warming request (it polls every second), so measure up to three times and keep the
        cheapest: a cost that grows with the list is in every one of them."""
        self.get(path)
        return min((self.queries(path) for _ in range(3)), key=lambda r: len(r[1]))


@pytest.fixture
def identity(tmp_path: Path) -> Iterator[Callable[..., Identity]]:
    made: list[Identity] = []

    def make(**options: Any) -> Identity:
        d = tmp_path / f"i{len(made)}"
        d.mkdir()
        made.append(Identity(d, **options))
        return made[-1]
    yield make
    for i in made:
        i.mgr.close()


def test_listing_users_costs_the_same_queries_for_1_and_for_50_users(identity: Callable[..., Identity]) -> None:
    ident = identity()
    ident.add_users(1)
    ident.get("/v3/users")  # warm the token validation caches: they are not what is measured
    small, few = ident.queries("/v3/users")
    ident.add_users(49)
    ident.add_users(3, password=False)
    ident.get("/v3/users")
    big, many = ident.queries("/v3/users")
    assert small.status_code == big.status_code == 200
    assert len(small.json()["users"]) == 2 and len(big.json()["users"]) == 2 + 49 + 3
    assert len(many) == len(few), many
    assert len(many) <= 2, many  # the users, and their current passwords' expiry
    # Password expiry is still shown per user (None: no expiry configured or no password).
    assert all("password_expires_at" in u for u in big.json()["users"])


def test_list_limit_truncates_identity_lists_and_says_so(identity: Callable[..., Identity]) -> None:
    ident = identity(list_limit=5)
    ident.add_users(9)
    r = ident.get("/v3/users")
    body = r.json()
    assert r.status_code == 200 and len(body["users"]) == 5 and body["truncated"] is True
    names = [u["name"] for u in body["users"]]
    assert names == sorted(names)  # the first five in the default order (by name)
    # Keystone ignores the client's limit and marker on identity lists; list_limit still applies.
    body = ident.get("/v3/users?limit=2&marker=" + body["users"][0]["id"]).json()
    assert len(body["users"]) == 5 and body["truncated"] is True
    # A list that fits is not marked.
    domains = ident.get("/v3/domains").json()
    assert len(domains["domains"]) == 1 and "truncated" not in domains


def test_without_list_limit_nothing_is_truncated(identity: Callable[..., Identity]) -> None:
    ident = identity()
    ident.add_users(9)
    body = ident.get("/v3/users").json()
    assert len(body["users"]) == 10 and "truncated" not in body


def test_list_responses_conform_to_their_field_level_schemas(identity: Callable[..., Identity]) -> None:
    """Every collection the API lists, with something in it, matches the response schema its Op
    publishes in the OpenAPI document (field by field, not only the top-level key)."""
    ident = identity()
    ident.add_users(2)
    mgr = ident.mgr
    svc = mgr.catalog.create_service({"type": "compute", "name": "nova"})
    region = mgr.catalog.create_region({"id": "RegionOne"})
    mgr.catalog.create_endpoint({"service_id": svc.id, "interface": "public", "url": "http://x",
                                 "region_id": region.id})
    mgr.users.create_group({"name": "g", "domain_id": "default"})
    mgr.extensions.create_policy({"blob": "{}", "type": "application/json"})
    mgr.extensions.create_endpoint_group({"name": "eg", "filters": {"interface": "public"}})
    mgr.limits.create_registered_limits([{"service_id": svc.id, "resource_name": "cores", "default_limit": 10}])
    doc = ident.get("/openapi.json").json()
    checked = []
    for path, methods in doc["paths"].items():
        get = methods.get("get")
        if get is None or "{" in path or path.startswith("/v3/auth/tokens"):
            continue
        schema = get["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema")
        r = ident.get(path)
        if schema is None or r.status_code != 200:
            continue
        jsonschema.validate(r.json(), schema)
        checked.append(path)
    for must in ("/v3/users", "/v3/domains", "/v3/projects", "/v3/groups", "/v3/roles", "/v3/regions",
                 "/v3/services", "/v3/endpoints", "/v3/policies", "/v3/OS-EP-FILTER/endpoint_groups",
                 "/v3/registered_limits", "/v3/auth/catalog", "/v3/auth/projects", "/v3/role_assignments"):
        assert must in checked
    users = doc["paths"]["/v3/users"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert "password_expires_at" in users["properties"]["users"]["items"]["properties"]


def _grant_users(ident: Identity, group_id: str, project_ids: list[str], n: int) -> None:
    """``n`` more users, each a member of the group and granted the reader role on every project."""
    mgr = ident.mgr
    role = mgr.assignments.list_roles({"name": "reader"})[0]
    start = len(mgr.users.list_users({}))
    for i in range(n):
        user = mgr.users.create_user({"name": f"member{start + i:03d}", "domain_id": "default"})
        mgr.users.add_user_to_group(group_id, user.id)
        for pid in project_ids:
            mgr.assignments.create_grant(role.id, "user", user.id, "project", pid)


def _hierarchy(ident: Identity) -> tuple[str, list[str]]:
    """A group with inherited and implied roles on a project tree: parent > child > grandchild."""
    mgr = ident.mgr
    reader = mgr.assignments.create_role({"name": "reader"})
    member = mgr.assignments.create_role({"name": "member"})
    mgr.assignments.create_implied_role(member.id, reader.id)
    parent = mgr.resources.create_project({"name": "parent", "domain_id": "default"})
    child = mgr.resources.create_project({"name": "child", "domain_id": "default", "parent_id": parent.id})
    grandchild = mgr.resources.create_project({"name": "grandchild", "domain_id": "default", "parent_id": child.id})
    group = mgr.users.create_group({"name": "g", "domain_id": "default"})
    mgr.assignments.create_grant(member.id, "group", group.id, "project", parent.id, inherited=True)
    mgr.assignments.create_grant(member.id, "group", group.id, "domain", "default", inherited=True)
    return group.id, [parent.id, child.id, grandchild.id]


ASSIGNMENT_LISTS = ("/v3/role_assignments", "/v3/role_assignments?include_names=1",
                    "/v3/role_assignments?effective&include_names=1",
                    "/v3/role_assignments?scope.project.id={parent}&include_subtree=1&effective",
                    "/v3/role_assignments?user.id={user}&effective")


@pytest.mark.parametrize("path", ASSIGNMENT_LISTS)
def test_role_assignments_cost_the_same_queries_for_few_and_many(identity: Callable[..., Identity],
                                                                  path: str) -> None:
    ident = identity()
    group_id, projects = _hierarchy(ident)
    _grant_users(ident, group_id, projects, 1)
    user = ident.mgr.users.list_users({"name": "member001"})[0].id
    url = path.format(parent=projects[0], user=user)
    small, few = ident.warm_queries(url)
    _grant_users(ident, group_id, projects, 30)
    big, many = ident.warm_queries(url)
    assert small.status_code == big.status_code == 200, big.text
    if "user.id" not in path:  # one user's stay the same; the table grew
        assert len(big.json()["role_assignments"]) > len(small.json()["role_assignments"])
    assert len(many) == len(few), many
    assert len(many) <= 12, many


def test_effective_role_assignments_are_derived_through_groups_inheritance_and_implication(
        identity: Callable[..., Identity]) -> None:
    ident = identity()
    group_id, (parent, child, _) = _hierarchy(ident)
    _grant_users(ident, group_id, [], 1)
    user = ident.mgr.users.list_users({"name": "member001"})[0].id
    body = ident.get(f"/v3/role_assignments?user.id={user}&effective&include_names=1").json()
    seen = {(a["role"]["name"], a["scope"]["project"]["name"]) for a in body["role_assignments"]}
    # Inherited from the parent project: its subtree, not itself; from the domain: every project in it.
    assert seen == {(r, p) for r in ("member", "reader") for p in ("admin", "parent", "child", "grandchild")}
    via = {a["links"].get("membership") for a in body["role_assignments"]}
    assert via == {f"http://t/v3/groups/{group_id}/users/{user}"}
    subtree = ident.get(f"/v3/role_assignments?scope.project.id={child}&include_subtree=1").json()
    assert subtree["role_assignments"] == []  # the grants are on the parent and the domain, not below
    direct = ident.get(f"/v3/role_assignments?scope.project.id={parent}&scope.OS-INHERIT:inherited_to=projects"
                       ).json()["role_assignments"]
    assert [a["group"]["id"] for a in direct] == [group_id]
    assert direct[0]["scope"]["OS-INHERIT:inherited_to"] == "projects"


def test_group_users_cost_the_same_queries_for_1_and_for_30(identity: Callable[..., Identity]) -> None:
    ident = identity()
    group_id, _ = _hierarchy(ident)
    _grant_users(ident, group_id, [], 1)
    url = f"/v3/groups/{group_id}/users"
    small, few = ident.warm_queries(url)
    _grant_users(ident, group_id, [], 29)
    big, many = ident.warm_queries(url)
    assert len(small.json()["users"]) == 1 and len(big.json()["users"]) == 30
    assert len(many) == len(few), many
    assert len(many) <= 3, many  # the group, its users, their passwords' expiry


@pytest.mark.parametrize("path", ("/v3/users/{user}/projects", "/v3/users/{user}/groups"))
def test_a_users_projects_and_groups_cost_the_same_queries_for_few_and_many(
        identity: Callable[..., Identity], path: str) -> None:
    ident = identity()
    group_id, _ = _hierarchy(ident)
    _grant_users(ident, group_id, [], 1)
    user = ident.mgr.users.list_users({"name": "member001"})[0].id
    url = path.format(user=user)
    small, few = ident.warm_queries(url)
    for i in range(20):
        p = ident.mgr.resources.create_project({"name": f"more{i:02d}", "domain_id": "default"})
        g = ident.mgr.users.create_group({"name": f"more{i:02d}", "domain_id": "default"})
        ident.mgr.users.add_user_to_group(g.id, user)
        ident.mgr.assignments.create_grant(ident.mgr.assignments.list_roles({"name": "reader"})[0].id, "group",
                                           g.id, "project", p.id)
    big, many = ident.warm_queries(url)
    key = path.rsplit("/", 1)[1]
    assert len(big.json()[key]) > len(small.json()[key])
    assert len(many) == len(few), many


def test_a_users_projects_are_those_of_effective_roles(identity: Callable[..., Identity]) -> None:
    ident = identity()
    group_id, _ = _hierarchy(ident)
    _grant_users(ident, group_id, [], 1)
    mgr = ident.mgr
    user = mgr.users.list_users({"name": "member001"})[0].id
    # A domain-specific role implying nothing global gives no project.
    other = mgr.resources.create_domain({"name": "other"})
    mgr.assignments.delete_grant(mgr.assignments.list_roles({"name": "member"})[0].id, "group", group_id, "domain",
                                 "default",
                     inherited=True)
    lonely = mgr.resources.create_project({"name": "lonely", "domain_id": other.id})
    local = mgr.assignments.create_role({"name": "local", "domain_id": other.id})
    mgr.assignments.create_grant(local.id, "user", user, "project", lonely.id)
    names = [p["name"] for p in ident.get(f"/v3/users/{user}/projects").json()["projects"]]
    assert names == ["child", "grandchild"]  # inherited from "parent": below it, by name
    mgr.assignments.create_implied_role(local.id, mgr.assignments.list_roles({"name": "reader"})[0].id)
    names = [p["name"] for p in ident.get(f"/v3/users/{user}/projects").json()["projects"]]
    assert names == ["child", "grandchild", "lonely"]


@pytest.mark.parametrize("path", ("/v3/role_assignments", "/v3/role_assignments?effective",
                                  "/v3/groups/{group}/users", "/v3/users/{user}/projects",
                                  "/v3/role_inferences"))
def test_list_limit_truncates_related_lists(identity: Callable[..., Identity], path: str) -> None:
    ident = identity(list_limit=3)
    group_id, projects = _hierarchy(ident)
    _grant_users(ident, group_id, projects, 5)
    for i in range(3):
        ident.mgr.assignments.create_implied_role(ident.mgr.assignments.create_role({"name": f"r{i}"}).id,
                                      ident.mgr.assignments.list_roles({"name": "reader"})[0].id)
    user = ident.mgr.users.list_users({"name": "member001"})[0].id
    body = ident.get(path.format(group=group_id, user=user)).json()
    key = next(k for k in body if k not in ("links", "truncated"))
    assert len(body[key]) == 3 and body["truncated"] is True
