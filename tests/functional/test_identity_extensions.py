"""Policies, OAuth1 consumers, endpoint groups (OS-EP-FILTER) and domain configurations.

Driven through the real ``openstack`` CLI where it supports the resource (policies, endpoint
groups; its ``consumer`` commands need oauthlib, which the CLI does not install) and raw HTTP
for the rest, the error paths and the RBAC checks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Executable, select, text

from litestack.identity import models as m
from tests.conftest import RunningCloud
from tests.databases import DATABASES, clouds_on, identity_db

pytestmark = pytest.mark.functional


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _client(cloud: RunningCloud, name: str) -> httpx.Client:
    token = cloud.sdk(name).session.get_token()
    return httpx.Client(base_url=f"{cloud.auth_url}/v3", headers={"X-Auth-Token": token}, timeout=60)


@pytest.fixture(scope="module", params=DATABASES)
def shared_cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    """One cloud for the module, on each database in turn."""
    with clouds_on(request.param, tmp_path_factory.mktemp("extensions")) as make:
        yield make()


@pytest.fixture(scope="module")
def admin(shared_cloud: RunningCloud) -> Iterator[httpx.Client]:
    with _client(shared_cloud, "litestack-admin") as c:
        yield c


@pytest.fixture(scope="module")
def member(shared_cloud: RunningCloud) -> Iterator[httpx.Client]:
    """The demo user: a member of the demo project, not an administrator."""
    with _client(shared_cloud, "litestack") as c:
        yield c


def _db_rows(cloud: RunningCloud, sql: str | Executable, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of the cloud's identity database, whichever it is (a statement on the models decodes
    JSON columns the same way on all three)."""
    stmt = text(sql) if isinstance(sql, str) else sql
    with identity_db(cloud) as engine, engine.connect() as conn:
        return [tuple(row) for row in conn.execute(stmt, params)]


def _error(r: httpx.Response, code: int) -> dict[str, Any]:
    assert r.status_code == code, r.text
    err: dict[str, Any] = r.json()["error"]
    assert err["code"] == code
    return err


def _cli_json(cloud: RunningCloud, *args: str) -> Any:
    return json.loads(cloud.openstack(*args, "-f", "json", cloud="litestack-admin").stdout)


# --- policies ------------------------------------------------------------------------------


def test_policy_lifecycle_with_the_cli(shared_cloud: RunningCloud, admin: httpx.Client, tmp_path: Path) -> None:
    blob = json.dumps({"compute:start": "rule:admin_or_owner"})
    path = tmp_path / "policy.json"
    path.write_text(blob)
    created = _cli_json(shared_cloud, "policy", "create", "--type", "application/json", str(path))
    pid = created["id"]
    assert created["type"] == "application/json" and created["rules"] == blob
    assert pid in {p["ID"] for p in _cli_json(shared_cloud, "policy", "list")}

    shared_cloud.openstack("policy", "set", "--type", "text/plain", pid, cloud="litestack-admin")
    shown = _cli_json(shared_cloud, "policy", "show", pid)
    assert shown["type"] == "text/plain" and shown["rules"] == blob

    body = admin.get(f"/policies/{pid}").json()["policy"]
    assert body["blob"] == blob and body["links"]["self"] == f"{shared_cloud.auth_url}/v3/policies/{pid}"
    assert pid in {p["id"] for p in admin.get("/policies", params={"type": "text/plain"}).json()["policies"]}
    assert pid not in {p["id"] for p in admin.get("/policies", params={"type": "application/json"}).json()["policies"]}
    # Extra attributes are kept, as Keystone does.
    r = admin.patch(f"/policies/{pid}", json={"policy": {"blob": "{}", "owner": "ops"}})
    assert r.status_code == 200 and r.json()["policy"]["owner"] == "ops" and r.json()["policy"]["blob"] == "{}"

    shared_cloud.openstack("policy", "delete", pid, cloud="litestack-admin")
    assert "Could not find policy" in _error(admin.get(f"/policies/{pid}"), 404)["message"]
    _error(admin.delete(f"/policies/{pid}"), 404)


