"""RQ jobs of the import pipeline (queue ``imports``): run a file, share its chunks, poll the sources.

Jobs take ids and plain values and run in a fresh app context (flask-rq
does that on a worker); without Redis (``JOBS_INLINE``) they run right away
in the caller. Enqueue only after the caller committed: a worker must find
the run it is given. A run's documents are shared out as chunks: the
`run_import` job stages the file, then enqueues ``IMPORT_WORKERS - 1``
`work_chunks` jobs, and every one of them claims chunks until none is left.

Settings (app config): ``IMPORT_SOURCES`` (see `importers.sources`),
``IMPORT_CHUNK_LINES`` (lines per chunk, 50 000), ``IMPORT_WORKERS`` (jobs
sharing one run, 2), ``IMPORT_BULK`` (set-based path on PostgreSQL, on),
``UPLOAD_FOLDER`` (where fetched and uploaded files are kept; workers on
other machines must see it too).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import current_app

from engine.models import ImportRun
from importers import pipeline, sources
from importers.transports import RemoteFile

log = logging.getLogger(__name__)
QUEUE = "imports"


def _database():
    return current_app.extensions["database"]


def _settings() -> dict:
    config = current_app.config
    return {"use_bulk": bool(config.get("IMPORT_BULK", True)),
            "chunk_lines": int(config.get("IMPORT_CHUNK_LINES", 50_000))}


def enqueue(job, *args, job_id: str | None = None):
    """Queue ``job`` on ``imports``, or run it here (fresh app context) without Redis."""
    app = current_app._get_current_object()
    if app.config.get("JOBS_INLINE", True):
        with app.app_context():
            return job(*args)
    options = {"job_id": job_id} if job_id else {}
    return app.extensions["rq"].get_queue(QUEUE).enqueue(job, *args, job_timeout=3600, **options)


def run_import(run_id: int) -> dict:
    """Stage (if needed) and apply a run to its end; helpers share the chunks when there is Redis."""
    config = current_app.config
    helpers = 0 if config.get("JOBS_INLINE", True) else max(0, int(config.get("IMPORT_WORKERS", 2)) - 1)
    run = pipeline.execute(_database(), run_id, after_staging=lambda: [
        enqueue(work_chunks, run_id) for _ in range(helpers)], **_settings())
    if run.status == "done":
        _after_processing(run)
    return summary(run)


def work_chunks(run_id: int) -> dict:
    """Help a staged run: apply chunks until none is left, and finish the run if this was the last."""
    settings = _settings()
    count = pipeline.work(_database(), run_id, use_bulk=settings["use_bulk"])
    if pipeline.finish(_database(), run_id):
        with _database().new_session() as session:
            _after_processing(session.get(ImportRun, run_id))
    return {"run": run_id, "chunks": count}


def summary(run: ImportRun) -> dict:
    return {"run": run.id, "kind": run.kind, "file": run.filename, "status": run.status,
            "rows_read": run.rows_read, "applied": run.applied, "duplicates": run.duplicates,
            "quarantined": run.quarantined, "error": run.error}


def configured_sources() -> list[sources.SourceConfig]:
    """``IMPORT_SOURCES``: JSON text, or a list of source objects (dicts or `SourceConfig`s)."""
    raw = current_app.config.get("IMPORT_SOURCES") or []
    if isinstance(raw, str):
        return sources.sources_from_json(raw)
    return [item if isinstance(item, sources.SourceConfig) else sources.source_from_dict(item) for item in raw]


def _folder(source_name: str) -> Path:
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / "sources" / source_name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def poll_sources(names: list[str] | None = None) -> list[dict]:
    """Fetch every finished file of the configured sources and queue its import (the daily cron job).

    A file whose bytes were imported already is only archived (or left, as
    configured); one whose run was interrupted is queued again to finish.
    Credentials never appear in what is logged or returned.
    """
    report = []
    for config in configured_sources():
        if names and config.name not in names:
            continue
        try:
            report.extend(_poll(config))
        except Exception as exc:  # one unreachable source must not stop the others
            log.error("polling %s failed: %s", config, exc.__class__.__name__)
            report.append({"source": config.name, "error": f"{exc.__class__.__name__}: {exc}"})
    return report


def _poll(config: sources.SourceConfig) -> list[dict]:
    database, report = _database(), []
    with sources.open_transport(config) as transport:
        for kind, item in sources.ready_files(transport, config):
            fetched = transport.fetch(item.name, _folder(config.name) / f".{item.name}.incoming")
            # Named by content: a file of the same name tomorrow never overwrites one still being imported.
            local = _folder(config.name) / f"{fetched.sha256[:16]}_{item.name}"
            os.replace(fetched.path, local)
            with database.new_session() as session:
                run, _created = pipeline.register(
                    session, local, kind=kind, actor=f"import:{config.name}", filename=item.name,
                    sha256=fetched.sha256, size=fetched.size,
                    origin={"via": config.protocol, "source": config.name, "remote": item.name,
                            "marker": item.marker},
                    profile=config.profile_for(kind).to_dict())
                status, run_id = run.status, run.id
                session.commit()
            if status == "done":  # the same bytes again: nothing to import, only tidy the folder
                sources.finish_file(transport, config, item)
                report.append({"source": config.name, "file": item.name, "run": run_id, "status": "known"})
                continue
            enqueue(run_import, run_id, job_id=f"import-run-{run_id}")
            report.append({"source": config.name, "file": item.name, "run": run_id, "status": "queued"})
    return report


def _after_processing(run: ImportRun | None) -> None:
    """Archive (or delete, or leave) a finished run's file on the source it came from."""
    origin = ((run.details or {}).get("origin") or {}) if run is not None else {}
    if origin.get("via") not in sources.PROTOCOLS:
        return
    config = next((c for c in configured_sources() if c.name == origin.get("source")), None)
    if config is None or config.after_processing == "leave":
        return
    try:
        with sources.open_transport(config) as transport:
            present = {f.name: f for f in transport.list("*")}
            item = present.get(origin.get("remote"))
            if item is not None:
                marker = origin.get("marker")
                sources.finish_file(transport, config, RemoteFile(item.name, item.size, item.mtime,
                                                                  marker if marker in present else None))
    except Exception as exc:  # the next poll finds the file, sees it is known, and tries again
        log.warning("could not tidy %s on %s: %s", origin.get("remote"), config, exc.__class__.__name__)
