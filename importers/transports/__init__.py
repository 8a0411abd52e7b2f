"""importers/transports."""
