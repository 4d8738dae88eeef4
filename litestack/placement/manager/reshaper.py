"""The reshaper (1.30): move inventories and the allocations against them in one transaction, as a
virt driver does when it splits a host's resources into child providers."""

from __future__ import annotations

from sqlalchemy import select

from litestack.common.db import Database
from litestack.placement import errors
from litestack.placement.manager import base
from litestack.placement.manager.allocations import Allocations, Claim
from litestack.placement.manager.inventories import Inventories
from litestack.placement.models import Allocation


class Reshaper:
    def __init__(self, db: Database, inventories: Inventories, allocations: Allocations) -> None:
        self.db = db
        self.inventories = inventories
        self.allocations = allocations

    def reshape(self, inventories: dict[str, tuple[int, dict[str, base.Inv]]], claims: list[Claim]) -> None:
        """Set each provider's whole inventory (checking its generation), then replace the claims'
        allocations; inventory in use is checked only against the allocations that result."""
        with self.db.writer() as s:
            base.begin_write(s)
            touched: dict[str, base.ProviderRow] = {}
            for uuid in sorted(inventories):
                generation, new = inventories[uuid]
                p = base.provider(s, uuid, lock=True)
                base.check_generation(p, generation)
                self.inventories.write(s, p, new, replace=True, equal_ok=True, allow_in_use=True)
                touched[uuid] = p
            self.allocations.replace_in(s, claims)
            for uuid, p in touched.items():
                held = set(s.scalars(select(Allocation.resource_class).where(Allocation.resource_provider_id == p.id)))
                orphaned = sorted(held - set(base.inventories(s, [p.id])[p.id]))
                if orphaned:
                    raise errors.Conflict(f"update conflict: Inventory for '{', '.join(orphaned)}' on resource "
                                          f"provider '{uuid}' in use.", code=errors.INVENTORY_INUSE)
