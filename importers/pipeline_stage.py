"""Staging an invoice or credit-note file: parse it once, put every line in its chunk, quarantine the unreadable.

A line's chunk (bucket) is decided by its document: the first line of a
document that names a known customer puts the whole document in bucket
``account_id % buckets``; a document whose first line does not (an unknown
customer, a bad row) goes by a hash of its key and will be quarantined whole
anyway. So every document lies in one bucket, and every account's documents
too: chunks are independent, and the lines of a document need not be next
to each other in the file. Rows that belong to no document (no DocEntry,
broken quoting) go to the quarantine; a value too long for its column makes
its row a bad row, which holds back its document in its chunk. A staged
line's ``seq`` is its line number in the file, so chunks read in file order.

On PostgreSQL a run stages into its own UNLOGGED partition of
``import_lines``, itself split by bucket: COPY fills it (no index to
maintain), a chunk reads its own sub-partition, and the run's staging goes
with one DROP. A big file is parsed in parts by several processes
(`pipeline_parts`), each committing its COPY; the run is marked staged only
when every part is in, together with the chunks and the quarantine of rows of
no document, in the caller's transaction. Unlogged tables are emptied if
PostgreSQL itself crashes; a chunk notices (`StagingLost`) and the run
re-stages.
"""
from __future__ import annotations

import math
import multiprocessing
import zlib
from dataclasses import dataclass, field, replace
from typing import Callable

from sqlalchemy import delete, insert, literal, select, text
from sqlalchemy.orm import Session

from engine import clock
from engine.domain import Origin, RowError
from engine.models import ImportChunk, ImportRun, QuarantinedRow, StagedLine
from engine.models.base import UTCDateTime
from engine.services import bulk
from importers import pipeline_parts
from importers.bulk_copy import NULL, cell, needs_escape
from importers.sap_b1 import SOURCE, InvoiceRow, MalformedFile, SapFile

COLUMNS = ("import_run_id", "bucket", "seq", "file_line", "doc_key", "error", "document_type", "number",
           "doc_date", "placed_at", "card_code", "currency", "cancelled", "base_key", "line_no", "sku",
           "quantity", "unit_price", "line_total", "name", "product_group", "brand", "base_line_no",
           "is_service", "raw", "extra")
ORPHANS = -1  # the bucket of rows that belong to no document: quarantined at the end of staging
BATCH = 2000
MAX_BUCKETS = 128
PART_MIN_BYTES = 8 << 20  # smaller files are parsed in one piece
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
    buckets: dict[int, int] = field(default_factory=dict)  # bucket → staged lines
    doc_bucket: dict[str, int] = field(default_factory=dict)


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
    """Turns parsed rows into staged rows (COPY text on PostgreSQL, value dicts on SQLite)."""

    def __init__(self, lookups: Session, run_id: int, buckets: int, postgres: bool):
        self.lookups, self.run_id, self.buckets, self.postgres = lookups, run_id, buckets, postgres
        self.accounts: dict[str, int | None] = {}  # CardCode → account id (None: unknown)
        self.dates: dict = {}
        self.result = Staged()

    def _bucket(self, key: str, card: str | None) -> int:
        found = self.result.doc_bucket.get(key)
        if found is None:
            account = self.accounts.get(card) if card else None
            found = account % self.buckets if account is not None else zlib.crc32(key.encode()) % self.buckets
            self.result.doc_bucket[key] = found
        return found

    def _iso(self, value) -> str:
        found = self.dates.get(value)
        if found is None:
            found = self.dates[value] = value.isoformat()
        return found

    def rows(self, batch: list) -> list:
        cards = {r.card_code for r in batch if type(r) is InvoiceRow and r.card_code not in self.accounts}
        if cards:
            known = bulk.find_members(self.lookups, cards)
            self.accounts.update({card: known[card].account_id if card in known else None for card in cards})
        out, run, result, counts = [], self.run_id, self.result, self.result.buckets
        iso, postgres = self._iso, self.postgres
        for r in batch:
            if type(r) is InvoiceRow:
                problem = _too_big(r)
                if problem is None:
                    bucket = self._bucket(r.doc_key, r.card_code)
                    counts[bucket] = counts.get(bucket, 0) + 1
                    (key, dtype, number, day, placed, card, _ref, cur, cancelled, base, line_no, sku, qty, price,
                     total, name, group, brand, base_line, service, _file, line, raw) = r
                    if postgres and not needs_escape(raw):  # every value comes from the clean raw line
                        out.append(
                            f"{run}\t{bucket}\t{line}\t{line}\t{key}\t{NULL}\t{dtype}\t{number}\t{iso(day)}\t"
                            f"{iso(placed)}\t{card}\t{cur}\t{'t' if cancelled else 'f'}\t"
                            f"{NULL if base is None else base}\t{line_no}\t{sku}\t{qty}\t{price}\t{total}\t{name}\t"
                            f"{group}\t{brand}\t{NULL if base_line is None else base_line}\t"
                            f"{'t' if service else 'f'}\t{raw}\t{NULL}\n")
                    else:
                        out.append(self._finish((run, bucket, line, line, key, None, dtype, number, iso(day),
                                                 iso(placed), card, cur, cancelled, base, line_no, sku, str(qty),
                                                 str(price), str(total), name, group, brand, base_line, service,
                                                 raw, None)))
                    continue
                r = RowError(Origin(SOURCE, r.file_name, r.file_line), r.raw, problem, {"doc_key": r.doc_key})
            if isinstance(r, RowError):
                key = r.extra.get("doc_key")
                bucket = self._bucket(key, None) if key else ORPHANS
                line = r.origin.line_no
                out.append(self._finish((run, bucket, line, line, key or "", r.reason, "", "", "", "", "", "", False,
                                         None, None, "", "", "", "", "", "", "", None, False, r.raw,
                                         r.extra or None)))
                if key:
                    counts[bucket] = counts.get(bucket, 0) + 1
                else:
                    result.quarantined += 1
            else:  # SkippedRow: a cancelling document (CANCELED=C)
                result.skipped += 1
        result.rows_read += len(batch)
        return out

    def _finish(self, row: tuple):
        return "\t".join(map(cell, row)) + "\n" if self.postgres else dict(zip(COLUMNS, row))


