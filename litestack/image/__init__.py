"""The image service (Glance v2): image records, their data in the stores, sharing and import."""
