"""``/v2/images/{image_id}/file``: upload streamed to a store, download streamed back with Range.

The request body is read in the event loop and gathered into blocks of about 1 MiB; each block is
hashed and written in worker threads while the next one arrives (``drivers.transfer``), so at
most two blocks are in memory whatever the image size, and the disk and the network work at the
same time. Downloads read the next chunk ahead in a thread while the current one is sent.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from litestack.common import errors
from litestack.common.api.app import Op, no_content
from litestack.common.api.body import declared_length
from litestack.common.db import run_blocking
from litestack.image.api.service import ImageAPI
from litestack.image.drivers.base import NotFoundInStore, Store, StoreError, StoreFull
from litestack.image.drivers.transfer import SizeExceeded, open_reader, receive
from litestack.image.formats import Digest
from litestack.image.models import Image

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


async def receive_into(request: Request, store: Store, image_id: str, disk_format: str | None, cap: int
                       ) -> tuple[str, dict[str, Any]]:
    """Stream the request body into a new writer of ``store`` (``drivers.transfer.receive``: md5,
    sha512 and the write overlap the network); the committed location and the facts computed on
    the way (size, checksums, virtual size). Any failure aborts the writer after the write in
    progress ends, so nothing partial is left."""
    declared = declared_length(request.scope)
    if declared is not None and declared > cap:
        raise errors.PayloadTooLarge(f"The incoming image is too large: {declared} bytes is more than the "
                                     f"{cap} bytes allowed.")
    writer = await run_blocking(store.writer, image_id)
    digest = Digest(disk_format)
    try:
        try:
            received = await receive(request.stream(), writer, digest, max_size=cap)
        except ClientDisconnect:
            raise errors.BadRequest("The client disconnected before sending the whole image.") from None
        except SizeExceeded:
            raise errors.PayloadTooLarge(f"The incoming image is too large: more than the {cap} bytes "
                                         "allowed.") from None
        if declared is not None and received != declared:
            raise errors.BadRequest(f"Content-Length {declared} does not match the {received} bytes received.")
        location = await run_blocking(writer.commit)
    except BaseException:
        # In the default executor and shielded: this runs even when the request task is cancelled.
        await settle(writer.abort)
        raise
    return location, digest.image_fields()


async def settle(fn: Callable[..., Any], *args: Any) -> None:
    """Run a blocking clean-up to its end in a worker thread, even if the request is being cancelled."""
    await asyncio.shield(asyncio.get_running_loop().run_in_executor(None, fn, *args))


def ops(api: ImageAPI) -> list[Op]:
    async def upload(request: Request) -> Response:
        image: Image = loaded_image(request)
        ctype = request.headers.get("content-type", "application/octet-stream").split(";")[0].strip().lower()
        if ctype != "application/octet-stream":
            raise errors.UnsupportedMediaType(f"Content-Type {ctype} is not supported; image data is sent as "
                                              "application/octet-stream.")
        store = api.data.store(request.headers.get("x-image-meta-store"))
        caller = api.caller(request)
        limits = await api.quota_limits(image.owner)
        await api.run(api.data.begin, image.id, caller, declared_length(request.scope), "saving", limits)
        try:
            location, facts = await receive_into(request, store, image.id, image.disk_format,
                                                 api.settings.image_size_cap)
        except BaseException as exc:
            await settle(api.data.fail, image.id)
            if isinstance(exc, StoreFull):
                raise errors.PayloadTooLarge(f"Image storage media is full: {exc.message}") from None
            if isinstance(exc, StoreError) and not isinstance(exc, NotFoundInStore):
                raise errors.ServiceUnavailable(f"The image store failed: {exc.message}") from None
            raise
        try:
            done = await api.run(api.data.finish, image.id, store, location, facts)
        except BaseException:
            await settle(store.delete, location)
            await settle(api.data.fail, image.id)
            raise
        api.notifier.emit("image.upload", api.view(done))
        api.notifier.emit("image.activate", api.view(done))
        return no_content()

    async def download(request: Request) -> Response:
        image: Image = loaded_image(request)
        if image.status == "deactivated" and not api.caller(request).is_admin:
            raise errors.Forbidden("The requested image has been deactivated. Image data download is forbidden.")
        locations = api.images.locations(image)
        if not locations or image.size is None:
            return no_content()
        size = image.size
        offset, length, status = 0, size, 200
        headers = {"Content-Type": "application/octet-stream"}
        rng = request.headers.get("range")
        if rng is not None:
            offset, length = parse_range(rng, size)
            status = 206
            headers["Content-Range"] = f"bytes {offset}-{offset + length - 1}/{size}"
        loc = locations[0]
        store = api.data.stores.get(loc.store)
        if store is None:
            return no_content()
        try:
            chunks = await open_reader(store, loc.url, offset, length)
        except NotFoundInStore:
            return no_content()
        if image.checksum:
            headers["Content-MD5"] = image.checksum
        headers["Content-Length"] = str(length)
        return StreamingResponse(chunks, status_code=status, headers=headers)

    one = "/v2/images/{image_id}/file"
    load = api.image_loader()
    return [
        Op("PUT", one, upload, "Upload an image's data", status=204, rule="upload_image", target=load, tag="data",
           errors=(400, 401, 403, 404, 409, 410, 413, 415), max_body=None),
        Op("GET", one, download, "Download an image's data", rule="download_image", target=load, tag="data",
           errors=(204, 400, 401, 403, 404, 416)),
    ]


def loaded_image(request: Request) -> Image:
    from litestack.common.api.policy import loaded

    image: Image = loaded(request)
    return image


class RangeNotSatisfiable(errors.LitestackError):
    """Raised for a Range header outside the image's data (416, with the size in Content-Range)."""

    status = 416
    title = "Requested Range Not Satisfiable"


def parse_range(header: str, size: int) -> tuple[int, int]:
    """``(offset, length)`` of one ``bytes=a-b``, ``bytes=a-`` or ``bytes=-n`` range (RFC 9110)."""
    m = _RANGE.match(header.strip())
    start_txt, end_txt = m.groups() if m else ("", "")
    if m is None or (not start_txt and not end_txt):
        err = RangeNotSatisfiable("Invalid Range header: only one byte range (bytes=first-last) is supported.")
        err.headers = {"Content-Range": f"bytes */{size}"}
        raise err
    if not start_txt:
        n = min(int(end_txt), size)
        start, end = size - n, size - 1
    else:
        start = int(start_txt)
        end = min(int(end_txt), size - 1) if end_txt else size - 1
    if start >= size or end < start or (not start_txt and int(end_txt) == 0):
        err = RangeNotSatisfiable(f"Requested range not satisfiable: the image has {size} bytes.")
        err.headers = {"Content-Range": f"bytes */{size}"}
        raise err
    return start, end - start + 1
