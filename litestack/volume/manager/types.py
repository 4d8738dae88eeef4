"""Volume types: the default type, extra specs (``volume_backend_name`` picks backends), access."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from litestack.common import errors
from litestack.common.db import Database
from litestack.volume.manager import Caller, new_id, now
from litestack.volume.models import VolumeType, VolumeTypeAccess

DEFAULT_TYPE = "__DEFAULT__"


class TypeNotFound(errors.NotFound):
    """No volume type of that id or name (or a private one the caller has no access to)."""


class Types:
    def __init__(self, db: Database, default_name: str = DEFAULT_TYPE) -> None:
        self.db = db
        self.default_name = default_name

    def ensure_default(self) -> None:
        """Cinder's ``__DEFAULT__`` type, made by its first migration; idempotent."""
        with self.db.writer() as s:
            if s.scalar(select(VolumeType).where(VolumeType.name == DEFAULT_TYPE)) is None:
                s.add(VolumeType(id=new_id(), name=DEFAULT_TYPE, description="Default Volume Type",
                                 is_public=True, extra_specs={}, created_at=now()))

    def _visible(self, vt: VolumeType | None, caller: Caller) -> bool:
        if vt is None:
            return False
        return caller.is_admin or vt.is_public or any(p.project_id == caller.project_id for p in vt.projects)

    def get(self, ident: str, caller: Caller) -> VolumeType:
        """By id, then by name; ``TypeNotFound`` for an unknown or inaccessible one."""
        with self.db.reader() as s:
            vt = s.get(VolumeType, ident) if len(ident) <= 36 else None
            if vt is None:
                vt = s.scalar(select(VolumeType).where(VolumeType.name == ident))
        if not self._visible(vt, caller):
            raise TypeNotFound(f"Volume type {ident} could not be found.")
        assert vt is not None
        return vt

    def default(self) -> VolumeType:
        with self.db.reader() as s:
            vt = s.scalar(select(VolumeType).where(VolumeType.name == self.default_name))
            if vt is None:
                vt = s.scalar(select(VolumeType).where(VolumeType.name == DEFAULT_TYPE))
        if vt is None:
            raise TypeNotFound("The default volume type could not be found.")
        return vt

    def names(self) -> dict[str, str]:
        with self.db.reader() as s:
            return {t.id: t.name for t in s.scalars(select(VolumeType))}

    def visible(self, caller: Caller, is_public: bool | None) -> list[VolumeType]:
        with self.db.reader() as s:
            rows = list(s.scalars(select(VolumeType).order_by(VolumeType.created_at, VolumeType.id)))
        if not caller.is_admin:
            return [t for t in rows if self._visible(t, caller)]
        if is_public is None:
            return rows
        return [t for t in rows if t.is_public == is_public]

    def create(self, name: str, description: str | None, is_public: bool, extra_specs: dict[str, str]) -> VolumeType:
        with self.db.writer() as s:
            if s.scalar(select(VolumeType).where(VolumeType.name == name)) is not None:
                raise errors.Conflict(f"Volume Type {name} already exists.")
            vt = VolumeType(id=new_id(), name=name, description=description, is_public=is_public,
                            extra_specs=dict(extra_specs), created_at=now())
            s.add(vt)
        return self.get(vt.id, Caller(None, is_admin=True))

    def update(self, type_id: str, changes: dict[str, Any]) -> VolumeType:
        with self.db.writer() as s:
            vt = s.get(VolumeType, type_id)
            if vt is None:
                raise TypeNotFound(f"Volume type {type_id} could not be found.")
            if "name" in changes and changes["name"] != vt.name:
                if vt.name == DEFAULT_TYPE:
                    raise errors.BadRequest("The default volume type cannot be renamed.")
                if s.scalar(select(VolumeType).where(VolumeType.name == changes["name"])) is not None:
                    raise errors.Conflict(f"Volume Type {changes['name']} already exists.")
            for key, value in changes.items():
                setattr(vt, key, value)
            vt.updated_at = now()
        return self.get(type_id, Caller(None, is_admin=True))

    def set_specs(self, type_id: str, specs: dict[str, str], replace: bool = False) -> dict[str, str]:
        with self.db.writer() as s:
            vt = s.get(VolumeType, type_id)
            if vt is None:
                raise TypeNotFound(f"Volume type {type_id} could not be found.")
            merged = {} if replace else dict(vt.extra_specs or {})
            merged.update(specs)
            vt.extra_specs = merged
            vt.updated_at = now()
            return dict(merged)

    def unset_spec(self, type_id: str, key: str) -> None:
        with self.db.writer() as s:
            vt = s.get(VolumeType, type_id)
            if vt is None:
                raise TypeNotFound(f"Volume type {type_id} could not be found.")
            specs = dict(vt.extra_specs or {})
            if key not in specs:
                raise errors.NotFound(f"Volume Type {type_id} has no extra specs with key {key}.")
            del specs[key]
            vt.extra_specs = specs

    def delete(self, type_id: str, in_use: bool) -> None:
        with self.db.writer() as s:
            vt = s.get(VolumeType, type_id)
            if vt is None:
                raise TypeNotFound(f"Volume type {type_id} could not be found.")
            if vt.name in (DEFAULT_TYPE, self.default_name):
                raise errors.BadRequest("Default volume type can not be deleted.")
            if in_use:
                raise errors.BadRequest(f"Target volume type {type_id} is still in use.")
            s.delete(vt)

    def add_access(self, type_id: str, project_id: str) -> None:
        with self.db.writer() as s:
            vt = s.get(VolumeType, type_id)
            if vt is None:
                raise TypeNotFound(f"Volume type {type_id} could not be found.")
            if vt.is_public:
                raise errors.BadRequest("Invalid volume type: Type access modification is not applicable to "
                                        "public volume type.")
            if s.get(VolumeTypeAccess, (type_id, project_id)) is not None:
                raise errors.Conflict(f"Volume type access for {type_id} / {project_id} combination already exists.")
            s.add(VolumeTypeAccess(volume_type_id=type_id, project_id=project_id))

    def remove_access(self, type_id: str, project_id: str) -> None:
        with self.db.writer() as s:
            row = s.get(VolumeTypeAccess, (type_id, project_id))
            if row is None:
                raise errors.NotFound(f"Volume type access not found for {type_id} / {project_id} combination.")
            s.delete(row)

    def access(self, type_id: str) -> list[str]:
        with self.db.reader() as s:
            vt = s.get(VolumeType, type_id)
            if vt is None:
                raise TypeNotFound(f"Volume type {type_id} could not be found.")
            if vt.is_public:
                raise errors.NotFound("Access list not available for public volume types.")
            return [p.project_id for p in vt.projects]
