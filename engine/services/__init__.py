"""engine/services."""
