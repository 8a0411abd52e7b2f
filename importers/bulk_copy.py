"""PostgreSQL COPY for the import pipeline: text-format rows, escaped once, streamed in blocks.

psycopg 3's ``cursor.copy`` takes the rows; building the text here (rather
than ``write_row`` per value) lets the hot tables use one f-string per row
and skip escaping when the text holds no backslash, tab or line break, which
is nearly always. `write_postings` fills the columns that are the same for
every row of a set-based import (channel, kind, actor, …) itself.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from engine.accrual import batch

NULL = "\\N"
_BLOCK = 1 << 20  # characters per write: big enough to amortise, small enough to stay flat


def needs_escape(value: str) -> bool:
    return "\\" in value or "\t" in value or "\n" in value or "\r" in value


def esc(value: str) -> str:
    """Escape a text value for COPY's text format."""
    if needs_escape(value):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def cell(value) -> str:
    """One value of any type the pipeline writes, as COPY text."""
    if value is None:
        return NULL
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        return esc(value)
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return esc(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    return esc(str(value))


def driver_cursor(session: Session):
    """A psycopg cursor on the session's connection (same transaction as the ORM)."""
    return session.connection().connection.driver_connection.cursor()


def copy_text(session: Session, table: str, columns: Sequence[str], lines: Iterable[str]) -> int:
    """COPY pre-formatted lines (each ending in a newline) into ``table``; returns how many."""
    count = 0
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with driver_cursor(session) as cursor, cursor.copy(statement) as copy:
        block, size = [], 0
        for line in lines:
            block.append(line)
            size += len(line)
            count += 1
            if size >= _BLOCK:
                copy.write("".join(block))
                block, size = [], 0
        if block:
            copy.write("".join(block))
    return count


def copy_rows(session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """COPY rows of Python values (any type `cell` knows)."""
    return copy_text(session, table, columns, ("\t".join(map(cell, row)) + "\n" for row in rows))


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


def _lines(rows) -> Iterable[str]:
    for doc_id, line_no, sku, name, group, brand, quantity, price, total, per_unit, points in rows:
        if needs_escape(sku + name + group + brand):
            sku, name, group, brand = esc(sku), esc(name), esc(group), esc(brand)
        yield (f"{doc_id}\t{line_no}\t{sku}\t{name}\t{group}\t{brand}\t{quantity}\t{price}\t{total}\tf\t"
               f"{_n(per_unit)}\t0\t0\t{_n(points)}\n")


def _entries(rows, actor: str, now: str) -> Iterable[str]:
    actor = esc(actor)
    for entry_id, account_id, amount, key, member_id, doc_id, version_id, trace, effective_at in rows:
        yield (f"{entry_id}\t{account_id}\taccrual\t{amount}\t{esc(key)}\t{actor}\t{member_id}\t{doc_id}\t"
               f"{_n(version_id)}\t{esc(trace)}\t{effective_at.isoformat()}\t{now}\n")


def _lots(rows) -> Iterable[str]:
    for account_id, entry_id, amount, available_at, expires_at in rows:
        yield (f"{account_id}\t{entry_id}\t{amount}\t{amount}\t{available_at.isoformat()}\t"
               f"{NULL if expires_at is None else expires_at.isoformat()}\n")


DOCUMENT_COLUMNS = ("id", "source", "external_id", "document_type", "number", "member_id", "account_id", "channel",
                    "store", "currency", "placed_at", "status", "total", "shipping_total", "content_hash", "earned",
                    "absorbed", "accrued_at", "policy_version_id", "member_snapshot", "created_at", "updated_at")
LINE_COLUMNS = ("document_id", "line_no", "sku", "name", "product_group", "brand", "quantity", "unit_price",
                "line_total", "is_promo", "points_per_unit", "returned_quantity", "returned_total", "points")
ENTRY_COLUMNS = ("id", "account_id", "kind", "amount", "idempotency_key", "actor", "member_id", "document_id",
                 "policy_version_id", "trace", "effective_at", "created_at")
LOT_COLUMNS = ("account_id", "entry_id", "amount", "remaining", "available_at", "expires_at")


def write_postings(session: Session, postings: batch.Postings, *, source: str, actor: str, now: datetime) -> None:
    """Write what `batch.plan_invoices` planned: documents first, then what points at them."""
    moment = now.isoformat()
    if postings.documents:
        copy_text(session, "documents", DOCUMENT_COLUMNS, _documents(postings.documents, esc(source), moment))
        copy_text(session, "document_lines", LINE_COLUMNS, _lines(postings.lines))
    if postings.entries:
        copy_text(session, "ledger_entries", ENTRY_COLUMNS, _entries(postings.entries, actor, moment))
        copy_text(session, "lots", LOT_COLUMNS, _lots(postings.lots))
