"""Import jobs of the 1C exchange: run on an RQ worker, or inline without Redis.

The job takes a file id (never an object), works in its own app context and
session, and is the one boundary that commits (``importers.onec.runs``
commits through it every few hundred documents).
"""
from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import update

from engine.models import ExchangeFile
from importers.onec import runs as onec_runs
from server.extensions import db
from server.jobs import enqueue
from server.onec import protocol

log = logging.getLogger(__name__)
QUEUE = "exchange"


def run_import(file_id: int) -> str:
    """Import one uploaded 1C file; returns its final status."""
    session = db.session()
    file = session.get(ExchangeFile, file_id)
    if file is None:
        return "missing"
    actor = f"1c:{file.session.integration}"
    try:
        file = onec_runs.import_file(session, file_id, config=protocol.config(), actor=actor,
                                     commit=session.commit)
        return file.status
    except Exception:  # recorded on the file; 1C is told, the error is logged
        log.exception("1C import of file %s failed", file_id)
        session.rollback()
        onec_runs.fail_file(session, file_id, "The import failed unexpectedly and the error was "
                                              "logged; nothing of the file was kept. Send the "
                                              "file again, or ask the administrator.")
        session.commit()
        return "failed"


def job_id(file_id: int) -> str:
    return f"onec-import-{file_id}"


def requeue_lost(session, files: list[ExchangeFile]) -> list[int]:
    """Files waiting for a job that no longer exists in Redis (flushed, expired) or that
    failed or was stopped (a worker killed mid-import) are queued again; the import is
    exactly once, so running it again only finishes what is missing."""
    if current_app.config.get("JOBS_INLINE"):
        return []
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    from server.extensions import rq
    connection = rq.get_queue(QUEUE).connection
    lost = []
    for file in files:
        if file.status not in ("queued", "running"):
            continue
        try:
            status = Job.fetch(job_id(file.id), connection=connection).get_status(refresh=True)
        except NoSuchJobError:
            status = None
        if status is None or status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
            if status is not None:
                Job.fetch(job_id(file.id), connection=connection).delete()
            log.warning("1C file %s lost its import job (%s); queued again", file.id, status)
            enqueue(run_import, file.id, queue=QUEUE, job_id=job_id(file.id))
            lost.append(file.id)
    return lost


def start(session, files: list[ExchangeFile]) -> None:
    """Queue the imports of ``files``. The session is committed first (a worker must see
    the files); a file is marked queued only once its job is enqueued, so when Redis is
    unreachable it stays ready and the next `import` or `query` tries again."""
    ids = [file.id for file in files if file.status == "receiving"]
    session.commit()
    for file_id in ids:
        enqueue(run_import, file_id, queue=QUEUE, job_id=job_id(file_id))
        session.execute(update(ExchangeFile).where(ExchangeFile.id == file_id,
                                                   ExchangeFile.status == "receiving")
                        .values(status="queued"))  # an inline job has finished it already
        session.commit()
    session.expire_all()
