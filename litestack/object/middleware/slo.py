"""Static large objects (Swift's ``slo``): a JSON manifest lists the segments, checked when it is put.

- ``PUT ?multipart-manifest=put`` with ``[{"path": "/cont/obj", "etag": ..., "size_bytes": ...,
  "range": "a-b"}, ...]``: every segment is looked up (400 with the list of problems when one is
  missing, too small, or its etag or size differs), the manifest is stored as the object with
  ``X-Static-Large-Object: True``; the answer's ETag is the md5 of the segments' etags (quoted), and
  an ``ETag`` sent with the request must equal it (422).
- ``GET``/``HEAD``: the segments' bytes in order, streamed (Range across segments; several ranges
  answer ``multipart/byteranges``, as Swift's do; a HEAD ignores Range);
  Content-Length and ETag are the large object's. ``?multipart-manifest=get`` answers the stored
  manifest (``&format=raw``: in the form it was put).
- ``DELETE ?multipart-manifest=delete``: the segments, then the manifest (200, with a bulk-style
  report).
- Segments may be large objects themselves (nested manifests), or inline ``{"data": <base64>}``
  (Swift 2.17+: stored in the manifest, at least one object-backed segment besides).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import string
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from litestack.common import errors
from litestack.object import http
from litestack.object.errors import PreconditionFailed, RangeNotSatisfiable, Unprocessable
from litestack.object.middleware.sub import SubResponse, headers_of, split_object_path, subrequest, swift_path
from litestack.object.middleware.sub import true_value as truthy

LOG = logging.getLogger(__name__)

MAX_SEGMENTS = 1000
MAX_MANIFEST_SIZE = 8 * 1024 * 1024
MIN_SEGMENT_SIZE = 1
SIZE = "x-object-sysmeta-slo-size"
ETAG = "x-object-sysmeta-slo-etag"
_CONDITIONAL = ("range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since")


def segment_range(value: str, size: int) -> tuple[int, int]:
    """The one byte range ``(first, last)`` (inclusive) a manifest's ``range`` of a segment of
    ``size`` bytes stands for. Raises ValueError when it is malformed, several, or unsatisfiable."""
    specs = http.range_specs(f"bytes={value}")
    if specs is None or len(specs) != 1:
        raise ValueError(value)
    try:
        ((start, end),) = http.ranges_for_length(specs, size)
    except RangeNotSatisfiable:
        raise ValueError(value) from None
    return start, end - 1


def slo_etag(etags: list[str]) -> str:
    return hashlib.md5("".join(etags).encode(), usedforsecurity=False).hexdigest()


class StaticLargeObject:
    capabilities = {"slo": {"max_manifest_segments": MAX_SEGMENTS, "max_manifest_size": MAX_MANIFEST_SIZE,
                            "min_segment_size": MIN_SEGMENT_SIZE, "yield_frequency": 10,
                            "allow_async_delete": False}}

    def __init__(self, app: ASGIApp, proxy: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = swift_path(scope) if scope["type"] == "http" else None
        if path is None or path.obj is None:
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        mm = (query.get("multipart-manifest") or [""])[0]
        method = scope["method"]
        if method == "PUT" and mm == "put":
            await self._put_manifest(scope, receive, send, path)
        elif method == "DELETE" and mm == "delete":
            await self._delete(scope, receive, send, path)
        elif method == "GET" and mm == "get":
            await self._get_manifest(scope, receive, send, path, (query.get("format") or [""])[0] == "raw")
        elif method in ("GET", "HEAD"):
            await self._get(scope, receive, send, path)
        else:
            await self.app(scope, receive, send)

    # --- PUT -------------------------------------------------------------------------------------

    async def _put_manifest(self, scope: Scope, receive: Receive, send: Send, path: Any) -> None:
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_MANIFEST_SIZE:
                raise errors.PayloadTooLarge(f"Manifest File > {MAX_MANIFEST_SIZE} bytes")
            if not message.get("more_body", False):
                break
        try:
            listed = json.loads(body)
        except ValueError:
            raise errors.BadRequest("Manifest must be valid JSON.") from None
        if not isinstance(listed, list) or not listed:
            raise errors.BadRequest("Manifest must be a list of segments.")
        if len(listed) > MAX_SEGMENTS:
            raise errors.PayloadTooLarge(f"Number of segments must be <= {MAX_SEGMENTS}")
        _check_data_segments(listed)
        problems: list[tuple[str, str]] = []
        stored: list[dict[str, Any]] = []
        for i, seg in enumerate(listed):
            if isinstance(seg, dict) and "data" in seg:  # checked above
                stored.append({"data": base64.b64encode(base64.b64decode(seg["data"])).decode("ascii")})
                continue
            if not isinstance(seg, dict) or not isinstance(seg.get("path"), str) or set(seg) - {
                    "path", "etag", "size_bytes", "range"}:
                problems.append((f"Index {i}", "Invalid segment: needs a path (keys path, etag, size_bytes, "
                                               "range) or data"))
                continue
            try:
                container, obj = split_object_path(seg["path"])
            except errors.BadRequest:
                problems.append((seg["path"], "Invalid segment path"))
                continue
            head = await subrequest(self.app, scope, "HEAD", path.path(container, obj))
            await head.aclose()
            if not head.ok:
                problems.append((seg["path"], f"{head.status} {'Not Found' if head.status == 404 else 'Error'}"))
                continue
            is_slo = truthy(head.headers.get("x-static-large-object"))
            size = int((head.headers.get(SIZE) if is_slo else head.headers.get("content-length")) or 0)
            etag = (head.headers.get(ETAG) if is_slo else head.headers.get("etag", "")) or ""
            etag = etag.strip('"')
            if seg.get("etag") not in (None, "") and str(seg["etag"]).strip('"') != etag:
                problems.append((seg["path"], "Etag Mismatch"))
            if seg.get("size_bytes") not in (None, "") and str(seg["size_bytes"]) != str(size):
                problems.append((seg["path"], "Size Mismatch"))
            if size < MIN_SEGMENT_SIZE and i < len(listed) - 1:
                problems.append((seg["path"], f"Too small; each segment must be at least {MIN_SEGMENT_SIZE} byte."))
            entry: dict[str, Any] = {"name": "/" + f"{container}/{obj}", "bytes": size, "hash": etag,
                                     "content_type": head.headers.get("content-type", ""),
                                     "last_modified": head.headers.get("last-modified", "")}
            if is_slo:
                entry["sub_slo"] = True
            if seg.get("range"):
                try:
                    first, last = segment_range(str(seg["range"]), size)
                except ValueError:
                    problems.append((seg["path"], "Unsatisfiable Range"))
                    continue
                entry["range"] = f"{first}-{last}"
            stored.append(entry)
        if problems:
            text = "Errors:\n" + "\n".join(f"{p}, {why}" for p, why in problems)
            raise errors.BadRequest(text)
        total = sum(_length(e) for e in stored)
        etag = slo_etag([_etag_part(e) for e in stored])
        hdrs = headers_of(scope)
        sent_etag = hdrs.pop("etag", "").strip('"')
        if sent_etag and sent_etag != etag:
            raise Unprocessable()
        data = json.dumps(stored).encode()
        for k in ("content-length", "transfer-encoding"):
            hdrs.pop(k, None)
        hdrs.update({"x-static-large-object": "True", SIZE: str(total), ETAG: etag})
        if not hdrs.get("content-type"):
            hdrs["content-type"] = "application/octet-stream"
        put = await subrequest(self.app, scope, "PUT", path.path(), headers=hdrs, body=data)
        await put.aclose()
        if not put.ok:
            from litestack.object.middleware.sub import status_error

            raise status_error(put)
        resp_headers = {"ETag": f'"{etag}"', "Last-Modified": put.headers.get("last-modified", ""),
                        "X-Timestamp": put.headers.get("x-timestamp", "")}
        await Response(status_code=201, headers=resp_headers)(scope, receive, send)

    # --- GET -------------------------------------------------------------------------------------

    async def _manifest(self, scope: Scope, path: Any, container: str, obj: str) -> tuple[SubResponse, list[Any]]:
        r = await subrequest(self.app, scope, "GET", path.path(container, obj))
        if not r.ok:
            await r.aclose()
            from litestack.object.middleware.sub import status_error

            raise status_error(r)
        body = await r.read(MAX_MANIFEST_SIZE)
        if not truthy(r.headers.get("x-static-large-object")):
            raise errors.Conflict("Not a static large object.")
        return r, json.loads(body)

    async def _get_manifest(self, scope: Scope, receive: Receive, send: Send, path: Any, raw: bool) -> None:
        r = await subrequest(self.app, scope, "GET", path.path())
        if not r.ok or not truthy(r.headers.get("x-static-large-object")):
            await r.aclose()
            await self.app(scope, receive, send)  # an ordinary object (or an error): as it is
            return
        manifest = json.loads(await r.read(MAX_MANIFEST_SIZE))
        if raw:
            manifest = [e if "data" in e else {"path": e["name"], "etag": e["hash"], "size_bytes": e["bytes"],
                                               **({"range": e["range"]} if "range" in e else {})}
                        for e in manifest]
        body = json.dumps(manifest).encode()
        keep = {k: v for k, v in r.headers.items() if k.startswith("x-object-meta-") or k in (
            "last-modified", "x-timestamp", "x-static-large-object")}
        keep["content-type"] = "application/json; charset=utf-8"
        keep["etag"] = hashlib.md5(body, usedforsecurity=False).hexdigest()
        await Response(body, 200, keep)(scope, receive, send)

    async def _get(self, scope: Scope, receive: Receive, send: Send, path: Any) -> None:
        """Pass the request down; if the object turns out to be a manifest, answer the large object."""
        is_slo: dict[str, str] | None = None
        swallowed = False

        async def watch(message: Message) -> None:
            nonlocal is_slo, swallowed
            if message["type"] == "http.response.start":
                hdrs = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])}
                if truthy(hdrs.get("x-static-large-object")):
                    is_slo = hdrs
                    swallowed = True
                    return
            if swallowed:
                return
            await send(message)

        hdrs = headers_of(scope)
        try:
            await self.app(scope, receive, watch)
        except errors.LitestackError as exc:
            if exc.status not in (412, 416, 304) or not any(h in hdrs for h in _CONDITIONAL):
                raise
            head = await subrequest(self.app, scope, "HEAD", path.path())
            await head.aclose()
            if not truthy(head.headers.get("x-static-large-object")):
                raise
            is_slo = head.headers
        if is_slo is not None:
            await self._serve(scope, receive, send, path, is_slo, hdrs)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, path: Any, head: dict[str, str],
                     request: dict[str, str]) -> None:
        size = int(head.get(SIZE, "0"))
        etag = head.get(ETAG, "")
        headers = {k: v for k, v in head.items() if k.startswith("x-object-meta-") or k in (
            "content-type", "last-modified", "x-timestamp", "x-static-large-object", "content-disposition",
            "content-encoding")}
        headers["etag"] = f'"{etag}"'
        headers["accept-ranges"] = "bytes"
        if_match = request.get("if-match")
        if if_match and if_match != "*" and etag not in [t.strip().strip('"') for t in if_match.split(",")]:
            raise PreconditionFailed()
        if_none = request.get("if-none-match")
        if if_none and (if_none == "*" or etag in [t.strip().strip('"') for t in if_none.split(",")]):
            await Response(status_code=304, headers={"etag": f'"{etag}"'})(scope, receive, send)
            return
        headers["content-length"] = str(size)
        if scope["method"] == "HEAD":  # a HEAD ignores Range, as Swift's does
            await Response(status_code=200, headers=headers)(scope, receive, send)
            return
        ranges = http.parse_range(request.get("range"), size)
        _, manifest = await self._manifest(scope, path, path.container, path.obj)
        if ranges is None or len(ranges) == 1:
            first, end = (0, size) if ranges is None else ranges[0]
            if ranges is not None:
                headers["content-range"] = f"bytes {first}-{end - 1}/{size}"
                headers["content-length"] = str(end - first)
            body = self._segments(scope, path, manifest, first, end - 1, 0)
            await StreamingResponse(body, 200 if ranges is None else 206, headers)(scope, receive, send)
            return
        frame = http.Multipart.of(ranges, size, headers.get("content-type", "application/octet-stream"))
        headers["content-type"] = frame.content_type
        headers["content-length"] = str(frame.content_length)

        async def parts() -> AsyncIterator[bytes]:
            for (first, end), part_head in zip(ranges, frame.heads, strict=True):
                yield part_head
                async for chunk in self._segments(scope, path, manifest, first, end - 1, 0):
                    yield chunk
                yield b"\r\n"
            yield frame.tail

        await StreamingResponse(parts(), 206, headers)(scope, receive, send)

    async def _segments(self, scope: Scope, path: Any, manifest: list[dict[str, Any]], first: int, last: int,
                        depth: int) -> AsyncIterator[bytes]:
        """The bytes ``first..last`` of the large object ``manifest`` describes, segment by segment."""
        offset = 0
        for seg in manifest:
            length = _length(seg)
            seg_first, seg_last = max(first - offset, 0), min(last - offset, length - 1)
            offset += length
            if seg_last < 0 or seg_first >= length or seg_first > seg_last:
                continue
            if "data" in seg:
                yield base64.b64decode(seg["data"])[seg_first:seg_last + 1]
                continue
            base = int(seg["range"].split("-")[0]) if "range" in seg else 0
            container, obj = split_object_path(seg["name"])
            if seg.get("sub_slo"):
                if depth >= 10:
                    raise errors.Conflict("Too many levels of nested manifests.")
                _, sub = await self._manifest(scope, path, container, obj)
                async for chunk in self._segments(scope, path, sub, base + seg_first, base + seg_last, depth + 1):
                    yield chunk
                continue
            r = await subrequest(self.app, scope, "GET", path.path(container, obj),
                                 headers={"range": f"bytes={base + seg_first}-{base + seg_last}"})
            if not r.ok or r.headers.get("etag", "").strip('"') != seg["hash"]:
                await r.aclose()
                LOG.warning("large object %s: segment %s is missing or changed (%s); answer cut short",
                            path.path(), seg["name"], r.status)
                raise errors.Conflict(f"Segment {quote(seg['name'])} is missing or changed.")
            async for chunk in r.body():
                yield chunk

    # --- DELETE ----------------------------------------------------------------------------------

    async def _delete(self, scope: Scope, receive: Receive, send: Send, path: Any) -> None:
        deleted = not_found = 0
        problems: list[list[str]] = []
        head = await subrequest(self.app, scope, "HEAD", path.path())
        await head.aclose()
        names: list[tuple[str, str]] = []
        if head.ok and truthy(head.headers.get("x-static-large-object")):
            _, manifest = await self._manifest(scope, path, path.container, path.obj)
            for seg in manifest:
                if "data" in seg:  # inline: nothing to delete
                    continue
                c, o = split_object_path(seg["name"])
                if seg.get("sub_slo"):
                    _, sub = await self._manifest(scope, path, c, o)
                    names += [split_object_path(s["name"]) for s in sub if "data" not in s]
                names.append((c, o))
        names.append((path.container, path.obj))
        for c, o in names:
            r = await subrequest(self.app, scope, "DELETE", path.path(c, o))
            await r.aclose()
            if r.ok:
                deleted += 1
            elif r.status == 404:
                not_found += 1
            else:
                problems.append([quote(f"/{c}/{o}"), f"{r.status}"])
        status = "400 Bad Request" if problems else "200 OK"
        report = {"Number Deleted": deleted, "Number Not Found": not_found, "Response Status": status,
                  "Response Body": "", "Errors": problems}
        await _report(scope, receive, send, report)


def _check_data_segments(listed: list[Any]) -> None:
    """Swift's checks of inline ``data`` segments, made before any segment is looked up: 400 with
    one ``Index N: ...`` line per problem."""
    problems = []
    for i, seg in enumerate(listed):
        if not isinstance(seg, dict) or "data" not in seg:
            continue
        if set(seg) != {"data"}:
            extra = ", ".join(json.dumps(k) for k in sorted(set(seg) - {"data"}))
            problems.append(f"Index {i}: extraneous keys {extra}")
        elif (raw := inline_data(seg["data"])) is None:
            problems.append(f"Index {i}: data must be valid base64")
        elif not raw:
            problems.append(f"Index {i}: too small; each segment must be at least 1 byte.")
    if all(isinstance(seg, dict) and "data" in seg for seg in listed):
        problems.append("Inline data segments require at least one object-backed segment.")
    if problems:
        raise errors.BadRequest("".join(f"{p}\n" for p in problems))


def inline_data(value: Any) -> bytes | None:
    """The bytes of a manifest's ``data`` segment, or None when it is not strict base64 (a
    character outside the alphabet, or too little padding), as Swift's ``strict_b64decode``."""
    if not isinstance(value, str) or value.strip("=").strip(_B64):
        return None
    try:
        return base64.b64decode(value)
    except binascii.Error:
        return None


