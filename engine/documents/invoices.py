"""New ERP invoices a chunk at a time: planned set-based by the accrual, written by COPY."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from engine import outbox
from engine.accrual import batch
from engine.accrual.batch import BulkInvoice, Postings
from engine.documents import store
from engine.documents.fingerprint import content_hash
from engine.engagement import missions
from engine.ledger import rows


def post_invoices(session: Session, invoices: list[BulkInvoice], *, source: str, actor: str, now: datetime,
                  channel: str = "erp", debts: dict[int, Decimal] | None = None) -> Postings:
    """Store ``invoices`` with what they earn: documents and lines first, then the ledger rows that point
    at them. The caller holds the accounts' locks (`engine.ledger.lock_accounts`, in id order)."""
    moments: dict[datetime, str] = {}
    fingerprints = [content_hash(document_type="invoice", member_ref=inv.member_ref,
                                 placed_at=moments.get(inv.placed_at) or
                                 moments.setdefault(inv.placed_at, inv.placed_at.isoformat()),
                                 currency=inv.currency, lines=inv.lines, channel=channel) for inv in invoices]
    postings = batch.plan_invoices(session, invoices, fingerprints, source=source, actor=actor, now=now,
                                   channel=channel, debts=debts)
    store.write_documents(session, postings.documents, postings.lines, source=source, now=now)
    rows.write_batch(session, postings.entries, postings.lots)
    outbox.runs.note_entries(session, postings.entries)  # announced per member when the import run ends
    missions.record_batch(session, postings.missions, actor=actor, now=now)  # after the documents they cite
    return postings
