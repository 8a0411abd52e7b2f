"""importers/onec."""