def _stage_rows(session: Session, stager: _Stager, rows, report: Progress | None, sap_file=None) -> Staged:
    """Stage an iterator of parsed rows through ``session`` (one COPY stream on PostgreSQL)."""
    def batches():
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                yield stager.rows(batch)
                batch = []
                if report is not None and sap_file is not None:
                    report("staging", sap_file.bytes_read, sap_file.size)
        yield stager.rows(batch)

    if stager.postgres:
        from psycopg.copy import QueuedLibpqWriter  # formats the next batch while the last one is sent
        from importers.bulk_copy import driver_cursor
        statement = f"COPY {partition(stager.run_id)} ({', '.join(COLUMNS)}) FROM STDIN"
        with driver_cursor(session) as cursor, cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
            for text in batches():
                copy.write("".join(text))
    else:
        for values in batches():
            if values:
                session.execute(insert(StagedLine), values)
    return stager.result


def _create_partitions(database, run_id: int, buckets: int) -> None:
    table = partition(run_id)
    statements = [f"DROP TABLE IF EXISTS {table}",
                  f"CREATE UNLOGGED TABLE {table} PARTITION OF import_lines FOR VALUES IN ({int(run_id)}) "
                  "PARTITION BY LIST (bucket)"]
    statements += [f"CREATE UNLOGGED TABLE {table}_b{b if b >= 0 else 'x'} PARTITION OF {table} "
                   f"FOR VALUES IN ({b})" for b in [ORPHANS, *range(buckets)]]
    with database.engine.begin() as connection:  # committed now: other processes COPY into it
        connection.exec_driver_sql(";\n".join(statements))


def _part(database, run_id: int, path: str, part, header, name: str, buckets: int, first: bool,
          report: Progress | None) -> Staged:
    """Parse one window and COPY its rows in a transaction of its own (PostgreSQL)."""
    with database.new_session() as session, database.new_session() as lookups:
        stager = _Stager(lookups, run_id, buckets, True)
        if first:
            with pipeline_parts.open_part(path, part, header.profile, name) as sap_file:
                result = _stage_rows(session, stager, sap_file, report, sap_file)
        else:
            result = _stage_rows(session, stager, pipeline_parts.part_rows(path, part, header, name), None)
        session.commit()
        return result


def _child(connection, database, *args) -> None:
    database.engine.dispose(close=False)  # never share the parent's connections after fork
    try:
        connection.send(("ok", _part(database, *args, False, None)))
    except MalformedFile as exc:
        connection.send(("cut", str(exc)))
    except BaseException as exc:  # report, then let the parent decide
        connection.send(("error", f"{exc.__class__.__name__}: {exc}"))
    finally:
        connection.close()


def _parallel(database, run: ImportRun, sap_file: SapFile, buckets: int, parts: int,
              report: Progress | None) -> list[Staged] | None:
    """Stage the file in parts, one process each; None when a cut fell inside a quoted field."""
    header = _header(sap_file)
    windows = pipeline_parts.cut(run.stored_path, sap_file.size, parts, sap_file.detected.encoding)
    context = multiprocessing.get_context("fork")
    children = []
    database.engine.dispose()
    for window in windows[1:]:
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_child, args=(send, database, run.id, run.stored_path, window, header,
                                                       run.filename, buckets), daemon=True)
        process.start()
        send.close()
        children.append((process, receive))
    results, cut_inside_quotes = [], False
    try:
        results.append(_part(database, run.id, run.stored_path, windows[0], header, run.filename, buckets, True,
                             report))
    except MalformedFile:
        cut_inside_quotes = True
    for process, receive in children:
        try:
            status, value = receive.recv()
        except EOFError:
            status, value = "error", f"the process of a part ended with code {process.exitcode}"
        process.join()
        if status == "cut":
            cut_inside_quotes = True
        elif status == "error":
            raise RuntimeError(f"a staging part failed: {value}")
        else:
            results.append(value)
    return None if cut_inside_quotes else results


