"""Staging an invoice or credit-note file: parse it once, put every line in its chunk, quarantine the unreadable.

A line's chunk (bucket) is decided by its document: the first line of a
document that names a known customer puts the whole document in bucket
``account_id % buckets``; a document whose first line does not (an
unknown customer, a bad row) goes by a hash of its key and will be
quarantined whole anyway. So every document lies in one bucket, and every
account's documents too: chunks are independent, and the lines of a
document need not be next to each other in the file. Rows that belong to
no document (no DocEntry, broken quoting) go to the quarantine; values too
long for their column make their row a bad row, which holds back its
document in its chunk.

On PostgreSQL a run stages into its own UNLOGGED partition of
``import_lines``, itself split by bucket: one COPY stream fills it (no index
to maintain), a chunk reads its own sub-partition, and the whole run's
staging goes with one DROP. Unlogged tables are emptied if PostgreSQL
itself crashes; the chunk notices (`StagingLost`) and the run re-stages.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import delete, insert, literal, select
from sqlalchemy.orm import Session

from engine.domain import Origin, RowError
from engine import clock
from engine.models import ImportChunk, ImportRun, QuarantinedRow, StagedLine
from engine.models.base import UTCDateTime
from engine.services import bulk
from importers.bulk_copy import NULL, cell, driver_cursor, needs_escape
from importers.sap_b1 import SOURCE, InvoiceRow, SapFile

COLUMNS = ("import_run_id", "bucket", "seq", "file_line", "doc_key", "error", "document_type", "number",
           "doc_date", "placed_at", "card_code", "currency", "cancelled", "base_key", "line_no", "sku",
           "quantity", "unit_price", "line_total", "name", "product_group", "brand", "base_line_no",
           "is_service", "raw", "extra")
ORPHANS = -1  # the bucket of rows that belong to no document: quarantined at the end of staging
BATCH = 2000
MAX_BUCKETS = 128
LIMITS = (("ItemCode", 11, 64), ("ItmsGrpCod", 16, 64), ("Brand", 17, 64), ("DocNum", 2, 64), ("CardCode", 5, 64))
BIGGEST = 10 ** 14  # NUMERIC(18, 4)

Progress = Callable[[str, int, int], None]


class StagingLost(RuntimeError):
    """A chunk's staged lines are gone (PostgreSQL crashed and emptied the unlogged staging)."""


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


def _too_big(row: InvoiceRow) -> str | None:
    """Why a parsed line cannot be stored as it is (a value longer or larger than its column)."""
    if len(row.doc_key) > 100:
        return f'DocEntry "{row.doc_key[3:43]}…" is longer than 97 characters'
    for column, index, limit in LIMITS:
        if len(row[index]) > limit:
            return f'{column} "{row[index][:40]}…" is longer than {limit} characters'
    if len(row.currency) > 3:
        return f'DocCur "{row.currency}" is not a three-letter currency code'
    if abs(row.line_total) >= BIGGEST or abs(row.quantity) >= BIGGEST or abs(row.unit_price) >= BIGGEST:
        return "a number in this row is too large to store"
    return None


class _Stager:
    def __init__(self, session: Session, lookups: Session, run: ImportRun, buckets: int):
        self.session, self.lookups, self.run, self.buckets = session, lookups, run, buckets
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

    def _iso(self, value) -> str:
        found = self.dates.get(value)
        if found is None:
            found = self.dates[value] = value.isoformat()
        return found

    def rows(self, batch: list) -> list[tuple]:
        """Staged rows (value tuples in COLUMNS order) for a batch of (seq, parsed row)."""
        new_cards = {r.card_code for _s, r in batch if type(r) is InvoiceRow and r.card_code not in self.accounts}
        if new_cards:
            known = bulk.find_members(self.lookups, new_cards)
            self.accounts.update({card: known[card].account_id if card in known else None for card in new_cards})
        out, run_id, counts = [], self.run.id, self.result.buckets
        for seq, r in batch:
            if type(r) is InvoiceRow:
                problem = _too_big(r)
                if problem is None:
                    bucket = self._bucket(r.doc_key, r.card_code)
                    out.append((run_id, bucket, seq, r.file_line, r.doc_key, None, r.document_type, r.number,
                                self._iso(r.doc_date), self._iso(r.placed_at), r.card_code, r.currency,
                                r.cancelled, r.base_external_id, r.line_no, r.sku, r.quantity, r.unit_price,
                                r.line_total, r.name, r.product_group, r.brand, r.base_line_no, r.is_service,
                                r.raw, None))
                    counts[bucket][0] += 1
                    continue
                r = RowError(Origin(SOURCE, r.file_name, r.file_line), r.raw, problem, {"doc_key": r.doc_key})
            if isinstance(r, RowError):
                key = r.extra.get("doc_key")
                bucket = self._bucket(key, None) if key else ORPHANS
                out.append((run_id, bucket, seq, r.origin.line_no, key or "", r.reason, "", "", "", "", "", "",
                            False, None, None, "", "", "", "", "", "", "", None, False, r.raw, r.extra or None))
                if key:
                    counts[bucket][0] += 1
                else:
                    self.result.quarantined += 1
            else:  # SkippedRow: a cancelling document (CANCELED=C)
                self.result.skipped += 1
        return out


