"""Image data: the status changes around an upload, and where the data went.

An upload is three short transactions around the transfer, so no database lock is held while
bytes flow: ``begin`` moves the image ``queued`` → ``saving`` (only one upload at a time can win
that), ``finish`` records the location, checksums and sizes and moves it to ``active`` (only if it
is still ``saving``: an image deleted meanwhile gets its data removed by the caller), and ``fail``
puts it back to ``queued`` as Glance does. A crash between them leaves ``saving`` images, which
``recover`` returns to ``queued`` at the next start, and store data no image refers to, which the
scrubber removes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from litestack.common import errors
from litestack.common.db import Database
from litestack.image.drivers.base import Store
from litestack.image.manager import Caller, now
from litestack.image.manager.images import Images, usage
from litestack.image.models import Image, ImageLocation


@dataclass
class Data:
    db: Database
    images: Images
    stores: dict[str, Store]
    default_store: str

    def store(self, name: str | None) -> Store:
        if name is None:
            return self.stores[self.default_store]
        store = self.stores.get(name)
        if store is None:
            raise errors.BadRequest(f"Store for identifier {name} not found")
        return store

    def begin(self, image_id: str, caller: Caller, size: int | None, status: str = "saving",
              limits: dict[str, int] | None = None) -> Image:
        """``queued`` → ``saving`` (``uploading`` for stage); 409 from any other status."""
        owner = None
        if limits:
            with self.db.reader() as s:
                owner = self.images.find(s, image_id, caller).owner
            self.images.quota.prepare(self.db, owner, limits)
        with self.db.writer() as s:
            self.images.quota.lock(s, owner, limits)
            image = self.images.find(s, image_id, caller)
            if image.status != "queued":
                raise errors.Conflict(f"Image status transition from {image.status} to {status} is not allowed")
            self.images.quota.check_upload(s, image.owner, limits, staging=status == "uploading")
            image.status = status
            image.updated_at = now()
            return image

    def finish(self, image_id: str, store: Store, location: str, facts: dict[str, Any],
               source: str = "saving", final: str = "active", location_status: str = "active") -> Image:
        """Record the committed data; ``Gone`` when the image was deleted (or reset) meanwhile."""
        with self.db.writer() as s:
            image = s.get(Image, image_id)
            if image is None or image.status != source:
                raise errors.Gone(f"Image {image_id} could not be found after upload. The image may have been "
                                  "deleted during the upload.")
            for key, value in facts.items():
                setattr(image, key, value)
            t = now()
            image.locations.append(ImageLocation(store=store.name, url=location, meta={"store": store.name},
                                                 status=location_status, created_at=t))
            image.status = final
            image.updated_at = t
            s.flush()
            return image

    def fail(self, image_id: str, source: str = "saving") -> None:
        """Back to ``queued`` after a failed or interrupted transfer (Glance's ``_restore``)."""
        with self.db.writer() as s:
            image = s.get(Image, image_id)
            if image is not None and image.status == source:
                image.status = "queued"
                image.updated_at = now()

    def recover(self) -> int:
        """At start, before serving: transfers that were running when the process died can never
        finish, so their images go back to ``queued`` (the partial data is the scrubber's)."""
        with self.db.writer() as s:
            res = s.execute(update(Image).where(Image.status.in_(("saving",)))
                            .values(status="queued", updated_at=now()))
            return int(res.rowcount or 0)  # type: ignore[attr-defined]

    def known_locations(self) -> list[str]:
        with self.db.reader() as s:
            return list(s.scalars(select(ImageLocation.url)))

    def usage(self, project: str | None) -> dict[str, int]:
        """The project's usage as Glance's quotas name it."""
        with self.db.reader() as s:
            return usage(s, project)