def test_policy_validation_and_rbac(admin: httpx.Client, member: httpx.Client) -> None:
    _error(admin.post("/policies", json={"policy": {"blob": "{}"}}), 400)  # no type
    _error(admin.post("/policies", json={"policy": {"blob": {}, "type": "t"}}), 400)  # blob not a string
    _error(admin.post("/policies", json={"policy": {"blob": "{}", "type": "t" * 256}}), 400)
    _error(admin.post("/policies", json={"blob": "{}", "type": "t"}), 400)  # not wrapped
    r = admin.post("/policies", json={"policy": {"blob": "{}", "type": "t"}})
    assert r.status_code == 201
    pid = r.json()["policy"]["id"]
    try:
        _error(admin.patch(f"/policies/{pid}", json={"policy": {}}), 400)
        _error(admin.patch(f"/policies/{uuid.uuid4().hex}", json={"policy": {"type": "x"}}), 404)
        _error(member.post("/policies", json={"policy": {"blob": "{}", "type": "t"}}), 403)
        _error(member.get("/policies"), 403)
        _error(member.get(f"/policies/{pid}"), 403)
        _error(member.delete(f"/policies/{pid}"), 403)
        assert admin.get(f"/policies/{pid}").status_code == 200
    finally:
        assert admin.delete(f"/policies/{pid}").status_code == 204


# --- OAuth1 consumers ----------------------------------------------------------------------


def test_consumer_secret_is_shown_once_and_stored_encrypted(shared_cloud: RunningCloud,
                                                            admin: httpx.Client) -> None:
    r = admin.post("/OS-OAUTH1/consumers", json={"consumer": {"description": "billing bridge"}})
    assert r.status_code == 201
    created = r.json()["consumer"]
    cid, secret = created["id"], created["secret"]
    assert len(secret) >= 32 and created["description"] == "billing bridge"
    assert created["links"]["self"] == f"{shared_cloud.auth_url}/v3/OS-OAUTH1/consumers/{cid}"

    shown = admin.get(f"/OS-OAUTH1/consumers/{cid}").json()["consumer"]
    assert "secret" not in shown
    assert {k: shown[k] for k in ("id", "description", "links")} == \
        {k: created[k] for k in ("id", "description", "links")}
    listed = {c["id"]: c for c in admin.get("/OS-OAUTH1/consumers").json()["consumers"]}
    assert cid in listed and "secret" not in listed[cid]

    stored = _db_rows(shared_cloud, "SELECT encrypted_secret FROM oauth_consumer WHERE id = :id", id=cid)
    assert len(stored) == 1 and secret not in stored[0][0]

    r = admin.patch(f"/OS-OAUTH1/consumers/{cid}", json={"consumer": {"description": "renamed"}})
    assert r.status_code == 200 and r.json()["consumer"]["description"] == "renamed"
    assert "secret" not in r.json()["consumer"]
    assert admin.get(f"/OS-OAUTH1/consumers/{cid}").json()["consumer"]["description"] == "renamed"
    # The secret cannot be changed, and an update must change something.
    _error(admin.patch(f"/OS-OAUTH1/consumers/{cid}", json={"consumer": {"secret": "mine"}}), 400)
    _error(admin.patch(f"/OS-OAUTH1/consumers/{cid}", json={"consumer": {}}), 400)
    _error(admin.post("/OS-OAUTH1/consumers", json={"consumer": {"description": 5}}), 400)
    assert _db_rows(shared_cloud, "SELECT encrypted_secret FROM oauth_consumer WHERE id = :id", id=cid) == stored

    assert admin.delete(f"/OS-OAUTH1/consumers/{cid}").status_code == 204
    _error(admin.get(f"/OS-OAUTH1/consumers/{cid}"), 404)
    _error(admin.delete(f"/OS-OAUTH1/consumers/{cid}"), 404)
    assert cid not in {c["id"] for c in admin.get("/OS-OAUTH1/consumers").json()["consumers"]}


def test_consumers_are_admin_only(admin: httpx.Client, member: httpx.Client) -> None:
    _error(member.post("/OS-OAUTH1/consumers", json={"consumer": {}}), 403)
    _error(member.get("/OS-OAUTH1/consumers"), 403)
    r = admin.post("/OS-OAUTH1/consumers", json={"consumer": {}})
    assert r.status_code == 201 and r.json()["consumer"]["description"] is None
    cid = r.json()["consumer"]["id"]
    _error(member.patch(f"/OS-OAUTH1/consumers/{cid}", json={"consumer": {"description": "x"}}), 403)
    _error(member.delete(f"/OS-OAUTH1/consumers/{cid}"), 403)
    assert admin.delete(f"/OS-OAUTH1/consumers/{cid}").status_code == 204


