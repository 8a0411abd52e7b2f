"""Staging an invoice or credit-note file: read it once, put every record in its chunk, quarantine the unreadable.

A record's chunk (bucket) is decided by its document: the document's first
record, if its CardCode is a known customer, puts the whole document in
bucket ``account_id % buckets``; otherwise (an unknown customer) a hash of
the document key decides, and the document will be quarantined whole. So
every document lies in one bucket, and every account's documents too:
chunks are independent, and the lines of a document need not be next to
each other in the file. Records that belong to no document (no DocEntry,
broken quoting, a wrong number of fields) go to the quarantine. Records are
staged as text and mapped by the chunk that applies them
(`parts.Mapper`). A staged record's ``seq`` is its line number in
the file, so chunks read in file order.

On PostgreSQL a run stages into its own UNLOGGED partition of
``import_lines``, itself split by bucket: COPY fills it (no index to
maintain), a chunk reads its own sub-partition, and the run's staging goes
with one DROP. A big file is parsed in parts by several processes
(`parts`), each committing its COPY; the run is marked staged only
when every part is in, together with the chunks and the quarantine of rows of
no document, in the caller's transaction. Unlogged tables are emptied if
PostgreSQL itself crashes; a chunk notices (`StagingLost`) and the run
re-stages.
"""
from __future__ import annotations

import math
import multiprocessing
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import delete, insert, literal, select, text
from sqlalchemy.orm import Session

from engine import clock
from engine.members.lookup import find_members
from engine.models import ImportChunk, ImportRun, QuarantinedRow, StagedLine
from engine.models.base import UTCDateTime
from engine.models.bulk import cell, driver_cursor, needs_escape
from importers.sap_b1 import MalformedFile, SapFile
from importers.sap_b1.pipeline import parts as file_parts
from importers.sap_b1.rows import CREDIT_NOTE_TYPE, INVOICE_TYPE, document_key

COLUMNS = ("import_run_id", "bucket", "seq", "doc_key", "raw", "error", "extra")
ORPHANS = -1  # the bucket of rows that belong to no document: quarantined at the end of staging
BATCH = 10000  # records per lookup of new customers and per COPY write
MAX_BUCKETS = 128
PART_MIN_BYTES = 8 << 20  # smaller files are parsed in one piece

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
    header: dict = field(default_factory=dict)  # how the chunks map the staged text (parts.Header)


def partition(run_id: int) -> str:
    return f"import_lines_r{int(run_id)}"


def bucket_count(path_size: int, head: bytes, chunk_lines: int) -> int:
    """How many chunks: the file's estimated line count (from its first 64 KiB) / chunk size."""
    lines = max(head.count(b"\n"), 1)
    estimate = path_size / (len(head) / lines) if head else 1
    return max(1, min(MAX_BUCKETS, math.ceil(estimate / max(chunk_lines, 1))))


class _Stager:
    """Places records in buckets and turns them into staged rows (COPY text, or value dicts on SQLite)."""

    def __init__(self, lookups: Session, run_id: int, header: file_parts.Header, name: str, buckets: int,
                 postgres: bool):
        self.lookups, self.run_id, self.buckets, self.postgres = lookups, run_id, buckets, postgres
        self.header = header
        self.mapper = file_parts.Mapper(header, name)  # only for the rare record without a DocEntry
        self.i_entry, self.i_card = header.index["doc_entry"], header.index["card_code"]
        self.prefix = (CREDIT_NOTE_TYPE if header.profile.kind == "credit_notes" else INVOICE_TYPE) + ":"
        self.accounts: dict[str, int | None] = {}  # CardCode → account id (None: unknown)
        self.result = Staged()

    def rows(self, records: list) -> list:
        i_entry, i_card, width = self.i_entry, self.i_card, self.header.width
        accounts, doc_bucket, counts = self.accounts, self.result.doc_bucket, self.result.buckets
        cards = {r.fields[i_card].strip() for r in records if r.error is None and len(r.fields) > i_card} - \
            accounts.keys()
        if cards:
            known = find_members(self.lookups, cards)
            accounts.update({card: known[card].account_id if card in known else None for card in cards})
        out, run, prefix, buckets = [], self.run_id, self.prefix, self.buckets
        last_entry, key = None, ""
        for line_no, raw, fields, error in records:
            count = len(fields)
            if error is None and (count == width or count > width and not any(f.strip() for f in fields[width:])):
                entry = fields[i_entry].strip()
                if entry:
                    if entry != last_entry:
                        last_entry, key = entry, prefix + document_key(entry)
                    bucket = doc_bucket.get(key)
                    if bucket is None:
                        account = accounts.get(fields[i_card].strip())
                        bucket = account % buckets if account is not None else zlib.crc32(key.encode()) % buckets
                        doc_bucket[key] = bucket
                    counts[bucket] = counts.get(bucket, 0) + 1
                    if self.postgres and not needs_escape(raw):  # the key is a piece of the clean raw line
                        out.append(f"{run}\t{bucket}\t{line_no}\t{key}\t{raw}\t\\N\t\\N\n")
                    else:
                        out.append(self._finish((run, bucket, line_no, key, raw, None, None)))
                    continue
            out.append(self._finish((run, ORPHANS, line_no, "", raw, error or self._reason(line_no, raw), None)))
            self.result.quarantined += 1
        self.result.rows_read += len(records)
        return out

    def _reason(self, line_no: int, raw: str) -> str:
        """Why a record has no document: the mapper's own words (missing DocEntry, wrong width)."""
        fields = file_parts.fields_of(raw, self.header.delimiter)
        problem = self.mapper.width_error(fields)
        if problem:
            return problem
        row = self.mapper(line_no, raw, fields)
        return getattr(row, "reason", None) or "the row belongs to no document"

    def _finish(self, row: tuple):
        return "\t".join(map(cell, row)) + "\n" if self.postgres else dict(zip(COLUMNS, row))


