"""Interoperable import: ``glance-direct`` (staged data moved into the stores), ``web-download``
(data fetched from an http(s) URL into the staging area, then the same) and ``copy-image`` (an
active image's data copied to more stores), run as tasks off the request.

As in Glance: the image carries ``os_glance_import_task`` (the running task; a second import is
409 meanwhile), ``os_glance_importing_to_stores`` (stores still to do) and
``os_glance_failed_import`` (stores that failed). ``glance-direct`` moves the image
``uploading`` → ``importing`` → ``active``; when no store got the data it goes back to ``queued``.
A restart in the middle fails the task and returns the image to where it was before the import.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from litestack.common import errors
from litestack.common.db import Database
from litestack.image.drivers.base import Store
from litestack.image.manager import Caller, now
from litestack.image.manager.data import Data
from litestack.image.models import Image, ImageLocation, ImageProperty, Task

LOG = logging.getLogger(__name__)
STAGING = "os_glance_staging_store"
TASK_PROP, TO_STORES, FAILED = "os_glance_import_task", "os_glance_importing_to_stores", "os_glance_failed_import"
#: How long a finished task is kept (Glance's task_time_to_live, 48 hours).
TASK_TTL = timedelta(hours=48)
#: The methods whose data goes through the staging area (the image ends ``active`` or ``queued``).
FROM_STAGING = ("glance-direct", "web-download")


def _set_prop(image: Image, name: str, value: str | None) -> None:
    for p in list(image.properties):
        if p.name == name:
            if value is None:
                image.properties.remove(p)
            else:
                p.value = value
            return
    if value is not None:
        image.properties.append(ImageProperty(name=name, value=value))


def _prop(image: Image, name: str) -> str | None:
    return next((p.value for p in image.properties if p.name == name), None)


def check_uri(uri: object, allowed_hosts: Sequence[str]) -> str:
    """An http(s) URL whose host resolves to no loopback, link-local or unspecified address (unless
    the host is in ``allowed_hosts``); Glance's 400 otherwise."""
    import ipaddress
    import socket
    from urllib.parse import urlsplit

    refused = errors.BadRequest(f"URI for web-download does not pass filtering: {uri}")
    if not isinstance(uri, str):
        raise refused
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise refused
    if parts.hostname in allowed_hosts:
        return uri
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (OSError, UnicodeError):
        raise refused from None
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast:
            raise refused
    return uri