# --- endpoint groups -----------------------------------------------------------------------


def _service_with_endpoints(admin: httpx.Client, interfaces: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    r = admin.post("/services", json={"service": {"type": unique("ext"), "name": unique("svc")}})
    assert r.status_code == 201
    sid = r.json()["service"]["id"]
    eps = {}
    for iface in interfaces:
        r = admin.post("/endpoints", json={"endpoint": {"service_id": sid, "interface": iface,
                                                        "url": f"http://127.0.0.1:9/{iface}",
                                                        "region_id": "RegionOne"}})
        assert r.status_code == 201
        eps[iface] = r.json()["endpoint"]["id"]
    return sid, eps


def test_endpoint_group_lifecycle(shared_cloud: RunningCloud, admin: httpx.Client, tmp_path: Path) -> None:
    sid, eps = _service_with_endpoints(admin, ("public", "admin"))
    try:
        name = unique("group")
        filters = tmp_path / "filters.json"
        filters.write_text(json.dumps({"service_id": sid, "interface": "public"}))
        created = _cli_json(shared_cloud, "endpoint", "group", "create", "--description", "public only",
                            name, str(filters))
        gid = created["id"]
        assert created["filters"] == {"service_id": sid, "interface": "public"}
        assert created["description"] == "public only"
        assert gid in {g["ID"] for g in _cli_json(shared_cloud, "endpoint", "group", "list")}
        assert _cli_json(shared_cloud, "endpoint", "group", "show", name)["id"] == gid

        body = admin.get(f"/OS-EP-FILTER/endpoint_groups/{gid}").json()["endpoint_group"]
        assert body["links"]["self"] == f"{shared_cloud.auth_url}/v3/OS-EP-FILTER/endpoint_groups/{gid}"
        listed = admin.get("/OS-EP-FILTER/endpoint_groups").json()["endpoint_groups"]
        assert body in listed  # the list shows exactly what show does
        assert [g["id"] for g in admin.get("/OS-EP-FILTER/endpoint_groups", params={"name": name})
                .json()["endpoint_groups"]] == [gid]
        assert admin.head(f"/OS-EP-FILTER/endpoint_groups/{gid}").status_code == 200

        matched = admin.get(f"/OS-EP-FILTER/endpoint_groups/{gid}/endpoints").json()["endpoints"]
        assert [e["id"] for e in matched] == [eps["public"]]
        r = admin.patch(f"/OS-EP-FILTER/endpoint_groups/{gid}",
                        json={"endpoint_group": {"filters": {"service_id": sid}, "name": name + "-2"}})
        assert r.status_code == 200
        assert r.json()["endpoint_group"]["name"] == name + "-2"
        assert r.json()["endpoint_group"]["description"] == "public only"
        matched = admin.get(f"/OS-EP-FILTER/endpoint_groups/{gid}/endpoints").json()["endpoints"]
        assert sorted(e["id"] for e in matched) == sorted(eps.values())

        shared_cloud.openstack("endpoint", "group", "delete", gid, cloud="litestack-admin")
        assert admin.head(f"/OS-EP-FILTER/endpoint_groups/{gid}").status_code == 404
        _error(admin.get(f"/OS-EP-FILTER/endpoint_groups/{gid}"), 404)
        _error(admin.delete(f"/OS-EP-FILTER/endpoint_groups/{gid}"), 404)
    finally:
        assert admin.delete(f"/services/{sid}").status_code == 204


def test_endpoint_group_validation_and_rbac(admin: httpx.Client, member: httpx.Client) -> None:
    url = "/OS-EP-FILTER/endpoint_groups"
    _error(admin.post(url, json={"endpoint_group": {"name": "g"}}), 400)  # no filters
    _error(admin.post(url, json={"endpoint_group": {"filters": {}}}), 400)  # no name
    assert "not a valid endpoint group filter" in _error(
        admin.post(url, json={"endpoint_group": {"name": "g", "filters": {"url": "x"}}}), 400)["message"]
    _error(admin.post(url, json={"endpoint_group": {"name": "g", "filters": {"interface": "sideways"}}}), 400)
    _error(admin.post(url, json={"endpoint_group": {"name": "g", "filters": {"service_id": 7}}}), 400)
    _error(admin.post(url, json={"endpoint_group": {"name": "g", "filters": "interface=public"}}), 400)
    _error(admin.patch(f"{url}/{uuid.uuid4().hex}", json={"endpoint_group": {"name": "x"}}), 404)
    _error(member.post(url, json={"endpoint_group": {"name": "g", "filters": {"interface": "public"}}}), 403)
    _error(member.get(url), 403)
    r = admin.post(url, json={"endpoint_group": {"name": unique("g"), "filters": {"interface": "admin"}}})
    assert r.status_code == 201
    gid = r.json()["endpoint_group"]["id"]
    try:
        _error(admin.patch(f"{url}/{gid}", json={"endpoint_group": {}}), 400)
        _error(admin.patch(f"{url}/{gid}", json={"endpoint_group": {"filters": {"region": "r"}}}), 400)
        _error(member.delete(f"{url}/{gid}"), 403)
        _error(member.put(f"{url}/{gid}/projects/{uuid.uuid4().hex}"), 403)
        _error(admin.put(f"{url}/{gid}/projects/{uuid.uuid4().hex}"), 404)  # no such project
    finally:
        assert admin.delete(f"{url}/{gid}").status_code == 204


def _catalog_endpoint_ids(cloud: RunningCloud, project_id: str) -> set[str]:
    auth = cloud.clouds()["litestack-admin"]["auth"]
    assert isinstance(auth, dict)
    r = httpx.post(f"{cloud.auth_url}/v3/auth/tokens", json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": auth["username"], "password": auth["password"], "domain": {"id": "default"}}}},
        "scope": {"project": {"id": project_id}}}}, timeout=60)
    assert r.status_code == 201, r.text
    return {ep["id"] for svc in r.json()["token"]["catalog"] for ep in svc["endpoints"]}


