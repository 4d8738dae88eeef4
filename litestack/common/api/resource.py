"""What every service's API handlers share: URLs and links, path parameters, policy, thread hand-off.

A service subclasses ``ServiceAPI`` (identity's ``IdentityAPI`` adds its manager) and builds its
``Op`` tables with these helpers. Nothing here knows about a particular service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, no_content
from litestack.common.api.pagination import Page, page
from litestack.common.api.policy import Target, TargetLoader, policy_creds, policy_target, stash
from litestack.common.db import run_blocking
from litestack.common.policy import Enforcer

T = TypeVar("T")
Handler = Callable[[Request], Awaitable[Response]]


def truthy(value: str | None) -> bool:
    """OpenStack's query booleans: present and not '0'/'false'/'no'/'off' means true."""
    return value is not None and value.lower() not in ("0", "false", "no", "off")


def list_links(href: str, next_href: str | None = None) -> dict[str, Any]:
    """The ``links`` of a collection: itself, no previous page, the next page when there is one."""
    return {"self": href, "previous": None, "next": next_href}


def self_link(href: str) -> dict[str, Any]:
    """The ``links`` of one member."""
    return {"self": href}


class ServiceAPI:
    """Shared state of one service's API handlers."""

    #: The version prefix of the service's paths, e.g. ``/v3``; links are built under it.
    prefix = ""

    def __init__(self, enforcer: Enforcer) -> None:
        self.enforcer = enforcer

    # --- URLs -------------------------------------------------------------------------------

    @staticmethod
    def origin(request: Request) -> str:
        scope = request.scope
        host = request.headers.get("host") or f"{scope['server'][0]}:{scope['server'][1]}"
        return f"{scope.get('scheme', 'http')}://{host}"

    @classmethod
    def base(cls, request: Request) -> str:
        """Where the service is mounted, e.g. ``http://127.0.0.1:8800/identity``."""
        return cls.origin(request) + request.scope.get("root_path", "")

    @classmethod
    def self_url(cls, request: Request) -> str:
        """This request's URL without its query (the path includes the mount point)."""
        return cls.origin(request) + request.scope["path"]

    def href(self, request: Request, path: str) -> str:
        """The URL of ``path`` (relative to the version prefix)."""
        return f"{self.base(request)}{self.prefix}/{path}"

    def links(self, request: Request, path: str | None = None, next_href: str | None = None) -> dict[str, Any]:
        """Collection links for ``path`` (default: this request's own URL)."""
        return list_links(self.self_url(request) if path is None else self.href(request, path), next_href)

    # --- collections ------------------------------------------------------------------------

    @property
    def list_limit(self) -> int | None:
        """The most items a list shows, when the service caps lists (None: no cap)."""
        return None

    def collection(self, request: Request, key: str, rows: list[Any], view: Callable[[str, Any], dict[str, Any]],
                   path: str | None = None) -> dict[str, Any]:
        """A list body from rows fetched for ``list_limit`` (one more than the page, see
        ``pagination.page``): ``"truncated": true`` when the list was cut, as Keystone says it."""
        pg, base = page(rows, self.list_limit), self.base(request)
        return self.page_body(request, key, pg, [view(base, r) for r in pg.items], path)

    def page_body(self, request: Request, key: str, pg: Page[Any], items: list[dict[str, Any]],
                  path: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {key: items, "links": self.links(request, path)}
        if pg.more:
            body["truncated"] = True
        return body

    # --- request parts ----------------------------------------------------------------------

    @staticmethod
    def param(request: Request, name: str) -> str:
        value: str = request.path_params[name]
        if len(value) > 255:
            raise errors.NotFound.of(name, value[:64])
        return value

    # --- policy (the dispatcher checks each Op's rule; see common/api/policy.py) ----------

    def allowed(self, request: Request, rule: str, target: Mapping[str, Any] | None = None,
                **flat: Any) -> bool:
        """Whether the caller passes ``rule`` (for handlers that narrow what they show, not refuse)."""
        return self.enforcer.enforce(rule, policy_target(target, **flat), policy_creds(request))

    def lookup(self, param: str, getter: Callable[[str], Any], kind: str,
               fields: Callable[[Any], dict[str, Any]], *, hide_missing: bool = True,
               **flat: Any) -> TargetLoader:
        """A target loader: load the resource the path parameter ``param`` names, stash it for the
        handler (``policy.loaded``) and check the rule against ``{kind: fields(obj)}``.

        When it does not exist (and ``hide_missing``) the rule is checked against ``fields(None)``
        first and then the ``NotFound`` raised (see ``Target.missing``); without ``hide_missing``
        the 404 comes first, for resources whose existence is no secret. Keyword arguments are
        extra flat target values; ``True`` stands for the resource's own id.
        """
        async def load(request: Request) -> Target:
            ident = self.param(request, param)
            try:
                # Inline first: a memoized getter answers without a thread hop (a third of the CPU
                # of a GET by id, issue 6 §8); any other goes to a worker thread at its first query.
                obj = await self.run(getter, ident, inline_first=True)
            except errors.NotFound as exc:
                if not hide_missing:
                    raise
                return Target(policy_target({kind: fields(None) | {"id": ident}},
                                            **{k: (ident if v is True else v) for k, v in flat.items()}),
                              missing=exc)
            stash(request, obj)
            return Target(policy_target({kind: fields(obj)},
                                        **{k: (getattr(obj, "id", None) if v is True else v)
                                           for k, v in flat.items()}))
        return load

    def path_target(self, **params: str) -> TargetLoader:
        """A target loader of flat values taken from path parameters (``user_id="user_id"``)."""
        async def load(request: Request) -> Target:
            return Target(policy_target(None, **{k: self.param(request, p) for k, p in params.items()}))
        return load

    # --- generic handlers -------------------------------------------------------------------

    def action(self, fn: Callable[..., Any], *params: str) -> Handler:
        """A handler that calls ``fn`` with these path parameters and answers 204 (associations:
        add, check, remove; deletions)."""
        async def handler(request: Request) -> Response:
            await self.run(fn, *(self.param(request, p) for p in params))
            return no_content()
        return handler

    def related(self, fn: Callable[..., list[Any]], param: str, key: str,
                view: Callable[[str, Any], dict[str, Any]], path: str, *, limited: bool = False) -> Handler:
        """A handler listing what ``fn`` relates to one resource (``path`` formats the path parameter
        into the self link, relative to the version prefix). ``limited``: ``fn(ident, list_limit)``
        fetches one row more than the list shows, and a cut list says ``"truncated": true``."""
        async def handler(request: Request) -> Response:
            ident = self.param(request, param)
            link = path.format(ident)
            if limited:
                rows = await self.run(fn, ident, self.list_limit)
                return JSON(self.collection(request, key, rows, view, link))
            rows = await self.run(fn, ident)
            base = self.base(request)
            return JSON({key: [view(base, r) for r in rows], "links": self.links(request, link)})
        return handler

    # --- leaving the event loop -------------------------------------------------------------

    @staticmethod
    async def run(fn: Callable[..., T], *args: Any, inline_first: bool = False) -> T:
        """``common.db.run_blocking``: the one way a handler leaves the event loop."""
        return await run_blocking(fn, *args, inline_first=inline_first)
