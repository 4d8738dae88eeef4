"""Container and account quotas (Swift's ``container_quotas`` and ``account_quotas``).

- ``X-Container-Meta-Quota-Bytes`` and ``X-Container-Meta-Quota-Count``, set by the container's
  owner: an object PUT (or copy) that would make the container larger, or hold more objects, is
  refused with 413 ``Upload exceeds quota.``
- ``X-Account-Quota-Bytes`` and ``X-Account-Quota-Count`` (Swift 2.34; kept as system metadata)
  and the older ``X-Account-Meta-Quota-Bytes``, set only by a ``ResellerAdmin`` (403 for anyone
  else, the account's own users included): the same for the whole account.
- A quota that is not a whole number is 400.

Usage is the container's and account's counters when the write starts, as Swift reads them (so
concurrent uploads may together pass a quota; the account's counters follow ~50 ms behind).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from litestack.common import errors
from litestack.object.middleware.sub import headers_of, split_object_path, status_error, subrequest, swift_path

_CONTAINER = ("x-container-meta-quota-bytes", "x-container-meta-quota-count")
_ACCOUNT = ("x-account-meta-quota-bytes", "x-remove-account-meta-quota-bytes", "x-account-quota-bytes",
            "x-remove-account-quota-bytes", "x-account-quota-count", "x-remove-account-quota-count")
#: Swift 2.34's account quota headers, kept as system metadata (and shown back under these names).
_SYSMETA = {"x-account-quota-bytes": "x-account-sysmeta-quota-bytes",
            "x-account-quota-count": "x-account-sysmeta-quota-count"}


def _check_int(value: str, what: str) -> None:
    if value.strip() == "":
        return
    try:
        if int(value) < 0:
            raise ValueError(value)
    except ValueError:
        raise errors.BadRequest(f"Invalid {what} quota.") from None


class Quotas:
    capabilities: dict[str, Any] = {"account_quotas": {}, "container_quotas": {}}

    def __init__(self, app: ASGIApp, proxy: Any) -> None:
        self.app = app
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = swift_path(scope) if scope["type"] == "http" else None
        if path is not None:
            await self._check(scope, path)
        if path is None or path.kind != "account":
            await self.app(scope, receive, send)
            return
        if scope["method"] in ("POST", "PUT"):  # X-Account-Quota-* -> system metadata
            sysmeta: list[tuple[bytes, bytes]] = []
            for k, v in scope["headers"]:
                name = k.decode("latin-1").lower()
                if name in _SYSMETA:
                    sysmeta.append((_SYSMETA[name].encode(), v))
                elif name.startswith("x-remove-") and "x-" + name[len("x-remove-"):] in _SYSMETA:
                    sysmeta.append((_SYSMETA["x-" + name[len("x-remove-"):]].encode(), b""))
            scope["headers"] = [*scope["headers"], *sysmeta]

        async def send_quotas(message: Message) -> None:
            if message["type"] == "http.response.start":
                shown = {v.encode(): k.encode() for k, v in _SYSMETA.items()}
                message["headers"] = [*message.get("headers", []), *(
                    (shown[k.lower()], v) for k, v in message.get("headers", []) if k.lower() in shown)]
            await send(message)

        await self.app(scope, receive, send_quotas)

    async def _check(self, scope: Scope, path: Any) -> None:
        method = scope["method"]
        h = headers_of(scope)
        if path.kind == "account" and method in ("POST", "PUT"):
            if any(k in h for k in _ACCOUNT):
                ctx = scope["state"]["context"]
                if "reselleradmin" not in {r.lower() for r in ctx.roles}:
                    raise errors.Forbidden("Only a reseller admin may set the account quota.")
                _check_int(h.get(_ACCOUNT[0], ""), "bytes")
                _check_int(h.get(_ACCOUNT[2], ""), "bytes")
                _check_int(h.get(_ACCOUNT[4], ""), "count")
            return
        if path.kind == "container" and method in ("POST", "PUT"):
            _check_int(h.get(_CONTAINER[0], ""), "bytes")
            _check_int(h.get(_CONTAINER[1], ""), "count")
            return
        if path.kind != "object" or method not in ("PUT", "COPY"):
            return
        container = path.container
        account = path.account
        if method == "COPY":
            dest = unquote(h.get("destination", "")).lstrip("/")
            if "/" not in dest:
                return  # the proxy answers the malformed header
            container = dest.split("/", 1)[0]
            account = unquote(h.get("destination-account", "")) or account
            size = await self._source_size(scope, path, path.account, path.container, path.obj)
        elif h.get("x-copy-from"):
            src_account = unquote(h.get("x-copy-from-account", "")) or path.account
            try:
                c, o = split_object_path(h["x-copy-from"])
            except errors.BadRequest:
                return
            size = await self._source_size(scope, path, src_account, c, o)
        else:
            try:
                size = int(h.get("content-length", "0") or 0)
            except ValueError:
                return
        info = await self.proxy.container_info(account, container, scope)
        if info is not None:
            quota = info.get("x-container-meta-quota-bytes", "")
            if quota.isdigit() and int(info.get("x-container-bytes-used", "0")) + size > int(quota):
                raise errors.PayloadTooLarge("Upload exceeds quota.")
            quota = info.get("x-container-meta-quota-count", "")
            if quota.isdigit() and int(info.get("x-container-object-count", "0")) + 1 > int(quota):
                raise errors.PayloadTooLarge("Upload exceeds quota.")
        acct = await self.proxy.account_info(account)
        quota = acct.get(_SYSMETA["x-account-quota-bytes"]) or acct.get("x-account-meta-quota-bytes", "")
        if quota.isdigit() and int(acct.get("x-account-bytes-used", "0")) + size > int(quota):
            raise errors.PayloadTooLarge("Upload exceeds quota.")
        quota = acct.get(_SYSMETA["x-account-quota-count"], "")
        if quota.isdigit() and int(acct.get("x-account-object-count", "0")) + 1 > int(quota):
            raise errors.PayloadTooLarge("Upload exceeds quota.")

    async def _source_size(self, scope: Scope, path: Any, account: str, container: str | None,
                           obj: str | None) -> int:
        from dataclasses import replace

        src = replace(path, account=account)
        r = await subrequest(self.app, scope, "HEAD", src.path(container, obj))
        await r.aclose()
        if r.status == 404:
            return 0  # the copy answers its own 404
        if not r.ok:
            raise status_error(r)
        return int(r.headers.get("content-length", "0") or 0)
