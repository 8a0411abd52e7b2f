"""Staging an invoice or credit-note file: parse it once, put every line in its chunk, quarantine the unreadable.

A line's chunk (bucket) is decided by its document: the first line of a
document that names a known customer puts the whole document in bucket
``account_id % buckets``; a document whose first line does not (an
unknown customer, a bad row) goes by a hash of its key and will be
quarantined whole anyway. So every document lies in one bucket, and every
account's documents too: chunks are independent and the lines of a
document need not be next to each other in the file. Rows that cannot be
tied to a document (no DocEntry, broken quoting) are quarantined here; the
rest waits for its chunk, where whole documents are checked.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import insert
from sqlalchemy.orm import Session

from engine.domain import RowError
from engine.models import ImportChunk, ImportRun, StagedLine
from engine.services import bulk, imports
from importers.bulk_copy import NULL, cell, copy_text, esc, needs_escape
from importers.sap_b1 import InvoiceRow, SapFile

COLUMNS = ("import_run_id", "bucket", "seq", "file_line", "doc_key", "error", "document_type", "number",
           "doc_date", "placed_at", "card_code", "currency", "cancelled", "base_key", "line_no", "sku",
           "quantity", "unit_price", "line_total", "name", "product_group", "brand", "base_line_no",
           "is_service", "raw", "extra")
BATCH = 5000
MAX_BUCKETS = 512
_SAMPLE = 1 << 16

Progress = Callable[[str, int, int], None]


@dataclass
class Staged:
    rows_read: int = 0
    lines: int = 0
    skipped: int = 0
    quarantined: int = 0
    buckets: dict[int, list[int]] = field(default_factory=dict)  # bucket → [lines, documents]


def partition(run_id: int) -> str:
    return f"import_lines_r{int(run_id)}"


def bucket_count(path_size: int, head: bytes, chunk_lines: int) -> int:
    """How many chunks: the file's estimated line count (from its first 64 KiB) / chunk size."""
    lines = max(head.count(b"\n"), 1)
    estimate = path_size / (len(head) / lines) if head else 1
    return max(1, min(MAX_BUCKETS, math.ceil(estimate / max(chunk_lines, 1))))


def _pg_lines(rows: list[tuple]) -> list[str]:
    out = []
    for row in rows:
        if row[5] is None and not needs_escape(row[24]):  # a good line whose raw text is clean
            (run, bucket, seq, file_line, key, _e, dtype, number, day, placed, card, cur, cancelled, base,
             line_no, sku, qty, price, total, name, group, brand, base_line, service, raw, _x) = row
            out.append(f"{run}\t{bucket}\t{seq}\t{file_line}\t{key}\t{NULL}\t{dtype}\t{number}\t{day}\t{placed}\t"
                       f"{card}\t{cur}\t{'t' if cancelled else 'f'}\t{NULL if base is None else base}\t{line_no}\t"
                       f"{sku}\t{qty}\t{price}\t{total}\t{name}\t{group}\t{brand}\t"
                       f"{NULL if base_line is None else base_line}\t{'t' if service else 'f'}\t{raw}\t{NULL}\n")
        else:
            out.append("\t".join(map(cell, row)) + "\n")
    return out


