"""Declared resources: one declaration gives a resource's list, show, create, update and delete
routes, in the shape every OpenStack API uses.

    {collection: [view, ...], "links": {...}}      GET    /prefix/collection
    {member: view}                  201           POST   /prefix/collection
    {member: view}                                 GET    /prefix/collection/{param}
    {member: view}                                 PATCH  /prefix/collection/{param}
    (no body)                       204           DELETE /prefix/collection/{param}

The declaration names the wire keys, the path, the view, the JSON schemas, the policy rules and
the manager calls; hooks adapt what is special (how the query maps to the manager's filters, a
target loader, the view of a created member). What does not fit stays a hand-written handler
next to the declaration. Compare openstacksdk's ``resource.Resource`` (``resources_key``,
``resource_key``, ``base_path``, ``allow_list``...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common.api.app import JSON, Op, no_content
from litestack.common.api.pagination import Page, page
from litestack.common.api.policy import TargetLoader, body, loaded
from litestack.common.api.resource import ServiceAPI
from litestack.common.api.schema import listing, single

View = Callable[[str, Any], dict[str, Any]]


@dataclass
class Resource:
    """One API resource, declared once.

    ``collection``/``member`` are the wire keys (``domains``/``domain``); ``path`` is the
    collection's path relative to the service's version prefix and ``param`` the path parameter
    naming a member; ``view(base, row)`` is a member's JSON. ``rule`` formats each operation's
    policy rule from its verb (``"identity:{verb}_domain"``: get, create, update, delete; the
    list rule names the collection, ``identity:list_domains``, unless ``list_rule`` says otherwise).

    The manager calls: ``lister(request, limit)`` returns the rows (at most ``limit + 1``, see
    ``pagination.page``; it runs in a worker thread and reads the query and the context only),
    ``getter(id)``, ``creator(data)``, ``updater(id, data)``, ``deleter(id)``; an operation whose
    call is None is not routed. ``member_target`` checks a member's rule against the loaded row
    (and stashes it; default: no target, the row is loaded after the check); ``create_target``
    and ``list_target`` give the create and list targets.
    """

    collection: str
    member: str
    path: str
    param: str
    view: View
    rule: str
    tag: str = ""
    lister: Callable[[Request, int | None], list[Any]] | None = None
    getter: Callable[[str], Any] | None = None
    creator: Callable[[dict[str, Any]], Any] | None = None
    updater: Callable[[str, dict[str, Any]], Any] | None = None
    deleter: Callable[[str], Any] | None = None
    create_body: dict[str, Any] | None = None
    update_body: dict[str, Any] | None = None
    query: Sequence[str] = ()
    item: dict[str, Any] | None = None
    list_rule: str | None = None
    list_target: TargetLoader | None = None
    create_target: TargetLoader | None = None
    member_target: TargetLoader | None = None
    created_view: Callable[[str, Any], dict[str, Any]] | None = None
    #: Views of many rows at once, for views that read the database (one query for a whole list,
    #: not one per row); run in the worker thread with the manager call.
    views: Callable[[str, list[Any]], list[dict[str, Any]]] | None = None
    write_errors: Sequence[int] = (400, 401, 403, 404, 409)
    summaries: Mapping[str, str] = field(default_factory=dict)
    #: The list's self link is the request's own URL (as requested), not the collection's path.
    links_as_requested: bool = False

    def summary(self, verb: str) -> str:
        one = f"{'an' if self.member[0] in 'aeio' else 'a'} {self.member.replace('_', ' ')}"
        default = {"list": f"List {self.collection.replace('_', ' ')}", "create": f"Create {one}",
                   "get": f"Show {one}", "update": f"Update {one}", "delete": f"Delete {one}"}[verb]
        return self.summaries.get(verb, default)

    def rule_for(self, verb: str) -> str:
        if verb == "list":
            # Lists name the collection: identity:list_policies for identity:{verb}_policy.
            return self.list_rule or self.rule.format(verb="list").removesuffix(self.member) + self.collection
        return self.rule.format(verb=verb)

    @property
    def member_path(self) -> str:
        return f"{self.path}/{{{self.param}}}"


def crud_ops(api: ServiceAPI, res: Resource) -> list[Op]:
    """The Ops of a declared resource (see ``Resource``)."""
    prefix = api.prefix
    ops: list[Op] = []

    async def member_row(request: Request) -> Any:
        # With a member target the loader has loaded (and checked) the row already.
        if res.member_target is not None:
            return loaded(request)
        assert res.getter is not None
        # Inline first, as ``ServiceAPI.lookup``: a memoized getter needs no thread hop.
        return await api.run(res.getter, api.param(request, res.param), inline_first=True)

    def render(base: str, rows: list[Any]) -> list[dict[str, Any]]:
        return res.views(base, rows) if res.views is not None else [res.view(base, r) for r in rows]

    def render_one(base: str, row: Any) -> dict[str, Any]:
        return render(base, [row])[0]

    def ident(request: Request) -> str:
        if res.member_target is not None:
            return str(loaded(request).id)
        return api.param(request, res.param)

    if res.lister is not None:
        lister = res.lister

        def fetch(request: Request, base: str, limit: int | None) -> tuple[Page[Any], list[dict[str, Any]]]:
            pg = page(lister(request, limit), limit)
            return pg, render(base, pg.items)

        async def list_handler(request: Request) -> Response:
            # One thread hop: the rows and their views.
            pg, items = await api.run(fetch, request, api.base(request), api.list_limit)
            path = None if res.links_as_requested else res.path
            return JSON(api.page_body(request, res.collection, pg, items, path))

        ops.append(Op("GET", prefix + "/" + res.path, list_handler, res.summary("list"),
                      response=listing(res.collection, res.item), query=res.query, tag=res.tag,
                      rule=res.rule_for("list"), target=res.list_target))
    if res.creator is not None:
        creator = res.creator
        created_view = res.created_view or res.view

        async def create_handler(request: Request) -> Response:
            data, base = body(request)[res.member], api.base(request)
            if res.views is not None and res.created_view is None:
                return JSON({res.member: await api.run(lambda: render_one(base, creator(data)))}, status_code=201)
            row = await api.run(creator, data)
            return JSON({res.member: created_view(base, row)}, status_code=201)

        ops.append(Op("POST", prefix + "/" + res.path, create_handler, res.summary("create"),
                      body=res.create_body, response=single(res.member, res.item), status=201, tag=res.tag,
                      errors=res.write_errors, rule=res.rule_for("create"), target=res.create_target))
    if res.getter is not None:
        async def show_handler(request: Request) -> Response:
            row, base = await member_row(request), api.base(request)
            if res.views is not None:
                return JSON({res.member: await api.run(render_one, base, row)})
            return JSON({res.member: res.view(base, row)})

        ops.append(Op("GET", prefix + "/" + res.member_path, show_handler, res.summary("get"),
                      response=single(res.member, res.item), tag=res.tag, rule=res.rule_for("get"),
                      target=res.member_target))
    if res.updater is not None:
        updater = res.updater

        async def update_handler(request: Request) -> Response:
            key, data, base = ident(request), body(request)[res.member], api.base(request)
            if res.views is not None:
                return JSON({res.member: await api.run(lambda: render_one(base, updater(key, data)))})
            return JSON({res.member: res.view(base, await api.run(updater, key, data))})

        ops.append(Op("PATCH", prefix + "/" + res.member_path, update_handler, res.summary("update"),
                      body=res.update_body, response=single(res.member, res.item), tag=res.tag,
                      errors=res.write_errors, rule=res.rule_for("update"), target=res.member_target))
    if res.deleter is not None:
        deleter = res.deleter

        async def delete_handler(request: Request) -> Response:
            await api.run(deleter, ident(request))
            return no_content()

        ops.append(Op("DELETE", prefix + "/" + res.member_path, delete_handler, res.summary("delete"),
                      status=204, tag=res.tag, rule=res.rule_for("delete"), target=res.member_target))
    return ops
