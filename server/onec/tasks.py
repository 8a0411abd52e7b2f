"""Import jobs of the 1C exchange: run on an RQ worker, or inline without Redis.

The job takes a file id (never an object), works in its own app context and
session, and is the one boundary that commits (``importers.onec.jobs``
commits through it every few hundred documents).
"""
from __future__ import annotations

import logging

from flask import current_app

from engine.models import ExchangeFile
from importers.onec import jobs as onec_jobs
from server import db
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
        file = onec_jobs.import_file(session, file_id, config=protocol.config(), actor=actor,
                                     commit=session.commit)
        return file.status
    except Exception:  # noqa: BLE001 - recorded on the file; 1C is told, the error is logged
        log.exception("1C import of file %s failed", file_id)
        session.rollback()
        onec_jobs.fail_file(session, file_id, "The import failed unexpectedly and the error was "
                                              "logged; nothing of the file was kept. Send the "
                                              "file again, or ask the administrator.")
        session.commit()
        return "failed"


def start(session, files: list[ExchangeFile]) -> None:
    """Queue the imports of ``files`` (committed first: the worker must see them)."""
    ids = []
    for file in files:
        if file.status == "receiving":
            file.status = "queued"
            ids.append(file.id)
    session.commit()
    for file_id in ids:
        enqueue(run_import, file_id, queue=QUEUE, job_id=f"onec-import-{file_id}")
    if ids and current_app.config.get("JOBS_INLINE"):
        session.expire_all()  # the inline jobs committed in their own sessions
