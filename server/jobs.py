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
`deliver_messages` claims a batch in one statement, commits, sends each over
connections kept for the batch, records the outcomes in one statement per
table, commits;
`deliver_due` (cron, every minute) picks up retries and claims that ran out.
Before each send the worker takes a slot of the gateway's rate
(``SMS_RATE``, ``SMTP_RATE``, ``WEBHOOK_RATE`` messages a second; `server.pacing`,
shared through Redis by every worker). `run_digest` is the monthly digest.

Reward pictures (queue ``default``): a finished catalog import queues
`fetch_picture` for every pending picture; ``PICTURE_ALLOW_HOSTS`` (host
names, addresses or networks the SSRF guard lets through), ``PICTURE_MAX_BYTES``,
``PICTURE_TIMEOUT`` (seconds) and ``PICTURE_RETRY_DELAYS`` (seconds between
tries of a source that did not answer: "2,10,30" on a worker, none inline) set how.
"""
from __future__ import annotations

import logging
import time as clocktime
from datetime import datetime, time
from pathlib import Path

from flask import Flask, current_app, has_app_context
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from engine import clock, outbox
from engine.engagement import birthdays, rewards, tiers
from engine.ledger import daily, rollup
from engine.models import ImportRun, RewardPicture
from exporters.channels import dispatch
from importers import pictures
from importers.sap_b1 import pipeline
from importers.transports import polling, sources
from server import pacing
from server.extensions import db, rq, session_factory

log = logging.getLogger(__name__)
IMPORTS = "imports"  # the queue of SAP file imports and source polls
IMPORT_TIMEOUT = 3600  # seconds: a million-line file stays well inside it
OUTBOX = "outbox"  # the queue of message deliveries
# Messages claimed, sent and recorded together (one commit each way): a worker that dies re-sends at most
# this many, with their delivery keys. A job carries DELIVERY_BATCH messages (several claim batches), since
# each job starts a work horse, a new process with the whole app (about 2 s of CPU).
CLAIM_BATCH = 200


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
        if run.kind == "catalog":
            queue_pictures()
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
    """One attempt at one message (a batch of one)."""
    state = deliver_messages([message_id])["by_message"].get(message_id)
    return {"message": message_id, "attempted": state is not None, **({"state": state} if state else {})}


def deliver_messages(message_ids: list[int]) -> dict:
    """One attempt at each of these messages, ``CLAIM_BATCH`` at a time in a constant number of statements:
    claim them together (commit), render and send each over connections kept for the job, record the
    outcomes together (commit). A worker that dies mid-batch leaves its unrecorded claims to run out; `deliver_due`
    then sends those again with the same delivery keys. A batch slower than half the claim (a low
    ``SMS_RATE`` shared by many workers) records what it sent and renews the rest, so no claim runs out
    under a live worker."""
    states: dict[int, str] = {}
    channels = dispatch.from_config(current_app.config)
    try:
        for start in range(0, len(message_ids), CLAIM_BATCH):
            states.update(_deliver_batch(message_ids[start:start + CLAIM_BATCH], channels))
    finally:
        channels.close()
    counts: dict[str, int] = {}
    for state in states.values():
        counts[state] = counts.get(state, 0) + 1
    log.info("outbox: %s messages, %s attempted: %s", len(message_ids), len(states), counts)
    return {"messages": len(message_ids), "states": counts, "by_message": states}


def _deliver_batch(message_ids: list[int], channels: dispatch.Channels) -> dict[int, str]:
    session, config, states = db.session(), current_app.config, {}
    _relaxed_commit(session)
    now = clock.now()
    pending = outbox.claim_batch(session, message_ids, now, quiet_hours=_quiet_hours())
    session.commit()
    if pending:
        results: list = []
        renew_at, live = now + outbox.LEASE / 2, {c.message_id for c in pending}
        for number, claim in enumerate(pending):
            if clock.now() >= renew_at:
                states.update(_record(session, results))
                results, renew_at = [], clock.now() + outbox.LEASE / 2
                live = {c.message_id for c in outbox.renew(session, pending[number:], clock.now())}
                session.commit()
            if claim.message_id not in live:
                continue  # its claim ran out before this worker came to it: another attempt has it
            _pacer().wait(*pacing.limit_for(claim.channel, config))  # the gateway's rate: wait, never drop
            results.append((claim, _send(session, claim, channels)))
        states.update(_record(session, results))
    return states


def _send(session: Session, claim: outbox.Claim, channels: dispatch.Channels) -> dispatch.Outcome:
    try:
        return dispatch.send(session, claim, channels)
    except Exception as exc:  # a bug or a bad setting: recorded on the attempt and retried, never stuck
        log.exception("outbox message %s: the send raised", claim.message_id)
        session.rollback()
        return dispatch.Outcome(False, detail=f"{exc.__class__.__name__}: {exc}"[:500])


def _record(session: Session, results: list) -> dict[int, str]:
    if not results:
        return {}
    _relaxed_commit(session)
    states = outbox.record_batch(session, results, clock.now())
    session.commit()
    return states


_INLINE_PACER = pacing.Pacer()  # without Redis: this process paces itself


def _pacer() -> pacing.Pacer:
    app = current_app._get_current_object()
    if app.config.get("JOBS_INLINE", True):
        return _INLINE_PACER
    if "outbox_pacer" not in app.extensions:
        app.extensions["outbox_pacer"] = pacing.Pacer(rq.get_queue(OUTBOX).connection)
    return app.extensions["outbox_pacer"]


def run_digest(month: str | None = None, at: str | None = None) -> dict:
    """The monthly digest (``DIGEST_CRON``, the 1st): the month before by default; a batch commits at a time,
    and each batch's messages are queued as it commits."""
    session = db.session()
    now = datetime.fromisoformat(at) if at else clock.now()
    report = outbox.send_digest(session, now, month, commit=session.commit)
    session.commit()
    log.info("digest %s: %s", report["month"], report)
    return report


