"""Outermost ASGI middleware: request IDs, request context, and the error boundary.

It owns ``x-openstack-request-id`` and the 500: any exception that escapes a
handler is logged with the request ID and answered in the service's own error
format, with the ID in the headers.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from litestack.common import context as ctxmod
from litestack.common import errors
from litestack.common.api.body import LimitedReceive
from litestack.common.api.errors import ErrorFormatter

LOG = logging.getLogger(__name__)
# One line per request, with both request IDs (added by the log filter): how an operator follows a call.
ACCESS = logging.getLogger("litestack.access")

_GLOBAL_ID = re.compile(r"^req-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

_HTTP_TO_ERROR: dict[int, type[errors.LitestackError]] = {
    400: errors.BadRequest,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    406: errors.NotAcceptable,
    409: errors.Conflict,
    413: errors.PayloadTooLarge,
    415: errors.UnsupportedMediaType,
}


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def error_for_http(status: int, detail: str | None = None) -> errors.LitestackError:
    cls = _HTTP_TO_ERROR.get(status, errors.LitestackError)
    if status == 404 and not detail:
        detail = "The resource could not be found."
    return cls(detail)


class RequestMiddleware:
    """Assigns request IDs, installs a ``RequestContext`` and turns exceptions into error bodies."""

    def __init__(self, app: ASGIApp, formatter: ErrorFormatter, service: str) -> None:
        self.app = app
        self.formatter = formatter
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = ctxmod.RequestContext()
        for name, value in scope["headers"]:
            if name == b"x-openstack-request-id":
                candidate = value.decode("latin-1")
                if _GLOBAL_ID.match(candidate):
                    ctx.global_request_id = candidate
                break
        client = scope.get("client")
        # The peer, or the client a trusted proxy named (uvicorn's proxy headers rewrite "client").
        ctx.remote_addr = client[0] if client else None
        scope.setdefault("state", {})["context"] = ctx
        limited = LimitedReceive(scope, receive)
        close = (b"connection", b"close")
        token = ctxmod.set_current(ctx)
        rid_header = (b"x-openstack-request-id", ctx.request_id.encode())
        started = False
        status = 500
        t0 = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", []), rid_header]
                if limited.must_close():  # else keep-alive would read the rest of a refused body
                    message["headers"].append(close)
            await send(message)

        try:
            if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
                # No identifier or filter holds a NUL, and PostgreSQL refuses it in text (a 500).
                raise errors.ValidationError("Invalid input: the request path or query holds a NUL character.")
            await self.app(scope, limited, send_with_id)
        except Exception as exc:  # the error boundary: everything becomes an OpenStack error body
            if started:
                LOG.exception("[%s] error after the response started", ctx.request_id)
                raise
            err = self._to_error(exc, ctx)
            status, headers, body = self.formatter(err, ctx.request_id)
            extra = err.headers or {}
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        *((k.encode(), v.encode()) for k, v in {**headers, **extra}.items()),
                        (b"content-length", str(len(body)).encode()),
                        rid_header,
                        *((close,) if limited.must_close() else ()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
        finally:
            if ACCESS.isEnabledFor(logging.INFO):
                ACCESS.info(
                    "%s %s %s %.1fms user=%s project=%s",
                    scope["method"],
                    _CONTROL.sub(_escape, scope["path"]),  # a %0A in the path must not forge a log line
                    status,
                    (time.perf_counter() - t0) * 1000,
                    ctx.user_id or "-",
                    ctx.project_id or "-",
                )
            ctxmod.reset_current(token)

    def _to_error(self, exc: Exception, ctx: ctxmod.RequestContext) -> errors.LitestackError:
        if isinstance(exc, errors.LitestackError):
            if exc.status >= 500:
                LOG.error("[%s] %s: %s", ctx.request_id, type(exc).__name__, exc.message)
            return exc
        if isinstance(exc, ClientDisconnect):  # a client that left is no server error (no traceback)
            return errors.BadRequest("The client disconnected before sending the whole request body.")
        if isinstance(exc, HTTPException):
            err = error_for_http(exc.status_code, exc.detail if exc.status_code != 404 else None)
            if exc.headers:
                err.headers = dict(exc.headers)
            return err
        LOG.exception("[%s] unhandled error in %s", ctx.request_id, self.service)
        return errors.LitestackError(
            f"An unexpected error prevented the server from fulfilling your request. (request {ctx.request_id})"
        )


def context_of(scope_or_request: Any) -> ctxmod.RequestContext:
    """The request context installed by ``RequestMiddleware``."""
    scope = scope_or_request.scope if hasattr(scope_or_request, "scope") else scope_or_request
    ctx: ctxmod.RequestContext = scope["state"]["context"]
    return ctx
