"""Keystone-shaped JSON for each identity resource, each view followed by the schema of what it
returns (declared once, used by the list and show operations and published in the OpenAPI
document, so that schemathesis's response conformance check tests the real fields)."""

from __future__ import annotations

from typing import Any

from litestack.common.api.resource import list_links, self_link
from litestack.common.api.schema import BOOL, NINT, NSTR, OBJ, SELF_LINK, STR, STRS, array, obj
from litestack.identity import models as m
from litestack.identity.api.service import IdentityAPI
from litestack.identity.manager.assignment import Grant
from litestack.identity.manager.base import iso


def _links(base: str, path: str) -> dict[str, Any]:
    return self_link(f"{base}{IdentityAPI.prefix}/{path}")


def domain(base: str, d: m.Domain) -> dict[str, Any]:
    return {**d.extra, "id": d.id, "name": d.name, "description": d.description or "", "enabled": d.enabled,
            "tags": d.extra.get("tags", []), "options": d.extra.get("options", {}),
            "links": _links(base, f"domains/{d.id}")}


DOMAIN = obj({"id": STR, "name": STR, "description": STR, "enabled": BOOL, "tags": STRS, "options": OBJ,
              "links": SELF_LINK})


def project(base: str, p: m.Project) -> dict[str, Any]:
    return {**p.extra, "id": p.id, "name": p.name, "domain_id": p.domain_id,
            "parent_id": p.parent_id or p.domain_id, "description": p.description or "",
            "enabled": p.enabled, "is_domain": False, "tags": list(p.tags), "options": dict(p.options),
            "links": _links(base, f"projects/{p.id}")}


PROJECT = obj({"id": STR, "name": STR, "domain_id": NSTR, "parent_id": NSTR, "description": STR,
               "enabled": BOOL, "is_domain": BOOL, "tags": STRS, "options": OBJ, "links": SELF_LINK})


def domain_as_project(base: str, d: m.Domain) -> dict[str, Any]:
    """A domain seen through the projects API (``is_domain`` projects)."""
    return {"id": d.id, "name": d.name, "domain_id": None, "parent_id": None, "description": d.description or "",
            "enabled": d.enabled, "is_domain": True, "tags": d.extra.get("tags", []),
            "options": d.extra.get("options", {}), "links": _links(base, f"projects/{d.id}")}


def user(base: str, u: m.User, password_expires_at: Any = None, enabled: bool | None = None) -> dict[str, Any]:
    out = {**u.extra, "id": u.id, "name": u.name, "domain_id": u.domain_id,
           "enabled": u.enabled if enabled is None else enabled,
           "password_expires_at": iso(password_expires_at), "options": dict(u.options),
           "links": _links(base, f"users/{u.id}")}
    if u.default_project_id:
        out["default_project_id"] = u.default_project_id
    if u.description is not None:
        out["description"] = u.description
    return out


USER = obj({"id": STR, "name": STR, "domain_id": STR, "enabled": BOOL, "password_expires_at": NSTR,
            "options": OBJ, "links": SELF_LINK}, {"default_project_id": NSTR, "description": NSTR})


def group(base: str, g: m.Group) -> dict[str, Any]:
    return {**g.extra, "id": g.id, "name": g.name, "domain_id": g.domain_id,
            "description": g.description or "", "links": _links(base, f"groups/{g.id}")}


GROUP = obj({"id": STR, "name": STR, "domain_id": STR, "description": STR, "links": SELF_LINK})


def role(base: str, r: m.Role) -> dict[str, Any]:
    return {**r.extra, "id": r.id, "name": r.name,
            "domain_id": None if r.domain_id == m.NULL_DOMAIN else r.domain_id,
            "description": r.description, "options": dict(r.options), "links": _links(base, f"roles/{r.id}")}


ROLE = obj({"id": STR, "name": STR, "domain_id": NSTR, "description": NSTR, "options": OBJ,
            "links": SELF_LINK})


def role_ref(base: str, r: m.Role) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "links": _links(base, f"roles/{r.id}")}


ROLE_REF = obj({"id": STR, "name": STR, "links": SELF_LINK})


def implied_role(base: str, prior: m.Role, implied: list[m.Role]) -> dict[str, Any]:
    return {"prior_role": role_ref(base, prior), "implies": [role_ref(base, r) for r in implied]}


IMPLIED_ROLE = obj({"prior_role": ROLE_REF, "implies": array(ROLE_REF)})


def region(base: str, r: m.Region) -> dict[str, Any]:
    return {**r.extra, "id": r.id, "description": r.description or "",
            "parent_region_id": r.parent_region_id, "links": _links(base, f"regions/{r.id}")}


REGION = obj({"id": STR, "description": STR, "parent_region_id": NSTR, "links": SELF_LINK})


def service(base: str, s: m.Service) -> dict[str, Any]:
    return {**s.extra, "id": s.id, "type": s.type, "enabled": s.enabled,
            "links": _links(base, f"services/{s.id}")}


SERVICE = obj({"id": STR, "type": STR, "enabled": BOOL, "links": SELF_LINK}, {"name": STR, "description": NSTR})


