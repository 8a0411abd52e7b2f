"""PostgreSQL COPY for the import pipeline: text-format rows, escaped once, streamed in blocks.

psycopg 3's ``cursor.copy`` takes the rows; building the text here (rather
than ``write_row`` per value) lets the hot tables (staged lines, document
lines) use one f-string per row and skip escaping when the source line holds
no backslash, tab or line break, which is nearly always.
"""
from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Iterable, Sequence

from sqlalchemy.orm import Session

from engine.services import bulk

NULL = "\\N"
_BLOCK = 1 << 20  # characters per write: big enough to amortise, small enough to stay flat


def esc(value: str) -> str:
    """Escape a text value for COPY's text format."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def needs_escape(value: str) -> bool:
    return "\\" in value or "\t" in value or "\n" in value or "\r" in value


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
    """The psycopg cursor of the session's connection (same transaction as the ORM)."""
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


def _line_text(rows: Iterable[tuple]) -> Iterable[str]:
    """document_lines rows (`bulk.LINE_COLUMNS`), the million-row table, formatted by hand."""
    for (doc_id, line_no, sku, name, group, brand, quantity, price, total, _promo, per_unit, _rq, _rt,
         points) in rows:
        texts = sku + name + group + brand
        if needs_escape(texts):
            sku, name, group, brand = esc(sku), esc(name), esc(group), esc(brand)
        yield (f"{doc_id}\t{line_no}\t{sku}\t{name}\t{group}\t{brand}\t{quantity}\t{price}\t{total}\tf\t"
               f"{NULL if per_unit is None else per_unit}\t0\t0\t{NULL if points is None else points}\n")


def write_postings(session: Session, postings: bulk.Postings) -> None:
    """Write what `bulk.plan_invoices` planned: documents first, then what points at them."""
    if postings.documents:
        copy_rows(session, "documents", bulk.DOCUMENT_COLUMNS, postings.documents)
        copy_text(session, "document_lines", bulk.LINE_COLUMNS, _line_text(postings.lines))
    if postings.entries:
        copy_rows(session, "ledger_entries", bulk.ENTRY_COLUMNS, postings.entries)
        copy_rows(session, "lots", bulk.LOT_COLUMNS, postings.lots)
