"""What every identity API module needs: the manager, policy, links and thread hand-off."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, ctx, no_content
from litestack.common.policy import Enforcer
from litestack.identity.manager import Manager

T = TypeVar("T")
Handler = Callable[[Request], Awaitable[Response]]

NAME = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"[\S]"}
NAME64 = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"[\S]"}
ID = {"type": "string", "minLength": 1, "maxLength": 64}
OPT_ID = {"type": ["string", "null"], "maxLength": 64}
DESC = {"type": ["string", "null"], "maxLength": 10000}
BOOL = {"type": "boolean"}


def wrapped(key: str, props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """A request body ``{key: {...}}``, as Keystone shapes every create and update."""
    inner: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        inner["required"] = required
    return {"type": "object", "properties": {key: inner}, "required": [key]}


def listing(key: str) -> dict[str, Any]:
    return {"type": "object", "required": [key, "links"],
            "properties": {key: {"type": "array", "items": {"type": "object"}}, "links": {"type": "object"}}}


def single(key: str) -> dict[str, Any]:
    return {"type": "object", "required": [key], "properties": {key: {"type": "object"}}}


def truthy(value: str | None) -> bool:
    """Keystone's query booleans: present and not '0'/'false' means true."""
    return value is not None and value.lower() not in ("0", "false", "no", "off")


class IdentityAPI:
    """Shared state of the identity API handlers."""

    def __init__(self, mgr: Manager, enforcer: Enforcer) -> None:
        self.mgr = mgr
        self.enforcer = enforcer

    @staticmethod
    def origin(request: Request) -> str:
        scope = request.scope
        host = request.headers.get("host") or f"{scope['server'][0]}:{scope['server'][1]}"
        return f"{scope.get('scheme', 'http')}://{host}"

    @classmethod
    def base(cls, request: Request) -> str:
        """Where the identity API is mounted, e.g. ``http://127.0.0.1:8800/identity``."""
        return cls.origin(request) + request.scope.get("root_path", "")

    @classmethod
    def self_url(cls, request: Request) -> str:
        """This request's URL without its query (the path includes the mount point)."""
        return cls.origin(request) + request.scope["path"]

    def authorize(self, request: Request, rule: str, target: dict[str, Any] | None = None,
                  **flat: Any) -> None:
        c = ctx(request)
        creds = c.policy_creds()
        creds["token"] = {"domain": {"id": c.domain_id},
                          "project": {"id": c.project_id, "domain": {"id": c.project_domain_id}}}
        # Rules name the flat attributes both ways, ``%(domain_id)s`` and ``%(target.domain_id)s``.
        tgt: dict[str, Any] = {"target": {**flat, **(target or {})}, **flat}
        self.enforcer.authorize(rule, tgt, creds)

    async def lookup(self, request: Request, param: str, getter: Callable[[str], T], rule: str, kind: str,
                     fields: Callable[[Any], dict[str, Any]], **flat: Any) -> T:
        """Load the resource a path names and authorize ``rule`` against it.

        When it does not exist the rule is checked against an empty target first, so a caller who
        could not see it anyway gets 403, not a 404 that would tell them it is absent. Keyword
        arguments are extra flat target values; ``True`` stands for the resource's own id.
        """
        ident = self.param(request, param)
        try:
            obj = await self.run(getter, ident)
        except errors.NotFound:
            self.authorize(request, rule, {kind: fields(None) | {"id": ident}},
                           **{k: (ident if v is True else v) for k, v in flat.items()})
            raise
        self.authorize(request, rule, {kind: fields(obj)},
                       **{k: (getattr(obj, "id", None) if v is True else v) for k, v in flat.items()})
        return obj

    def action(self, rule: str, fn: Callable[..., Any], *params: str) -> Handler:
        """A handler that authorizes ``rule``, calls ``fn`` with these path parameters and answers 204
        (associations: add, check, remove; deletions)."""
        async def handler(request: Request) -> Response:
            self.authorize(request, rule)
            await self.run(fn, *(self.param(request, p) for p in params))
            return no_content()
        return handler

    def related(self, rule: str, fn: Callable[[str], list[Any]], param: str, key: str,
                view: Callable[[str, Any], dict[str, Any]], path: str) -> Handler:
        """A handler listing what ``fn`` relates to one resource (``path`` formats the path parameter
        into the self link, relative to ``/v3/``)."""
        async def handler(request: Request) -> Response:
            self.authorize(request, rule)
            ident = self.param(request, param)
            rows = await self.run(fn, ident)
            base = self.base(request)
            return JSON({key: [view(base, r) for r in rows],
                         "links": {"self": f"{base}/v3/{path.format(ident)}", "previous": None, "next": None}})
        return handler

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(fn, *args)

    @staticmethod
    def param(request: Request, name: str) -> str:
        value: str = request.path_params[name]
        if len(value) > 255:
            raise errors.NotFound(f"Could not find {name}: {value[:64]}.")
        return value
