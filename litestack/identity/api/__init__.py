"""The identity service's HTTP API (Keystone v3)."""

from __future__ import annotations

from typing import Any, cast

from starlette.types import ASGIApp

from litestack.common.api.app import Op, build_app
from litestack.common.auth import AuthMiddleware, TokenCache
from litestack.common.db import run_blocking
from litestack.common.policy import Enforcer
from litestack.identity.api import (
    auth,
    catalog,
    credentials,
    extensions,
    limits,
    oauth,
    resources,
    roles,
    trusts,
    users,
)
from litestack.identity.api.service import IdentityAPI
from litestack.identity.manager import Manager


class LocalValidator:
    """Validates tokens in-process: identity needs no REST hop to itself."""

    def __init__(self, mgr: Manager) -> None:
        self.mgr = mgr

    async def validate(self, token: str, allow_expired: bool = False) -> dict[str, Any]:
        return await run_blocking(self._validate, token, allow_expired, inline_first=True)

    def _validate(self, token: str, allow_expired: bool) -> dict[str, Any]:
        return self.mgr.auth.validated_token_data(token, allow_expired)


def all_ops(api: IdentityAPI) -> list[Op]:
    """Every operation of the identity API, in routing order."""
    return [*auth.ops(api), *resources.ops(api), *users.ops(api), *roles.ops(api), *catalog.ops(api),
            *credentials.ops(api), *trusts.ops(api), *extensions.ops(api), *limits.ops(api), *oauth.ops(api)]


class _NoManager:
    """Stands in for the manager when the Op table is built only to be read (policy documentation,
    tests): handlers keep references to its parts' methods but never call them."""

    def __getattr__(self, part: str) -> Any:
        return _NoPart(part)


class _NoPart:
    def __init__(self, part: str) -> None:
        self.part = part

    def __getattr__(self, name: str) -> Any:
        def unbound(*_args: Any, **_kwargs: Any) -> Any:
            raise RuntimeError(f"identity manager method {self.part}.{name} called on the read-only Op table")
        return unbound


def op_table() -> list[Op]:
    """The identity Op table, built the way ``build`` builds it but with no manager or database."""
    return all_ops(IdentityAPI(cast(Manager, _NoManager()), Enforcer()))


def build(mgr: Manager, enforcer: Enforcer, cache: TokenCache, public_url: str | None) -> ASGIApp:
    api = IdentityAPI(mgr, enforcer)
    ops = all_ops(api)
    validator = LocalValidator(mgr)
    return build_app(
        "identity", ops, title="litestack identity (Keystone v3)", enforcer=enforcer,
        middleware=[lambda app: AuthMiddleware(app, validator, cache, public_url, "identity")])
