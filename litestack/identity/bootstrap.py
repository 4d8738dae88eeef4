"""First-start bootstrap of the identity service; idempotent, so it runs on every start."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import select

from litestack.common.secrets import Credentials
from litestack.common.service import ServiceSpec
from litestack.identity import models as m
from litestack.identity.manager import Manager


def bootstrap(mgr: Manager, creds: Credentials, public_url: str, region: str,
              services: tuple[ServiceSpec, ...], reset_admin: bool = False, standalone: bool = False,
              rewrite_urls: bool = True) -> None:
    """Create what a fresh cloud needs; fix up what an earlier start left (endpoint URLs).

    Every enabled service is registered from its spec: its catalog entries and, when it calls
    other services, its service user (admin and service roles in the ``service`` project).
    """
    with mgr.db.reader() as s:
        has_default = s.get(m.Domain, "default") is not None
    if not has_default:
        mgr.resources.create_domain({"id": "default", "name": "Default", "description": "The default domain"})
    roles = {}
    for name in ("admin", "member", "reader", "service"):
        role = mgr.assignments.find_role_by_name(name)
        roles[name] = role.id if role else mgr.assignments.create_role({"name": name}).id
    for prior, implied in (("admin", "member"), ("member", "reader")):
        mgr.assignments.create_implied_role(roles[prior], roles[implied])
    # Roles an enabled service's deployment defines, as DevStack creates them (Swift's ResellerAdmin).
    for name in dict.fromkeys(r for spec in services for r in spec.roles):
        if mgr.assignments.find_role_by_name(name) is None:
            mgr.assignments.create_role({"name": name})

    admin_project = _project(mgr, "admin", "Bootstrap project for the cloud administrator")
    service_project = _project(mgr, "service", "Project of the service users")
    demo_project = _project(mgr, "demo", "A project for ordinary use")
    # Each new user costs a bcrypt hash; the two run in parallel (bcrypt releases the GIL).
    with ThreadPoolExecutor(2) as pool:
        admin_f = pool.submit(_user, mgr, "admin", creds.admin_password, admin_project, reset_admin)
        demo_f = pool.submit(_user, mgr, "demo", creds.demo_password, demo_project)
        admin, demo = admin_f.result(), demo_f.result()
    mgr.assignments.create_grant(roles["admin"], "user", admin, "project", admin_project)
    mgr.assignments.create_grant(roles["admin"], "user", admin, "system", "system")
    mgr.assignments.create_grant(roles["member"], "user", demo, "project", demo_project)
    for spec in services:
        uname = spec.service_user
        if not uname:
            continue
        uid = _user(mgr, uname, creds.service_passwords[uname], service_project)
        mgr.assignments.create_grant(roles["service"], "user", uid, "project", service_project)
        mgr.assignments.create_grant(roles["admin"], "user", uid, "project", service_project)
    _catalog(mgr, public_url, region, services, standalone, rewrite_urls)
    _registered_limits(mgr, region, services)


def _project(mgr: Manager, name: str, description: str) -> str:
    found = mgr.resources.list_projects({"name": name, "domain_id": "default"})
    if found:
        return found[0].id
    return mgr.resources.create_project({"name": name, "domain_id": "default", "description": description}).id


def _user(mgr: Manager, name: str, password: str, project_id: str, reset: bool = False) -> str:
    found = mgr.users.list_users({"name": name, "domain_id": "default"})
    if found:
        user = found[0]
        # Checking the stored hash costs a bcrypt round; only do it when asked to (a configured
        # admin_password), so that a warm start stays fast.
        if reset:
            with mgr.db.reader() as s:
                current = mgr.users._current_password(s, user.id)
            if current is None or not mgr.shared.hasher.check(password, current.hash):
                mgr.users.update_user(user.id, {"password": password})
        return user.id
    return mgr.users.create_user({"name": name, "domain_id": "default", "password": password,
                            "default_project_id": project_id,
                            "options": {"ignore_password_expiry": True,
                                        "ignore_lockout_failure_attempts": name != "demo"}}).id


def _catalog(mgr: Manager, public_url: str, region: str, services: tuple[ServiceSpec, ...],
             standalone: bool, rewrite_urls: bool) -> None:
    """Endpoints at DevStack's paths under one address, or at the root of a standalone API's port.

    Missing endpoints are created; existing ones are moved to ``public_url`` only when
    ``rewrite_urls`` (one host, or an explicit ``[DEFAULT] public_url``).
    """
    with mgr.db.reader() as s:
        has_region = s.get(m.Region, region) is not None
    if not has_region:
        mgr.catalog.create_region({"id": region, "description": ""})
    for spec, entry in ((sp, e) for sp in services for e in sp.catalog):
        existing = [x for x in mgr.catalog.list_services(entry.type) if x.extra.get("name") == entry.name]
        service = existing[0] if existing else mgr.catalog.create_service(
            {"type": entry.type, "name": entry.name, "description": entry.description})
        url = public_url.rstrip("/") + ("" if standalone else spec.path) + entry.suffix
        with mgr.db.reader() as s:
            eps = list(s.scalars(select(m.Endpoint).where(m.Endpoint.service_id == service.id)))
        by_iface = {e.interface: e for e in eps}
        for iface in ("public", "internal", "admin"):
            ep = by_iface.get(iface)
            if ep is None:
                mgr.catalog.create_endpoint({"service_id": service.id, "interface": iface, "url": url,
                                     "region_id": region})
            elif ep.url != url and rewrite_urls:
                mgr.catalog.update_endpoint(ep.id, {"url": url})


def _registered_limits(mgr: Manager, region: str, services: tuple[ServiceSpec, ...]) -> None:
    """Each service's registered limits (``ServiceSpec.limits``), created once with their defaults:
    an operator's later change is kept."""
    for spec in services:
        if not spec.limits:
            continue
        entry = spec.catalog[0]
        service = next(x for x in mgr.catalog.list_services(entry.type) if x.extra.get("name") == entry.name)
        have = {r.resource_name for r in mgr.limits.list_registered_limits({"service_id": service.id})}
        new = [{"service_id": service.id, "region_id": region, "resource_name": lim.resource_name,
                "default_limit": lim.default_limit, "description": lim.description}
               for lim in spec.limits if lim.resource_name not in have]
        if new:
            mgr.limits.create_registered_limits(new)


def write_clouds_yaml(path: Path, auth_url: str, region: str, creds: Credentials) -> None:
    """clouds.yaml (mode 0600) for the demo user, the project admin and the system admin."""
    import yaml

    common = {"region_name": region, "identity_api_version": 3, "interface": "public"}
    dom = {"user_domain_name": "Default"}
    clouds = {
        "litestack": {**common, "auth": {"auth_url": auth_url, "username": "demo",
                                         "password": creds.demo_password, "project_name": "demo",
                                         "project_domain_name": "Default", **dom}},
        "litestack-admin": {**common, "auth": {"auth_url": auth_url, "username": "admin",
                                               "password": creds.admin_password, "project_name": "admin",
                                               "project_domain_name": "Default", **dom}},
        "litestack-system": {**common, "auth": {"auth_url": auth_url, "username": "admin",
                                                "password": creds.admin_password, "system_scope": "all",
                                                **dom}},
    }
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump({"clouds": clouds}, f, sort_keys=False)
    os.replace(tmp, path)
