"""The ``swift`` store: image data as objects in the object storage service (Swift v1 API), as
Glance's single-tenant swift store keeps it: every image of the store is one object in one
container (``glance``) of the service user's own account.

The store authenticates at the identity service as its user (by default the image service's
service user, in the ``service`` project), finds the ``object-store`` endpoint in the catalog, and
talks to it over HTTP like any client (so the object store's replicas, quorum and fsyncs make the
data durable). Locations are ``swift://<store name>/<container>/<image_id>``; they hold no
credential. An upload is spooled to a local temporary file while it is written and sent as one PUT
(with its md5 as ETag, checked by the object store) on ``commit``: the object appears whole or not
at all. Objects are limited to the object store's largest object (5 GiB by default): a bigger
upload fails with ``StoreFull`` (Glance would upload segments, SLO; not done here).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from litestack.image.drivers.base import (
    CHUNK_SIZE,
    NotFoundInStore,
    Store,
    StoreError,
    StoreFull,
    StoreWriter,
    register,
)
from litestack.image.drivers.file import check_image_id


class SwiftWriter(StoreWriter):
    """An upload: spooled to a temporary file, PUT to the object store on ``commit``."""

    def __init__(self, store: SwiftStore, image_id: str) -> None:
        self._store = store
        self._image_id = image_id
        self._state = "open"  # open → committed | aborted; open → failed → aborted
        self._busy = threading.Lock()
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._size = 0
        fd, name = tempfile.mkstemp(prefix=f"{image_id}.", suffix=".upload", dir=store.spool)
        self._path = Path(name)
        self._file = os.fdopen(fd, "wb")
        store._open[self._path] = self

    @property
    def size(self) -> int:
        return self._size

    def _check_open(self) -> None:
        if self._state != "open":
            raise StoreError(f"The upload to store {self._store.name} is already {self._state}.")

    def write(self, chunk: bytes) -> None:
        with self._busy:
            self._check_open()
            if self._size + len(chunk) > self._store.max_object_size:
                self._state = "failed"
                raise StoreFull(f"Store {self._store.name} is full.", store=self._store.name)
            try:
                self._file.write(chunk)
            except OSError:
                self._state = "failed"
                raise StoreError(f"Writing to store {self._store.name} failed.") from None
            self._md5.update(chunk)
            self._size += len(chunk)

    def commit(self) -> str:
        with self._busy:
            self._check_open()
            try:
                self._file.flush()
                with open(self._path, "rb") as f:
                    self._store.put_object(self._image_id, f, self._size, self._md5.hexdigest())
            except StoreError:
                self._state = "failed"
                raise
            self._state = "committed"
            self._discard()
            return self._store.location(self._image_id)

    def abort(self) -> None:
        with self._busy:
            if self._state == "committed":
                return
            self._state = "aborted"
            self._discard()

    def _discard(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        self._path.unlink(missing_ok=True)
        self._store._open.pop(self._path, None)


@register("swift")
class SwiftStore(Store):
    """Image data as objects of one container in the object storage service."""

    def __init__(self, name: str, description: str = "", *, auth_url: str, user: str,
                 password: str | Callable[[], str], project: str = "service", domain: str = "Default",
                 container: str = "glance", spool: Path | str | None = None,
                 max_object_size: int = 5368709122, timeout: float = 60.0, chunk_size: int = CHUNK_SIZE,
                 http: httpx.Client | None = None) -> None:
        super().__init__(name, description or "Object storage (Swift)")
        if not container or "/" in container:
            raise ValueError("a swift store needs a container name without '/'")
        self.auth_url = auth_url.rstrip("/")
        self.user, self.project, self.domain = user, project, domain
        self._password = password
        self.container = container
        self.max_object_size = max_object_size
        self.chunk_size = chunk_size
        self.spool = Path(spool) if spool else Path(tempfile.gettempdir()) / f"litestack-swift-store-{name}"
        self.spool.mkdir(parents=True, exist_ok=True)
        self._http = http or httpx.Client(timeout=timeout)
        self._lock = threading.Lock()
        self._token: str | None = None
        self._storage_url: str | None = None
        self._container_made = False
        #: Writers alive in this process (a writer dropped without commit or abort is not).
        self._open: weakref.WeakValueDictionary[Path, SwiftWriter] = weakref.WeakValueDictionary()

    # --- the object store ------------------------------------------------------------------------

    def _auth(self) -> tuple[str, str]:
        with self._lock:
            if self._token is None or self._storage_url is None:
                try:
                    password = self._password() if callable(self._password) else self._password
                except (OSError, KeyError, ValueError):
                    raise StoreError(f"Store {self.name}: its user's password is not known yet.") from None
                body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
                    "name": self.user, "password": password, "domain": {"name": self.domain}}}},
                    "scope": {"project": {"name": self.project, "domain": {"name": self.domain}}}}}
                try:
                    r = self._http.post(f"{self.auth_url}/v3/auth/tokens", json=body)
                except httpx.HTTPError:
                    raise StoreError(f"Store {self.name}: the identity service cannot be reached.") from None
                if r.status_code != 201:
                    raise StoreError(f"Store {self.name}: authentication failed ({r.status_code}).")
                url = next((e["url"] for s in r.json()["token"].get("catalog", []) if s["type"] == "object-store"
                            for e in s["endpoints"] if e["interface"] == "public"), None)
                if url is None:
                    raise StoreError(f"Store {self.name}: no object-store endpoint in the catalog.")
                self._token, self._storage_url = r.headers["x-subject-token"], url.rstrip("/")
            return self._token, self._storage_url

    def _request(self, method: str, path: str, *, stream: bool = False, **kwargs: Any) -> httpx.Response:
        """A request to ``<storage url>/<path>``, authenticating again once on a 401."""
        for attempt in (0, 1):
            token, url = self._auth()
            headers = {"X-Auth-Token": token, **kwargs.pop("headers", {})}
            try:
                req = self._http.build_request(method, f"{url}/{path}", headers=headers, **kwargs)
                r = self._http.send(req, stream=stream)
            except httpx.HTTPError:
                raise StoreError(f"Store {self.name}: the object store cannot be reached.") from None
            if r.status_code == 401 and attempt == 0:
                r.close()
                with self._lock:
                    self._token = None
                kwargs["headers"] = {k: v for k, v in headers.items() if k != "X-Auth-Token"}
                continue
            return r
        raise AssertionError("unreachable")

    def _ensure_container(self) -> None:
        if self._container_made:
            return
        r = self._request("PUT", quote(self.container, safe=""))
        if r.status_code not in (201, 202):
            raise StoreError(f"Store {self.name}: its container cannot be created ({r.status_code}).")
        self._container_made = True

    def _object_path(self, image_id: str) -> str:
        return f"{quote(self.container, safe='')}/{quote(image_id, safe='')}"

    def put_object(self, image_id: str, body: Any, size: int, md5: str) -> None:
        self._ensure_container()
        r = self._request("PUT", self._object_path(image_id), content=_file_chunks(body),
                          headers={"Content-Length": str(size), "ETag": md5,
                                   "Content-Type": "application/octet-stream"})
        if r.status_code == 413:
            raise StoreFull(f"Store {self.name} is full.", store=self.name)
        if r.status_code != 201:
            raise StoreError(f"Store {self.name}: the upload was refused ({r.status_code}).")

    # --- locations -------------------------------------------------------------------------------

    def location(self, image_id: str) -> str:
        return f"swift://{self.name}/{self.container}/{image_id}"

    def _image_id(self, location: str) -> str:
        prefix = f"swift://{self.name}/{self.container}/"
        image_id = location[len(prefix):] if location.startswith(prefix) else ""
        try:
            check_image_id(image_id)
        except StoreError:
            raise StoreError(f"Location is not one of store {self.name}.", location=location) from None
        return image_id

    def owns(self, location: str) -> bool:
        try:
            self._image_id(location)
        except StoreError:
            return False
        return True

    # --- the contract ----------------------------------------------------------------------------

    def writer(self, image_id: str) -> StoreWriter:
        check_image_id(image_id)
        return SwiftWriter(self, image_id)

    def _head(self, location: str) -> httpx.Response | None:
        r = self._request("HEAD", self._object_path(self._image_id(location)))
        if r.status_code == 404:
            return None
        if r.status_code >= 300:
            raise StoreError(f"Store {self.name}: the object store answered {r.status_code}.")
        return r

    def reader(self, location: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        if offset < 0 or (length is not None and length < 0):
            raise ValueError("offset and length must not be negative")
        path = self._object_path(self._image_id(location))
        if length == 0:
            if self._head(location) is None:
                raise NotFoundInStore(f"No data at this location of store {self.name}.", location=location)
            return iter(())
        headers = {}
        if offset or length is not None:
            headers["Range"] = f"bytes={offset}-" + (str(offset + length - 1) if length is not None else "")
        r = self._request("GET", path, stream=True, headers=headers)
        if r.status_code == 404:
            r.close()
            raise NotFoundInStore(f"No data at this location of store {self.name}.", location=location)
        if r.status_code == 416:
            r.close()
            return iter(())
        if r.status_code not in (200, 206):
            r.close()
            raise StoreError(f"Store {self.name}: the object store answered {r.status_code}.")
        return _chunks(r, self.chunk_size)

    def delete(self, location: str) -> None:
        r = self._request("DELETE", self._object_path(self._image_id(location)))
        if r.status_code not in (204, 404):
            raise StoreError(f"Store {self.name}: the delete was refused ({r.status_code}).")

    def exists(self, location: str) -> bool:
        return self._head(location) is not None

    def size(self, location: str) -> int:
        r = self._head(location)
        if r is None:
            raise NotFoundInStore(f"No data at this location of store {self.name}.", location=location)
        return int(r.headers.get("content-length", "0"))

    def modified(self, location: str) -> float:
        r = self._head(location)
        if r is None:
            raise NotFoundInStore(f"No data at this location of store {self.name}.", location=location)
        return float(r.headers.get("x-timestamp", "0"))

    def locations(self) -> Iterator[str]:
        marker = ""
        while True:
            r = self._request("GET", quote(self.container, safe=""),
                              params={"format": "json", "marker": marker, "limit": "10000"})
            if r.status_code == 404:
                return
            if r.status_code >= 300:
                raise StoreError(f"Store {self.name}: the listing failed ({r.status_code}).")
            rows = r.json()
            if not rows:
                return
            for row in rows:
                with contextlib.suppress(StoreError):
                    check_image_id(row["name"])
                    yield self.location(row["name"])
            marker = rows[-1]["name"]

    def scrub_temporary(self, older_than: float) -> int:
        removed = 0
        now = time.time()
        for path in self.spool.glob("*.upload"):
            if path in self._open:
                continue
            with contextlib.suppress(FileNotFoundError):
                if now - path.stat().st_mtime >= older_than:
                    path.unlink()
                    removed += 1
        return removed

    def capacity(self) -> tuple[int, int] | None:
        return None


def service_user_options(conf: Any, data_dir: Path, name: str, auth_url: str | None) -> dict[str, Any]:
    """The options of a swift store of ``litestack up``: the image service's own service user (its
    password read when first needed: identity's bootstrap chooses it), the identity service of
    this cloud, and a spool directory under the data directory."""
    from litestack.common.secrets import service_password

    if not auth_url:
        auth_url = conf.get("auth", "identity_url") or (
            (conf.get("DEFAULT", "public_url") or f"http://127.0.0.1:{conf.get('DEFAULT', 'port')}") + "/identity")
    spool = Path(data_dir) / "image" / "spool" / name
    spool.mkdir(parents=True, exist_ok=True)
    return {"auth_url": auth_url, "user": "glance", "password": lambda: service_password(Path(data_dir), "glance"),
            "spool": spool}


def _file_chunks(f: Any) -> Iterator[bytes]:
    while block := f.read(CHUNK_SIZE):
        yield block


def _chunks(r: httpx.Response, size: int) -> Iterator[bytes]:
    try:
        yield from r.iter_bytes(size)
    except httpx.HTTPError:
        raise StoreError("The object store stopped sending the image data.") from None
    finally:
        r.close()
