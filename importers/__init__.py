"""Bytes in → domain documents: SAP B1 files (`sap_b1`), 1C CommerceML (`onec`), and how files arrive (`transports`).

Flask-free and never a ledger writer: documents go to `engine` services
(`engine.imports`, `engine.accrual.batch`); the CLI commands and the RQ jobs
that drive these live in `server`.
"""