def _stage_rows(session: Session, stager: _Stager, records, report: Progress | None, lines: int = 0) -> Staged:
    """Stage an iterator of records through ``session`` (one COPY stream on PostgreSQL).

    ``lines``: about how many the part holds, for progress reports (record count / estimate).
    """
    def batches():
        chunk = []
        for record in records:
            chunk.append(record)
            if len(chunk) >= BATCH:
                yield stager.rows(chunk)
                chunk = []
                if report is not None:
                    report("staging", min(stager.result.rows_read, lines), lines)
        yield stager.rows(chunk)

    if stager.postgres:
        from psycopg.copy import QueuedLibpqWriter  # formats the next batch while the last one is sent
        statement = f"COPY {partition(stager.run_id)} ({', '.join(COLUMNS)}) FROM STDIN"
        with driver_cursor(session) as cursor, cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
            for text_ in batches():
                copy.write("".join(text_))
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


def _part(database, run_id: int, path: str, part: file_parts.Part, header: file_parts.Header, name: str,
          buckets: int, report: Progress | None = None, lines: int = 0) -> Staged:
    """Read one window and COPY its records in a transaction of its own (PostgreSQL)."""
    with database.new_session() as session, database.new_session() as lookups, file_parts.without_gc():
        stager = _Stager(lookups, run_id, header, name, buckets, True)
        result = _stage_rows(session, stager, file_parts.records(path, part, header), report, lines)
        session.commit()
        return result


def _child(connection, database, *args) -> None:
    database.engine.dispose(close=False)  # never share the parent's connections after fork
    try:
        connection.send(("ok", _part(database, *args)))
    except MalformedFile as exc:
        connection.send(("cut", str(exc)))
    except BaseException as exc:  # report, then let the parent decide
        connection.send(("error", f"{exc.__class__.__name__}: {exc}"))
    finally:
        connection.close()


def _parallel(database, run: ImportRun, header: file_parts.Header, size: int, buckets: int, parts: int,
              report: Progress | None, lines: int) -> list[Staged] | None:
    """Stage the file in parts, one process each; None when a cut fell inside a quoted field."""
    windows = file_parts.cut(run.stored_path, size, parts, header.encoding)
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
        results.append(_part(database, run.id, run.stored_path, windows[0], header, run.filename, buckets, report,
                             lines // len(windows)))
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
    header = file_parts.Header.of(sap_file)
    lines = max(1, int(sap_file.size / max(len(head_bytes) / max(head_bytes.count(b"\n"), 1), 1)))
    if session.get_bind().dialect.name == "postgresql":
        results = None
        if parts > 1 and sap_file.size >= PART_MIN_BYTES:
            _create_partitions(database, run.id, buckets)
            results = _parallel(database, run, header, sap_file.size, buckets, parts, report, lines)
        if results is None:  # one piece (small file, or a cut inside a quoted field)
            _create_partitions(database, run.id, buckets)
            results = [_part(database, run.id, run.stored_path, file_parts.Part(0, sap_file.size, 1), header,
                             run.filename, buckets, report, lines)]
        result = _merge(session, run.id, results)
    else:
        stager = _Stager(session, run.id, header, run.filename, buckets, False)
        records = file_parts.records(run.stored_path, file_parts.Part(0, sap_file.size, 1), header)
        result = _stage_rows(session, stager, records, report, lines)
    result.header = header.to_dict()
    result.lines = sum(n for bucket, n in result.buckets.items() if bucket != ORPHANS)
    _quarantine_orphans(session, run, keep=not again)
    documents: dict[int, int] = {}
    for bucket in result.doc_bucket.values():
        documents[bucket] = documents.get(bucket, 0) + 1
    done = set(session.execute(select(ImportChunk.chunk_no).where(ImportChunk.import_run_id == run.id)).scalars())
    for bucket, count in sorted(result.buckets.items()):
        if bucket not in done and count:  # a re-stage after lost staging leaves applied chunks alone
            session.add(ImportChunk(import_run_id=run.id, chunk_no=bucket, status="pending", lines=count,
                                    documents=documents.get(bucket, 0), applied=0, duplicates=0, quarantined=0,
                                    skipped=0, bulk_documents=0, worker=""))
    session.flush()
    return result


def _quarantine_orphans(session: Session, run: ImportRun, keep: bool = True) -> None:
    """Rows that belong to no document go to the quarantine, set-based, in the staging transaction."""
    session.flush()
    s = StagedLine
    if keep:
        rows = (select(s.import_run_id, s.seq, s.raw, s.error, s.extra, literal(clock.now(), UTCDateTime()))
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
