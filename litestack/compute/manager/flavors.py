"""Flavors with extra specs, access lists and the DevStack set made at bootstrap."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from sqlalchemy import or_, select

from litestack.common import errors
from litestack.common.db import Database
from litestack.compute.models import Flavor, FlavorExtraSpec, FlavorProject

#: DevStack's flavors: (id, name, vcpus, memory_mb, root_gb).
DEVSTACK_FLAVORS = [
    ("1", "m1.tiny", 1, 512, 1), ("2", "m1.small", 1, 2048, 20), ("3", "m1.medium", 2, 4096, 40),
    ("4", "m1.large", 4, 8192, 80), ("5", "m1.xlarge", 8, 16384, 160),
    ("c1", "cirros256", 1, 256, 1),
    ("d1", "ds512M", 1, 512, 5), ("d2", "ds1G", 1, 1024, 10), ("d3", "ds2G", 2, 2048, 10), ("d4", "ds4G", 4, 4096, 20),
]


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class FlavorNotFound(errors.NotFound):
    pass


class Flavors:
    def __init__(self, db: Database) -> None:
        self.db = db

    def bootstrap(self) -> None:
        with self.db.writer() as s:
            for fid, name, vcpus, ram, disk in DEVSTACK_FLAVORS:
                if s.get(Flavor, fid) is None and s.scalar(select(Flavor).where(Flavor.name == name)) is None:
                    s.add(Flavor(id=fid, name=name, vcpus=vcpus, memory_mb=ram, root_gb=disk, ephemeral_gb=0,
                                 swap=0, rxtx_factor=1.0, is_public=True, disabled=False, created_at=now()))

    def get(self, flavor_id: str, project_id: str | None = None, is_admin: bool = True) -> Flavor:
        with self.db.reader() as s:
            f = s.get(Flavor, flavor_id)
            if f is None or (not is_admin and not f.is_public
                             and project_id not in {p.project_id for p in f.projects}):
                raise FlavorNotFound(f"Flavor {flavor_id} could not be found.")
            return f

    def find(self, project_id: str | None, is_admin: bool, is_public: str | None = None,
             min_ram: int = 0, min_disk: int = 0, limit: int | None = None, marker: str | None = None,
             sort_key: str = "flavorid", sort_dir: str = "asc") -> list[Flavor]:
        columns = {"flavorid": Flavor.id, "id": Flavor.id, "name": Flavor.name, "memory_mb": Flavor.memory_mb,
                   "vcpus": Flavor.vcpus, "root_gb": Flavor.root_gb, "created_at": Flavor.created_at}
        if sort_key not in columns:
            raise errors.BadRequest(f"Invalid sort_key {sort_key}.")
        if sort_dir not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid sort_dir {sort_dir}.")
        col = columns[sort_key]
        stmt = select(Flavor).where(Flavor.disabled.is_(False), Flavor.memory_mb >= min_ram,
                                    Flavor.root_gb >= min_disk)
        access = or_(Flavor.is_public.is_(True),
                     Flavor.id.in_(select(FlavorProject.flavor_id).where(FlavorProject.project_id == project_id)))
        if not is_admin:
            stmt = stmt.where(access)
        elif is_public in (None, "true", "True", "1"):
            stmt = stmt.where(Flavor.is_public.is_(True)) if is_public else stmt.where(access)
        elif is_public in ("false", "False", "0"):
            stmt = stmt.where(Flavor.is_public.is_(False))
        stmt = stmt.order_by(col.desc() if sort_dir == "desc" else col.asc(), Flavor.id)
        with self.db.reader() as s:
            rows = list(s.scalars(stmt))
        if marker is not None:
            ids = [f.id for f in rows]
            if marker not in ids:
                raise errors.BadRequest(f"marker [{marker}] not found")
            rows = rows[ids.index(marker) + 1:]
        return rows[:limit] if limit is not None else rows

    def create(self, data: dict[str, Any]) -> Flavor:
        fid = data.get("id") or str(uuid.uuid4())
        if data.get("id") == "auto":
            fid = str(uuid.uuid4())
        with self.db.writer() as s:
            if s.get(Flavor, str(fid)) is not None:
                raise errors.Conflict(f"Flavor with ID {fid} already exists.")
            if s.scalar(select(Flavor).where(Flavor.name == data["name"])) is not None:
                raise errors.Conflict(f"Flavor with name {data['name']} already exists.")
            f = Flavor(id=str(fid), name=data["name"], vcpus=data["vcpus"], memory_mb=data["ram"],
                       root_gb=data["disk"], ephemeral_gb=data.get("OS-FLV-EXT-DATA:ephemeral", 0),
                       swap=data.get("swap") or 0, rxtx_factor=data.get("rxtx_factor", 1.0),
                       is_public=data.get("os-flavor-access:is_public", True), disabled=False,
                       description=data.get("description"), created_at=now())
            s.add(f)
            s.flush()
            s.refresh(f)
            return f

    def update(self, flavor_id: str, description: str | None) -> Flavor:
        with self.db.writer() as s:
            f = s.get(Flavor, flavor_id)
            if f is None:
                raise FlavorNotFound(f"Flavor {flavor_id} could not be found.")
            f.description = description
            return f

    def delete(self, flavor_id: str) -> None:
        with self.db.writer() as s:
            f = s.get(Flavor, flavor_id)
            if f is None:
                raise FlavorNotFound(f"Flavor {flavor_id} could not be found.")
            s.delete(f)

    def set_specs(self, flavor_id: str, specs: dict[str, str]) -> dict[str, str]:
        with self.db.writer() as s:
            f = s.get(Flavor, flavor_id)
            if f is None:
                raise FlavorNotFound(f"Flavor {flavor_id} could not be found.")
            have = {e.key: e for e in f.extra_specs}
            for k, v in specs.items():
                if k in have:
                    have[k].value = str(v)
                else:
                    f.extra_specs.append(FlavorExtraSpec(key=k, value=str(v)))
            s.flush()
            return {e.key: e.value for e in f.extra_specs}

    def delete_spec(self, flavor_id: str, key: str) -> None:
        with self.db.writer() as s:
            f = s.get(Flavor, flavor_id)
            if f is None:
                raise FlavorNotFound(f"Flavor {flavor_id} could not be found.")
            spec = next((e for e in f.extra_specs if e.key == key), None)
            if spec is None:
                raise errors.NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
            f.extra_specs.remove(spec)

    def add_access(self, flavor_id: str, project_id: str) -> list[str]:
        with self.db.writer() as s:
            f = s.get(Flavor, flavor_id)
            if f is None:
                raise FlavorNotFound(f"Flavor {flavor_id} could not be found.")
            if f.is_public:
                raise errors.Conflict("Can not add access to a public flavor.")
            if any(p.project_id == project_id for p in f.projects):
                raise errors.Conflict(f"Flavor access already exists for flavor {flavor_id} and project "
                                      f"{project_id} combination.")
            f.projects.append(FlavorProject(project_id=project_id))
            s.flush()
            return [p.project_id for p in f.projects]

    def remove_access(self, flavor_id: str, project_id: str) -> list[str]:
        with self.db.writer() as s:
            f = s.get(Flavor, flavor_id)
            if f is None:
                raise FlavorNotFound(f"Flavor {flavor_id} could not be found.")
            entry = next((p for p in f.projects if p.project_id == project_id), None)
            if entry is None:
                raise errors.NotFound(f"Flavor access not found for {flavor_id} / {project_id} combination.")
            f.projects.remove(entry)
            s.flush()
            return [p.project_id for p in f.projects]
