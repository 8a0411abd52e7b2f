"""Background jobs and the one `enqueue`: nightly steps, SAP file imports, source polling (RQ, or inline).

Jobs take ids and plain values, never ORM objects; each runs in a fresh app
context (flask-rq does that on a worker; `enqueue` does it inline without
Redis) and is the boundary that commits. Enqueue only after the caller's
commit, so a worker never looks for rows that are not there yet. Nothing
here opens a database connection at import time, so the RQ parent forks
clean. The 1C import job lives in ``server.onec.tasks`` and queues through
the same `enqueue`.

Import settings (app config): ``IMPORT_SOURCES`` (see
`importers.transports.sources`), ``IMPORT_CHUNK_LINES`` (lines per chunk,
50 000), ``IMPORT_WORKERS`` (jobs sharing one run, 2), ``IMPORT_BULK``
(set-based path on PostgreSQL, on), ``UPLOAD_FOLDER`` (where fetched and
uploaded files are kept; workers on other machines must see it too). A
run's documents are shared out as chunks: `run_import` stages the file,
then enqueues ``IMPORT_WORKERS - 1`` `work_chunks` jobs, and every one of
them claims chunks until none is left.

Outbox delivery (queue ``outbox``): `init_outbox` hooks the session's
COMMIT, so every message a transaction wrote is queued (or, without Redis,
delivered inline) right after it commits, and dropped with a rollback;
`deliver_message` claims one attempt, commits, sends, records, commits;
`deliver_due` (cron, every minute) picks up retries and claims that ran out.
"""
from __future__ import annotations

import logging
from datetime import datetime, time
from pathlib import Path

from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from engine import clock, outbox
from engine.engagement import birthdays, tiers
from engine.ledger import daily, rollup
from engine.models import ImportRun
from exporters.channels import dispatch
from importers.sap_b1 import pipeline
from importers.transports import polling, sources
from server.extensions import db, rq, session_factory

log = logging.getLogger(__name__)
IMPORTS = "imports"  # the queue of SAP file imports and source polls
IMPORT_TIMEOUT = 3600  # seconds: a million-line file stays well inside it
OUTBOX = "outbox"  # the queue of message deliveries


def enqueue(job, *args, queue: str = "default", job_id: str | None = None, job_timeout: int | None = None,
            **kwargs):
    """Run ``job`` on a worker of ``queue``, or right here (in a fresh app context) without Redis."""
    app = current_app._get_current_object()
    if app.config.get("JOBS_INLINE", True):
        with app.app_context():
            return job(*args, **kwargs)
    options = {"job_id": job_id} if job_id else {}
    if job_timeout:
        options["job_timeout"] = job_timeout
    return rq.get_queue(queue).enqueue(job, *args, **kwargs, **options)


def run_daily(at: str | None = None, force: bool = False) -> dict:
    """The nightly sequence: mature → tiers → birthdays → expire → warn (the digest follows) → the
    dashboard's ledger summaries. Each step runs once per program day; the warnings go out after their
    step commits."""
    session = db.session()
    now = datetime.fromisoformat(at) if at else clock.now()
    steps = {"mature": daily.mature, "tiers": tiers.recalculate,
             "birthdays": birthdays.award, "expire": daily.expire, "warn": outbox.warn_expiring,
             "summaries": rollup.refresh}
    report = {}
    for name, step in steps.items():
        stats = daily.run_once(session, name, step, now, force=force)
        session.commit()
        report[name] = "already ran today" if stats is None else stats
        log.info("daily %s: %s", name, report[name])
    return report


def _settings() -> dict:
    config = current_app.config
    return {"use_bulk": bool(config.get("IMPORT_BULK", True)),
            "chunk_lines": int(config.get("IMPORT_CHUNK_LINES", 50_000))}


def queue_import(run_id: int):
    """Queue (or, without Redis, run) the import of a committed run; one job per run."""
    return enqueue(run_import, run_id, queue=IMPORTS, job_id=f"import-run-{run_id}", job_timeout=IMPORT_TIMEOUT)