def test_endpoint_groups_filter_the_project_catalog(shared_cloud: RunningCloud, admin: httpx.Client) -> None:
    r = admin.post("/projects", json={"project": {"name": unique("filtered"), "domain_id": "default"}})
    assert r.status_code == 201
    project = r.json()["project"]
    pid = project["id"]
    admin_id = admin.get("/users", params={"name": "admin"}).json()["users"][0]["id"]
    member_role = admin.get("/roles", params={"name": "member"}).json()["roles"][0]["id"]
    assert admin.put(f"/projects/{pid}/users/{admin_id}/roles/{member_role}").status_code == 204
    sid, eps = _service_with_endpoints(admin, ("public", "internal"))
    gid = None
    try:
        full = _catalog_endpoint_ids(shared_cloud, pid)
        assert set(eps.values()) < full  # the identity endpoints are there too

        r = admin.post("/OS-EP-FILTER/endpoint_groups", json={"endpoint_group": {
            "name": unique("only-ext"), "filters": {"service_id": sid, "interface": "public"}}})
        assert r.status_code == 201
        gid = r.json()["endpoint_group"]["id"]
        shared_cloud.openstack("endpoint", "group", "add", "project", gid, pid, cloud="litestack-admin")
        assert gid in {g["ID"] for g in _cli_json(shared_cloud, "endpoint", "group", "list", "--project", pid)}
        assert [p["id"] for p in admin.get(f"/OS-EP-FILTER/endpoint_groups/{gid}/projects")
                .json()["projects"]] == [pid]
        r = admin.get(f"/OS-EP-FILTER/endpoint_groups/{gid}/projects/{pid}")
        assert r.status_code == 200 and r.json()["project"]["id"] == pid
        assert admin.head(f"/OS-EP-FILTER/endpoint_groups/{gid}/projects/{pid}").status_code == 200
        _error(admin.put(f"/OS-EP-FILTER/endpoint_groups/{gid}/projects/{pid}"), 409)

        # A token for the project now lists only the group's endpoints; other projects are unaffected.
        assert _catalog_endpoint_ids(shared_cloud, pid) == {eps["public"]}
        admin_project = admin.get("/projects", params={"name": "admin"}).json()["projects"][0]["id"]
        assert _catalog_endpoint_ids(shared_cloud, admin_project) == full

        assert admin.delete(f"/OS-EP-FILTER/endpoint_groups/{gid}/projects/{pid}").status_code == 204
        _error(admin.delete(f"/OS-EP-FILTER/endpoint_groups/{gid}/projects/{pid}"), 404)
        _error(admin.get(f"/OS-EP-FILTER/endpoint_groups/{gid}/projects/{pid}"), 404)
        assert _catalog_endpoint_ids(shared_cloud, pid) == full

        # Deleting the project removes its associations.
        assert admin.put(f"/OS-EP-FILTER/endpoint_groups/{gid}/projects/{pid}").status_code == 204
        assert admin.delete(f"/projects/{pid}").status_code == 204
        pid = ""
        assert admin.get(f"/OS-EP-FILTER/endpoint_groups/{gid}/projects").json()["projects"] == []
    finally:
        if gid:
            assert admin.delete(f"/OS-EP-FILTER/endpoint_groups/{gid}").status_code == 204
        assert admin.delete(f"/services/{sid}").status_code == 204
        if pid:
            assert admin.delete(f"/projects/{pid}").status_code == 204


