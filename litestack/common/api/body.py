"""Request bodies: a size limit for every route, and the shared JSON decoding.

Two layers keep a hostile body from costing memory or a 500:

* ``LimitedReceive`` wraps the ASGI ``receive`` of every request (installed by
  ``RequestMiddleware``). A declared ``Content-Length`` over the route's allowance is refused
  with 413 before a byte of the body is read; a chunked body is cut off as soon as it passes
  the allowance. The allowance is ``MAX_BODY`` unless the route's ``Op`` says otherwise
  (``max_body``: a number, or ``None`` for routes that stream large uploads themselves).
* ``json_body`` decodes JSON and refuses, with 400, what would only fail later: a lone UTF-16
  surrogate (``"\\ud800"``), which no database driver can encode, a NUL character, which
  PostgreSQL refuses in text, and nesting deeper than ``MAX_DEPTH``.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.types import Message, Receive, Scope

from litestack.common import errors

MAX_BODY = 1 << 20
# OpenStack request bodies are shallow (a password auth request is 6 levels deep); anything far
# deeper is an attack on the recursive code that walks it (validation, the database layer).
MAX_DEPTH = 64
_TOO_LARGE = "Request body is too large."


def route_limit(scope: Scope) -> int | None:
    """The body allowance of the route that serves ``scope``: its ``Op.max_body``, else ``MAX_BODY``.

    The router records the matched endpoint in the scope; our endpoints keep their ``Op`` per
    method in ``ops``. Anything else (no route matched yet, a foreign endpoint) gets the default,
    so a mistake here refuses a big body rather than accepting one.
    """
    ops = getattr(scope.get("endpoint"), "ops", None)
    op = ops.get(scope.get("method")) if isinstance(ops, dict) else None
    if op is None:
        return MAX_BODY
    limit: int | None = getattr(op, "max_body", MAX_BODY)
    return limit


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``, or None when it has none (chunked, or no body)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:  # the HTTP parser refuses these; stay safe if another server does not
                raise errors.BadRequest("Invalid Content-Length header.") from None
    return None


class LimitedReceive:
    """An ASGI ``receive`` that never lets a body past the route's allowance.

    The allowance is looked up on the first ``http.request`` read, after routing, so that a
    route can raise it. ``must_close`` tells the server to drop the connection rather than read
    and discard the rest of a refused (or unread, oversized) body for keep-alive.
    """

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self.received = 0
        self.complete = False
        self.refused = False
        self._limit: int | None = None
        self._resolved = False

    def limit(self) -> int | None:
        if not self._resolved:
            self._limit = route_limit(self.scope)
            self._resolved = True
        return self._limit

    async def __call__(self) -> Message:
        limit = self.limit()
        if limit is not None and not self.received and not self.complete:
            declared = declared_length(self.scope)
            if declared is not None and declared > limit:
                self.refused = True
                raise errors.PayloadTooLarge(_TOO_LARGE)
        message = await self.receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if limit is not None and self.received > limit:
                self.refused = True
                raise errors.PayloadTooLarge(_TOO_LARGE)
            if not message.get("more_body", False):
                self.complete = True
        return message

    def must_close(self) -> bool:
        """Whether the connection must close after the response: the body was refused, or it was
        left unread and is larger than allowed (or of unknown length), so keep-alive would read on."""
        if self.refused:
            return True
        if self.complete:
            return False
        declared: int | None = None
        for name, value in self.scope.get("headers", ()):
            if name == b"transfer-encoding":
                return True  # chunked and unread: its length is unknown, maybe endless
            if name == b"content-length":
                declared = int(value) if value.isdigit() else None
        limit = self.limit()
        return declared is not None and limit is not None and declared > limit


def decode_json(raw: bytes) -> Any:
    """``raw`` parsed as JSON; ``ValidationError`` (400) for anything the service could not store."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise errors.ValidationError("Malformed JSON in request body.") from None
    except RecursionError:
        raise errors.ValidationError(f"JSON in request body is nested deeper than {MAX_DEPTH} levels.") from None
    # Walking costs a little, so only bodies that can hold a problem are walked: deep nesting needs
    # many brackets, and a surrogate or a NUL can only arrive as a \u escape (never as raw UTF-8).
    deep = raw.count(b"[") + raw.count(b"{") > MAX_DEPTH
    if deep or b"\\u" in raw:
        _check(data)
    return data


def _check(data: Any) -> None:
    """Refuse nesting deeper than ``MAX_DEPTH`` and strings a database cannot store (iteratively:
    the point is to survive input built to exhaust the stack)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise errors.ValidationError(
                    f"JSON in request body is nested deeper than {MAX_DEPTH} levels.")
            if isinstance(item, dict):
                for key, value in item.items():
                    _check_text(key)
                    stack.append((value, depth + 1))
            else:
                stack.extend((value, depth + 1) for value in item)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise errors.ValidationError("Invalid input: the request body holds a NUL character.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise errors.ValidationError(
            "Invalid input: the request body holds a lone UTF-16 surrogate, which is not a character.") from None


async def read_body(request: Request, limit: int | None = MAX_BODY) -> bytes:
    """The whole request body, refused with 413 as soon as it passes ``limit``.

    ``LimitedReceive`` already enforces the route's allowance for apps built by ``build_app``;
    this keeps the bound for a request read any other way.
    """
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if limit is not None and size > limit:
                raise errors.PayloadTooLarge(_TOO_LARGE)
            chunks.append(chunk)
    except ClientDisconnect:
        # The client left (or the server dropped a body that stopped arriving): nobody will read
        # the answer, and it is no server error.
        raise errors.BadRequest("The client disconnected before sending the whole request body.") from None
    raw = b"".join(chunks)
    request._body = raw  # so that a later request.body() sees it (Starlette caches it there)
    return raw


async def json_body(request: Request, schema: dict[str, Any] | None = None) -> Any:
    """The request body parsed as JSON (and validated when a schema is given)."""
    if getattr(request, "_body", None) is not None:
        raw: bytes = request._body
    else:
        raw = await read_body(request, route_limit(request.scope))
    data = decode_json(raw) if raw else None
    if schema is not None:
        if data is None:
            raise errors.ValidationError("The request body is empty; a JSON document is required.")
        # Deferred import: app.py imports this module for json_body.
        from litestack.common.api.app import validate

        validate(schema, data)
    return data
