"""Running an SAP B1 import to its end: stage, apply chunks (in several processes), finish; resume after a crash.

Exactly once, at two levels. A file is known by its bytes: `intake.register` finds
or creates the `ImportRun` keyed by (source, kind, SHA-256), so the same
file again is recognised and changes nothing. A document is known by its
ERP key (``13:<DocEntry>``), so an overlapping file finds its old documents
as duplicates.

Crash safety comes from the commit units. Documents files (invoices,
credit notes) are staged in one transaction (parse → staged lines placed
in chunks, unreadable rows quarantined); each chunk is then applied whole
in one transaction, claimed with ``FOR UPDATE SKIP LOCKED`` so any number of
workers can share a run. Customer and catalog files commit every batch with
their position in the file. `execute` on a run that is queued, running or
failed simply continues it: staging is redone only if it never committed,
pending chunks are applied, finished ones are left alone, and the last
worker to finish marks the run done. A killed worker therefore leaves
nothing half-applied, and the re-run ends with the ledger an uninterrupted
run would have written.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from typing import Protocol

import psycopg
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import clock, imports, outbox
from engine.models import ImportChunk, ImportRun
from importers.sap_b1 import TextFileError, open_file, profile_from_dict
from importers.sap_b1.pipeline import parts, stage
from importers.sap_b1.pipeline.apply import apply_chunk, claim
from importers.sap_b1.pipeline.cards import apply_cards

log = logging.getLogger(__name__)
DOCUMENT_KINDS = imports.DOCUMENT_KINDS
Progress = Callable[[str, int, int], None]


class Database(Protocol):
    """What the pipeline needs from the app's database binding (server.extensions.SessionFactory fits)."""

    engine: object

    def new_session(self) -> Session: ...


class ImportRefused(Exception):
    """The file as a whole cannot be imported (undecodable, bad header): the run is marked failed."""

    code = "import_refused"


def _lock_run(session: Session, run_id: int) -> ImportRun:
    if session.get_bind().dialect.name == "postgresql":  # one stager per run; progress rows stay writable
        session.execute(text("SELECT pg_advisory_xact_lock(4242, CAST(:id AS integer))"), {"id": run_id})
    return session.execute(select(ImportRun).where(ImportRun.id == run_id)
                           .execution_options(populate_existing=True)).scalar_one()


def _fail(database: Database, run_id: int, message: str) -> None:
    with database.new_session() as session:
        run = session.get(ImportRun, run_id)
        run.status, run.error, run.finished_at = "failed", message, clock.now()
        session.commit()


def _open(run: ImportRun):
    profile = profile_from_dict((run.details or {}).get("profile") or {}, run.kind)
    if not run.stored_path or not os.path.exists(run.stored_path):
        raise TextFileError(f"The file {run.filename} is no longer at {run.stored_path}; receive it again.")
    return open_file(run.stored_path, profile, name=run.filename)


def _throttled(database: Database, run_id: int, on_progress: Progress | None) -> Progress:
    """Report progress to the caller, and (PostgreSQL) to the run row at most once a second."""
    last = [0.0]
    postgres = database.engine.dialect.name == "postgresql"

    def report(phase: str, done: int, total: int) -> None:
        if on_progress is not None:
            on_progress(phase, done, total)
        if postgres and time.monotonic() - last[0] >= 1:
            last[0] = time.monotonic()
            with database.new_session() as session:
                session.execute(ImportRun.__table__.update().where(ImportRun.id == run_id)
                                .values(progress={"phase": phase, "done": done, "total": total}))
                session.commit()
    return report


