"""The staged import pipeline of SAP B1 files: register a file's bytes once, stage, apply chunk by chunk, finish.

Read in this order: `intake` (register a file's bytes once), `run` (execute,
work, finish: the commit units and crash safety), `stage` (invoice and
credit-note files into chunks), `parts` (reading a big file in parallel
windows), `apply` (one chunk, whole), `cards` and `cards_bulk` (customer
and catalog files, batch by batch).
Flask-free: the caller hands in the database binding (`run.Database`) and
decides when to queue helpers.
"""
from importers.sap_b1.pipeline.intake import register, sha256_of
from importers.sap_b1.pipeline.run import DOCUMENT_KINDS, Database, ImportRefused, execute, finish, work

__all__ = ["DOCUMENT_KINDS", "Database", "ImportRefused", "execute", "finish", "register", "sha256_of", "work"]
