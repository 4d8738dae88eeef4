"""The proxy: Swift's v1 API for users, served from the storage servers through the ring.

Routes, token validation, policy, request IDs and the error boundary are the framework's
(``common/api/app.py``): each route names its rule, checked against the account's project.
The handlers below talk to the storage servers (``backend.py``); they stream object data both
ways and never hold a whole object.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote, unquote

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from litestack.common.api.app import Op, build_app
from litestack.common.api.policy import Target, policy_target
from litestack.common.policy import Enforcer
from litestack.object import errors, expiry, listing, storage_policy
from litestack.object.backend import Backend, FanOut, best_status, quorum
from litestack.object.constraints import Limits, check_metadata, check_names
from litestack.object.http import http_date
from litestack.object.server.diskfile import normalize_timestamp
from litestack.object.storage_policy import INDEX_HEADER

RESELLER_PREFIX = "AUTH_"
#: Where a request keeps the container headers its middlewares read (``Proxy.container_info``).
INFO_MEMO = "swift.container_info"
#: Objects up to this size are read whole before they are sent (see ``Proxy._put_small``).
SMALL_OBJECT = 64 * 1024
_PASS_OBJECT = ("content-type", "content-length", "etag", "last-modified", "x-timestamp", "accept-ranges",
                "content-range", "content-disposition", "content-encoding", "x-delete-at", "x-object-manifest",
                "x-static-large-object")
#: Headers an object keeps from its PUT (besides X-Object-Meta-*), as Swift's allowed headers.
_KEPT = ("content-disposition", "content-encoding", "x-object-manifest")
#: Object headers only the middlewares set (``middleware/gatekeeper.py`` strips them from users).
_SYSTEM = ("x-object-sysmeta-", "x-static-large-object")
#: Container settings stored with its metadata (ACLs, versioning) and its system metadata.
_CONTAINER_SETTINGS = ("x-container-read", "x-container-write", "x-versions-location", "x-history-location",
                       "x-container-sysmeta-")


def _now() -> str:
    return normalize_timestamp(time.time())


def _meta(headers: Any, kind: str) -> dict[str, str]:
    """The metadata headers of a write (``X-<kind>-Meta-*`` and ``X-Remove-<kind>-Meta-*``, and the
    settings Swift keeps beside them: ACLs, versioning, system metadata)."""
    keep = (f"x-{kind}-meta-", f"x-remove-{kind}-meta-", f"x-{kind}-sysmeta-")
    out = {k: v for k, v in headers.items() if k.lower().startswith(keep)}
    if kind == "container":
        out.update({k: v for k, v in headers.items() if k.lower().startswith(_CONTAINER_SETTINGS)})
        for k in headers:  # X-Remove-Container-Read, X-Remove-Versions-Location, ...
            name = "x-" + k.lower()[len("x-remove-"):]
            if k.lower().startswith("x-remove-") and name.startswith(_CONTAINER_SETTINGS):
                out[name] = ""
    return out


async def account_target(request: Request) -> Target:
    account: str = request.path_params["account"]
    project = account[len(RESELLER_PREFIX):] if account.startswith(RESELLER_PREFIX) else None
    return Target(policy_target(project_id=project))


def _headers_dict(r: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in r.headers.items()}


class Proxy:
    """The proxy's handlers over one ``Backend``."""

    def __init__(self, backend: Backend, limits: Limits) -> None:
        self.backend = backend
        self.limits = limits
        #: What the middlewares add to ``GET /info`` (``middleware.pipeline`` fills it).
        self.capabilities: dict[str, Any] = {}
        #: Announces changes on the bus (``middleware/notifications.py``); set by the service.
        self.notifier: Any = None

    async def authorize(self, request: Request) -> Target:
        """The target loader of every account, container and object route (``middleware/acl.py``)."""
        from litestack.object.middleware import acl

        return await acl.authorize(self, request)

    async def account_info(self, account: str) -> dict[str, str]:
        """An account's headers as its servers answer them (lower-case names; empty if unknown)."""
        r = await self.backend.read("HEAD", self.backend.target(account), account, None, None, {})
        return _headers_dict(r) if r is not None and r.status_code < 300 else {}

    async def container_info(self, account: str, container: str, scope: Any = None) -> dict[str, str] | None:
        """A container's headers (lower-case names), or None when it does not exist. With a request's
        ``scope``, read once per request (the middlewares of one request share it)."""
        memo = scope["state"].setdefault(INFO_MEMO, {}) if scope is not None else {}
        if (account, container) in memo:
            return memo[(account, container)]
        r = await self.backend.read("HEAD", self.backend.target(account, container), account, container, None, {})
        if r is None:
            raise errors.Unavailable()
        info = memo[(account, container)] = _headers_dict(r) if r.status_code < 300 else None
        return info

    def _headers(self, request: Request, extra: dict[str, str] | None = None) -> dict[str, str]:
        return dict(extra or {})  # X-Trans-Id is added to every response by ``SwiftHeaders``

    # --- info ----------------------------------------------------------------------------------

    async def info(self, request: Request) -> Response:
        # The Swift release whose API this follows: clients and tempest gate features on it.
        swift = {"version": "2.34.0", "policies": [
                     {"name": p.name, "aliases": p.name, **({"default": True} if p.default else {})}
                     for p in self.backend.policies()],
                 "valid_api_versions": ["v1", "v1.0"], "account_autocreate": True,
                 "allow_account_management": False, **self.limits.as_info()}
        return JSONResponse({"swift": swift, **self.capabilities}, headers=self._headers(request))

    # --- accounts ------------------------------------------------------------------------------

    async def _ensure_account(self, account: str) -> None:
        t = self.backend.target(account)
        r = await self.backend.read("HEAD", t, account, None, None, {})
        if r is not None and r.status_code < 300:
            return
        ts = _now()
        statuses = await self.backend.write_all("PUT", t, account, None, None, lambda i: {"X-Timestamp": ts})
        if best_status(statuses, len(t.primaries)) not in (201, 202):
            raise errors.Unavailable()

    async def account_get(self, request: Request) -> Response:
        account = request.path_params["account"]
        check_names(self.limits, account)
        query = listing.parse_query(request.query_params, self.limits.account_listing_limit)
        t = self.backend.target(account)
        method = "HEAD" if request.method == "HEAD" else "GET"
        r = await self.backend.read(method, t, account, None, None, {}, params=query)
        if r is None:
            raise errors.Unavailable()
        if r.status_code == 404:  # created on first use: an unknown account is an empty one
            headers = {"X-Account-Container-Count": "0", "X-Account-Object-Count": "0",
                       "X-Account-Bytes-Used": "0", "X-Timestamp": _now()}
            rows: list[dict[str, Any]] = []
        else:
            headers = {k: v for k, v in r.headers.items() if k.lower().startswith(("x-account-", "x-timestamp"))}
            rows = r.json() if method == "GET" else []
        acl_value = headers.pop("x-account-sysmeta-core-access-control", None)
        ctx = request.scope["state"]["context"]
        if acl_value and ctx.authenticated and (ctx.project_id == account.removeprefix(RESELLER_PREFIX)
                                                or "ResellerAdmin" in ctx.roles):
            headers["X-Account-Access-Control"] = acl_value  # shown to the account's owners only
        # Usage per storage policy, as Swift reports it (one policy: the totals).
        for what in ("Bytes-Used", "Container-Count", "Object-Count"):
            headers[f"X-Account-Storage-Policy-Policy-0-{what}"] = headers.get(f"x-account-{what.lower()}", "0")
        return self._listing(request, "account", account, headers, rows)

    def _listing(self, request: Request, kind: str, name: str, headers: dict[str, str],
                 rows: list[dict[str, Any]]) -> Response:
        media = listing.content_type(request.query_params.get("format"), request.headers.get("accept"))
        headers = self._headers(request, {**headers, "Content-Type": f"{media}; charset=utf-8"})
        if kind == "container":
            headers.setdefault("X-Storage-Policy", storage_policy.DEFAULT.name)
        if request.method == "HEAD":
            return Response(status_code=204, headers=headers)
        if not rows and media == "text/plain":
            return Response(status_code=204, headers=headers)
        return Response(listing.render(kind, name, rows, media), 200, headers)

    async def account_post(self, request: Request) -> Response:
        account = request.path_params["account"]
        check_names(self.limits, account)
        check_metadata(self.limits, request.headers, "account")
        await self._ensure_account(account)
        t = self.backend.target(account)
        ts = _now()
        meta = _meta(request.headers, "account")
        if "x-account-access-control" in request.headers:  # kept as system metadata, as Swift does
            from litestack.object.middleware import acl

            value = request.headers["x-account-access-control"]
            meta[acl.ACCOUNT_ACL] = acl.parse_account_acl(value) if value.strip() else ""
        statuses = await self.backend.write_all("POST", t, account, None, None,
                                                lambda i: {"X-Timestamp": ts, **meta})
        return self._write_result(request, statuses, len(t.primaries), 204)

    def _write_result(self, request: Request, statuses: list[int], replicas: int, ok: int,
                      extra: dict[str, str] | None = None) -> Response:
        best = best_status(statuses, replicas)
        if best is not None and best < 300:
            return Response(status_code=ok if ok else best, headers=self._headers(request, extra))
        if best == 404:
            raise errors.NotFound()
        if best == 409:
            raise errors.Conflict()
        raise errors.Unavailable()

    # --- containers ----------------------------------------------------------------------------

    async def container_get(self, request: Request) -> Response:
        account, container = request.path_params["account"], request.path_params["container"]
        check_names(self.limits, account, container)
        query = listing.parse_query(request.query_params, self.limits.container_listing_limit)
        t = self.backend.target(account, container)
        method = "HEAD" if request.method == "HEAD" else "GET"
        r = await self.backend.read(method, t, account, container, None, {}, params=query)
        if r is None:
            raise errors.Unavailable()
        if r.status_code == 404:
            raise errors.NotFound()
        headers = {k: v for k, v in r.headers.items()
                   if k.lower().startswith(("x-container-", "x-timestamp", "x-versions-", "x-history-"))}
        policy = storage_policy.by_index(int(r.headers.get(INDEX_HEADER, "0") or 0)) or storage_policy.DEFAULT
        headers["X-Storage-Policy"] = policy.name
        rows = r.json() if method == "GET" else []
        return self._listing(request, "container", container, headers, rows)

    async def container_put(self, request: Request) -> Response:
        account, container = request.path_params["account"], request.path_params["container"]
        check_names(self.limits, account, container)
        check_metadata(self.limits, request.headers, "container")
        await self._ensure_account(account)
        t = self.backend.target(account, container)
        at = self.backend.target(account)
        ts = _now()
        meta = _meta(request.headers, "container")
        if request.headers.get("x-storage-policy") is not None:
            name = request.headers["x-storage-policy"]
            chosen = next((p for p in self.backend.policies() if p.name.lower() == name.strip().lower()), None)
            if chosen is None:
                raise errors.SwiftBadRequest(f"Invalid X-Storage-Policy {name!r}")
            meta[INDEX_HEADER] = str(chosen.index)
        self.backend.forget_container(account, container)

        def headers_for(i: int) -> dict[str, str]:
            node = at.primaries[i % len(at.primaries)]
            return {"X-Timestamp": ts, "X-Account-Host": f"{node.ip}:{node.port}",
                    "X-Account-Device": node.device, "X-Account-Partition": str(at.partition), **meta}

        statuses = await self.backend.write_all("PUT", t, account, container, None, headers_for)
        best = best_status(statuses, len(t.primaries))
        if best == 409:
            raise errors.Conflict("Container exists with a different storage policy")
        if best is None or best >= 300:
            raise errors.Unavailable()
        return Response(status_code=201 if 201 in statuses else 202, headers=self._headers(request))

    async def container_post(self, request: Request) -> Response:
        account, container = request.path_params["account"], request.path_params["container"]
        check_names(self.limits, account, container)
        check_metadata(self.limits, request.headers, "container")
        t = self.backend.target(account, container)
        ts = _now()
        meta = _meta(request.headers, "container")
        statuses = await self.backend.write_all("POST", t, account, container, None,
                                                lambda i: {"X-Timestamp": ts, **meta})
        return self._write_result(request, statuses, len(t.primaries), 204)

    async def container_delete(self, request: Request) -> Response:
        account, container = request.path_params["account"], request.path_params["container"]
        check_names(self.limits, account, container)
        t = self.backend.target(account, container)
        ts = _now()
        self.backend.forget_container(account, container)
        statuses = await self.backend.write_all("DELETE", t, account, container, None,
                                                lambda i: {"X-Timestamp": ts})
        return self._write_result(request, statuses, len(t.primaries), 204)

    # --- objects -------------------------------------------------------------------------------

    async def _container_nodes(self, account: str, container: str) -> tuple[int, list[Any]]:
        """The container's partition and primaries, after checking it exists (else 404)."""
        t = self.backend.target(account, container)
        if self.backend.known_container(account, container) is not None:
            return t.partition, t.primaries
        r = await self.backend.read("HEAD", t, account, container, None, {})
        if r is None:
            raise errors.Unavailable()
        if r.status_code == 404:
            raise errors.NotFound()
        self.backend.remember_container(account, container, int(r.headers.get(INDEX_HEADER, "0") or 0))
        return t.partition, t.primaries

    async def _policy(self, account: str, container: str) -> int:
        """The storage policy of a container (404 when there is no such container)."""
        policy = self.backend.known_container(account, container)
        if policy is None:
            await self._container_nodes(account, container)
            policy = self.backend.known_container(account, container) or 0
        return policy

    async def object_put(self, request: Request) -> Response:
        p = request.path_params
        account, container, obj = p["account"], p["container"], p["obj"]
        check_names(self.limits, account, container, obj)
        check_metadata(self.limits, request.headers, "object")
        h = request.headers
        chunked = "chunked" in h.get("transfer-encoding", "").lower()
        length: int | None = None
        if h.get("content-length") is not None and not chunked:
            try:
                length = int(h["content-length"])
            except ValueError:
                raise errors.SwiftBadRequest("Invalid Content-Length header") from None
            if length < 0:
                raise errors.SwiftBadRequest("Invalid Content-Length header")
        elif not chunked:
            raise errors.LengthRequired("Missing Content-Length header.")
        if length is not None and length > self.limits.max_file_size:
            raise errors.TooLarge()
        if h.get("x-copy-from"):
            src_account = unquote(h.get("x-copy-from-account", "")) or account
            check_names(self.limits, src_account)
            return await self._copy(request, src_account, h["x-copy-from"], container, obj, account)
        return await self._write_object(request, account, container, obj, request.stream(), length,
                                        dict(h.items()))

    async def object_copy(self, request: Request) -> Response:
        """``COPY`` with ``Destination: container/object``: the same as a PUT there with X-Copy-From."""
        p = request.path_params
        account, container, obj = p["account"], p["container"], p["obj"]
        check_names(self.limits, account, container, obj)
        check_metadata(self.limits, request.headers, "object")
        dest = unquote(request.headers.get("destination", "")).lstrip("/")
        dest_container, _, dest_obj = dest.partition("/")
        if not dest_container or not dest_obj:
            raise errors.PreconditionFailed("Destination header must be of the form <container name>/<object name>")
        dest_account = unquote(request.headers.get("destination-account", "")) or account
        check_names(self.limits, dest_account, dest_container, dest_obj)
        return await self._copy(request, account, f"/{container}/{obj}", dest_container, dest_obj, dest_account)

    async def _copy(self, request: Request, account: str, source: str, container: str, obj: str,
                    dest_account: str) -> Response:
        """Server-side copy (from ``account`` to ``dest_account``, the same one or another): the source
        streams from its replicas into a new PUT. Its metadata come along (the request's own
        X-Object-Meta-* win), unless X-Fresh-Metadata. The caller must be allowed to read the source
        and to write the destination, by ownership or ACL (the route checked one of them)."""
        from litestack.object.middleware import acl

        src = unquote(source).lstrip("/")
        src_container, _, src_obj = src.partition("/")
        if not src_container or not src_obj:
            raise errors.PreconditionFailed("X-Copy-From header must be of the form <container name>/<object name>")
        check_names(self.limits, account, src_container, src_obj)
        if dest_account != account:
            ctx = request.scope["state"]["context"]
            if not (await acl.may(self, ctx, "GET", account, src_container, True)
                    and await acl.may(self, ctx, "PUT", dest_account, container, True)):
                raise errors.Forbidden()
        src_policy = await self._policy(account, src_container)
        t = self.backend.target(account, src_container, src_obj, src_policy)
        r = await self.backend.read("GET", t, account, src_container, src_obj, _policy_header(src_policy),
                                    stream=True)
        if r is None:
            raise errors.Unavailable()
        if r.status_code == 404:
            raise errors.NotFound()
        try:
            h = request.headers
            fresh = h.get("x-fresh-metadata", "").lower() in ("true", "1", "yes", "on")
            headers = {} if fresh else {k: v for k, v in r.headers.items()
                                        if k.lower().startswith("x-object-meta-") or k.lower() in _KEPT}
            headers["content-type"] = r.headers.get("content-type", "")
            headers.update({k: v for k, v in h.items() if k.lower().startswith("x-object-meta-")
                            or k.lower() in ("content-type", "x-detect-content-type", *_KEPT)})
            length = int(r.headers["content-length"])
            response = await self._write_object(request, dest_account, container, obj, r.aiter_raw(), length,
                                                headers)
        finally:
            await r.aclose()
        for k, v in headers.items():  # the new object's metadata, as Swift answers a copy
            if k.lower().startswith("x-object-meta-"):
                response.headers[k] = v
        response.headers["X-Copied-From"] = quote(f"{src_container}/{src_obj}")
        response.headers["X-Copied-From-Last-Modified"] = r.headers.get("last-modified", "")
        if dest_account != account:
            response.headers["X-Copied-From-Account"] = quote(account)
        return response

    async def _write_object(self, request: Request, account: str, container: str, obj: str,
                            chunks: AsyncIterator[bytes], length: int | None, h: dict[str, str]) -> Response:
        """Store an object from a stream of chunks on a node per replica, with a quorum."""
        h = {k.lower(): v for k, v in h.items()}
        cpart, cnodes = await self._container_nodes(account, container)
        policy = await self._policy(account, container)
        ctype = h.get("content-type", "")
        if not ctype or h.get("x-detect-content-type", "").lower() in ("true", "1", "yes", "on"):
            ctype = mimetypes.guess_type(obj)[0] or "application/octet-stream"
        ts = _now()
        base = {"X-Timestamp": ts, "Content-Type": ctype,
                **{k: v for k, v in h.items() if k.lower().startswith(("x-object-meta-", *_SYSTEM))}}
        base.update({k: v for k, v in h.items() if k in _KEPT})
        base.update(expiry.delete_at(h))
        if policy:
            base[INDEX_HEADER] = str(policy)
        if h.get("etag"):
            base["ETag"] = h["etag"]
        if length is not None:
            base["Content-Length"] = str(length)
        t = self.backend.target(account, container, obj, policy)
        if length is not None and length <= SMALL_OBJECT:
            return await self._put_small(request, t, account, container, obj, chunks, length, base, cpart, cnodes,
                                         ts)
        nodes = await self.backend.write_nodes(t)
        if len(nodes) < quorum(len(t.primaries)):
            raise errors.Unavailable()
        body = _Body(chunks, self.limits.max_file_size)
        fan = FanOut(body.chunks(), len(nodes))

        async def put_one(i: int) -> int:
            node = nodes[i]
            headers = {**base, **_container_headers(cnodes, cpart, i, len(nodes))}
            try:
                r = await self.backend.client.request(
                    "PUT", self.backend.url(node, t.partition, account, container, obj),
                    headers=self.backend.headers(headers), content=fan.reader(i))
            except (httpx.HTTPError, ConnectionAbortedError):
                fan.drop(i)
                self.backend.error(node)
                return 503
            fan.drop(i)
            return r.status_code

        pump = asyncio.get_running_loop().create_task(fan.pump())
        statuses = list(await asyncio.gather(*(put_one(i) for i in range(len(nodes)))))
        await pump
        if body.error is not None:
            raise body.error
        if not body.done or (length is not None and body.size != length):
            raise errors.errors.BadRequest("The client disconnected before sending the whole request body.")
        if 422 in statuses:
            raise errors.Unprocessable()
        if statuses.count(201) >= quorum(len(t.primaries)):
            return Response(status_code=201, headers=self._headers(request, {
                "ETag": body.md5.hexdigest(), "Last-Modified": http_date(ts), "X-Timestamp": ts,
                "Content-Length": "0"}))
        raise errors.Unavailable()

    async def _put_small(self, request: Request, t: Any, account: str, container: str, obj: str,
                         chunks: AsyncIterator[bytes], length: int, base: dict[str, str], cpart: int,
                         cnodes: list[Any], ts: str) -> Response:
        """A small object is read whole first (at most ``SMALL_OBJECT`` bytes): then a replica whose
        node fails is written again on a handoff, and no device check is needed before sending."""
        body = bytearray()
        async for chunk in chunks:
            body += chunk
            if len(body) > length:
                break
        if len(body) != length:
            raise errors.errors.BadRequest("The request body does not match its Content-Length.")
        data = bytes(body)
        replicas = len(t.primaries)
        statuses = await self.backend.write_all(
            "PUT", t, account, container, obj,
            lambda i: {**base, **_container_headers(cnodes, cpart, i, replicas, copies=2)}, content=data)
        if 422 in statuses:
            raise errors.Unprocessable()
        if statuses.count(201) >= quorum(replicas):
            etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
            return Response(status_code=201, headers=self._headers(request, {
                "ETag": etag, "Last-Modified": http_date(ts), "X-Timestamp": ts, "Content-Length": "0"}))
        raise errors.Unavailable()

    async def object_get(self, request: Request) -> Response:
        p = request.path_params
        account, container, obj = p["account"], p["container"], p["obj"]
        check_names(self.limits, account, container, obj)
        policy = await self._policy(account, container)
        t = self.backend.target(account, container, obj, policy)
        forward = {k: v for k, v in request.headers.items()
                   if k.lower() in ("range", "if-match", "if-none-match", "if-modified-since",
                                    "if-unmodified-since")}
        forward.update(_policy_header(policy))
        method = "HEAD" if request.method == "HEAD" else "GET"
        r = await self.backend.read(method, t, account, container, obj, forward, stream=method == "GET")
        if r is None:
            raise errors.Unavailable()
        if r.status_code == 404:
            raise errors.NotFound()
        headers = {k: v for k, v in r.headers.items()
                   if k.lower() in _PASS_OBJECT or k.lower().startswith(("x-object-meta-", *_SYSTEM))}
        if r.status_code in (412, 416):
            await r.aclose()
            err: errors.errors.LitestackError = (errors.PreconditionFailed() if r.status_code == 412
                                                 else errors.RangeNotSatisfiable())
            err.headers = {k: v for k, v in headers.items() if k.lower() in ("content-range", "etag")}
            raise err
        if r.status_code == 304 or method == "HEAD":
            await r.aclose()
            return Response(status_code=r.status_code, headers=self._headers(request, headers))
        return StreamingResponse(r.aiter_raw(), r.status_code, self._headers(request, headers),
                                 background=BackgroundTask(r.aclose))

    async def object_post(self, request: Request) -> Response:
        p = request.path_params
        account, container, obj = p["account"], p["container"], p["obj"]
        check_names(self.limits, account, container, obj)
        check_metadata(self.limits, request.headers, "object")
        ts = _now()
        meta = {k: v for k, v in request.headers.items()
                if k.lower().startswith("x-object-meta-") or k.lower() == "x-object-manifest"}
        meta.update(expiry.delete_at(request.headers))
        cpart, cnodes = await self._container_nodes(account, container)
        policy = await self._policy(account, container)
        meta.update(_policy_header(policy))
        t = self.backend.target(account, container, obj, policy)
        statuses = await self.backend.write_all(
            "POST", t, account, container, obj,
            lambda i: {"X-Timestamp": ts, **meta, **_container_headers(cnodes, cpart, i, len(t.primaries), copies=2)})
        return self._write_result(request, statuses, len(t.primaries), 202)

    async def object_delete(self, request: Request) -> Response:
        p = request.path_params
        account, container, obj = p["account"], p["container"], p["obj"]
        check_names(self.limits, account, container, obj)
        cpart, cnodes = await self._container_nodes(account, container)
        policy = await self._policy(account, container)
        t = self.backend.target(account, container, obj, policy)
        ts = _now()

        def headers_for(i: int) -> dict[str, str]:
            return {"X-Timestamp": ts, **_policy_header(policy),
                    **_container_headers(cnodes, cpart, i, len(t.primaries), copies=2)}

        statuses = await self.backend.write_all("DELETE", t, account, container, obj, headers_for)
        return self._write_result(request, statuses, len(t.primaries), 204)


