"""QoS specs: named key sets for a consumer, associated with volume types (one spec per type).
Cinder's rules: a spec associated with a type is deleted only with ``force`` (which also
disassociates it); a type already associated with another spec cannot be associated again."""

from __future__ import annotations

from sqlalchemy import select

from litestack.common import errors
from litestack.common.db import Database
from litestack.volume.manager import new_id, now
from litestack.volume.models import QosSpec, VolumeType

CONSUMERS = ("front-end", "back-end", "both")


class QosNotFound(errors.NotFound):
    """No QoS spec of that id."""


class QosSpecs:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _consumer(value: object) -> str:
        if value not in CONSUMERS:
            raise errors.BadRequest(f"Invalid consumer {str(value)[:32]!r}: valid consumers are "
                                    f"{', '.join(CONSUMERS)}.")
        return str(value)

    def get(self, spec_id: str) -> QosSpec:
        with self.db.reader() as s:
            row = s.get(QosSpec, spec_id) if len(spec_id) <= 36 else None
        if row is None:
            raise QosNotFound(f"No such QoS spec {spec_id}.")
        return row

    def all(self) -> list[QosSpec]:
        with self.db.reader() as s:
            return list(s.scalars(select(QosSpec).order_by(QosSpec.created_at, QosSpec.id)))

    def create(self, name: str, consumer: object, specs: dict[str, str]) -> QosSpec:
        with self.db.writer() as s:
            if s.scalar(select(QosSpec).where(QosSpec.name == name)) is not None:
                raise errors.Conflict(f"QoS Specs {name} already exists.")
            row = QosSpec(id=new_id(), name=name, consumer=self._consumer(consumer), specs=dict(specs),
                          created_at=now())
            s.add(row)
        return self.get(row.id)

    def set_keys(self, spec_id: str, keys: dict[str, str]) -> None:
        with self.db.writer() as s:
            row = s.get(QosSpec, spec_id)
            if row is None:
                raise QosNotFound(f"No such QoS spec {spec_id}.")
            keys = dict(keys)
            if "consumer" in keys:
                row.consumer = self._consumer(keys.pop("consumer"))
            row.specs = {**(row.specs or {}), **keys}
            row.updated_at = now()

    def delete_keys(self, spec_id: str, keys: list[str]) -> None:
        with self.db.writer() as s:
            row = s.get(QosSpec, spec_id)
            if row is None:
                raise QosNotFound(f"No such QoS spec {spec_id}.")
            specs = dict(row.specs or {})
            for key in keys:
                if key not in specs:
                    raise errors.NotFound(f"QoS spec {spec_id} has no key {key[:64]}.")
                del specs[key]
            row.specs = specs
            row.updated_at = now()

    def associations(self, spec_id: str) -> list[VolumeType]:
        self.get(spec_id)
        with self.db.reader() as s:
            return list(s.scalars(select(VolumeType).where(VolumeType.qos_specs_id == spec_id)
                                  .order_by(VolumeType.created_at, VolumeType.id)))

    def delete(self, spec_id: str, force: bool) -> None:
        with self.db.writer() as s:
            row = s.get(QosSpec, spec_id)
            if row is None:
                raise QosNotFound(f"No such QoS spec {spec_id}.")
            types = list(s.scalars(select(VolumeType).where(VolumeType.qos_specs_id == spec_id)))
            if types and not force:
                raise errors.BadRequest(f"QoS Specs {spec_id} is still associated with entities.")
            for vt in types:
                vt.qos_specs_id = None
            s.delete(row)

    def associate(self, spec_id: str, type_id: str) -> None:
        with self.db.writer() as s:
            if s.get(QosSpec, spec_id) is None:
                raise QosNotFound(f"No such QoS spec {spec_id}.")
            vt = s.get(VolumeType, type_id) if len(type_id) <= 36 else None
            if vt is None:
                raise errors.NotFound(f"Volume type {type_id} could not be found.")
            if vt.qos_specs_id not in (None, spec_id):
                raise errors.BadRequest(f"Volume Type {type_id} is already associated with another qos specs: "
                                        f"{vt.qos_specs_id}")
            vt.qos_specs_id = spec_id

    def disassociate(self, spec_id: str, type_id: str | None) -> None:
        """From one type, or from every type when ``type_id`` is None."""
        with self.db.writer() as s:
            if s.get(QosSpec, spec_id) is None:
                raise QosNotFound(f"No such QoS spec {spec_id}.")
            if type_id is None:
                for each in s.scalars(select(VolumeType).where(VolumeType.qos_specs_id == spec_id)):
                    each.qos_specs_id = None
                return
            vt = s.get(VolumeType, type_id) if len(type_id) <= 36 else None
            if vt is None:
                raise errors.NotFound(f"Volume type {type_id} could not be found.")
            if vt.qos_specs_id == spec_id:
                vt.qos_specs_id = None
