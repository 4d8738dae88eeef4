"""Block storage service (Cinder v3)."""
