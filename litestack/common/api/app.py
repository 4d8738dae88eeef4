"""Declarative API routing shared by every service.

A service describes its API as a list of ``Op`` (method, path, handler, JSON
schemas, policy rule). From that one table we build the router, request
validation, policy enforcement, the published OpenAPI document and ``405``
answers with ``Allow``. Routing is an explicit table, never introspection.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from litestack.common import errors
from litestack.common.api.body import MAX_BODY, json_body
from litestack.common.api.errors import ERROR_STYLES
from litestack.common.api.middleware import RequestMiddleware, context_of
from litestack.common.api.policy import Target, TargetLoader, enforce
from litestack.common.api.routing import IndexedRouter
from litestack.common.context import RequestContext
from litestack.common.policy import Enforcer

Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class Op:
    """One API operation.

    A non-public Op names its policy ``rule``; the dispatcher checks it after authentication and
    body validation, before the handler. ``target`` loads what the rule is checked against (and may
    stash the loaded resource for the handler, or pick one of ``alt_rules`` instead of ``rule``);
    without it the rule is checked against an empty target.
    """

    method: str
    path: str
    handler: Handler
    summary: str = ""
    body: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    status: int = 200
    public: bool = False
    tag: str = ""
    query: Sequence[str] = ()
    errors: Sequence[int] = (400, 401, 403, 404)
    extra: dict[str, Any] = field(default_factory=dict)
    rule: str | None = None
    target: TargetLoader | None = None
    alt_rules: Sequence[str] = ()

    @property
    def rules(self) -> tuple[str, ...]:
        """Every rule this Op may check."""
        return (*((self.rule,) if self.rule else ()), *self.alt_rules)
    # Largest request body accepted, in bytes; None for routes that stream big uploads themselves.
    max_body: int | None = MAX_BODY


class JSON(JSONResponse):
    """Compact JSON response."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode()


def no_content(headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=204, headers=headers)


_validators: dict[int, jsonschema.protocols.Validator] = {}


def validate(schema: dict[str, Any], data: Any) -> None:
    """Validate ``data`` against ``schema``; raise ``ValidationError`` with the failing field."""
    v = _validators.get(id(schema))
    if v is None:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        v = cls(schema, format_checker=cls.FORMAT_CHECKER)
        _validators[id(schema)] = v
    err = jsonschema.exceptions.best_match(v.iter_errors(data))
    if err is not None:
        where = "/".join(str(p) for p in err.absolute_path)
        field_txt = f"'{where}'" if where else "the request body"
        raise errors.ValidationError(f"Invalid input for field {field_txt}: {err.message}")


def ctx(request: Request) -> RequestContext:
    return context_of(request)


class _PathDispatcher:
    """Dispatches one path to the Op of the request method; answers 405 with ``Allow``."""

    def __init__(self, ops: dict[str, Op], enforcer: Enforcer | None) -> None:
        self.ops = ops
        self.enforcer = enforcer
        if "GET" in ops and "HEAD" not in ops:
            self.ops = {**ops, "HEAD": ops["GET"]}
        self.allow = ", ".join(sorted(self.ops))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        op = self.ops.get(scope["method"])
        if op is None:
            err = errors.MethodNotAllowed(f"The method {scope['method']} is not allowed for this resource.")
            err.headers = {"Allow": self.allow}
            raise err
        request = Request(scope, receive)
        if not op.public:
            state = scope["state"]
            failure = state.get("auth_failure")
            if failure is not None:
                raise failure
            if not state["context"].authenticated:
                raise state.get("auth_missing") or errors.Unauthorized(
                    "The request you have made requires authentication.")
        if op.body is not None:
            # Before the policy check: a malformed request is a 400 whoever sends it.
            request.state.body = await json_body(request, op.body)
        if op.rule is not None and self.enforcer is not None:
            tgt = await op.target(request) if op.target is not None else Target()
            if tgt.rule is not None and tgt.rule not in op.alt_rules:
                raise ValueError(f"{op.method} {op.path}: target chose undeclared rule {tgt.rule}")
            enforce(self.enforcer, request, tgt.rule or op.rule, tgt)
        response = await op.handler(request)
        await response(scope, receive, send)