_B64 = string.ascii_letters + string.digits + "+/"


def _etag_part(entry: dict[str, Any]) -> str:
    """What a segment adds to the large object's ETag (Swift's rule)."""
    if "data" in entry:
        return hashlib.md5(base64.b64decode(entry["data"]), usedforsecurity=False).hexdigest()
    return entry["hash"] + (f":{entry['range']};" if "range" in entry else "")


def _length(entry: dict[str, Any]) -> int:
    if "data" in entry:
        return len(base64.b64decode(entry["data"]))
    if "range" in entry:
        first, last = (int(x) for x in entry["range"].split("-"))
        return last - first + 1
    return int(entry["bytes"])


async def _report(scope: Scope, receive: Receive, send: Send, report: dict[str, Any]) -> None:
    """A bulk-style report, in JSON when asked for (Accept), else plain text (Swift's formats)."""
    accept = headers_of(scope).get("accept", "")
    if "json" in accept:
        await Response(json.dumps(report), 200, media_type="application/json")(scope, receive, send)
        return
    text = "".join(f"{k}: {v}\n" for k, v in report.items() if k != "Errors")
    text += "Errors:\n" + "".join(f"{name}, {status}\n" for name, status in report["Errors"])
    await Response(text, 200, media_type="text/plain")(scope, receive, send)
