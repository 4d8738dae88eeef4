"""Temporary URLs (Swift's ``tempurl``): a link that lets anyone, without a token, use one object
(or the objects under a prefix) with one method until it expires.

``?temp_url_sig=<sig>&temp_url_expires=<unix time or 2026-01-01T00:00:00Z>`` where the signature is
the HMAC (sha1, sha256 or sha512; hex, or ``<digest>:<base64>``) of ``METHOD\\nEXPIRES\\nPATH`` (with
``temp_url_prefix``: ``METHOD\\nEXPIRES\\nprefix:/v1/<account>/<container>/<prefix>``; with
``temp_url_ip_range``: ``ip=<range>\\n`` first) under one of the keys
``X-Account-Meta-Temp-URL-Key[-2]`` or ``X-Container-Meta-Temp-URL-Key[-2]``. PATH is the object's
path from ``/v1/`` (the path under the cloud's ``/object-store`` prefix is accepted too). A HEAD may
use a GET, PUT or POST signature. A bad or expired signature is 401 ``Temp URL invalid``.

A GET answers ``Content-Disposition: attachment; filename=...`` (the object's name, or ``filename``),
``inline`` with ``&inline``; the object's ``X-Object-Meta-*`` are not shown, except
``X-Object-Meta-Public-*``.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import hmac
import ipaddress
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from litestack.common import errors
from litestack.object.middleware.sub import GRANT, SwiftPath, route_path, swift_path

METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")
DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
_HEX = {40: "sha1", 64: "sha256", 128: "sha512"}
KEYS = ("x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2")
CONTAINER_KEYS = ("x-container-meta-temp-url-key", "x-container-meta-temp-url-key-2")


@dataclass(frozen=True)
class Grant:
    """What a signed request may do: its own method on its object (or prefix); the middlewares'
    subrequests may read the account (the segments of a large object), as Swift's tempurl allows."""

    method: str
    account: str
    container: str
    obj: str
    prefix: bool

    def allows(self, method: str, path: SwiftPath) -> bool:
        if path.account != self.account:
            return False
        if method in ("GET", "HEAD") and self.method in ("GET", "HEAD"):
            return True
        same = path.container == self.container and path.obj is not None and (
            path.obj.startswith(self.obj) if self.prefix else path.obj == self.obj)
        return same and method == self.method


def invalid() -> errors.Unauthorized:
    return errors.Unauthorized("Temp URL invalid")


def parse_expires(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return calendar.timegm(time.strptime(value, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        raise invalid() from None


def parse_signature(sig: str) -> tuple[str, bytes]:
    """The digest name and the raw signature bytes."""
    if ":" in sig:
        name, _, b64 = sig.partition(":")
        if name not in DIGESTS:
            raise invalid()
        try:
            return name, base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
        except (binascii.Error, ValueError):
            raise invalid() from None
    name = _HEX.get(len(sig), "")
    if not name:
        raise invalid()
    try:
        return name, bytes.fromhex(sig)
    except ValueError:
        raise invalid() from None


def sign(key: str, method: str, expires: int | str, path: str, digest: str = "sha256",
         ip_range: str | None = None) -> str:
    """A TempURL signature in hex (what ``swift tempurl`` computes)."""
    body = f"{method}\n{expires}\n{path}"
    if ip_range:
        body = f"ip={ip_range}\n{body}"
    return hmac.new(key.encode(), body.encode(), DIGESTS[digest]).hexdigest()


class TempURL:
    capabilities = {"tempurl": {"methods": list(METHODS), "incoming_remove_headers": ["x-timestamp"],
                                "incoming_allow_headers": [], "outgoing_remove_headers": ["x-object-meta-*"],
                                "outgoing_allow_headers": ["x-object-meta-public-*"],
                                "allowed_digests": sorted(DIGESTS)}}

    def __init__(self, app: ASGIApp, proxy: Any) -> None:
        self.app = app
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if "temp_url_sig" not in query and "temp_url_expires" not in query:
            await self.app(scope, receive, send)
            return
        path = swift_path(scope)
        method = scope["method"]
        sig_value, expires_value = (query.get("temp_url_sig") or [""])[0], (query.get("temp_url_expires") or [""])[0]
        if path is None or path.kind != "object" or not sig_value or not expires_value or method not in METHODS:
            raise invalid()
        expires = parse_expires(expires_value)
        if expires < time.time():
            raise invalid()
        digest, sig = parse_signature(sig_value)
        prefix = (query.get("temp_url_prefix") or [None])[0]
        if prefix is not None and not (path.obj or "").startswith(prefix):
            raise invalid()
        ip_range = (query.get("temp_url_ip_range") or [None])[0]
        if ip_range:
            client = scope.get("client")
            try:
                if not client or ipaddress.ip_address(client[0]) not in ipaddress.ip_network(ip_range, strict=False):
                    raise invalid()
            except ValueError:
                raise invalid() from None
        keys = await self._keys(path)
        if not keys or not self._valid(scope, path, method, expires_value, prefix, ip_range, digest, sig, keys):
            raise invalid()
        scope["state"][GRANT] = Grant(method, path.account, path.container or "", prefix or path.obj or "",
                                      prefix is not None)
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() not in (b"x-timestamp",)]
        disposition = self._disposition(query, path, method)

        async def send_filtered(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if not k.lower().startswith(b"x-object-meta-") or k.lower().startswith(
                               b"x-object-meta-public-")]
                if disposition and message["status"] < 300:
                    headers = [(k, v) for k, v in headers if k.lower() != b"content-disposition"]
                    headers.append((b"content-disposition", disposition.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_filtered)

    async def _keys(self, path: SwiftPath) -> list[str]:
        account = await self.proxy.account_info(path.account)
        keys = [account[k] for k in KEYS if account.get(k)]
        container = await self.proxy.container_info(path.account, path.container)
        if container is not None:
            keys += [container[k] for k in CONTAINER_KEYS if container.get(k)]
        return keys

    @staticmethod
    def _valid(scope: Scope, path: SwiftPath, method: str, expires: str, prefix: str | None, ip_range: str | None,
               digest: str, sig: bytes, keys: list[str]) -> bool:
        roots = ("", scope.get("root_path", ""))
        if prefix is not None:
            signed = [f"prefix:{root}{path.path(path.container, None)}/{quote(prefix)}" for root in roots]
            signed += [f"prefix:{root}/{path.version}/{path.account}/{path.container}/{prefix}" for root in roots]
        else:
            raw = route_path(scope)
            signed = [root + raw for root in roots]
        methods = ("GET", "HEAD", "PUT", "POST") if method == "HEAD" else (method,)
        for key in keys:
            for m in methods:
                for p in set(signed):
                    body = f"{m}\n{expires}\n{p}"
                    if ip_range:
                        body = f"ip={ip_range}\n{body}"
                    if hmac.compare_digest(hmac.new(key.encode(), body.encode(), DIGESTS[digest]).digest(), sig):
                        return True
        return False

    @staticmethod
    def _disposition(query: dict[str, list[str]], path: SwiftPath, method: str) -> str | None:
        if method not in ("GET", "HEAD"):
            return None
        filename = (query.get("filename") or [""])[0]
        if "inline" in query:
            return "inline" + (f'; filename="{_latin(filename)}"; filename*=UTF-8\'\'{quote(filename)}'
                               if filename else "")
        name = filename or (path.obj or "").rsplit("/", 1)[-1]
        return f'attachment; filename="{_latin(name)}"; filename*=UTF-8\'\'{quote(name)}'


def _latin(name: str) -> str:
    return name.encode("latin-1", "replace").decode("latin-1").replace('"', '\\"')
