"""Importing one uploaded 1C file: its bytes → an import run → parse → apply, exactly once.

``import_file`` takes a session and a ``commit`` callback from its caller (the
job wrapper in ``server.onec.tasks``, the one boundary that commits). It
commits every few hundred documents with the progress recorded on the import
run, so a big file neither holds account locks for minutes nor hides how far
it got; a run interrupted half-way is simply applied again from the start
(every document is idempotent on its key, and the run's quarantine is redone).
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine import clock, imports
from engine.models import ExchangeChunk, ExchangeFile, ImportRun, QuarantinedRow
from engine.onec import ExchangeConfig
from importers.onec.apply import apply_sale
from importers.onec.catalog import parse_catalog
from importers.onec.catalog_apply import apply_catalog
from importers.onec.commerceml import parse_exchange
from importers.onec.safexml import XMLError

SOURCE = "1c"
FINAL = ("done", "duplicate", "failed", "skipped")


def file_bytes(session: Session, file_id: int) -> bytes:
    """The uploaded chunks of a file, in the order they arrived."""
    return b"".join(session.execute(select(ExchangeChunk.data).where(
        ExchangeChunk.file_id == file_id).order_by(ExchangeChunk.seq)).scalars())


def drop_chunks(session: Session, file_id: int) -> None:
    session.execute(delete(ExchangeChunk).where(ExchangeChunk.file_id == file_id))


def _close(session: Session, file: ExchangeFile, status: str, *, error: str | None = None,
           counts: dict | None = None, messages: list | None = None) -> None:
    file.status, file.error, file.finished_at = status, error, clock.now()
    if counts is not None:
        file.counts = counts
    if messages is not None:
        file.messages = messages
    drop_chunks(session, file.id)


def import_file(session: Session, file_id: int, *, config: ExchangeConfig, actor: str,
                commit: Callable[[], None] = lambda: None) -> ExchangeFile:
    """Apply one uploaded XML file of a `sale` or `catalog` exchange (see the module doc)."""
    file = session.get(ExchangeFile, file_id)
    if file is None or file.status in FINAL:
        return file
    kind = file.session.exchange_type
    data = file_bytes(session, file.id)
    file.size, file.sha256 = len(data), hashlib.sha256(data).hexdigest()
    now = clock.now()
    run, created = imports.begin_run(session, source=SOURCE, kind=kind, filename=file.name,
                                     sha256=file.sha256, size=file.size, actor=actor, now=now)
    file.import_run_id = run.id
    if not created and run.status == "done":
        _close(session, file, "duplicate", counts={},
               messages=[{"level": "info", "what": file.name,
                          "reason": f"the same file was imported before (import run {run.id}); "
                                    "nothing changed"}])
        commit()
        return file
    if not created and run.status == "failed" and (run.details or {}).get("refused"):
        _close(session, file, "failed", error=run.error)
        commit()
        return file
    # A new run, or one interrupted before it finished: (re)apply it from the start.
    session.execute(delete(QuarantinedRow).where(QuarantinedRow.import_run_id == run.id))
    run.rows_read = run.applied = run.duplicates = run.quarantined = 0
    run.status, run.started_at, run.error, run.progress = "running", now, None, None
    file.status = "running"
    commit()
    try:
        if kind == "catalog":
            batch = parse_catalog(data, config=config, origin_name=file.name)
        else:
            batch = parse_exchange(data, config, origin_name=file.name)
    except XMLError as exc:
        run.status, run.error, run.finished_at = "failed", exc.reason, clock.now()
        run.details = {"refused": True}
        _close(session, file, "failed", error=exc.reason)
        commit()
        return file
    del data

    def checkpoint(done: int, total: int) -> None:
        run.progress = {"done": done, "total": total}
        commit()

    apply = apply_catalog if kind == "catalog" else apply_sale
    report = apply(session, run, batch, actor=actor, checkpoint=checkpoint)
    counts = {k: v for k, v in report.counts.items() if k != "errors"}
    imports.finish(run, report.tally(), clock.now())
    run.details = {"counts": counts, "exchange_session": file.session_id, "file": file.id}
    run.progress = {"done": counts.get("customers", 0) + counts.get("documents", 0)
                    + counts.get("groups", 0) + counts.get("products", 0)}
    _close(session, file, "done", counts=counts, messages=report.messages)
    commit()
    return file


def fail_file(session: Session, file_id: int, reason: str) -> None:
    """After an unexpected error (rolled back by the caller): the file failed; its run is
    left unfinished, so the same bytes sent again are applied again from the start."""
    file = session.get(ExchangeFile, file_id)
    if file is None:
        return
    if file.import_run_id is not None:
        run = session.get(ImportRun, file.import_run_id)
        if run is not None and run.status != "done":
            run.status, run.error = "failed", reason
    file.status, file.error, file.finished_at = "failed", reason, clock.now()