@dataclass
class Imports:
    db: Database
    data: Data
    staging: Store
    allowed_hosts: Sequence[str] = ()
    size_cap: int = 1 << 40

    # --- stage ------------------------------------------------------------------------------

    def staged_location(self, image: Image) -> ImageLocation | None:
        return next((loc for loc in image.locations if loc.status == "staged"), None)

    # --- starting an import -----------------------------------------------------------------

    def start(self, image_id: str, caller: Caller, method: str, stores: Sequence[str], body: dict[str, Any],
              request_id: str | None) -> Task:
        """Check the image can take this import, lock it with a new task and return the task (the
        caller runs ``run`` off the request)."""
        t = now()
        with self.db.writer() as s:
            image = self.data.images.find(s, image_id, caller)
            if image.status == "active" and method != "copy-image":
                raise errors.Conflict("Image with status active cannot be target for import")
            if image.status != "active" and method == "copy-image":
                raise errors.Conflict("Only images with status active can be targeted for copying")
            if image.status != "queued" and method == "web-download":
                raise errors.Conflict(f"Image needs to be in 'queued' state to use '{method}' method")
            if image.status != "uploading" and method == "glance-direct":
                raise errors.Conflict("Image needs to be staged before 'glance-direct' method can be used")
            if not image.container_format:
                raise errors.Conflict("'container_format' needs to be set before import")
            if not image.disk_format:
                raise errors.Conflict("'disk_format' needs to be set before import")
            if _prop(image, TASK_PROP):
                raise errors.Conflict(f"New operation on image '{image_id}' is not permitted as prior operation "
                                      "is still in progress")
            targets = list(stores)
            if method == "copy-image":
                present = {loc.store for loc in self.data.images.locations(image)}
                if body.get("all_stores"):
                    targets = [st for st in targets if st not in present]
                else:
                    for st in targets:
                        if st in present:
                            raise errors.BadRequest(f"Image is already present at store '{st}'")
            task = Task(id=str(uuid.uuid4()), type="api_image_import", status="processing", owner=caller.project_id,
                        image_id=image.id, user_id=caller.user_id, request_id=request_id,
                        input={"image_id": image.id, "import_req": body, "backend": targets}, result=None,
                        message="", created_at=t, updated_at=t, expires_at=None)
            s.add(task)
            _set_prop(image, TASK_PROP, task.id)
            _set_prop(image, TO_STORES, ",".join(targets))
            _set_prop(image, FAILED, "")
            if method in FROM_STAGING:
                image.status = "importing"
            image.updated_at = t
            return task

    # --- running it (a worker thread) -------------------------------------------------------

    def run(self, task_id: str, method: str, stores: Sequence[str], all_must_succeed: bool) -> None:
        """Copy the data into each store; record the outcome on the image and the task. Never raises."""
        try:
            self._run(task_id, method, stores, all_must_succeed)
        except Exception as exc:  # the task records it; nothing else waits for this thread
            LOG.exception("image import task %s failed", task_id)
            self._end(task_id, method, ok=[], failed=list(stores), message=f"{type(exc).__name__}: {exc}")

    def _run(self, task_id: str, method: str, stores: Sequence[str], all_must_succeed: bool) -> None:
        with self.db.reader() as s:
            task = s.get(Task, task_id)
            image = s.get(Image, task.image_id) if task is not None and task.image_id else None
            if task is None or image is None:
                return
            image_id, disk_format = image.id, image.disk_format
            uri = ((task.input or {}).get("import_req") or {}).get("method", {}).get("uri")
        if method == "web-download":
            self._download(image_id, str(uri), disk_format)
        with self.db.reader() as s:
            task = s.get(Task, task_id)
            image = s.get(Image, image_id)
            if task is None or image is None:
                return
            if method in FROM_STAGING:
                staged = self.staged_location(image)
                if staged is None:
                    raise errors.Conflict("The image has no staged data.")
                source, location = self.staging, staged.url
            else:
                locs = self.data.images.locations(image)
                if not locs:
                    raise errors.Conflict("The image has no data to copy.")
                source, location = self.data.stores[locs[0].store], locs[0].url
            disk_format = image.disk_format
        ok: list[tuple[str, str, dict[str, Any]]] = []
        failed: list[str] = []
        message = ""
        for name in stores:
            try:
                ok.append((name, *self._copy(source, location, self.data.stores[name], task.image_id or "",
                                             disk_format)))
            except Exception as exc:
                LOG.warning("import of image %s to store %s failed: %s", task.image_id, name, exc)
                failed.append(name)
                message = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"
                if all_must_succeed:
                    break
        if failed and all_must_succeed:
            for name, loc, _ in ok:
                self.data.stores[name].delete(loc)
            self._end(task_id, method, [], [*failed, *[n for n in stores if n not in failed]], message)
            return
        self._end(task_id, method, ok, failed, message)

    def _download(self, image_id: str, uri: str, disk_format: str | None) -> None:
        """Fetch ``uri`` into the staging area and record it as the image's staged data."""
        import httpx

        check_uri(uri, self.allowed_hosts)
        writer = self.staging.writer(image_id)
        size = 0
        try:
            with httpx.stream("GET", uri, follow_redirects=False, timeout=httpx.Timeout(30.0)) as r:
                if r.status_code != 200:
                    raise errors.BadRequest(f"web-download: {uri} answered {r.status_code}")
                for chunk in r.iter_bytes(1 << 20):
                    size += len(chunk)
                    if size > self.size_cap:
                        raise errors.PayloadTooLarge(f"The incoming image is too large: more than the "
                                                     f"{self.size_cap} bytes allowed.")
                    writer.write(chunk)
            location = writer.commit()
        except BaseException:
            writer.abort()
            raise
        try:
            with self.db.writer() as s:
                image = s.get(Image, image_id)
                if image is None or image.status != "importing":
                    raise errors.Gone(f"Image {image_id} was deleted during the download.")
                image.size = size
                image.locations.append(ImageLocation(store=STAGING, url=location, meta={"store": STAGING},
                                                     status="staged", created_at=now()))
        except BaseException:
            self.staging.delete(location)
            raise

    @staticmethod
    def _copy(source: Store, location: str, target: Store, image_id: str, disk_format: str | None
              ) -> tuple[str, dict[str, Any]]:
        from litestack.image.formats import Digest

        digest = Digest(disk_format)
        writer = target.writer(image_id)
        try:
            chunks = source.reader(location)
            try:
                for chunk in chunks:
                    digest.update(chunk)
                    writer.write(chunk)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
            loc = writer.commit()
        except BaseException:
            writer.abort()
            raise
        return loc, {"size": digest.size, "checksum": digest.md5, "os_hash_algo": "sha512",
                     "os_hash_value": digest.sha512, "virtual_size": digest.virtual_size()}

    def _end(self, task_id: str, method: str, ok: Sequence[tuple[str, str, dict[str, Any]]],
             failed: Sequence[str], message: str) -> None:
        t = now()
        orphans: list[tuple[Store, str]] = []
        staged_url: str | None = None
        with self.db.writer() as s:
            task = s.get(Task, task_id)
            image = s.get(Image, task.image_id) if task is not None and task.image_id else None
            if task is None:
                return
            if image is None:  # deleted meanwhile: what was copied belongs to nobody
                orphans = [(self.data.stores[name], loc) for name, loc, _ in ok]
            else:
                for name, loc, facts in ok:
                    if method in FROM_STAGING:
                        for key, value in facts.items():
                            setattr(image, key, value)
                    image.locations.append(ImageLocation(store=name, url=loc, meta={"store": name}, status="active",
                                                         created_at=t))
                if method in FROM_STAGING:
                    staged = self.staged_location(image)
                    if staged is not None:
                        staged_url = staged.url
                        image.locations.remove(staged)
                    image.status = "active" if ok else "queued"
                    if not ok:
                        image.size = image.virtual_size = None
                _set_prop(image, TASK_PROP, None)
                _set_prop(image, TO_STORES, "")
                _set_prop(image, FAILED, ",".join(failed))
                image.updated_at = t
            task.status = "success" if ok and not failed else ("failure" if not ok else "success")
            task.message = message if not ok or failed else ""
            task.result = {"image_id": task.image_id} if ok else None
            task.updated_at = t
            task.expires_at = t + TASK_TTL
        for store, loc in orphans:
            store.delete(loc)
        if staged_url is not None:
            self.staging.delete(staged_url)

    # --- reading tasks ----------------------------------------------------------------------

    def task(self, task_id: str) -> Task:
        with self.db.reader() as s:
            task = s.get(Task, task_id) if len(task_id) <= 36 else None
            if task is None:
                raise errors.NotFound(f"Task with identifier {task_id} not found")
            return task

    def tasks_of(self, image_id: str) -> list[Task]:
        with self.db.reader() as s:
            return list(s.scalars(select(Task).where(Task.image_id == image_id).order_by(Task.created_at)))

    def recover(self) -> int:
        """At start: imports cut by the restart fail, and their images return to where they were."""
        t = now()
        count = 0
        with self.db.writer() as s:
            for task in s.scalars(select(Task).where(Task.status.in_(("pending", "processing")))):
                task.status, task.message, task.updated_at = "failure", "Interrupted by a restart.", t
                task.expires_at = t + TASK_TTL
                image = s.get(Image, task.image_id) if task.image_id else None
                if image is not None:
                    if image.status == "importing":
                        image.status = "uploading" if self.staged_location(image) is not None else "queued"
                    _set_prop(image, TASK_PROP, None)
                    _set_prop(image, TO_STORES, "")
                    _set_prop(image, FAILED, ",".join((task.input or {}).get("backend") or []))
                count += 1
            for image in s.scalars(select(Image).where(Image.status == "uploading")):
                if self.staged_location(image) is None:  # staging was cut short
                    image.status, image.updated_at = "queued", t
                    count += 1
        return count
