"""importers/sap_b1."""
