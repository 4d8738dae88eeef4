"""Image records: visibility, create, update by JSON-patch changes, tags, delete, (de)activation."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from litestack.common import errors
from litestack.common.db import Database
from litestack.image.manager import Caller, now
from litestack.image.models import Image, ImageLocation, ImageMember, ImageProperty, ImageTag, QuotaLock

#: Core attributes a client may set (the rest of the image schema is read-only).
CORE_WRITABLE = ("name", "visibility", "protected", "os_hidden", "owner", "container_format", "disk_format",
                 "min_ram", "min_disk")
#: Attributes of the image itself: a JSON-patch ``remove`` of one is refused.
CORE = ("id", "name", "status", "visibility", "protected", "os_hidden", "checksum", "os_hash_algo",
        "os_hash_value", "owner", "size", "virtual_size", "container_format", "disk_format", "created_at",
        "updated_at", "tags", "direct_url", "min_ram", "min_disk", "self", "file", "schema", "locations", "stores")


#: Glance's unified limits: total MiB of image data, MiB staged, images, images being written.
QUOTA_NAMES = ("image_size_total", "image_stage_total", "image_count_total", "image_count_uploading")


def usage(session: Session, project: str | None) -> dict[str, int]:
    """A project's usage as Glance's quotas count it (sizes in MiB, as the limits are)."""
    def one(*where: Any, what: Any = None) -> int:
        q = select(what if what is not None else func.count()).select_from(Image).where(Image.owner == project,
                                                                                          *where)
        return int(session.scalar(q) or 0)

    mib = 1 << 20
    return {"image_size_total": one(Image.status != "killed", what=func.coalesce(func.sum(Image.size), 0)) // mib,
            "image_stage_total": one(Image.status.in_(("uploading", "importing")),
                                     what=func.coalesce(func.sum(Image.size), 0)) // mib,
            "image_count_total": one(),
            "image_count_uploading": one(Image.status.in_(("saving", "uploading", "importing")))}


class Quota:
    """Per-project limits (Glance's unified limits, read from identity by the API before the call).

    Each check counts the project's usage inside the writing transaction that would go over the
    limit (SQLite's writer lock, or the row locks of the other databases), so two concurrent
    requests cannot both pass it. As in Glance: a new image counts one more image; starting an
    upload or a stage counts one more image being written and refuses a project already at or over
    its data totals (the size of what arrives is not known in advance). Over a limit is 413 with
    oslo.limit's message."""

    @staticmethod
    def prepare(db: Database, owner: str | None, limits: dict[str, int] | None) -> None:
        """Before the writing transaction: make sure the owner's lock row exists (a row inserted by
        two transactions at once would fail one of them)."""
        if not limits or owner is None:
            return
        with db.reader() as s:
            if s.get(QuotaLock, owner) is not None:
                return
        try:
            with db.writer() as s:
                if s.get(QuotaLock, owner) is None:
                    s.add(QuotaLock(project_id=owner))
        except errors.Conflict:
            pass  # another request made it meanwhile

    @staticmethod
    def lock(session: Session, owner: str | None, limits: dict[str, int] | None) -> None:
        """The first statement of the writing transaction: concurrent requests of one project wait
        here for each other's commit. First, because MariaDB's repeatable-read snapshot is taken at
        the first plain read: a read before the lock would count from before the other's commit."""
        if limits and owner is not None:
            session.execute(select(QuotaLock.project_id).where(QuotaLock.project_id == owner).with_for_update())

    @staticmethod
    def check(session: Session, owner: str | None, limits: dict[str, int] | None, deltas: dict[str, int]) -> None:
        """Refuse what would take ``owner`` over a limit (after ``lock`` in the same transaction)."""
        if not limits or owner is None:
            return
        from litestack.common.limits import ProjectOverLimit, check

        try:
            check(owner, limits, usage(session, owner), deltas)
        except ProjectOverLimit as exc:
            raise errors.PayloadTooLarge(str(exc)) from None

    def check_create(self, session: Session, owner: str | None, limits: dict[str, int] | None = None) -> None:
        """Before an image row of ``owner`` is added."""
        self.check(session, owner, limits, {"image_count_total": 1})

    def check_upload(self, session: Session, owner: str | None, limits: dict[str, int] | None = None,
                     staging: bool = False) -> None:
        """Before an image of ``owner`` enters ``saving``/``uploading``."""
        deltas = {"image_size_total": 0, "image_count_uploading": 1}
        if staging:
            deltas["image_stage_total"] = 0
        self.check(session, owner, limits, deltas)


@dataclass
class Change:
    """One JSON-patch operation, validated by the API: ``op`` add/replace/remove on ``name``."""

    op: str
    name: str
    value: Any = None


@dataclass
class Limits:
    property_quota: int = 128
    tag_quota: int = 128
    member_quota: int = 128


@dataclass
class Images:
    db: Database
    limits: Limits = field(default_factory=Limits)
    quota: Quota = field(default_factory=Quota)

    # --- reading ----------------------------------------------------------------------------

    @staticmethod
    def member_of(session: Session, image: Image, caller: Caller) -> ImageMember | None:
        if caller.project_id is None:
            return None
        return session.get(ImageMember, (image.id, caller.project_id))

    def find(self, session: Session, image_id: str, caller: Caller) -> Image:
        """The image if the caller may see it (Glance's ``is_image_visible``), else 404."""
        image = session.get(Image, image_id) if len(image_id) <= 36 else None
        if image is None or not self.visible(session, image, caller):
            raise errors.NotFound(f"No image found with ID {image_id}", kind="image", id=image_id)
        return image

    def visible(self, session: Session, image: Image, caller: Caller) -> bool:
        if caller.is_admin or image.visibility in ("public", "community"):
            return True
        if caller.project_id is not None and image.owner == caller.project_id:
            return True
        return image.visibility == "shared" and self.member_of(session, image, caller) is not None

    def get(self, image_id: str, caller: Caller) -> tuple[Image, str | None]:
        """The image and the caller's project when it is a member of it (policy's ``member_id``)."""
        with self.db.reader() as s:
            image = self.find(s, image_id, caller)
            member = self.member_of(s, image, caller)
            return image, (member.member if member is not None else None)

    # --- writing ----------------------------------------------------------------------------

    def create(self, core: dict[str, Any], extra: dict[str, str], tags: Sequence[str], caller: Caller,
               limits: dict[str, int] | None = None) -> Image:
        if len(extra) > self.limits.property_quota:
            raise errors.PayloadTooLarge(f"Maximum number of properties exceeded: at most "
                                         f"{self.limits.property_quota} are allowed.")
        tags = list(dict.fromkeys(tags))
        if len(tags) > self.limits.tag_quota:
            raise errors.PayloadTooLarge(f"Maximum number of tags exceeded: at most {self.limits.tag_quota} "
                                         "are allowed.")
        image_id = core.pop("id", None) or str(uuid.uuid4())
        self.quota.prepare(self.db, core.get("owner"), limits)
        t = now()
        with self.db.writer() as s:
            self.quota.lock(s, core.get("owner"), limits)
            if s.get(Image, image_id) is not None:
                raise errors.Conflict(f"An image with identifier {image_id} already exists",
                                      kind="image", id=image_id)
            self.quota.check_create(s, core.get("owner"), limits)
            image = Image(id=image_id, status="queued", created_at=t, updated_at=t,
                          name=core.get("name"), owner=core.get("owner"),
                          visibility=core.get("visibility") or "shared",
                          disk_format=core.get("disk_format"), container_format=core.get("container_format"),
                          min_disk=core.get("min_disk") or 0, min_ram=core.get("min_ram") or 0,
                          protected=bool(core.get("protected", False)), os_hidden=bool(core.get("os_hidden", False)))
            image.properties = [ImageProperty(name=k, value=v) for k, v in extra.items()]
            image.tags = [ImageTag(value=v) for v in tags]
            image.locations = []
            s.add(image)
            return image

    def update(self, image_id: str, changes: Sequence[Change], caller: Caller,
               authorize: Callable[[str, Image], None]) -> Image:
        """Apply JSON-patch changes in one transaction; ``authorize(rule, image)`` checks the extra
        rules a change needs (``publicize_image``, ``communitize_image``)."""
        with self.db.writer() as s:
            image = self.find(s, image_id, caller)
            props = {p.name: p for p in image.properties}
            for ch in changes:
                if ch.name == "tags":
                    self._set_tags(image, ch)
                elif ch.name in CORE:
                    self._core(image, ch, caller, authorize)
                elif ch.op == "remove":
                    if ch.name not in props:
                        raise errors.Conflict(f"Property {ch.name} does not exist.")
                    image.properties.remove(props.pop(ch.name))
                elif ch.op == "replace" and ch.name not in props:
                    raise errors.Conflict(f"Property {ch.name} does not exist.")
                elif ch.name in props:
                    props[ch.name].value = ch.value
                else:
                    if len(props) >= self.limits.property_quota:
                        raise errors.PayloadTooLarge(f"Maximum number of properties exceeded: at most "
                                                     f"{self.limits.property_quota} are allowed.")
                    prop = ImageProperty(name=ch.name, value=ch.value)
                    props[ch.name] = prop
                    image.properties.append(prop)
            if changes:
                image.updated_at = now()
            s.flush()
            return image

    def _set_tags(self, image: Image, ch: Change) -> None:
        if ch.op == "remove":
            raise errors.Forbidden("Property tags may not be removed.")
        values = list(dict.fromkeys(ch.value))
        if len(values) > self.limits.tag_quota:
            raise errors.PayloadTooLarge(f"Maximum number of tags exceeded: at most {self.limits.tag_quota} "
                                         "are allowed.")
        keep = {t.value: t for t in image.tags}
        image.tags = [keep.get(v) or ImageTag(value=v) for v in values]

    @staticmethod
    def _core(image: Image, ch: Change, caller: Caller, authorize: Callable[[str, Image], None]) -> None:
        name, value = ch.name, ch.value
        if ch.op == "remove":
            raise errors.Forbidden(f"Property {name} may not be removed.")
        if name == "owner" and not caller.is_admin:
            raise errors.Forbidden("Owner can't be updated by non admin.")
        if name in ("container_format", "disk_format") and image.status != "queued" \
                and getattr(image, name) != value:
            raise errors.Forbidden(f"Attribute {name} can be only replaced for a queued image.")
        if name in ("min_ram", "min_disk") and value < 0:
            raise errors.BadRequest(f"Cannot set {name} to a negative value.")
        if name == "visibility" and value != image.visibility:
            if value == "public":
                authorize("publicize_image", image)
            elif value == "community":
                authorize("communitize_image", image)
        if name == "protected" and value is None:
            raise errors.BadRequest("Invalid value for protected.")
        setattr(image, name, value)

    def add_tag(self, image_id: str, tag: str, caller: Caller) -> None:
        with self.db.writer() as s:
            image = self.find(s, image_id, caller)
            if any(t.value == tag for t in image.tags):
                return
            if len(image.tags) >= self.limits.tag_quota:
                raise errors.PayloadTooLarge(f"Maximum number of tags exceeded: at most {self.limits.tag_quota} "
                                             "are allowed.")
            image.tags.append(ImageTag(value=tag))
            image.updated_at = now()

    def delete_tag(self, image_id: str, tag: str, caller: Caller) -> None:
        with self.db.writer() as s:
            image = self.find(s, image_id, caller)
            found = [t for t in image.tags if t.value == tag]
            if not found:
                raise errors.NotFound(f"Tag {tag} not found.")
            image.tags.remove(found[0])
            image.updated_at = now()

    def delete(self, image_id: str, caller: Caller) -> list[tuple[str, str]]:
        """Remove the record; the ``(store, location)`` pairs of its data, for the caller to delete
        once the record is gone (a crash in between leaves an orphan the scrubber removes)."""
        with self.db.writer() as s:
            image = self.find(s, image_id, caller)
            if image.protected:
                raise errors.Forbidden(f"Image {image_id} is protected and cannot be deleted.")
            if image.status in ("saving", "uploading", "importing"):
                # The upload in progress sees the record gone and removes what it wrote.
                pass
            data = [(loc.store, loc.url) for loc in image.locations]
            s.delete(image)
            return data

    def delete_from_store(self, image_id: str, store: str, caller: Caller) -> str:
        """Drop the image's data in one store (it must be in another too); the location to delete."""
        with self.db.writer() as s:
            image = self.find(s, image_id, caller)
            if image.status != "active":
                raise errors.Conflict("It's not allowed to remove image data from store if image status is not "
                                      "'active'")
            active = self.locations(image)
            if len(active) == 1:
                raise errors.Forbidden("Cannot delete image data from the only store containing it. Consider "
                                       "deleting the image instead.")
            found = next((loc for loc in active if loc.store == store), None)
            if found is None:
                raise errors.NotFound(f"Image {image_id} is not stored in store {store}.")
            image.locations.remove(found)
            image.updated_at = now()
            return found.url

    def set_active(self, image_id: str, caller: Caller, active: bool) -> None:
        """Deactivate (``active`` False) or reactivate; idempotent in the target status."""
        with self.db.writer() as s:
            image = self.find(s, image_id, caller)
            want, source, verb = ("active", "deactivated", "reactivate") if active \
                else ("deactivated", "active", "deactivate")
            if image.status == want:
                return
            if image.status != source:
                raise errors.Forbidden(f"Not allowed to {verb} image in status '{image.status}'")
            image.status = want
            image.updated_at = now()

    # --- views ------------------------------------------------------------------------------

    @staticmethod
    def locations(image: Image) -> list[ImageLocation]:
        return [loc for loc in image.locations if loc.status == "active"]