def test_project_endpoints_filter_the_project_catalog(shared_cloud: RunningCloud, admin: httpx.Client,
                                                      member: httpx.Client) -> None:
    r = admin.post("/projects", json={"project": {"name": unique("direct"), "domain_id": "default"}})
    assert r.status_code == 201
    pid = r.json()["project"]["id"]
    admin_id = admin.get("/users", params={"name": "admin"}).json()["users"][0]["id"]
    member_role = admin.get("/roles", params={"name": "member"}).json()["roles"][0]["id"]
    assert admin.put(f"/projects/{pid}/users/{admin_id}/roles/{member_role}").status_code == 204
    sid, eps = _service_with_endpoints(admin, ("public", "internal"))
    try:
        full = _catalog_endpoint_ids(shared_cloud, pid)
        # The real CLI: `openstack endpoint add project` and `endpoint list --project`.
        shared_cloud.openstack("endpoint", "add", "project", eps["internal"], pid, cloud="litestack-admin")
        assert [e["ID"] for e in _cli_json(shared_cloud, "endpoint", "list", "--project", pid)] == [eps["internal"]]
        assert admin.head(f"/OS-EP-FILTER/projects/{pid}/endpoints/{eps['internal']}").status_code == 204
        _error(admin.get(f"/OS-EP-FILTER/projects/{pid}/endpoints/{eps['public']}"), 404)
        assert admin.put(f"/OS-EP-FILTER/projects/{pid}/endpoints/{eps['internal']}").status_code == 204  # again
        assert [p["id"] for p in admin.get(f"/OS-EP-FILTER/endpoints/{eps['internal']}/projects")
                .json()["projects"]] == [pid]
        _error(admin.put(f"/OS-EP-FILTER/projects/{pid}/endpoints/{uuid.uuid4().hex}"), 404)
        _error(member.put(f"/OS-EP-FILTER/projects/{pid}/endpoints/{eps['public']}"), 403)

        assert _catalog_endpoint_ids(shared_cloud, pid) == {eps["internal"]}
        shared_cloud.openstack("endpoint", "remove", "project", eps["internal"], pid, cloud="litestack-admin")
        assert _catalog_endpoint_ids(shared_cloud, pid) == full
        _error(admin.delete(f"/OS-EP-FILTER/projects/{pid}/endpoints/{eps['internal']}"), 404)

        # Deleting the endpoint removes its associations.
        assert admin.put(f"/OS-EP-FILTER/projects/{pid}/endpoints/{eps['public']}").status_code == 204
        assert admin.delete(f"/endpoints/{eps['public']}").status_code == 204
        assert admin.get(f"/OS-EP-FILTER/projects/{pid}/endpoints").json()["endpoints"] == []
    finally:
        assert admin.delete(f"/services/{sid}").status_code == 204
        assert admin.delete(f"/projects/{pid}").status_code == 204