def run_import(run_id: int) -> dict:
    """Stage (if needed) and apply a run to its end; helpers share the chunks when there is Redis."""
    config = current_app.config
    helpers = 0 if config.get("JOBS_INLINE", True) else max(0, int(config.get("IMPORT_WORKERS", 2)) - 1)
    run = pipeline.execute(session_factory(), run_id, after_staging=lambda: [
        enqueue(work_chunks, run_id, queue=IMPORTS, job_timeout=IMPORT_TIMEOUT) for _ in range(helpers)],
        **_settings())
    if run.status == "done":
        polling.tidy_source(run.details, configured_sources())
    return summary(run)


def work_chunks(run_id: int) -> dict:
    """Help a staged run: apply chunks until none is left, and finish the run if this was the last."""
    count = pipeline.work(session_factory(), run_id, use_bulk=_settings()["use_bulk"])
    if pipeline.finish(session_factory(), run_id):
        with session_factory().new_session() as session:
            run = session.get(ImportRun, run_id)
            if run is not None:
                polling.tidy_source(run.details, configured_sources())
    return {"run": run_id, "chunks": count}


def summary(run: ImportRun) -> dict:
    return {"run": run.id, "kind": run.kind, "file": run.filename, "status": run.status,
            "rows_read": run.rows_read, "applied": run.applied, "duplicates": run.duplicates,
            "quarantined": run.quarantined, "error": run.error}


def configured_sources() -> list[sources.SourceConfig]:
    """``IMPORT_SOURCES`` of this app, validated."""
    return polling.configured(current_app.config.get("IMPORT_SOURCES"))


def _folder(source_name: str) -> Path:
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / "sources" / source_name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def poll_sources(names: list[str] | None = None) -> list[dict]:
    """Fetch every finished file of the configured sources and queue its import (the daily cron job)."""
    return polling.poll(configured_sources(), session_factory(), _folder, queue_import, names)


def _quiet_hours() -> tuple[time, time] | None:
    text = current_app.config.get("SMS_QUIET_HOURS") or ""
    if not text:
        return None
    start, _, end = text.partition("-")
    return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())


def deliver_message(message_id: int) -> dict:
    """One attempt at one message: claim (commit), send, record the outcome (commit)."""
    session = db.session()
    claim = outbox.claim(session, message_id, clock.now(), quiet_hours=_quiet_hours())
    session.commit()
    if claim is None:
        return {"message": message_id, "attempted": False}
    try:
        outcome = dispatch.send(session, claim, dispatch.from_config(current_app.config))
    except Exception as exc:  # a bug or a bad setting: recorded on the attempt and retried, never stuck
        log.exception("outbox message %s: the send raised", message_id)
        session.rollback()
        outcome = dispatch.Outcome(False, detail=f"{exc.__class__.__name__}: {exc}"[:500])
    message = outbox.record(session, claim, clock.now(), ok=outcome.ok, status_code=outcome.status_code,
                            detail=outcome.detail, gone=outcome.gone, retry=outcome.retry)
    session.commit()
    log.info("outbox message %s attempt %s: %s", message_id, claim.number, message.state)
    return {"message": message_id, "attempted": True, "state": message.state}


def deliver_due() -> dict:
    """Queue every message that is due: retries after their delay, claims a dead worker left."""
    session = db.session()
    ids = outbox.due_ids(session, clock.now())
    session.commit()
    for message_id in ids:
        enqueue(deliver_message, message_id, queue=OUTBOX)
    return {"queued": len(ids)}


def _after_commit(session: Session) -> None:
    ids = outbox.pending_ids(session)
    if not ids or not has_app_context():
        return  # outside an app (a forked import worker): the minute's `deliver_due` sends them
    for message_id in ids:
        try:
            enqueue(deliver_message, message_id, queue=OUTBOX)
        except Exception:  # the change is committed; the message waits for `deliver_due`
            log.exception("could not queue outbox message %s", message_id)


def _after_rollback(session: Session) -> None:
    outbox.pending_ids(session)


def init_outbox(app: Flask) -> None:
    """Deliver what a transaction wrote to the outbox once it commits (once per process)."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