def _stage(database: Database, run_id: int, *, chunk_lines: int, report: Progress, parts: int = 1) -> None:
    with database.new_session() as session:
        run = _lock_run(session, run_id)
        if run.status == "done" or (run.details or {}).get("staged"):
            return
        again = bool((run.details or {}).get("staging_lost"))
        chunk_lines = int((run.details or {}).get("chunk_lines") or chunk_lines)
        started, started_at = time.perf_counter(), clock.now()
        # The run row is written only at the end: progress reports update it meanwhile.
        try:
            with _open(run) as sap_file:
                with open(run.stored_path, "rb") as raw:
                    head = raw.read(1 << 16)
                staged = stage.stage(database, session, run, sap_file, chunk_lines=chunk_lines,
                                              head_bytes=head, parts=parts, report=report, again=again)
        except TextFileError as exc:
            session.rollback()
            _fail(database, run_id, str(exc))
            raise ImportRefused(str(exc)) from exc
        run.status, run.error = "running", None
        run.started_at = run.started_at or started_at
        if not again:  # counters of a re-stage stay as the first staging and the applied chunks left them
            run.rows_read = staged.rows_read
            run.quarantined = staged.quarantined
        lines = staged.lines
        run.details = {**(run.details or {}), "staged": True, "lines": lines, "skipped": staged.skipped,
                       "chunks": len([b for b in staged.buckets if b >= 0]), "encoding": sap_file.detected.label,
                       "header": staged.header,
                       "timing": {"staging_s": round(time.perf_counter() - started, 3)}}
        run.progress = {"phase": "applying", "done": 0, "total": lines}
        session.commit()


def _reset_staging(database: Database, run_id: int) -> None:
    """PostgreSQL lost the unlogged staging (a crash): read the file again; applied chunks stay applied."""
    with database.new_session() as session:
        run = _lock_run(session, run_id)
        session.execute(ImportChunk.__table__.delete().where(ImportChunk.import_run_id == run_id,
                                                             ImportChunk.status == "pending"))
        stage.drop(session, run_id)
        run.details = {**(run.details or {}), "staged": False, "staging_lost": True}
        session.commit()
    log.warning("import run %s: staged lines were lost; reading the file again", run_id)


def work(database: Database, run_id: int, *, use_bulk: bool = True, report: Progress | None = None) -> int:
    """Apply pending chunks of the run until none is left to claim; returns how many this worker did."""
    done = 0
    while True:
        with database.new_session() as session:
            run = session.get(ImportRun, run_id)
            chunk = claim(session, run_id)
            if chunk is None:
                return done
            try:
                _apply(session, run, chunk, use_bulk)
            except (IntegrityError, psycopg.errors.IntegrityError):  # the ORM's, or a raw COPY's
                if not use_bulk:
                    raise
                # Something the set-based path does not expect (say a document key taken meanwhile by
                # another customer's import): this chunk goes document by document, which quarantines it.
                session.rollback()
                log.warning("import run %s: chunk %s goes document by document", run_id, chunk.chunk_no)
                chunk = claim(session, run_id, chunk.id)
                if chunk is None:
                    continue
                _apply(session, session.get(ImportRun, run_id), chunk, False)
            done += 1
            if report is not None:
                lines = session.execute(select(func.coalesce(func.sum(ImportChunk.lines), 0)).where(
                    ImportChunk.import_run_id == run_id, ImportChunk.status == "done")).scalar_one()
                report("applying", int(lines), int((run.details or {}).get("lines", 0)))


def _apply(session: Session, run: ImportRun, chunk: ImportChunk, use_bulk: bool) -> None:
    if session.get_bind().dialect.name == "postgresql":
        # A chunk and its "done" mark commit together, so a commit lost in a server crash only makes
        # the chunk pending again: no need to wait for the WAL flush of each one.
        session.execute(text("SET LOCAL synchronous_commit = off"))
    apply_chunk(session, run, chunk, filename=run.filename, actor=run.actor, use_bulk=use_bulk)
    session.commit()


def finish(database: Database, run_id: int) -> bool:
    """Mark the run done when no chunk is pending (any worker may call it); True when done."""
    with database.new_session() as session:
        run = _lock_run(session, run_id)
        if run.status == "done":
            return True
        pending = session.execute(select(func.count(ImportChunk.id)).where(
            ImportChunk.import_run_id == run_id, ImportChunk.status == "pending")).scalar_one()
        if pending or not (run.details or {}).get("staged"):
            return False
        stage.drop(session, run_id)
        now = clock.now()
        details = dict(run.details or {})
        details["skipped"] = int(session.execute(select(func.coalesce(func.sum(ImportChunk.skipped), 0)).where(
            ImportChunk.import_run_id == run_id)).scalar_one())
        timing = dict(details.get("timing") or {})
        timing["total_s"] = round((now - run.started_at).total_seconds(), 3) if run.started_at else None
        details["timing"] = timing
        run.details, run.status, run.error, run.finished_at = details, "done", None, now
        run.progress = {"phase": "done", "done": details.get("lines", 0), "total": details.get("lines", 0)}
        outbox.announce_run(session, run_id, now, summary={
            "kind": run.kind, "file": run.filename, "applied": run.applied, "quarantined": run.quarantined})
        session.commit()
        return True


