"""Image members: the projects a ``shared`` image is offered to, and their answers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from litestack.common import errors
from litestack.common.db import Database
from litestack.image.manager import Caller, now
from litestack.image.manager.images import Images
from litestack.image.models import Image, ImageMember

STATUSES = ("pending", "accepted", "rejected")


@dataclass
class Members:
    db: Database
    images: Images

    @staticmethod
    def _shared(image: Image) -> None:
        if image.visibility != "shared":
            raise errors.Forbidden("Only shared images have members.")

    def list(self, image_id: str, caller: Caller) -> list[ImageMember]:
        """The owner (and admin) sees every member; a member sees only itself."""
        with self.db.reader() as s:
            image = self.images.find(s, image_id, caller)
            stmt = select(ImageMember).where(ImageMember.image_id == image.id).order_by(ImageMember.created_at)
            if not caller.is_admin and image.owner != caller.project_id:
                stmt = stmt.where(ImageMember.member == caller.project_id)
            return list(s.scalars(stmt))

    def get(self, image_id: str, member_id: str, caller: Caller) -> ImageMember:
        with self.db.reader() as s:
            image = self.images.find(s, image_id, caller)
            member = s.get(ImageMember, (image.id, member_id))
            hidden = not caller.is_admin and image.owner != caller.project_id and member_id != caller.project_id
            if member is None or hidden:
                raise errors.NotFound(f"{member_id} not found in the member list of the image {image_id}.")
            return member

    def add(self, image_id: str, member_id: str, caller: Caller, quota: int) -> ImageMember:
        with self.db.writer() as s:
            image = self.images.find(s, image_id, caller)
            self._shared(image)
            if s.get(ImageMember, (image.id, member_id)) is not None:
                raise errors.Conflict(f"Member {member_id} is duplicated for image {image_id}")
            count = s.scalar(select(func.count()).select_from(ImageMember)
                             .where(ImageMember.image_id == image.id)) or 0
            if count >= quota:
                raise errors.PayloadTooLarge(f"Image member limit exceeded for image {image_id}: at most "
                                             f"{quota} members are allowed.")
            t = now()
            member = ImageMember(image_id=image.id, member=member_id, status="pending", created_at=t, updated_at=t)
            s.add(member)
            return member

    def set_status(self, image_id: str, member_id: str, status: str, caller: Caller) -> ImageMember:
        if status not in STATUSES:
            raise errors.BadRequest(f"Incorrect request: Provided object does not match schema 'member': "
                                    f"'{status}' is not one of {list(STATUSES)}")
        with self.db.writer() as s:
            image = self.images.find(s, image_id, caller)
            self._shared(image)
            member = s.get(ImageMember, (image.id, member_id))
            if member is None:
                raise errors.NotFound(f"{member_id} not found in the member list of the image {image_id}.")
            member.status = status
            member.updated_at = now()
            return member

    def delete(self, image_id: str, member_id: str, caller: Caller) -> None:
        with self.db.writer() as s:
            image = self.images.find(s, image_id, caller)
            self._shared(image)
            member = s.get(ImageMember, (image.id, member_id))
            if member is None:
                raise errors.NotFound(f"{member_id} not found in the member list of the image {image_id}.")
            s.delete(member)