def test_endpoint_policy_associations(admin: httpx.Client, member: httpx.Client) -> None:
    """OS-ENDPOINT-POLICY: an endpoint's policy is its own, else its service's in its region (or a
    parent region), else its service's."""
    r = admin.post("/regions", json={"region": {"id": unique("child"), "parent_region_id": "RegionOne"}})
    assert r.status_code == 201
    child = r.json()["region"]["id"]
    sid, eps = _service_with_endpoints(admin, ("public", "internal"))
    r = admin.post("/endpoints", json={"endpoint": {"service_id": sid, "interface": "admin",
                                                    "url": "http://127.0.0.1:9/admin", "region_id": child}})
    assert r.status_code == 201
    child_ep = r.json()["endpoint"]["id"]
    policies = []
    for name in ("service-wide", "regional", "own"):
        r = admin.post("/policies", json={"policy": {"type": "application/json", "blob": json.dumps({"n": name})}})
        assert r.status_code == 201
        policies.append(r.json()["policy"]["id"])
    wide, regional, own = policies
    pep = "OS-ENDPOINT-POLICY"

    def policy_of(endpoint: str) -> str | None:
        r = admin.get(f"/endpoints/{endpoint}/{pep}/policy")
        return str(r.json()["policy"]["id"]) if r.status_code == 200 else None

    try:
        assert policy_of(eps["public"]) is None
        _error(admin.get(f"/endpoints/{eps['public']}/{pep}/policy"), 404)
        assert admin.put(f"/policies/{wide}/{pep}/services/{sid}").status_code == 204
        assert {policy_of(e) for e in (*eps.values(), child_ep)} == {wide}
        assert admin.put(f"/policies/{regional}/{pep}/services/{sid}/regions/RegionOne").status_code == 204
        assert policy_of(child_ep) == regional  # found through the parent region
        assert admin.put(f"/policies/{own}/{pep}/endpoints/{eps['internal']}").status_code == 204
        assert (policy_of(eps["internal"]), policy_of(eps["public"])) == (own, regional)
        listed = admin.get(f"/policies/{regional}/{pep}/endpoints").json()["endpoints"]
        assert {e["id"] for e in listed} == {eps["public"], eps["internal"], child_ep}
        assert admin.head(f"/policies/{own}/{pep}/endpoints/{eps['internal']}").status_code == 204
        _error(admin.get(f"/policies/{wide}/{pep}/endpoints/{eps['internal']}"), 404)
        _error(admin.put(f"/policies/{uuid.uuid4().hex}/{pep}/services/{sid}"), 404)
        _error(admin.put(f"/policies/{own}/{pep}/services/{sid}/regions/NoSuchRegion"), 404)
        _error(member.put(f"/policies/{own}/{pep}/services/{sid}"), 403)

        # Another policy for the same target replaces the association; deleting it falls back.
        assert admin.put(f"/policies/{wide}/{pep}/endpoints/{eps['internal']}").status_code == 204
        assert policy_of(eps["internal"]) == wide
        assert admin.delete(f"/policies/{wide}/{pep}/endpoints/{eps['internal']}").status_code == 204
        assert policy_of(eps["internal"]) == regional
        assert admin.delete(f"/policies/{regional}/{pep}/services/{sid}/regions/RegionOne").status_code == 204
        assert policy_of(child_ep) == wide
        # Deleting a policy removes its associations.
        assert admin.delete(f"/policies/{wide}").status_code == 204
        assert policy_of(child_ep) is None
    finally:
        assert admin.delete(f"/services/{sid}").status_code == 204
        assert admin.delete(f"/regions/{child}").status_code == 204
        for pid in (regional, own):
            assert admin.delete(f"/policies/{pid}").status_code == 204


# --- domain configurations -----------------------------------------------------------------


CONFIG = {"identity": {"driver": "ldap"},
          "ldap": {"url": "ldap://ldap.example.com:389/", "user_tree_dn": "ou=Users,dc=example,dc=org",
                   "password": "bind-s3cret"}}
VISIBLE = {"identity": {"driver": "ldap"},
           "ldap": {"url": "ldap://ldap.example.com:389/", "user_tree_dn": "ou=Users,dc=example,dc=org"}}


