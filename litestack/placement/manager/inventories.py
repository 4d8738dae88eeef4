"""Inventories of a provider: what it has of each resource class, and the limits of one claim."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from litestack.common.db import Database
from litestack.placement import errors
from litestack.placement.manager import base
from litestack.placement.models import Allocation, Inventory

DEFAULTS: dict[str, Any] = {"reserved": 0, "min_unit": 1, "max_unit": 2147483647, "step_size": 1,
                            "allocation_ratio": 1.0}


def make(rc: str, fields: dict[str, Any]) -> base.Inv:
    values: dict[str, Any] = {f: fields.get(f, DEFAULTS.get(f)) for f in base.INV_FIELDS}
    return base.Inv(**values)


class Inventories:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get_all(self, uuid: str) -> tuple[dict[str, base.Inv], int]:
        with self.db.reader() as s:
            p = base.provider(s, uuid)
            return base.inventories(s, [p.id])[p.id], p.generation

    def get(self, uuid: str, rc: str) -> tuple[base.Inv, int]:
        invs, gen = self.get_all(uuid)
        if rc not in invs:
            raise errors.NotFound(f"No inventory of class {rc} for {uuid}")
        return invs[rc], gen

    @staticmethod
    def _check(uuid: str, rc: str, inv: base.Inv, equal_ok: bool) -> None:
        if inv.reserved > inv.total or (inv.reserved == inv.total and not equal_ok):
            raise errors.BadRequest(
                f"Unable to update inventory for resource provider {uuid}: Invalid inventory for '{rc}' on "
                f"resource provider '{uuid}'. The reserved value is greater than "
                f"{'total' if equal_ok else 'or equal to total'}.")
        if inv.min_unit > inv.max_unit:
            raise errors.BadRequest(f"Unable to update inventory for resource provider {uuid}: Invalid "
                                    f"inventory for '{rc}': min_unit is greater than max_unit.")

    def write(self, s: Session, p: base.ProviderRow, new: dict[str, base.Inv], *, replace: bool,
              equal_ok: bool, allow_in_use: bool = False) -> None:
        """Write ``new`` (all of the inventory when ``replace``) inside the caller's transaction, the
        provider locked; ``allow_in_use`` lets the reshaper drop a class whose allocations it moves."""
        base.require_classes(s, new, f"Unknown resource class in inventory for resource provider {p.uuid}: {{name}}")
        for rc, inv in new.items():
            self._check(p.uuid, rc, inv, equal_ok)
        current = base.inventories(s, [p.id])[p.id]
        if replace:
            gone = set(current) - set(new)
            if gone and not allow_in_use:
                in_use = sorted(set(s.scalars(select(Allocation.resource_class).where(
                    Allocation.resource_provider_id == p.id, Allocation.resource_class.in_(gone)))))
                if in_use:
                    raise errors.Conflict(f"update conflict: Inventory for '{', '.join(in_use)}' on resource "
                                          f"provider '{p.uuid}' in use.", code=errors.INVENTORY_INUSE)
            if gone:
                s.execute(delete(Inventory).where(Inventory.resource_provider_id == p.id,
                                                  Inventory.resource_class.in_(gone)))
        t = base.now()
        for rc, inv in new.items():
            values: dict[str, Any] = {f: getattr(inv, f) for f in base.INV_FIELDS}
            if rc in current:
                s.execute(update(Inventory).where(Inventory.resource_provider_id == p.id,
                                                  Inventory.resource_class == rc).values(**values, updated_at=t))
            else:
                s.add(Inventory(resource_provider_id=p.id, resource_class=rc, created_at=t, updated_at=t, **values))
        s.flush()
        base.bump(s, p)

    def set_all(self, uuid: str, generation: int, new: dict[str, base.Inv], equal_ok: bool
                ) -> tuple[dict[str, base.Inv], int]:
        with self.db.writer() as s:
            base.begin_write(s)
            p = base.provider(s, uuid, lock=True)
            base.check_generation(p, generation)
            self.write(s, p, new, replace=True, equal_ok=equal_ok)
            return base.inventories(s, [p.id])[p.id], p.generation

    def add(self, uuid: str, generation: int, rc: str, inv: base.Inv, equal_ok: bool) -> tuple[base.Inv, int]:
        with self.db.writer() as s:
            base.begin_write(s)
            p = base.provider(s, uuid, lock=True)
            base.check_generation(p, generation)
            if rc in base.inventories(s, [p.id])[p.id]:
                raise errors.Conflict(f"Update conflict: Inventory for '{rc}' on resource provider '{uuid}' "
                                      "already exists.", code=errors.CONCURRENT_UPDATE)
            self.write(s, p, {rc: inv}, replace=False, equal_ok=equal_ok)
            return inv, p.generation

    def update(self, uuid: str, generation: int, rc: str, inv: base.Inv, equal_ok: bool) -> tuple[base.Inv, int]:
        with self.db.writer() as s:
            base.begin_write(s)
            p = base.provider(s, uuid, lock=True)
            base.check_generation(p, generation)
            if rc not in base.inventories(s, [p.id])[p.id]:
                raise errors.BadRequest(f"No inventory record with resource class for resource provider {uuid}: "
                                        f"No inventory of class {rc} found.")
            self.write(s, p, {rc: inv}, replace=False, equal_ok=equal_ok)
            return inv, p.generation

    def delete(self, uuid: str, rc: str | None) -> None:
        """Remove one class's inventory (``rc``) or all of them (None); 409 while allocated."""
        with self.db.writer() as s:
            base.begin_write(s)
            p = base.provider(s, uuid, lock=True)
            current = base.inventories(s, [p.id])[p.id]
            if rc is not None and rc not in current:
                raise errors.NotFound(f"No inventory of class {rc} found for delete")
            keep = {k: v for k, v in current.items() if rc is not None and k != rc}
            try:
                self.write(s, p, keep, replace=True, equal_ok=True)
            except errors.Conflict as exc:
                if rc is not None:
                    raise errors.Conflict(f"Unable to delete inventory of class {rc}: {exc.message}",
                                          code=errors.INVENTORY_INUSE) from None
                raise errors.Conflict(f"Unable to delete inventory for resource provider {uuid}: "
                                      f"{exc.message}", code=errors.INVENTORY_INUSE) from None