def _text(rows: list[tuple]) -> str:
    """COPY text for staged rows; good lines with clean raw text take the one-f-string path."""
    out = []
    for row in rows:
        (run, bucket, seq, file_line, key, error, dtype, number, day, placed, card, cur, cancelled, base,
         line_no, sku, qty, price, total, name, group, brand, base_line, service, raw, _extra) = row
        if error is None and not needs_escape(raw):
            out.append(f"{run}\t{bucket}\t{seq}\t{file_line}\t{key}\t{NULL}\t{dtype}\t{number}\t{day}\t{placed}\t"
                       f"{card}\t{cur}\t{'t' if cancelled else 'f'}\t{NULL if base is None else base}\t{line_no}\t"
                       f"{sku}\t{qty}\t{price}\t{total}\t{name}\t{group}\t{brand}\t"
                       f"{NULL if base_line is None else base_line}\t{'t' if service else 'f'}\t{raw}\t{NULL}\n")
        else:
            out.append("\t".join(map(cell, row)) + "\n")
    return "".join(out)


def _create_partitions(session: Session, run_id: int, buckets: int) -> None:
    table = partition(run_id)
    statements = [f"CREATE UNLOGGED TABLE IF NOT EXISTS {table} PARTITION OF import_lines "
                  f"FOR VALUES IN ({int(run_id)}) PARTITION BY LIST (bucket)"]
    statements += [f"CREATE UNLOGGED TABLE IF NOT EXISTS {table}_b{b if b >= 0 else 'x'} PARTITION OF {table} "
                   f"FOR VALUES IN ({b})" for b in [ORPHANS, *range(buckets)]]
    session.connection().exec_driver_sql(";\n".join(statements))


def stage(session: Session, run: ImportRun, sap_file: SapFile, *, chunk_lines: int, head: bytes = b"",
          lookups: Session | None = None, on_progress: Progress | None = None, again: bool = False) -> Staged:
    """Parse ``sap_file`` into the run's staging lines and chunks (in ``session``'s transaction).

    ``lookups`` (another connection) finds customers while ``session`` streams the COPY. ``again``:
    staging was lost after it committed once; its rows of no document are in the quarantine already.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    buckets = bucket_count(sap_file.size, head, chunk_lines)
    stager = _Stager(session, lookups if postgres and lookups is not None else session, run, buckets)
    batches = _batches(sap_file, stager, on_progress)
    if postgres:
        from psycopg.copy import QueuedLibpqWriter  # formats the next batch while the last one is sent
        _create_partitions(session, run.id, buckets)
        statement = f"COPY {partition(run.id)} ({', '.join(COLUMNS)}) FROM STDIN"
        with driver_cursor(session) as cursor:
            with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
                for rows in batches:
                    copy.write(_text(rows))
    else:
        for rows in batches:  # SQLite: decimals as text (staging keeps the parser's text everywhere)
            session.execute(insert(StagedLine), [
                dict(zip(COLUMNS, row[:16] + (str(row[16]), str(row[17]), str(row[18])) + row[19:]))
                if row[5] is None else dict(zip(COLUMNS, row)) for row in rows])
    result = stager.result
    _quarantine_orphans(session, run, keep=not again)
    done = set(session.execute(select(ImportChunk.chunk_no).where(ImportChunk.import_run_id == run.id)).scalars())
    for bucket, (lines, documents) in sorted(result.buckets.items()):
        if bucket not in done:  # a re-stage after lost staging leaves applied chunks alone
            session.add(ImportChunk(import_run_id=run.id, chunk_no=bucket, status="pending", lines=lines,
                                    documents=documents, applied=0, duplicates=0, quarantined=0,
                                    bulk_documents=0, worker=""))
    session.flush()
    return result


def _batches(sap_file: SapFile, stager: _Stager, on_progress: Progress | None):
    batch, seq = [], 0
    for row in sap_file:
        seq += 1
        batch.append((seq, row))
        if len(batch) >= BATCH:
            yield stager.rows(batch)
            batch = []
            if on_progress is not None:
                on_progress("staging", sap_file.bytes_read, sap_file.size)
    yield stager.rows(batch)
    stager.result.rows_read = seq


def _quarantine_orphans(session: Session, run: ImportRun, keep: bool = True) -> None:
    """Rows that belong to no document go to the quarantine, set-based, in the staging transaction."""
    session.flush()
    s = StagedLine
    if not keep:
        session.execute(delete(s).where(s.import_run_id == run.id, s.bucket == ORPHANS))
        return
    rows = (select(s.import_run_id, s.file_line, s.raw, s.error, s.extra, literal(clock.now(), UTCDateTime()))
            .where(s.import_run_id == run.id, s.bucket == ORPHANS).order_by(s.seq))
    columns = ["import_run_id", "line_no", "raw", "reason", "details", "created_at"]
    session.execute(insert(QuarantinedRow).from_select(columns, rows))
    session.execute(delete(StagedLine).where(StagedLine.import_run_id == run.id, StagedLine.bucket == ORPHANS))


def drop(session: Session, run_id: int) -> None:
    """Forget a finished run's staged lines (one DROP on PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql(f"DROP TABLE IF EXISTS {partition(run_id)}")
    else:
        session.execute(delete(StagedLine).where(StagedLine.import_run_id == run_id))