@pytest.fixture
def domain(admin: httpx.Client) -> Iterator[str]:
    r = admin.post("/domains", json={"domain": {"name": unique("cfg")}})
    assert r.status_code == 201
    did: str = r.json()["domain"]["id"]
    yield did
    if admin.get(f"/domains/{did}").status_code == 200:
        assert admin.patch(f"/domains/{did}", json={"domain": {"enabled": False}}).status_code == 200
        assert admin.delete(f"/domains/{did}").status_code == 204


def test_domain_config_create_show_and_replace(shared_cloud: RunningCloud, admin: httpx.Client,
                                               domain: str) -> None:
    url = f"/domains/{domain}/config"
    _error(admin.get(url), 404)
    r = admin.put(url, json={"config": CONFIG})
    assert r.status_code == 201 and r.json()["config"] == VISIBLE  # the password is never shown
    assert admin.get(url).json()["config"] == VISIBLE
    assert admin.get(f"{url}/ldap").json()["config"] == {"ldap": VISIBLE["ldap"]}
    assert admin.get(f"{url}/ldap/url").json()["config"] == {"url": "ldap://ldap.example.com:389/"}
    _error(admin.get(f"{url}/ldap/password"), 404)
    _error(admin.get(f"{url}/ldap/user_filter"), 404)  # allowed, but not set

    # The sensitive option is stored encrypted, the others as they were given.
    opt = m.DomainConfigOption
    rows = dict(((g, o), (v, e)) for g, o, v, e in _db_rows(shared_cloud, select(
        opt.group_name, opt.option_name, opt.value, opt.encrypted_value).where(opt.domain_id == domain)))
    assert rows[("ldap", "url")][0] == "ldap://ldap.example.com:389/"
    value, encrypted = rows[("ldap", "password")]
    assert value is None and encrypted and "bind-s3cret" not in encrypted

    # PUT on an existing configuration replaces it whole, and answers 200.
    r = admin.put(url, json={"config": {"identity": {"driver": "sql", "list_limit": 50}}})
    assert r.status_code == 200 and r.json()["config"] == {"identity": {"driver": "sql", "list_limit": 50}}
    _error(admin.get(f"{url}/ldap"), 404)

    assert admin.delete(url).status_code == 204
    _error(admin.get(url), 404)
    _error(admin.delete(url), 404)


def test_domain_config_update_and_delete_parts(admin: httpx.Client, domain: str) -> None:
    url = f"/domains/{domain}/config"
    assert admin.put(url, json={"config": CONFIG}).status_code == 201

    r = admin.patch(f"{url}/identity", json={"config": {"identity": {"driver": "custom", "list_limit": 7}}})
    assert r.status_code == 200
    assert r.json()["config"] == {**VISIBLE, "identity": {"driver": "custom", "list_limit": 7}}
    r = admin.patch(f"{url}/ldap/url", json={"config": {"url": "ldaps://other/"}})
    assert r.status_code == 200 and r.json()["config"]["ldap"]["url"] == "ldaps://other/"
    assert r.json()["config"]["identity"] == {"driver": "custom", "list_limit": 7}
    # The whole-config PATCH merges, adding options that were not set.
    r = admin.patch(url, json={"config": {"ldap": {"user_filter": "(objectClass=person)"}}})
    assert r.status_code == 200 and r.json()["config"]["ldap"] == {
        "url": "ldaps://other/", "user_tree_dn": "ou=Users,dc=example,dc=org", "user_filter": "(objectClass=person)"}

    # A group or option update names that group or option and nothing else, and it must exist.
    _error(admin.patch(f"{url}/ldap/url", json={"config": {"user_tree_dn": "x"}}), 400)
    _error(admin.patch(f"{url}/ldap", json={"config": {"identity": {"driver": "x"}}}), 400)
    _error(admin.patch(f"{url}/ldap/suffix", json={"config": {"suffix": "dc=x"}}), 404)
    _error(admin.patch(f"{url}/ldap", json={"config": {"ldap": {}}}), 400)
    _error(admin.patch(url, json={"config": {}}), 400)
    _error(admin.patch(url, json={"identity": {"driver": "x"}}), 400)  # not wrapped in "config"

    assert admin.delete(f"{url}/ldap/url").status_code == 204
    _error(admin.get(f"{url}/ldap/url"), 404)
    _error(admin.delete(f"{url}/ldap/url"), 404)
    assert admin.delete(f"{url}/identity").status_code == 204
    _error(admin.get(f"{url}/identity"), 404)
    _error(admin.patch(f"{url}/identity", json={"config": {"identity": {"driver": "sql"}}}), 404)
    assert set(admin.get(url).json()["config"]) == {"ldap"}