def _policy_header(policy: int) -> dict[str, str]:
    return {INDEX_HEADER: str(policy)} if policy else {}


def _container_headers(cnodes: list[Any], cpart: int, i: int, writers: int, copies: int = 1) -> dict[str, str]:
    """Which container replicas object server ``i`` of ``writers`` updates: each container replica
    is given to ``copies`` of them (as Swift spreads X-Container-Host over its object nodes). Writes
    sent without a device check use 2 copies, so that every container replica still hears of the
    object when one object server turns out to be down (its updates then wait as async pending on
    another one)."""
    n = max(writers, 1)
    mine = [c for k, c in enumerate(cnodes) if any((k + j) % n == i for j in range(min(copies, n)))]
    return {"X-Container-Host": ",".join(f"{c.ip}:{c.port}" for c in mine),
            "X-Container-Device": ",".join(c.device for c in mine), "X-Container-Partition": str(cpart)}


class _Body:
    """A PUT's body as it streams through: its size and md5 counted on the way (the ETag)."""

    def __init__(self, source: AsyncIterator[bytes], max_size: int) -> None:
        self.source = source
        self.max_size = max_size
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0
        self.done = False
        self.error: Exception | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.source:
                if chunk:
                    self.size += len(chunk)
                    if self.size > self.max_size:
                        raise errors.TooLarge()
                    self.md5.update(chunk)
                    yield chunk
        except Exception as exc:
            self.error = exc
            raise
        self.done = True