def _helper(database: Database, run_id: int, use_bulk: bool) -> None:
    database.engine.dispose(close=False)  # never share the parent's connections after fork
    work(database, run_id, use_bulk=use_bulk)
    finish(database, run_id)


def execute(database: Database, run_id: int, *, on_progress: Progress | None = None, use_bulk: bool = True,
            chunk_lines: int = 50_000, helpers: int = 0, stage_parts: int = 2,
            after_staging: Callable[[], object] | None = None) -> ImportRun:
    """Run (or continue) an import to its end in this process.

    ``helpers`` extra processes (forked, PostgreSQL only) share the chunks; ``stage_parts``
    processes parse a big file; ``after_staging`` is called once the file is staged (to
    enqueue helper jobs).
    """
    with database.new_session() as session:
        run = session.get(ImportRun, run_id)
        if run is None:
            raise LookupError(f"there is no import run {run_id}")
        if run.status == "done":
            return run
        kind = run.kind
    report = _throttled(database, run_id, on_progress)
    try:
        if kind in DOCUMENT_KINDS:
            try:
                _documents(database, run_id, report, chunk_lines, use_bulk, helpers, stage_parts, after_staging)
            except stage.StagingLost:
                _reset_staging(database, run_id)
                _documents(database, run_id, report, chunk_lines, use_bulk, helpers, stage_parts, after_staging)
        else:
            _cards(database, run_id, report, use_bulk)
    except ImportRefused:
        pass
    except Exception as exc:
        log.exception("import run %s failed", run_id)
        _fail(database, run_id, f"The import stopped on an unexpected error ({exc.__class__.__name__}: {exc}); "
                                "run it again to continue where it stopped.")
        raise
    with database.new_session() as session:
        return session.get(ImportRun, run_id)


def _documents(database: Database, run_id: int, report: Progress, chunk_lines: int, use_bulk: bool,
               helpers: int, stage_parts: int, after_staging: Callable[[], object] | None) -> None:
    _stage(database, run_id, chunk_lines=chunk_lines, report=report, parts=stage_parts)
    if after_staging is not None:
        after_staging()
    processes = []
    if helpers and database.engine.dialect.name == "postgresql":
        context = multiprocessing.get_context("fork")
        database.engine.dispose()
        processes = [context.Process(target=_helper, args=(database, run_id, use_bulk), daemon=True)
                     for _ in range(helpers)]
        for process in processes:
            process.start()
    work(database, run_id, use_bulk=use_bulk, report=report)
    for process in processes:
        process.join()
    finish(database, run_id)


def _check_structure(run: ImportRun, sap_file) -> None:
    """Read the whole file's records once (no mapping) before the first batch commits: cards commit batch by
    batch, so a quote never closed near the end must refuse the file before any of it is applied, as the
    documents' staging does."""
    header = parts.Header.of(sap_file)
    for _record in parts.records(run.stored_path, parts.Part(0, sap_file.size, 1), header):
        pass


def _cards(database: Database, run_id: int, report: Progress, use_bulk: bool) -> None:
    with database.new_session() as session:
        run = _lock_run(session, run_id)
        run.status, run.error = "running", None
        run.started_at = run.started_at or clock.now()
        session.commit()
        try:
            sap_file = _open(run)
            if not (run.details or {}).get("cursor"):
                _check_structure(run, sap_file)
        except TextFileError as exc:
            _fail(database, run_id, str(exc))
            raise ImportRefused(str(exc)) from exc
    with sap_file:
        try:
            apply_cards(database.new_session, run_id, sap_file, on_progress=report, use_bulk=use_bulk)
        except TextFileError as exc:  # the file changed under us since the check
            _fail(database, run_id, str(exc))
            raise ImportRefused(str(exc)) from exc
        encoding = sap_file.detected.label
    with database.new_session() as session:
        run = _lock_run(session, run_id)
        now = clock.now()
        timing = {"total_s": round((now - run.started_at).total_seconds(), 3)}
        run.details = {**(run.details or {}), "encoding": encoding, "timing": timing}
        run.status, run.finished_at = "done", now
        run.progress = {"phase": "done", "rows": run.rows_read}
        session.commit()
