"""New orders a chunk at a time (1C): planned set-based by the accrual, written in a few statements.

`engine.accrual.sales` plans the rows `orders.record_purchase` writes for each order; here documents,
their lines and the cards they were booked on are inserted (COPY on PostgreSQL, executemany
elsewhere), then the entries and lots by the ledger's one bulk writer (`ledger.write_batch`). The
accruals are held for the import run (`outbox.runs`), as the set-based invoices' are.
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy.orm import Session

from engine import outbox
from engine.accrual import sales
from engine.accrual.sales import BulkOrder, OrderPostings
from engine.ledger import rows
from engine.models import Document, DocumentCard, DocumentLine
from engine.models.bulk import NULL, copy_text, esc, insert_rows, is_postgres, new_ids

DOCUMENT_COLUMNS = ("id", "source", "external_id", "document_type", "number", "member_id", "account_id", "channel",
                    "store", "currency", "placed_at", "status", "total", "shipping_total", "version", "content_hash",
                    "earned", "absorbed", "accrued_at", "policy_version_id", "member_snapshot", "created_at",
                    "updated_at")
LINE_COLUMNS = ("document_id", "line_no", "sku", "name", "product_group", "brand", "quantity", "unit_price",
                "line_total", "is_promo", "points_per_unit", "returned_quantity", "returned_total", "points", "tags")


def _t(value) -> str:
    return NULL if value is None else esc(value)


def _n(value) -> str:
    return NULL if value is None else str(value)


def _document_text(d: dict) -> str:
    snapshot = d["member_snapshot"]
    return (f"{d['id']}\t{esc(d['source'])}\t{esc(d['external_id'])}\torder\t{esc(d['number'])}\t{d['member_id']}\t"
            f"{d['account_id']}\t{esc(d['channel'])}\t{esc(d['store'])}\t{esc(d['currency'])}\t"
            f"{d['placed_at'].isoformat()}\t{d['status']}\t{d['total']}\t{d['shipping_total']}\t{_t(d['version'])}\t"
            f"{d['content_hash']}\t{d['earned']}\t0\t{NULL if d['accrued_at'] is None else d['accrued_at'].isoformat()}"
            f"\t{_n(d['policy_version_id'])}\t{NULL if snapshot is None else esc(json.dumps(snapshot))}\t"
            f"{d['created_at'].isoformat()}\t{d['updated_at'].isoformat()}\n")


def _line_text(l: dict) -> str:
    tags = l["tags"]
    return (f"{l['document_id']}\t{l['line_no']}\t{esc(l['sku'])}\t{esc(l['name'])}\t{esc(l['product_group'])}\t"
            f"{esc(l['brand'])}\t{l['quantity']}\t{l['unit_price']}\t{l['line_total']}\t{'t' if l['is_promo'] else 'f'}"
            f"\t{_n(l['points_per_unit'])}\t0\t0\t{_n(l['points'])}\t{NULL if not tags else esc(json.dumps(tags))}\n")


def post_orders(session: Session, orders: list[BulkOrder], *, source: str, actor: str,
                now: datetime) -> OrderPostings:
    """Store ``orders`` with what they earn. The caller holds the accounts' locks (`ledger.lock_accounts`)."""
    if not orders:
        return OrderPostings([], [], [], [])
    session.flush()
    ids = new_ids(session, Document.__table__, len(orders))
    postings = sales.plan_orders(session, orders, ids, source=source, actor=actor, now=now)
    if is_postgres(session):  # the hot tables as text by hand, as `store` writes invoices
        copy_text(session, Document.__tablename__, DOCUMENT_COLUMNS, map(_document_text, postings.documents))
        copy_text(session, DocumentLine.__tablename__, LINE_COLUMNS, map(_line_text, postings.lines))
    else:
        insert_rows(session, Document.__table__, postings.documents)
        insert_rows(session, DocumentLine.__table__, postings.lines)
    insert_rows(session, DocumentCard.__table__, [
        {"document_id": row["id"], "card_id": order.card_id, "created_at": now}
        for order, row in zip(orders, postings.documents, strict=True) if order.card_id])
    rows.write_batch(session, postings.entries, postings.lots)
    outbox.runs.note_entries(session, postings.entries)  # announced per member when the import run ends
    return postings
