"""Unit tests for importers (SAP B1 files, text decoding, source configuration)."""
