"""Resource classes and traits: the standard names (from os-resource-classes and os-traits, written
to the database at start) and the operator's ``CUSTOM_*`` ones."""

from __future__ import annotations

import re

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from litestack.common.db import Database
from litestack.placement import errors
from litestack.placement.manager import base
from litestack.placement.models import Allocation, Inventory, ProviderTrait, ResourceClass, Trait

CUSTOM = re.compile(r"^CUSTOM_[A-Z0-9_]+$")


def standard_classes() -> list[str]:
    import os_resource_classes

    return list(os_resource_classes.STANDARDS)


def standard_traits() -> list[str]:
    import os_traits

    return sorted(os_traits.get_traits())


class Catalog:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.standard_classes = frozenset(standard_classes())
        self.standard_traits = frozenset(standard_traits())

    def sync(self) -> None:
        """Add the standard classes and traits the database lacks (idempotent)."""
        with self.db.writer() as s:
            t = base.now()
            have = set(s.scalars(select(ResourceClass.name)))
            for name in standard_classes():
                if name not in have:
                    s.add(ResourceClass(name=name, created_at=t, updated_at=t))
            have = set(s.scalars(select(Trait.name)))
            for name in standard_traits():
                if name not in have:
                    s.add(Trait(name=name, created_at=t, updated_at=t))

    # --- resource classes --------------------------------------------------------------------

    def classes(self) -> list[str]:
        with self.db.reader() as s:
            return list(s.scalars(select(ResourceClass.name).order_by(ResourceClass.id)))

    def get_class(self, name: str) -> str:
        with self.db.reader() as s:
            if s.scalar(select(ResourceClass.id).where(ResourceClass.name == name)) is None:
                raise errors.NotFound(f"No such resource class {name}.")
            return name

    def create_class(self, name: str, *, exist_ok: bool = False) -> bool:
        """Create ``CUSTOM_…`` ``name``; False when it existed (``exist_ok``, else 409)."""
        with self.db.writer() as s:
            if s.scalar(select(ResourceClass.id).where(ResourceClass.name == name)) is not None:
                if exist_ok:
                    return False
                raise errors.Conflict(f"Conflicting resource class already exists: {name}",
                                      code=errors.DUPLICATE_NAME)
            t = base.now()
            s.add(ResourceClass(name=name, created_at=t, updated_at=t))
            return True

    def rename_class(self, name: str, new: str) -> None:
        if name in self.standard_classes:
            raise errors.BadRequest(f"Cannot update standard resource class {name}")
        with self.db.writer() as s:
            if s.scalar(select(ResourceClass.id).where(ResourceClass.name == name)) is None:
                raise errors.NotFound(f"No such resource class {name}.")
            if s.scalar(select(ResourceClass.id).where(ResourceClass.name == new)) is not None:
                raise errors.Conflict(f"Resource class already exists: {new}", code=errors.DUPLICATE_NAME)
            if self._class_in_use(s, name):
                raise errors.Conflict(f"Unable to update resource class {name}: it is in use in inventory "
                                      "or allocations.")
            s.execute(update(ResourceClass).where(ResourceClass.name == name).values(name=new, updated_at=base.now()))

    @staticmethod
    def _class_in_use(s: Session, name: str) -> bool:
        return bool(s.scalar(select(exists().where(Inventory.resource_class == name)))
                    or s.scalar(select(exists().where(Allocation.resource_class == name))))

    def delete_class(self, name: str) -> None:
        if name in self.standard_classes:
            raise errors.BadRequest(f"Cannot delete standard resource class {name}")
        with self.db.writer() as s:
            if s.scalar(select(ResourceClass.id).where(ResourceClass.name == name)) is None:
                raise errors.NotFound(f"No such resource class {name}.")
            if self._class_in_use(s, name):
                raise errors.Conflict(f"Unable to delete resource class {name}. The resource class is in use in "
                                      "inventory.")
            s.execute(delete(ResourceClass).where(ResourceClass.name == name))

    # --- traits ------------------------------------------------------------------------------

    def traits(self, *, prefix: str | None = None, names: set[str] | None = None,
               associated: bool | None = None) -> list[str]:
        with self.db.reader() as s:
            q = select(Trait.name).order_by(Trait.name)
            if prefix is not None:
                q = q.where(Trait.name.startswith(prefix, autoescape=True))
            if names is not None:
                q = q.where(Trait.name.in_(names))
            if associated is not None:
                linked = Trait.id.in_(select(ProviderTrait.trait_id))
                q = q.where(linked if associated else ~linked)
            return list(s.scalars(q))

    def has_trait(self, name: str) -> bool:
        with self.db.reader() as s:
            return s.scalar(select(Trait.id).where(Trait.name == name)) is not None

    def create_trait(self, name: str) -> bool:
        """Create the custom trait ``name``; False when it existed."""
        with self.db.writer() as s:
            if s.scalar(select(Trait.id).where(Trait.name == name)) is not None:
                return False
            t = base.now()
            s.add(Trait(name=name, created_at=t, updated_at=t))
            return True

    def delete_trait(self, name: str) -> None:
        if name in self.standard_traits:
            raise errors.BadRequest(f"Cannot delete standard trait {name}.")
        with self.db.writer() as s:
            tid = s.scalar(select(Trait.id).where(Trait.name == name))
            if tid is None:
                raise errors.NotFound(f"No such trait(s): {name}.")
            if s.scalar(select(exists().where(ProviderTrait.trait_id == tid))):
                raise errors.Conflict(f"The trait {name} is in use by a resource provider.")
            s.execute(delete(Trait).where(Trait.id == tid))
