"""Who may use an account: its own project (the policy rules), and others the ACLs let in.

Swift's keystoneauth, as the target loader of every account, container and object route:

- the account's project and ``ResellerAdmin`` are checked against the normal rules
  (``object:get_object`` …);
- a container's ``X-Container-Read`` lets read it (its objects, and its listing), and its
  ``X-Container-Write`` lets write its objects, to the grants it lists: ``<project>:<user>`` by id
  or name, with ``*`` for any, or a role name the caller holds; ``.r:<referrer>`` lets anyone
  (tokens or none) read its objects when the request's ``Referer`` matches (``.r:*`` any,
  ``.r:.example.com`` a domain, ``.r:-host`` refuses one), and ``.rlistings`` its listing too;
- an account's ``X-Account-Access-Control`` (JSON ``{"read-only"|"read-write"|"admin": [ids]}``,
  of project or user ids) lets other callers read it, write its containers' objects, or do
  everything its owner does;
- a request signed by TempURL or FormPost carries a grant (``sub.GRANT``).

What an ACL allows is checked against ``object:acl_access`` (granted whatever the caller's roles,
the decision being the ACL's; an operator disables ACLs by setting it to ``!``). A caller without
a token whom no ACL admits gets 401; a caller with one, 403 (the normal rules deny it).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from starlette.requests import Request

from litestack.common import errors
from litestack.common.api.policy import Target, policy_target
from litestack.object.middleware.sub import GRANT, swift_path

RESELLER_PREFIX = "AUTH_"
ACL_RULE = "object:acl_access"
ACCOUNT_ACL = "x-account-sysmeta-core-access-control"
_READ_METHODS = ("GET", "HEAD")


def parse_acl(value: str | None) -> list[str]:
    return [g.strip() for g in (value or "").split(",") if g.strip()]


def referrer_allowed(referrer: str | None, acl: list[str]) -> bool:
    """Swift's rule: the last ``.r:`` grant that matches the Referer's host decides."""
    host = urlparse(referrer).hostname or "" if referrer else ""
    allowed = False
    for grant in acl:
        if not grant.startswith((".r:", ".ref:", ".referer:", ".referrer:")):
            continue
        pattern = grant.split(":", 1)[1].strip()
        deny = pattern.startswith("-")
        pattern = pattern.lstrip("-")
        if pattern == "*" or (pattern.startswith(".") and host.endswith(pattern)) or pattern == host:
            allowed = not deny
    return allowed


def user_allowed(ctx: Any, acl: list[str]) -> bool:
    """Whether an authenticated caller matches a ``project:user`` grant (ids or names) or a role."""
    if not ctx.authenticated:
        return False
    projects = {"*", ctx.project_id, ctx.project_name} - {None}
    users = {"*", ctx.user_id, ctx.user_name} - {None}
    roles = {r.lower() for r in ctx.roles}
    for grant in acl:
        if grant.startswith("."):
            continue
        if ":" in grant:
            project, _, user = grant.partition(":")
            if project in projects and user in users:
                return True
        elif grant.lower() in roles:
            return True
    return False


def account_acl_level(ctx: Any, value: str | None) -> str | None:
    """The level (``read-only``, ``read-write``, ``admin``) an account ACL gives the caller."""
    if not value or not ctx.authenticated:
        return None
    try:
        acl = json.loads(value)
    except ValueError:
        return None
    ids = {ctx.user_id, ctx.project_id, f"{ctx.project_id}:{ctx.user_id}"} - {None}
    best = None
    for level in ("read-only", "read-write", "admin"):
        if isinstance(acl, dict) and isinstance(acl.get(level), list) and ids & set(map(str, acl[level])):
            best = level
    return best


def parse_account_acl(value: str) -> str:
    """Validate an ``X-Account-Access-Control`` value (400 otherwise); return it normalised."""
    try:
        acl = json.loads(value)
    except ValueError:
        raise errors.BadRequest("Syntax error in input (X-Account-Access-Control is not valid JSON)") from None
    if not isinstance(acl, dict) or any(k not in ("admin", "read-write", "read-only") for k in acl) or any(
            not isinstance(v, list) or not all(isinstance(x, str) for x in v) for v in acl.values()):
        raise errors.BadRequest("Invalid X-Account-Access-Control: keys admin, read-write, read-only, each a list "
                                "of strings")
    return json.dumps({k: v for k, v in acl.items() if v}, separators=(",", ":"))


def _project_of(account: str) -> str | None:
    return account[len(RESELLER_PREFIX):] if account.startswith(RESELLER_PREFIX) else None


def _owner(ctx: Any, project: str | None) -> bool:
    return bool(ctx.authenticated and ((project is not None and ctx.project_id == project)
                                       or "reselleradmin" in {r.lower() for r in ctx.roles}))


async def acl_allows(proxy: Any, ctx: Any, method: str, account: str, container: str | None, is_object: bool,
                     referer: str | None = None) -> bool:
    """Whether an account or container ACL lets a caller who does not own ``account`` do this."""
    read = method in _READ_METHODS
    if ctx.authenticated:
        level = account_acl_level(ctx, (await proxy.account_info(account)).get(ACCOUNT_ACL))
        if level == "admin" or (level == "read-write" and (container is not None or read)) or (
                level == "read-only" and read):
            return True
    if container is None or not (is_object or read):
        return False
    info = await proxy.container_info(account, container)
    if info is None:
        return False
    if read:
        acl = parse_acl(info.get("x-container-read"))
        return user_allowed(ctx, acl) or (referrer_allowed(referer, acl) and (is_object or ".rlistings" in acl))
    return user_allowed(ctx, parse_acl(info.get("x-container-write")))


async def may(proxy: Any, ctx: Any, method: str, account: str, container: str | None, is_object: bool) -> bool:
    """Whether the caller owns ``account`` or an ACL lets it do this there (cross-account copies)."""
    return _owner(ctx, _project_of(account)) or await acl_allows(proxy, ctx, method, account, container, is_object)


async def authorize(proxy: Any, request: Request) -> Target:
    """The target loader of the proxy's routes (see the module's docstring)."""
    scope = request.scope
    state = scope["state"]
    ctx = state["context"]
    path = swift_path(scope)
    account = request.path_params["account"]
    project = _project_of(account)
    owner_target = Target(policy_target(project_id=project))
    grant = state.get(GRANT)
    if grant is not None and path is not None and grant.allows(scope["method"], path):
        return Target(policy_target(project_id=project), rule=ACL_RULE)
    if _owner(ctx, project):
        return owner_target
    container = request.path_params.get("container")
    if await acl_allows(proxy, ctx, scope["method"], account, container, "obj" in request.path_params,
                        request.headers.get("referer")):
        if container is not None and "obj" not in request.path_params and scope["method"] in ("PUT", "POST") \
                and any(h in request.headers for h in ("x-container-read", "x-container-write")):
            # Only the owner and account admins change who may use a container (Swift's rule).
            level = account_acl_level(ctx, (await proxy.account_info(account)).get(ACCOUNT_ACL))
            if level != "admin":
                raise errors.Forbidden("Only the account's owner or admins may change container ACLs.")
        return Target(policy_target(project_id=project), rule=ACL_RULE)
    if not ctx.authenticated:
        raise state.get("auth_failure") or state.get("auth_missing") or errors.Unauthorized(
            "The request you have made requires authentication.")
    return owner_target