class _Stager:
    def __init__(self, session: Session, run: ImportRun, buckets: int):
        self.session, self.run, self.buckets = session, run, buckets
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self.table = partition(run.id) if self.postgres else StagedLine.__tablename__
        self.accounts: dict[str, int | None] = {}  # CardCode → account id (None: unknown)
        self.doc_bucket: dict[str, int] = {}
        self.dates: dict = {}
        self.result = Staged()

    def _bucket(self, key: str, card: str | None) -> int:
        found = self.doc_bucket.get(key)
        if found is None:
            account = self.accounts.get(card) if card else None
            found = account % self.buckets if account is not None else zlib.crc32(key.encode()) % self.buckets
            self.doc_bucket[key] = found
            self.result.buckets.setdefault(found, [0, 0])[1] += 1
        return found

    def _text(self, value) -> str:
        found = self.dates.get(value)
        if found is None:
            found = self.dates[value] = value.isoformat()
        return found

    def flush(self, batch: list) -> None:
        new_cards = {r.card_code for _seq, r in batch if type(r) is InvoiceRow and r.card_code not in self.accounts}
        if new_cards:
            known = bulk.find_members(self.session, new_cards)
            for card in new_cards:
                self.accounts[card] = known[card].account_id if card in known else None
        rows, errors, run_id, result = [], [], self.run.id, self.result
        for seq, r in batch:
            if type(r) is InvoiceRow:
                bucket = self._bucket(r.doc_key, r.card_code)
                rows.append((run_id, bucket, seq, r.file_line, r.doc_key, None, r.document_type, r.number,
                             self._text(r.doc_date), self._text(r.placed_at), r.card_code, r.currency,
                             r.cancelled, r.base_external_id, r.line_no, r.sku, str(r.quantity),
                             str(r.unit_price), str(r.line_total), r.name, r.product_group, r.brand,
                             r.base_line_no, r.is_service, r.raw, None))
            elif isinstance(r, RowError) and r.extra.get("doc_key"):
                key = r.extra["doc_key"]
                bucket = self._bucket(key, None)
                rows.append((run_id, bucket, seq, r.origin.line_no, key, r.reason, "", "", "", "", "", "", False,
                             None, None, "", "", "", "", "", "", "", None, False, r.raw, r.extra))
            elif isinstance(r, RowError):
                errors.append(r)
                continue
            else:  # SkippedRow: a cancelling document (CANCELED=C)
                result.skipped += 1
                continue
            result.buckets[bucket][0] += 1
        if rows:
            if self.postgres:
                copy_text(self.session, self.table, COLUMNS, _pg_lines(rows))
            else:
                self.session.execute(insert(StagedLine), [dict(zip(COLUMNS, row)) for row in rows])
            result.lines += len(rows)
        for error in errors:
            imports.quarantine(self.session, self.run, error)
        if errors:
            self.session.flush()
            result.quarantined += len(errors)


def stage(session: Session, run: ImportRun, sap_file: SapFile, *, chunk_lines: int,
          head: bytes = b"", on_progress: Progress | None = None) -> Staged:
    """Parse ``sap_file`` into the run's staging lines and chunks (in the caller's transaction)."""
    buckets = bucket_count(sap_file.size, head, chunk_lines)
    stager = _Stager(session, run, buckets)
    if stager.postgres:
        session.connection().exec_driver_sql(
            f"CREATE TABLE {stager.table} PARTITION OF import_lines FOR VALUES IN ({int(run.id)})")
    batch: list = []
    seq = 0
    for row in sap_file:
        seq += 1
        batch.append((seq, row))
        if len(batch) >= BATCH:
            stager.flush(batch)
            batch = []
            if on_progress is not None:
                on_progress("staging", sap_file.bytes_read, sap_file.size)
    stager.flush(batch)
    result = stager.result
    result.rows_read = seq
    for bucket, (lines, documents) in sorted(result.buckets.items()):
        session.add(ImportChunk(import_run_id=run.id, chunk_no=bucket, status="pending", lines=lines,
                                documents=documents, applied=0, duplicates=0, quarantined=0,
                                bulk_documents=0, worker=""))
    session.flush()
    return result


def drop(session: Session, run_id: int) -> None:
    """Forget a finished run's staged lines (one DROP on PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql(f"DROP TABLE IF EXISTS {partition(run_id)}")
    else:
        session.query(StagedLine).filter(StagedLine.import_run_id == run_id).delete(synchronize_session=False)


__all__ = ["COLUMNS", "Staged", "bucket_count", "drop", "partition", "stage", "esc"]