def _header(sap_file: SapFile) -> pipeline_parts.Header:
    header = pipeline_parts.Header.of(sap_file)
    return replace(header, profile=pipeline_parts.fixed(header.profile, header.encoding))


def _merge(session: Session, run_id: int, results: list[Staged]) -> Staged:
    """One result from the parts: a document met in several parts goes where its first part put it."""
    merged, moves = Staged(), []
    for result in results:
        merged.rows_read += result.rows_read
        merged.skipped += result.skipped
        merged.quarantined += result.quarantined
        for bucket, lines in result.buckets.items():
            merged.buckets[bucket] = merged.buckets.get(bucket, 0) + lines
        for key, bucket in result.doc_bucket.items():
            target = merged.doc_bucket.setdefault(key, bucket)
            if target != bucket:
                moves.append((key, bucket, target))
    for start in range(0, len(moves), 500):  # rare: one scan of the staging per 500 documents
        part = moves[start:start + 500]
        values = ", ".join(f"(:k{i}, :s{i}, :t{i})" for i in range(len(part)))
        params = {"run": run_id}
        for i, (key, source, target) in enumerate(part):
            params.update({f"k{i}": key, f"s{i}": source, f"t{i}": target})
        moved = session.execute(text(
            f"UPDATE import_lines SET bucket = m.target FROM (VALUES {values}) AS m(key, source, target) "
            "WHERE import_run_id = :run AND doc_key = m.key AND bucket = m.source RETURNING m.source, m.target"),
            params).all()
        for source, target in moved:
            merged.buckets[source] -= 1
            merged.buckets[target] = merged.buckets.get(target, 0) + 1
    return merged


def stage(database, session: Session, run: ImportRun, sap_file: SapFile, *, chunk_lines: int, head_bytes: bytes,
          parts: int = 1, report: Progress | None = None, again: bool = False) -> Staged:
    """Stage ``sap_file`` (opened and checked by the caller) and create the run's chunks in ``session``.

    ``again``: staging was lost after it committed once; its rows of no document are quarantined already.
    """
    buckets = bucket_count(sap_file.size, head_bytes, chunk_lines)
    if session.get_bind().dialect.name == "postgresql":
        results = None
        if parts > 1 and sap_file.size >= PART_MIN_BYTES:
            _create_partitions(database, run.id, buckets)
            results = _parallel(database, run, sap_file, buckets, parts, report)
        if results is None:  # one piece (small file, or a cut inside a quoted field)
            _create_partitions(database, run.id, buckets)
            whole = pipeline_parts.Part(0, sap_file.size, 1)
            results = [_part(database, run.id, run.stored_path, whole, _header(sap_file), run.filename, buckets,
                             True, report)]
        result = _merge(session, run.id, results)
    else:
        stager = _Stager(session, run.id, buckets, False)
        result = _stage_rows(session, stager, sap_file, report, sap_file)
    result.lines = sum(n for bucket, n in result.buckets.items() if bucket != ORPHANS)
    _quarantine_orphans(session, run, keep=not again)
    documents: dict[int, int] = {}
    for bucket in result.doc_bucket.values():
        documents[bucket] = documents.get(bucket, 0) + 1
    done = set(session.execute(select(ImportChunk.chunk_no).where(ImportChunk.import_run_id == run.id)).scalars())
    for bucket, lines in sorted(result.buckets.items()):
        if bucket not in done and lines:  # a re-stage after lost staging leaves applied chunks alone
            session.add(ImportChunk(import_run_id=run.id, chunk_no=bucket, status="pending", lines=lines,
                                    documents=documents.get(bucket, 0), applied=0, duplicates=0, quarantined=0,
                                    bulk_documents=0, worker=""))
    session.flush()
    return result


def _quarantine_orphans(session: Session, run: ImportRun, keep: bool = True) -> None:
    """Rows that belong to no document go to the quarantine, set-based, in the staging transaction."""
    session.flush()
    s = StagedLine
    if keep:
        rows = (select(s.import_run_id, s.file_line, s.raw, s.error, s.extra, literal(clock.now(), UTCDateTime()))
                .where(s.import_run_id == run.id, s.bucket == ORPHANS).order_by(s.seq))
        columns = ["import_run_id", "line_no", "raw", "reason", "details", "created_at"]
        session.execute(insert(QuarantinedRow).from_select(columns, rows))
    session.execute(delete(s).where(s.import_run_id == run.id, s.bucket == ORPHANS))


def drop(session: Session, run_id: int) -> None:
    """Forget a finished run's staged lines (one DROP on PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql(f"DROP TABLE IF EXISTS {partition(run_id)}")
    else:
        session.execute(delete(StagedLine).where(StagedLine.import_run_id == run_id))
