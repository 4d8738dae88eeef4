"""Schemathesis fuzzing of the identity API, driven by the OpenAPI document it publishes.

Every operation gets a few generated requests (valid and invalid) sent with an admin token;
the server must never answer 5xx, successful responses must match the published schema,
and status codes must be ones the document declares.

Path parameters are random strings, or the IDs of throw-away resources made for the run
(so that requests get past the lookup and exercise the handlers). Operations that could
destroy the cloud's own bootstrap state (the admin user, the default domain, the admin
project, the admin's role grants, the built-in roles, the fuzzer's own token) are left out,
see ``EXCLUDED``: a fuzzer that reuses IDs must never lock the run out.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from schemathesis import BaseSchema

from tests.conftest import RunningCloud
from tests.databases import DATABASES, clouds_on, on_real_server
from tests.fuzz import admin_token as make_admin_token
from tests.fuzz import fuzz, openapi

pytestmark = pytest.mark.functional

#: Generated requests per operation: on SQLite, and on PostgreSQL and MariaDB (same code paths,
#: run mainly for the database's own behaviour, and slower); and the successful (2xx) answers
#: expected at least, which shows the real IDs got the requests past the lookups.
EXAMPLES = {"sqlite": 6, "server": 2}
MIN_ACCEPTED = {"sqlite": 100, "server": 40}

# (method regex, path regex) of the operations excluded, and why.
EXCLUDED = [
    # Deleting or disabling (PATCH enabled=false) the admin user, the default domain or
    # the admin project would revoke the fuzzer's own token.
    ("DELETE|PATCH", r"^/v3/users/\{user_id\}$"),
    ("DELETE|PATCH", r"^/v3/domains/\{domain_id\}$"),
    ("DELETE|PATCH", r"^/v3/projects/\{project_id\}$"),
    # Revoking a grant (or granting odd ones) changes who the admin is.
    ("PUT|DELETE", r"/roles/\{role_id\}(/inherited_to_projects)?$"),
    # Deleting a built-in role (admin, member, reader) breaks every token holding it.
    ("DELETE", r"^/v3/roles/\{role_id\}$"),
    # Revoking the caller's own token ends the run; it needs X-Subject-Token anyway.
    ("DELETE", r"^/v3/auth/tokens$"),
]


@pytest.fixture(scope="module", params=DATABASES)
def shared_cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    """The fuzzed cloud, on each database in turn."""
    with clouds_on(request.param, tmp_path_factory.mktemp("fuzz")) as make:
        yield make()


@pytest.fixture(scope="module")
def admin_token(shared_cloud: RunningCloud) -> str:
    return make_admin_token(shared_cloud)


@pytest.fixture(scope="module")
def identity_api(shared_cloud: RunningCloud, admin_token: str) -> Iterator[BaseSchema]:
    schema = openapi(shared_cloud.auth_url, admin_token)
    # Every operation the document publishes is implemented, so a 501 (``NotImplementedYet``)
    # counts as a server error here like any other 5xx.
    yield schema
    # The admin token must have survived the run: nothing excluded above was reachable.
    r = httpx.get(f"{shared_cloud.auth_url}/v3/auth/tokens",
                  headers={"X-Auth-Token": admin_token, "X-Subject-Token": admin_token}, timeout=30)
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def sacrificial_ids(shared_cloud: RunningCloud, admin_token: str) -> dict[str, str]:
    """Real IDs of throw-away resources, so that fuzzed requests get past the 404 on lookup."""
    api = httpx.Client(base_url=f"{shared_cloud.auth_url}/v3", headers={"X-Auth-Token": admin_token},
                       timeout=30)

    def make(path: str, key: str, body: dict[str, object]) -> str:
        r = api.post(path, json={key: body})
        assert r.status_code == 201, r.text
        return str(r.json()[key]["id"])

    domain = make("/domains", "domain", {"name": "fuzz-domain"})
    project = make("/projects", "project", {"name": "fuzz-project", "tags": ["fuzz"]})
    user = make("/users", "user", {"name": "fuzz-user", "password": "fuzz-password"})
    group = make("/groups", "group", {"name": "fuzz-group"})
    role = make("/roles", "role", {"name": "fuzz-role"})
    implied = make("/roles", "role", {"name": "fuzz-implied"})
    region = make("/regions", "region", {"id": "fuzz-region"})
    service = make("/services", "service", {"type": "fuzz", "name": "fuzz"})
    endpoint = make("/endpoints", "endpoint", {"service_id": service, "interface": "public",
                                               "url": "http://fuzz.example/"})
    credential = make("/credentials", "credential", {"user_id": user, "type": "cert", "blob": "x"})
    assert api.put(f"/roles/{role}/implies/{implied}").status_code == 201
    assert api.put(f"/projects/{project}/users/{user}/roles/{role}").status_code == 204
    api.close()
    return {"domain_id": domain, "project_id": project, "user_id": user, "group_id": group,
            "role_id": role, "prior_id": role, "implied_id": implied, "region_id": region,
            "service_id": service, "endpoint_id": endpoint, "credential_id": credential,
            "target_id": project, "actor_id": user, "tag": "fuzz"}


def test_identity_api_conforms_to_its_openapi_document(shared_cloud: RunningCloud, identity_api: BaseSchema,
                                                       sacrificial_ids: dict[str, str]) -> None:
    kind = "server" if on_real_server(shared_cloud) else "sqlite"
    result = fuzz(identity_api, sacrificial_ids, EXAMPLES[kind], EXCLUDED)
    assert result.ran > 100, f"only {result.ran} operations were fuzzed"
    # Real IDs get the fuzzer past the lookups: many requests must have been accepted.
    assert result.statuses[2] > MIN_ACCEPTED[kind], result.statuses
    assert not result.failures, "\n\n".join(result.failures)