def _relaxed_commit(session: Session) -> None:
    """The claim and the record need not wait for the WAL flush: the message itself was committed for good
    when it was written, and a claim or an outcome lost in a database crash only means one more attempt
    with the same delivery key, which is the case the keys are there for."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit = off"))


def queue_deliveries(message_ids: list[int]) -> None:
    """Queue (or run inline) the delivery of these messages, ``DELIVERY_BATCH`` per job."""
    size = max(1, int(current_app.config.get("DELIVERY_BATCH", 1000)))
    for start in range(0, len(message_ids), size):
        part = message_ids[start:start + size]
        if len(part) == 1:
            enqueue(deliver_message, part[0], queue=OUTBOX)
        else:  # a job stopped at its timeout leaves the rest queued for `deliver_due`
            enqueue(deliver_messages, part, queue=OUTBOX, job_timeout=max(180, 5 * len(part)))


def deliver_due() -> dict:
    """Queue every message that is due: retries after their delay, claims a dead worker left."""
    session = db.session()
    ids = outbox.due_ids(session, clock.now())
    session.commit()
    queue_deliveries(ids)
    return {"queued": len(ids)}


def _after_commit(session: Session) -> None:
    ids = outbox.pending_ids(session)
    if not ids or not has_app_context():
        return  # outside an app (a forked import worker): the minute's `deliver_due` sends them
    try:
        queue_deliveries(ids)
    except Exception:  # the change is committed; the messages wait for `deliver_due`
        log.exception("could not queue outbox messages %s…", ids[:10])


def _after_rollback(session: Session) -> None:
    outbox.pending_ids(session)


def init_outbox(app: Flask) -> None:
    """Deliver what a transaction wrote to the outbox once it commits (once per process)."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)


def _setting_list(value, default: str = "") -> tuple[str, ...]:
    if value is None:
        value = default
    items = value.split(",") if isinstance(value, str) else value
    return tuple(str(item).strip() for item in items if str(item).strip())


def fetch_picture(reward_id: int) -> dict:
    """Fetch and keep one reward's pending picture; a source that does not answer is tried again after
    each of ``PICTURE_RETRY_DELAYS``, a refusal (unsafe address, not an image, too large) is final."""
    session = db.session()
    picture = session.get(RewardPicture, reward_id)
    if picture is None or picture.state != "pending":
        return {"reward": reward_id, "state": picture.state if picture else "none", "attempts": 0}
    url = picture.source_url
    session.commit()  # no transaction stays open while a remote server answers
    config = current_app.config
    options = {"allow": _setting_list(config.get("PICTURE_ALLOW_HOSTS")),
               "max_bytes": int(config.get("PICTURE_MAX_BYTES", pictures.MAX_BYTES)),
               "timeout": float(config.get("PICTURE_TIMEOUT", pictures.TIMEOUT))}
    # Inline (no Redis) a fetch holds up the request that queued it: one try, unless delays are set.
    waits = "" if config.get("JOBS_INLINE", True) else "2,10,30"
    delays = [float(d) for d in _setting_list(config.get("PICTURE_RETRY_DELAYS"), waits)]
    attempts, error = 0, ""
    for delay in (0.0, *delays):
        clocktime.sleep(delay)
        attempts += 1
        try:
            got = pictures.fetch(url, **options)
        except pictures.Refused as exc:
            error = str(exc)
            break
        except pictures.Unavailable as exc:
            error = str(exc)
            continue
        rewards.keep_picture(session, reward_id, url, content_type=got.content_type, data=got.data,
                             sha256=got.sha256, now=clock.now())
        session.commit()
        return {"reward": reward_id, "state": "stored", "attempts": attempts}
    rewards.picture_failed(session, reward_id, url, error, attempts=attempts, now=clock.now())
    session.commit()
    log.warning("reward %s picture %s: %s", reward_id, url, error)
    return {"reward": reward_id, "state": "failed", "attempts": attempts, "error": error}


def queue_pictures(retry_failed: bool = False) -> int:
    """Queue a fetch for every pending reward picture (and, asked to, the failed ones again)."""
    session = db.session()
    if retry_failed:
        rewards.retry_failed_pictures(session)
    ids = rewards.pictures_to_fetch(session)
    session.commit()
    for reward_id in ids:
        enqueue(fetch_picture, reward_id, job_id=f"reward-picture-{reward_id}")
    return len(ids)
