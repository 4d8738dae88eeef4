"""Placement's logic, in parts with explicit dependencies (each given the database it works on)."""

from __future__ import annotations

from litestack.common.db import Database
from litestack.placement.manager.allocations import Allocations
from litestack.placement.manager.candidates import Candidates
from litestack.placement.manager.catalog import Catalog
from litestack.placement.manager.inventories import Inventories
from litestack.placement.manager.providers import Providers
from litestack.placement.manager.reshaper import Reshaper


class Manager:
    def __init__(self, db: Database, max_candidates: int = 1000) -> None:
        self.db = db
        self.catalog = Catalog(db)
        self.providers = Providers(db)
        self.inventories = Inventories(db)
        self.allocations = Allocations(db)
        self.candidates = Candidates(db, max_candidates)
        self.reshaper = Reshaper(db, self.inventories, self.allocations)