def test_domain_config_rejects_unsupported_groups_and_options(admin: httpx.Client, domain: str) -> None:
    url = f"/domains/{domain}/config"
    # Keystone answers unsupported groups and options with 403.
    assert "not supported" in _error(admin.put(url, json={"config": {"assignment": {"driver": "x"}}}),
                                     403)["message"]
    _error(admin.put(url, json={"config": {"ldap": {"no_such_option": "x"}}}), 403)
    _error(admin.get(f"{url}/assignment"), 403)
    _error(admin.get(f"{url}/identity/password"), 403)
    # Malformed bodies are 400.
    _error(admin.put(url, json={"config": {}}), 400)
    _error(admin.put(url, json={"config": {"ldap": "ldap://x"}}), 400)
    _error(admin.put(url, json={"config": "x"}), 400)
    _error(admin.put(url, content=b"{not json", headers={"Content-Type": "application/json"}), 400)
    _error(admin.get(url), 404)  # none of that stored anything
    missing = uuid.uuid4().hex
    _error(admin.put(f"/domains/{missing}/config", json={"config": VISIBLE}), 404)
    _error(admin.get(f"/domains/{missing}/config"), 404)
    # A missing domain is reported before anything about the body or the group.
    _error(admin.put(f"/domains/{missing}/config", json={"config": {"assignment": {"driver": "x"}}}), 404)
    _error(admin.patch(f"/domains/{missing}/config/assignment", json={"config": {}}), 404)
    _error(admin.get(f"/domains/{missing}/config/assignment"), 404)
    _error(admin.delete(f"/domains/{missing}/config/ldap/url"), 404)


def test_deleting_a_domain_deletes_its_config(shared_cloud: RunningCloud, admin: httpx.Client,
                                              domain: str) -> None:
    assert admin.put(f"/domains/{domain}/config", json={"config": CONFIG}).status_code == 201
    assert admin.patch(f"/domains/{domain}", json={"domain": {"enabled": False}}).status_code == 200
    assert admin.delete(f"/domains/{domain}").status_code == 204
    assert _db_rows(shared_cloud, "SELECT count(*) FROM domain_config_option WHERE domain_id = :id",
                    id=domain) == [(0,)]


def test_default_domain_config(admin: httpx.Client) -> None:
    config = admin.get("/domains/config/default").json()["config"]
    assert set(config) == {"identity", "ldap"}
    assert config["identity"] == {"driver": "sql", "list_limit": None}
    assert config["ldap"]["url"] == "ldap://localhost" and config["ldap"]["user_tree_dn"] is None
    assert "password" not in config["ldap"]
    assert admin.get("/domains/config/ldap/default").json()["config"] == {"ldap": config["ldap"]}
    for option, value in config["ldap"].items():
        assert admin.get(f"/domains/config/ldap/{option}/default").json()["config"] == {option: value}
    assert admin.get("/domains/config/identity/driver/default").json()["config"] == {"driver": "sql"}
    _error(admin.get("/domains/config/ldap/password/default"), 403)
    _error(admin.get("/domains/config/ldap/nope/default"), 403)
    _error(admin.get("/domains/config/assignment/default"), 403)


def test_domain_config_is_admin_only(admin: httpx.Client, member: httpx.Client, domain: str) -> None:
    _error(member.get("/domains/config/default"), 403)
    _error(member.put(f"/domains/{domain}/config", json={"config": VISIBLE}), 403)
    assert admin.put(f"/domains/{domain}/config", json={"config": VISIBLE}).status_code == 201
    _error(member.get(f"/domains/{domain}/config"), 403)
    _error(member.patch(f"/domains/{domain}/config/ldap/url", json={"config": {"url": "ldap://evil/"}}), 403)
    _error(member.delete(f"/domains/{domain}/config"), 403)
    assert admin.get(f"/domains/{domain}/config/ldap/url").json()["config"] == {"url": VISIBLE["ldap"]["url"]}
