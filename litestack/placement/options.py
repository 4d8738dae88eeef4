"""Options of the placement service."""

from litestack.common.config import Option, register_section

PLACEMENT = register_section("placement", "Placement service (resource providers, allocations).", [
    Option("max_allocation_candidates", int, 1000,
           "Most allocation requests GET /allocation_candidates returns (its `limit` may ask for fewer).",
           minimum=1),
])