def op_table(proxy: Proxy | None = None) -> list[Op]:
    """The proxy's routes, each with its policy rule checked against the account's project."""
    p: Any = proxy or Proxy.__new__(Proxy)
    a, c, o = "/v1/{account}", "/v1/{account}/{container}", "/v1/{account}/{container}/{obj:path}"

    def op(method: str, path: str, handler: Callable[..., Any], rule: str, status: int, **kw: Any) -> Op:
        # Public for the router: a request without a token may still be let in by an ACL, a TempURL
        # or a FormPost signature. The target loader (``middleware/acl.py``) answers 401 to those
        # nothing admits, and picks ``object:acl_access`` for those an ACL or signature admits.
        tag = ("account", "container", "object")[path.count("/") - 2]
        return Op(method, path, handler, rule=f"object:{rule}", target=p.authorize, status=status, tag=tag,
                  public=True, alt_rules=("object:acl_access",), **kw)

    return [
        Op("GET", "/info", p.info, public=True, summary="Capabilities and limits", tag="info", errors=()),
        op("GET", a, p.account_get, "get_account", 200, query=("limit", "marker", "end_marker", "prefix",
                                                              "delimiter", "reverse", "format"),
           errors=(400, 401, 403, 404, 412), extra={"statuses": (204,)}),
        op("POST", a, p.account_post, "post_account", 204),
        op("GET", c, p.container_get, "get_container", 200, query=("limit", "marker", "end_marker", "prefix",
                                                                  "delimiter", "reverse", "format"),
           errors=(400, 401, 403, 404, 412), extra={"statuses": (204,)}),
        op("PUT", c, p.container_put, "put_container", 201, extra={"statuses": (202,)}),
        op("POST", c, p.container_post, "post_container", 204),
        op("DELETE", c, p.container_delete, "delete_container", 204, errors=(401, 403, 404, 409)),
        op("GET", o, p.object_get, "get_object", 200, errors=(400, 401, 403, 404, 409, 412, 416),
           extra={"statuses": (206, 304)}),
        op("PUT", o, p.object_put, "put_object", 201, max_body=None, errors=(400, 401, 403, 404, 411, 412, 413, 422)),
        op("POST", o, p.object_post, "post_object", 202),
        op("DELETE", o, p.object_delete, "delete_object", 204),
        op("COPY", o, p.object_copy, "put_object", 201, errors=(400, 401, 403, 404, 412)),
    ]


class SwiftHeaders:
    """Outside the framework's request middleware (so errors get them too): every response carries
    Swift's ``X-Trans-Id`` (``tx`` + 21 hex digits + ``-`` + the time in hex, made from the request
    ID) and a Content-Type (Swift's ``text/html; charset=UTF-8`` on empty answers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                ctx = scope.get("state", {}).get("context")
                rid = ctx.request_id if ctx is not None else ""
                trans = f"tx{rid.replace('req-', '').replace('-', '')[:21]:0<21}-{int(time.time()):010x}"
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-trans-id"]
                headers.append((b"x-trans-id", trans.encode()))
                if not any(k.lower() == b"content-type" for k, _ in headers):
                    headers.append((b"content-type", b"text/html; charset=UTF-8"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def build(proxy: Proxy, enforcer: Enforcer, auth: Callable[[ASGIApp], ASGIApp]) -> ASGIApp:
    from litestack.object.middleware import pipeline

    app = build_app("object", op_table(proxy), middleware=[auth, pipeline(proxy)], title="Object Storage API",
                    enforcer=enforcer)
    return SwiftHeaders(app)
