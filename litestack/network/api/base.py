"""Neutron's resource semantics, once for every resource of the network API.

A ``NeutronResource`` declares a resource (its wire keys, its path, the manager's calls, the
attributes a request may set and how they are converted, the admin-only attributes) and
``resource_ops`` makes its Ops: list, show, create, update (PUT), delete and the tag sub-resource.
What is Neutron's and not the other services': PUT updates, ``If-Match: revision_number=N``,
``fields`` as repeated parameters, repeated ``sort_key``/``sort_dir``, ``page_reverse`` with
``<collection>_links``, the tag filters, attributes hidden by policy, and "Unrecognized
attribute(s)". The listing itself is ``common/api/pagination`` in SQL (see ``manager/base.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op, ctx, no_content
from litestack.common.api.pagination import ListQuery, page, parse_limit, parse_sort_pairs
from litestack.common.api.policy import Target, body, loaded, policy_creds, policy_target, stash
from litestack.common.api.resource import ServiceAPI
from litestack.common.notify import Notifier
from litestack.common.policy import Enforcer
from litestack.network import exceptions as exc
from litestack.network.manager.base import Caller, Query

Convert = Callable[[str, Any], Any]
ANY_OBJECT: dict[str, Any] = {"type": "object"}
TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")
PAGING = {"limit", "marker", "page_reverse", "sort_key", "sort_dir", "fields", *TAG_FILTERS}


# --- attribute conversion (Neutron's convert_to_* and validators) ---------------------------------


def string(limit: int = 255) -> Convert:
    def conv(name: str, v: Any) -> Any:
        if not isinstance(v, str):
            raise exc.HTTPBadRequest.attr(name, f"'{v}' is not a valid string")
        if len(v) > limit:
            raise exc.HTTPBadRequest.attr(name, f"'{v[:64]}' exceeds maximum length of {limit}")
        return v
    return conv


def nullable_string(limit: int = 255) -> Convert:
    inner = string(limit)
    return lambda name, v: None if v is None else inner(name, v)


def boolean(name: str, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false", "1", "0"):
        return v.lower() in ("true", "1")
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    raise exc.HTTPBadRequest.attr(name, f"'{v}' cannot be converted to boolean")


def integer(minimum: int | None = None, maximum: int | None = None, nullable: bool = False) -> Convert:
    def conv(name: str, v: Any) -> Any:
        if v is None and nullable:
            return None
        if isinstance(v, bool):
            raise exc.HTTPBadRequest.attr(name, f"'{v}' is not an integer")
        try:
            n = int(v)
        except (TypeError, ValueError):
            raise exc.HTTPBadRequest.attr(name, f"'{v}' is not an integer") from None
        if (minimum is not None and n < minimum) or (maximum is not None and n > maximum):
            raise exc.HTTPBadRequest.attr(name, f"'{n}' is not in range {minimum} through {maximum}")
        return n
    return conv


def listing(item: Convert | None = None) -> Convert:
    def conv(name: str, v: Any) -> Any:
        if v is None:
            return None
        if not isinstance(v, list):
            raise exc.HTTPBadRequest.attr(name, f"'{v}' is not a list")
        return [item(name, x) for x in v] if item else v
    return conv


def mapping(name: str, v: Any) -> Any:
    if v is not None and not isinstance(v, dict):
        raise exc.HTTPBadRequest.attr(name, f"'{v}' is not a dictionary")
    return v


def passthrough(name: str, v: Any) -> Any:
    return v


# --- the declared resource ---------------------------------------------------------------------


@dataclass
class NeutronResource:
    """One Neutron resource, declared once.

    ``attrs`` maps every attribute a request may send to its conversion; ``create_only`` ones
    are refused on update (Neutron's "Cannot update read-only attribute"). ``attr_rules`` names,
    per attribute, the rule suffix checked when a request sets it (``create_network:shared``) and
    ``hidden`` the attributes shown only to callers passing ``get_<member>:<attr>``.
    ``create_target`` adds values the create rule checks (the network's owner) and ``sort_keys``
    are the listing's.
    """

    collection: str
    member: str
    path: str
    lister: Callable[[Caller, Query], list[dict[str, Any]]]
    getter: Callable[[Caller, str], dict[str, Any]]
    creator: Callable[[Caller, dict[str, Any]], dict[str, Any]] | None = None
    updater: Callable[[Caller, str, dict[str, Any], int | None], dict[str, Any]] | None = None
    deleter: Callable[[Caller, str], None] | None = None
    attrs: Mapping[str, Convert] = field(default_factory=dict)
    create_only: Sequence[str] = ()
    attr_rules: Sequence[str] = ()
    hidden: Sequence[str] = ()
    sort_keys: Sequence[str] = ()
    create_target: Callable[[Caller, dict[str, Any]], dict[str, Any]] | None = None
    member_target: Callable[[Caller, dict[str, Any]], dict[str, Any]] | None = None
    tags: bool = True
    tag: str = ""
    param: str = "id"

    @property
    def rule_member(self) -> str:
        return self.member


class NetworkAPI(ServiceAPI):
    prefix = "/v2.0"

    def __init__(self, enforcer: Enforcer, notifier: Notifier | None = None) -> None:
        super().__init__(enforcer)
        self.notifier = notifier

    def announce(self, event: str, payload: dict[str, Any]) -> None:
        """``<resource>.<action>.start`` with the request, as Neutron announces it before acting (the
        manager announces ``.end`` after the commit)."""
        if self.notifier is not None:
            self.notifier.emit(event, payload)

    def caller(self, request: Request) -> Caller:
        c = ctx(request)
        return Caller(c.project_id, self.enforcer.enforce("context_is_admin", {}, policy_creds(request)))

    def authorize(self, request: Request, rule: str, target: Mapping[str, Any]) -> None:
        self.enforcer.authorize(rule, policy_target(target, **target), policy_creds(request))

    def shown(self, request: Request, res: NeutronResource, item: dict[str, Any]) -> set[str]:
        """The admin-only attributes this caller may see (one check per attribute, per request)."""
        creds = policy_creds(request)
        tgt = policy_target(item, **item)
        return {a for a in res.hidden if self.enforcer.enforce(f"get_{res.member}:{a}", tgt, creds)}

    def present(self, request: Request, res: NeutronResource, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Items without the attributes policy hides and with only the ``fields`` asked for."""
        if not items:
            return items
        drop = set(res.hidden) - self.shown(request, res, items[0])
        fields = [f for v in request.query_params.getlist("fields") for f in v.split(",") if f]
        out = []
        for item in items:
            shown = {k: v for k, v in item.items() if k not in drop}
            if fields:
                shown = {k: v for k, v in shown.items() if k in fields}
            out.append(shown)
        return out


def parse_query(request: Request, res: NeutronResource) -> Query:
    params = request.query_params
    reverse = params.get("page_reverse", "false").lower() in ("true", "1")
    limit = parse_limit(params, None, 2**31 - 1)  # no cap in Neutron; this is what the databases take
    if limit == 0:
        limit = None
    sort = parse_sort_pairs(params.getlist("sort_key"), params.getlist("sort_dir"), list(res.sort_keys))
    filters = {k: params.getlist(k) for k in params if k not in PAGING}
    tags = {k: params.getlist(k) for k in TAG_FILTERS if k in params}
    marker = params.get("marker")
    return Query(filters, tags, ListQuery(sort=sort, limit=limit, marker=marker, reverse=reverse))


def links(api: NetworkAPI, request: Request, res: NeutronResource, items: list[dict[str, Any]], more: bool,
          q: Query) -> list[dict[str, str]]:
    """Neutron's ``<collection>_links``: ``next`` after the last item when more follow (or when
    walking backwards from a marker), ``previous`` before the first when there is one."""
    if q.page.limit is None or not items:
        return []
    base = api.href(request, res.path)
    keep = [(k, v) for k, v in request.query_params.multi_items() if k not in ("marker", "page_reverse")]
    reverse = q.page.reverse
    out = []
    if (more and not reverse) or (reverse and q.page.marker):
        out.append({"rel": "next", "href": f"{base}?{urlencode([*keep, ('marker', items[-1]['id'])])}"})
    if (q.page.marker and not reverse) or (reverse and more):
        back = [*keep, ("marker", items[0]["id"]), ("page_reverse", "True")]
        out.append({"rel": "previous", "href": f"{base}?{urlencode(back)}"})
    return out


def if_match(request: Request) -> int | None:
    """``If-Match: revision_number=N`` (the only constraint Neutron knows); 400 when malformed."""
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    for part in raw.split(","):
        key, _, value = part.strip().partition("=")
        if key == "revision_number":
            try:
                return int(value)
            except ValueError:
                break
    raise exc.HTTPBadRequest(f"Unrecognized If-Match header: {raw[:64]}")


def convert(res: NeutronResource, data: Any, update: bool) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise exc.HTTPBadRequest(f"Resource body required for {res.member}")
    unknown = sorted(set(data) - set(res.attrs))
    if unknown:
        raise exc.HTTPBadRequest(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    out = {}
    for key, value in data.items():
        if update and key in res.create_only:
            raise exc.HTTPBadRequest(f"Cannot update read-only attribute {key}")
        out[key] = res.attrs[key](key, value)
    return out


def _sets(data: dict[str, Any], attr: str) -> bool:
    """Whether a request sets ``attr``; ``fixed_ips:ip_address`` is set by any fixed IP naming an address."""
    if attr in data:
        return data[attr] is not None
    head, _, sub = attr.rpartition(":")
    value = data.get(head)
    if isinstance(value, dict):
        return value.get(sub) is not None
    return isinstance(value, list) and any(isinstance(x, dict) and x.get(sub) is not None for x in value)


def _value(data: Mapping[str, Any], attr: str) -> Any:
    """An attribute's value; ``external_gateway_info:enable_snat`` is the key inside the dict."""
    if attr in data:
        return data[attr]
    head, _, sub = attr.rpartition(":")
    value = data.get(head)
    return value.get(sub) if head and isinstance(value, dict) else None


def _creation(res: NeutronResource) -> dict[str, Any]:
    """One member, or several at once (Neutron's bulk create: ``{"networks": [...]}``)."""
    return {"type": "object", "oneOf": [{"required": [res.member]}, {"required": [res.collection]}],
            "properties": {res.member: ANY_OBJECT, res.collection: {"type": "array", "items": ANY_OBJECT}}}


def _wrapped(res: NeutronResource) -> dict[str, Any]:
    return {"type": "object", "required": [res.member], "properties": {res.member: ANY_OBJECT}}


def resource_ops(api: NetworkAPI, res: NeutronResource) -> list[Op]:
    p = api.prefix
    coll, member_path = f"{p}/{res.path}", f"{p}/{res.path}/{{{res.param}}}"
    ops: list[Op] = []
    get_rule = f"get_{res.rule_member}"

    async def list_target(request: Request) -> Target:
        return Target(policy_target(project_id=ctx(request).project_id))

    async def list_handler(request: Request) -> Response:
        q = parse_query(request, res)
        caller = api.caller(request)
        rows = await api.run(res.lister, caller, q)
        pg = page(rows, q.page.limit, q.page.reverse)
        body_: dict[str, Any] = {res.collection: api.present(request, res, pg.items)}
        lk = links(api, request, res, pg.items, pg.more, q)
        if lk:
            body_[f"{res.collection}_links"] = lk
        return JSON(body_)

    ops.append(Op("GET", coll, list_handler, f"List {res.collection}", tag=res.tag, rule=get_rule,
                  target=list_target, query=("fields", "limit", "marker", "page_reverse", "sort_key", "sort_dir")))

    async def member_target(request: Request) -> Target:
        caller = api.caller(request)
        item = await api.run(res.getter, caller, request.path_params[res.param])
        stash(request, item)
        extra = res.member_target(caller, item) if res.member_target is not None else {}
        return Target(policy_target({**item, **extra}, **{**item, **extra}))

    async def show(request: Request) -> Response:
        return JSON({res.member: api.present(request, res, [loaded(request)])[0]})

    ops.append(Op("GET", member_path, show, f"Show a {res.member}", tag=res.tag, rule=get_rule,
                  target=member_target, query=("fields",)))

    if res.creator is not None:
        creator = res.creator

        def prepare(caller: Caller, raw: Any) -> dict[str, Any]:
            """The converted attributes, owned by the caller's project unless it names another."""
            data = convert(res, raw, update=False)
            project = data.pop("tenant_id", None) or data.get("project_id") or caller.project_id
            if data.get("project_id") not in (None, project):
                raise exc.HTTPBadRequest("'project_id' and 'tenant_id' do not match")
            data["project_id"] = project
            return data

        async def create_target(request: Request) -> Target:
            caller = api.caller(request)
            sent = body(request)
            bulk = res.collection in sent
            raws = sent[res.collection] if bulk else [sent[res.member]]
            if not isinstance(raws, list) or not raws:
                raise exc.HTTPBadRequest(f"Resources required for bulk create of {res.collection}")
            items, targets = [], []
            for raw in raws:
                data = prepare(caller, raw)
                extra = await api.run(res.create_target, caller, data) if res.create_target is not None else {}
                tgt = {**data, **extra}
                for attr in res.attr_rules:
                    if _sets(data, attr):
                        api.authorize(request, f"create_{res.rule_member}:{attr}", tgt)
                if bulk:  # every item is checked; the dispatcher checks the first again
                    api.authorize(request, f"create_{res.rule_member}", tgt)
                items.append(data)
                targets.append(tgt)
            stash(request, (bulk, items))
            return Target(policy_target(targets[0], **targets[0]))

        def create_all(caller: Caller, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            """Neutron's bulk create is all or nothing: what was made before a failure is removed."""
            made: list[dict[str, Any]] = []
            try:
                for data in items:
                    made.append(creator(caller, data))
            except Exception:
                if res.deleter is not None:
                    for view in reversed(made):
                        try:
                            res.deleter(caller, view["id"])
                        except errors.LitestackError:
                            pass
                raise
            return made

        async def create(request: Request) -> Response:
            bulk, items = loaded(request)
            for data in items:
                api.announce(f"{res.member}.create.start", {res.member: data})
            views = await api.run(create_all, api.caller(request), items)
            if bulk:
                return JSON({res.collection: api.present(request, res, views)}, status_code=201)
            return JSON({res.member: api.present(request, res, views)[0]}, status_code=201)

        ops.append(Op("POST", coll, create, f"Create a {res.member}", body=_creation(res), status=201, tag=res.tag,
                      rule=f"create_{res.rule_member}", target=create_target, errors=(400, 401, 403, 404, 409)))

    if res.updater is not None:
        updater = res.updater

        async def update_target(request: Request) -> Target:
            data = convert(res, body(request)[res.member], update=True)
            tgt = await member_target(request)
            current = loaded(request)
            for attr in res.attr_rules:
                if _sets(data, attr) and _value(data, attr) != _value(current, attr):
                    api.authorize(request, f"update_{res.rule_member}:{attr}", {**current, **tgt.values["target"]})
            request.state.update = data
            return tgt

        async def update(request: Request) -> Response:
            ident = loaded(request)["id"]
            api.announce(f"{res.member}.update.start", {res.member: request.state.update, "id": ident})
            view = await api.run(updater, api.caller(request), ident, request.state.update, if_match(request))
            return JSON({res.member: api.present(request, res, [view])[0]})

        ops.append(Op("PUT", member_path, update, f"Update a {res.member}", body=_wrapped(res), tag=res.tag,
                      rule=f"update_{res.rule_member}", target=update_target, errors=(400, 401, 403, 404, 409, 412)))

    if res.deleter is not None:
        deleter = res.deleter

        async def delete(request: Request) -> Response:
            if_match(request)
            ident = loaded(request)["id"]
            api.announce(f"{res.member}.delete.start", {f"{res.member}_id": ident})
            await api.run(deleter, api.caller(request), ident)
            return no_content()

        ops.append(Op("DELETE", member_path, delete, f"Delete a {res.member}", status=204, tag=res.tag,
                      rule=f"delete_{res.rule_member}", target=member_target, errors=(401, 403, 404, 409)))
    return ops


def tag_ops(api: NetworkAPI, res: NeutronResource, tags: Any) -> list[Op]:
    """``/{resources}/{id}/tags``: list, replace, clear; ``/tags/{tag}``: check, add, remove."""
    p = f"{api.prefix}/{res.path}/{{{res.param}}}/tags"
    kind = res.path
    rule = res.collection

    async def target(request: Request) -> Target:
        caller = api.caller(request)
        item = await api.run(res.getter, caller, request.path_params[res.param])
        stash(request, item)
        extra = res.member_target(caller, item) if res.member_target is not None else {}
        return Target(policy_target({**item, **extra}, **{**item, **extra}))

    def rid(request: Request) -> str:
        return str(loaded(request)["id"])

    async def list_tags(request: Request) -> Response:
        return JSON({"tags": await api.run(tags.find, api.caller(request), kind, rid(request))})

    async def replace(request: Request) -> Response:
        data = body(request)
        if not isinstance(data.get("tags"), list):
            raise exc.HTTPBadRequest.attr("tags", f"'{data.get('tags')}' is not a list")
        return JSON({"tags": await api.run(tags.replace, api.caller(request), kind, rid(request), data["tags"])})

    async def clear(request: Request) -> Response:
        await api.run(tags.remove, api.caller(request), kind, rid(request), None)
        return no_content()

    async def check(request: Request) -> Response:
        await api.run(tags.check, api.caller(request), kind, rid(request), request.path_params["tag"])
        return no_content()

    async def add(request: Request) -> Response:
        await api.run(tags.add, api.caller(request), kind, rid(request), request.path_params["tag"])
        return Response(status_code=201)

    async def remove(request: Request) -> Response:
        await api.run(tags.remove, api.caller(request), kind, rid(request), request.path_params["tag"])
        return no_content()

    body_schema = {"type": "object", "required": ["tags"], "properties": {"tags": {"type": "array"}}}
    return [
        Op("GET", p, list_tags, f"List the tags of a {res.member}", tag="tags", rule=f"get_{rule}_tags",
           target=target),
        Op("PUT", p, replace, f"Replace the tags of a {res.member}", body=body_schema, tag="tags",
           rule=f"update_{rule}_tags", target=target),
        Op("DELETE", p, clear, f"Remove every tag of a {res.member}", status=204, tag="tags",
           rule=f"delete_{rule}_tags", target=target),
        Op("GET", p + "/{tag}", check, f"Check a tag of a {res.member}", status=204, tag="tags",
           rule=f"get_{rule}_tags", target=target),
        Op("PUT", p + "/{tag}", add, f"Add a tag to a {res.member}", status=201, tag="tags",
           rule=f"create_{rule}_tags", target=target),
        Op("DELETE", p + "/{tag}", remove, f"Remove a tag of a {res.member}", status=204, tag="tags",
           rule=f"delete_{rule}_tags", target=target),
    ]
