"""New orders a chunk at a time (1C): planned set-based by the accrual, written in a few statements.

`engine.accrual.sales` plans the rows `orders.record_purchase` writes for each order; here documents,
their lines and the cards they were booked on are inserted (COPY on PostgreSQL, executemany
elsewhere), then the entries and lots by the ledger's one bulk writer (`ledger.write_batch`). The
accruals are held for the import run (`outbox.runs`), as the set-based invoices' are.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from engine import outbox
from engine.accrual import sales
from engine.accrual.sales import BulkOrder, OrderPostings
from engine.ledger import rows
from engine.ledger.reversals import next_ids
from engine.models import Document, DocumentCard, DocumentLine
from engine.models.bulk import insert_rows, is_postgres, reserve_ids


def _ids(session: Session, count: int) -> list[int]:
    table = Document.__table__
    return reserve_ids(session, table.name, count) if is_postgres(session) else next_ids(session, table, count)


def post_orders(session: Session, orders: list[BulkOrder], *, source: str, actor: str,
                now: datetime) -> OrderPostings:
    """Store ``orders`` with what they earn. The caller holds the accounts' locks (`ledger.lock_accounts`)."""
    if not orders:
        return OrderPostings([], [], [], [])
    session.flush()
    postings = sales.plan_orders(session, orders, _ids(session, len(orders)), source=source, actor=actor, now=now)
    insert_rows(session, Document.__table__, postings.documents)
    insert_rows(session, DocumentLine.__table__, postings.lines)
    insert_rows(session, DocumentCard.__table__, [
        {"document_id": row["id"], "card_id": order.card_id, "created_at": now}
        for order, row in zip(orders, postings.documents, strict=True) if order.card_id])
    rows.write_batch(session, postings.entries, postings.lots)
    outbox.runs.note_entries(session, postings.entries)  # announced per member when the import run ends
    return postings
