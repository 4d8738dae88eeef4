"""The placement service (OpenStack Placement): resource providers, inventories, allocations,
allocation candidates, traits, resource classes and aggregates."""
