"""A small raw-HTTP Keystone client for the identity functional tests.

The real clients (python-openstackclient, openstacksdk) drive the happy paths; this one
sends exactly the requests a test needs, including the malformed and forbidden ones, and
hands back the raw ``httpx.Response``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import RunningCloud

#: Fast bcrypt for clouds whose tests do not check the default cost.
FAST_HASH = "[identity]\npassword_hash_rounds = 4\n"
#: The identity tests' clouds run the identity service alone (the others have their own suites).
IDENTITY_ONLY = '[DEFAULT]\nservices = ["identity"]\n' + FAST_HASH


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def password_auth(name: str, password: str, *, project: str | None = None, domain: str | None = None,
                  system: bool = False, user_domain: str = "Default") -> dict[str, Any]:
    """A ``POST /v3/auth/tokens`` body for the password method; scope by project/domain name."""
    auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "password": password, "domain": {"name": user_domain}}}}}
    if project is not None:
        auth["scope"] = {"project": {"name": project, "domain": {"name": user_domain}}}
    elif domain is not None:
        auth["scope"] = {"domain": {"name": domain}}
    elif system:
        auth["scope"] = {"system": {"all": True}}
    return {"auth": auth}


class Keystone:
    """Raw HTTP access to one running cloud's identity API."""

    def __init__(self, cloud: RunningCloud) -> None:
        self.cloud = cloud
        self.http = httpx.Client(base_url=cloud.auth_url, timeout=60)
        self._admin: str | None = None

    def close(self) -> None:
        self.http.close()

    # --- tokens ---------------------------------------------------------------------------

    def authenticate(self, body: dict[str, Any]) -> httpx.Response:
        return self.http.post("/v3/auth/tokens?nocatalog", json=body)

    def token(self, name: str, password: str, **scope: Any) -> str:
        r = self.authenticate(password_auth(name, password, **scope))
        assert r.status_code == 201, r.text
        return r.headers["x-subject-token"]

    def admin_password(self) -> str:
        return str(self.cloud.clouds()["litestack-admin"]["auth"]["password"])  # type: ignore[index]

    @property
    def admin(self) -> str:
        """A project-scoped token of the bootstrap admin (cached)."""
        if self._admin is None:
            self._admin = self.token("admin", self.admin_password(), project="admin")
        return self._admin

    # --- requests -------------------------------------------------------------------------

    def request(self, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})
        headers.setdefault("X-Auth-Token", token or self.admin)
        return self.http.request(method, f"/v3{path}", headers=headers, **kw)

    def get(self, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        return self.request("GET", path, token, **kw)

    def create(self, path: str, key: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        r = self.request("POST", path, token, json={key: body})
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()[key]
        return created

    def role_id(self, name: str) -> str:
        r = self.get("/roles", params={"name": name})
        assert r.status_code == 200, r.text
        (role,) = r.json()["roles"]
        return str(role["id"])

    def grant(self, role: str, *, user: str | None = None, group: str | None = None,
              project: str | None = None, domain: str | None = None, system: bool = False,
              inherited: bool = False) -> None:
        actor = f"users/{user}" if user else f"groups/{group}"
        if system:
            path = f"/system/{actor}/roles/{role}"
        elif project:
            path = f"/projects/{project}/{actor}/roles/{role}"
        else:
            path = f"/domains/{domain}/{actor}/roles/{role}"
        if inherited:
            path = f"/OS-INHERIT{path}/inherited_to_projects"
        r = self.request("PUT", path)
        assert r.status_code == 204, r.text

    def new_member(self, prefix: str, role: str = "member") -> tuple[dict[str, Any], dict[str, Any], str]:
        """A fresh project and a user holding ``role`` on it; returns (project, user, password)."""
        password = uuid.uuid4().hex
        project = self.create("/projects", "project", {"name": unique(f"{prefix}-project")})
        user = self.create("/users", "user", {"name": unique(f"{prefix}-user"), "password": password,
                                              "default_project_id": project["id"]})
        self.grant(self.role_id(role), user=user["id"], project=project["id"])
        return project, user, password

    # --- the real CLI, as a user of our choosing ------------------------------------------

    def openstack_as(self, user: str, password: str, project: str, *args: str, check: bool = True) -> Any:
        """Run ``openstack`` as ``user`` scoped to ``project`` (clouds.yaml supplies the rest)."""
        return self.cloud.openstack("--os-username", user, "--os-password", password,
                                    "--os-project-name", project, *args, cloud="litestack", check=check)

    def openstack_app_cred(self, cred_id: str, secret: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``openstack`` authenticated by an application credential, with no clouds.yaml."""
        exe = shutil.which("openstack", path=str(Path(sys.executable).parent)) or "openstack"
        env = {k: v for k, v in self.cloud.env.items() if not k.startswith("OS_")}
        return subprocess.run(
            [exe, "--os-auth-type", "v3applicationcredential", "--os-auth-url", self.cloud.auth_url,
             "--os-identity-api-version", "3", "--os-application-credential-id", cred_id,
             # One "=" argument: a generated secret may start with "-", which argparse would
             # otherwise take for an option.
             f"--os-application-credential-secret={secret}", *args],
            capture_output=True, text=True, env=env, timeout=120)