def endpoint(base: str, e: m.Endpoint) -> dict[str, Any]:
    return {**e.extra, "id": e.id, "service_id": e.service_id, "interface": e.interface, "url": e.url,
            "region_id": e.region_id, "region": e.region_id, "enabled": e.enabled,
            "links": _links(base, f"endpoints/{e.id}")}


ENDPOINT = obj({"id": STR, "service_id": STR, "interface": STR, "url": STR, "region_id": NSTR, "region": NSTR,
                "enabled": BOOL, "links": SELF_LINK})


def app_cred(base: str, c: m.ApplicationCredential, roles: list[m.Role]) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "user_id": c.user_id, "project_id": c.project_id,
            "description": c.description,
            # Keystone echoes the timestamp as it was given (naive ISO 8601, no "Z").
            "expires_at": c.expires_at.isoformat() if c.expires_at else None, "unrestricted": c.unrestricted,
            "roles": [{"id": r.id, "name": r.name, "domain_id": None} for r in roles],
            "access_rules": list(c.access_rules),
            "links": _links(base, f"users/{c.user_id}/application_credentials/{c.id}")}


APP_CRED = obj({"id": STR, "name": STR, "user_id": STR, "project_id": NSTR, "description": NSTR,
                "expires_at": NSTR, "unrestricted": BOOL,
                "roles": array(obj({"id": STR, "name": STR, "domain_id": NSTR})), "access_rules": array(OBJ),
                "links": SELF_LINK}, {"secret": STR})


def credential(base: str, c: m.Credential, blob: str) -> dict[str, Any]:
    return {**c.extra, "id": c.id, "user_id": c.user_id, "project_id": c.project_id, "type": c.type,
            "blob": blob, "links": _links(base, f"credentials/{c.id}")}


CREDENTIAL = obj({"id": STR, "user_id": STR, "project_id": NSTR, "type": STR, "blob": STR, "links": SELF_LINK})


def ec2(base: str, data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "links": _links(base, f"users/{data['user_id']}/credentials/OS-EC2/{data['access']}")}


EC2 = obj({"user_id": STR, "access": STR, "secret": STR, "links": SELF_LINK},
           {"tenant_id": NSTR, "trust_id": NSTR, "app_cred_id": NSTR, "access_token_id": NSTR})


def assignment(base: str, g: Grant, names: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    actor = {"id": g.actor_id}
    scope: dict[str, Any]
    if g.target_type == "system":
        scope = {"system": {"all": True}}
    else:
        scope = {g.target_type: {"id": g.target_id}}
    role_d: dict[str, Any] = {"id": g.role_id}
    if names is not None:
        actor.update(names.get(g.actor_id, {}))
        role_d.update(names.get(g.role_id, {}))
        if g.target_type != "system":
            scope[g.target_type].update(names.get(g.target_id, {}))
    if g.inherited:
        scope["OS-INHERIT:inherited_to"] = "projects"
    out: dict[str, Any] = {"role": role_d, g.actor_type: actor, "scope": scope}
    if g.target_type == "system":
        link = f"system/{g.actor_type}s/{g.actor_id}/roles/{g.role_id}"
    else:
        link = f"{g.target_type}s/{g.target_id}/{g.actor_type}s/{g.actor_id}/roles/{g.role_id}"
    links: dict[str, Any] = {"assignment": f"{base}/v3/{link}"}
    if g.via_group:
        links["membership"] = f"{base}/v3/groups/{g.via_group}/users/{g.actor_id}"
    if g.via_prior_role:
        links["prior_role"] = f"{base}/v3/roles/{g.via_prior_role}"
    out["links"] = links
    return out


ASSIGNMENT = obj({"role": obj({"id": STR}), "scope": OBJ, "links": obj({"assignment": STR})},
                  {"user": obj({"id": STR}), "group": obj({"id": STR})})


def trust(base: str, t: m.Trust, roles: list[m.Role] | None = None) -> dict[str, Any]:
    """A trust; with ``roles`` (show and create) also its roles, as Keystone lists them only there."""
    out = {**t.extra, "id": t.id, "trustor_user_id": t.trustor_user_id, "trustee_user_id": t.trustee_user_id,
           "project_id": t.project_id, "impersonation": t.impersonation, "expires_at": iso(t.expires_at),
           "remaining_uses": t.remaining_uses, "redelegated_trust_id": t.redelegated_trust_id,
           "redelegation_count": t.redelegation_count, "deleted_at": None,
           "links": _links(base, f"OS-TRUST/trusts/{t.id}")}
    if roles is not None:
        out["roles"] = [role(base, r) for r in roles]
        out["roles_links"] = list_links(f"{base}/v3/OS-TRUST/trusts/{t.id}/roles")
    return out


TRUST = obj({"id": STR, "trustor_user_id": STR, "trustee_user_id": STR, "project_id": NSTR,
             "impersonation": BOOL, "expires_at": NSTR, "remaining_uses": NINT, "redelegated_trust_id": NSTR,
             "redelegation_count": NINT, "deleted_at": NSTR, "links": SELF_LINK},
            {"roles": array(ROLE), "roles_links": OBJ})
