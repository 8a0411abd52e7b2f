"""Documents a chunk at a time: which are already stored, and COPY of new ones with their lines.

The text rows are written by hand for speed (a million lines per import);
their column lists are checked against the model tables by the tests.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import Document
from engine.models.bulk import NULL, batches, copy_text, esc, needs_escape, one_of, run

DOCUMENT_COLUMNS = ("id", "source", "external_id", "document_type", "number", "member_id", "account_id", "channel",
                    "store", "currency", "placed_at", "status", "total", "shipping_total", "content_hash", "earned",
                    "absorbed", "accrued_at", "policy_version_id", "member_snapshot", "created_at", "updated_at")
LINE_COLUMNS = ("document_id", "line_no", "sku", "name", "product_group", "brand", "quantity", "unit_price",
                "line_total", "is_promo", "points_per_unit", "returned_quantity", "returned_total", "points", "tags")


def existing_documents(session: Session, source: str, keys: Iterable[str]) -> dict[str, tuple[str, str]]:
    """external_id → (content_hash, status) of the documents already stored."""
    out: dict[str, tuple[str, str]] = {}
    for part in batches(keys):
        stmt = select(Document.external_id, Document.content_hash, Document.status).where(
            Document.source == source, one_of(session, Document.external_id, part))
        out.update({row.external_id: (row.content_hash, row.status) for row in run(session, stmt)})
    return out


def _n(value) -> str:
    return NULL if value is None else str(value)


def _documents(rows, source: str, now: str) -> Iterable[str]:
    for doc_id, key, number, member_id, account_id, currency, placed_at, status, total, fingerprint, earned, \
            accrued_at, version_id, snapshot in rows:
        texts = key + number + currency
        if needs_escape(texts):
            key, number, currency = esc(key), esc(number), esc(currency)
        yield (f"{doc_id}\t{source}\t{key}\tinvoice\t{number}\t{member_id}\t{account_id}\terp\t\t{currency}\t"
               f"{placed_at.isoformat()}\t{status}\t{total}\t0\t{fingerprint}\t{earned}\t0\t"
               f"{NULL if accrued_at is None else now}\t{_n(version_id)}\t{NULL if snapshot is None else esc(snapshot)}"
               f"\t{now}\t{now}\n")


def write_documents(session: Session, documents: list, lines: list, *, source: str, now: datetime) -> None:
    """COPY new ERP invoices (rows as `engine.accrual.batch` plans them) and then their lines (COPY text in
    `LINE_COLUMNS` order, which the planner writes as it goes: one string per line, no row tuple between)."""
    if documents:
        moment = now.isoformat()
        copy_text(session, "documents", DOCUMENT_COLUMNS, _documents(documents, esc(source), moment))
        copy_text(session, "document_lines", LINE_COLUMNS, lines)
