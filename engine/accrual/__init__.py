"""Accrual: documents meet the rules and become intents — one document at a
time (`document`) or a chunk of new invoices planned set-based (`batch`)."""
from engine.accrual.document import (
    accrue,
    document_facts,
    evaluate,
    recompute,
)

__all__ = [
    "document_facts",
    "evaluate",
    "accrue",
    "recompute",
]