def build_app(service: str, ops: Sequence[Op], *, error_style: str | None = None,
              middleware: Sequence[Callable[[ASGIApp], ASGIApp]] = (),
              title: str | None = None, enforcer: Enforcer | None = None) -> ASGIApp:
    """The ASGI app of one service: router, auth middleware, policy, error boundary, OpenAPI document.

    With an ``enforcer`` every Op's rule is checked before its handler; an Op that names a rule
    the enforcer does not know is refused here, at build time.
    """
    by_path: dict[str, dict[str, Op]] = {}
    known = {d.name for d in enforcer.defaults} if enforcer is not None else set()
    for op in ops:
        if enforcer is not None:
            for rule in op.rules:
                if rule not in known:
                    raise ValueError(f"{op.method} {op.path}: policy rule {rule} is not registered")
        methods = by_path.setdefault(op.path, {})
        if op.method in methods:
            raise ValueError(f"duplicate route {op.method} {op.path}")
        methods[op.method] = op
    openapi = build_openapi(title or service, list(ops))

    async def openapi_handler(request: Request) -> Response:
        return JSON(openapi)

    by_path.setdefault("/openapi.json", {})["GET"] = Op("GET", "/openapi.json", openapi_handler, public=True)
    routes = [Route(path, _PathDispatcher(methods, enforcer)) for path, methods in by_path.items()]
    # OpenStack's services answer a path with one trailing slash as the path itself (Flask's
    # strict_slashes=False, Routes in nova): tempest lists trusts at /v3/OS-TRUST/trusts/.
    routes += [Route(path + "/", _PathDispatcher(methods, enforcer)) for path, methods in by_path.items()
               if not path.endswith("/") and path + "/" not in by_path]
    app: ASGIApp = IndexedRouter(routes)
    for mw in reversed(middleware):
        app = mw(app)
    return RequestMiddleware(app, ERROR_STYLES[error_style or service], service)


def build_openapi(title: str, ops: list[Op]) -> dict[str, Any]:
    """An OpenAPI 3.1 document describing what the service really accepts and returns."""
    paths: dict[str, Any] = {}
    for op in ops:
        entry: dict[str, Any] = {"summary": op.summary or f"{op.method} {op.path}",
                                 "operationId": f"{op.method.lower()}{op.path.replace('/', '_')}",
                                 "responses": {}}
        if op.tag:
            entry["tags"] = [op.tag]
        params = [{"name": p[1:-1].split(":")[0], "in": "path", "required": True,
                   "schema": {"type": "string"}}
                  for p in op.path.split("/") if p.startswith("{")]
        params += [{"name": q, "in": "query", "required": False, "schema": {"type": "string"}}
                   for q in op.query]
        if not op.public:
            params.append({"name": "X-Auth-Token", "in": "header", "required": False,
                           "schema": {"type": "string"}})
        params += [{"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
                   for h in op.extra.get("headers", ())]
        if params:
            entry["parameters"] = params
        if op.body is not None:
            entry["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": op.body}}}
        ok: dict[str, Any] = {"description": "Success"}
        if op.response is not None:
            ok["content"] = {"application/json": {"schema": op.response}}
        entry["responses"][str(op.status)] = ok
        for code in op.extra.get("statuses", ()):  # other successful answers (Swift's 202 for a PUT again)
            entry["responses"][str(code)] = {"description": "Success"}
        for code in op.errors:
            entry["responses"][str(code)] = {"description": "Error"}
        entry["responses"]["405"] = {"description": "Method not allowed"}
        # Starlette's converters ({obj:path}) are not OpenAPI: the document names the bare parameter.
        paths.setdefault(re.sub(r"\{(\w+):\w+\}", r"{\1}", op.path), {})[op.method.lower()] = entry
    return {"openapi": "3.1.0", "info": {"title": title, "version": "1"}, "paths": paths}
