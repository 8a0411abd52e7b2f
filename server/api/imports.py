"""ERP file imports over HTTP: upload a SAP B1 export, follow its run, read its quarantined rows.

``POST /api/v1/imports`` takes the file as the multipart field ``file`` (with
``kind`` and ``source`` form fields) or as the raw request body (``kind``,
``source`` and ``filename`` in the query string). The bytes are streamed to
UPLOAD_FOLDER and hashed on the way, never held in memory; the same bytes
again find their earlier run and change nothing. The import itself is a job
(queue ``imports``), enqueued after the run is committed; without Redis it
runs before the response is sent.
"""
from __future__ import annotations

from pathlib import Path

from flask import g, request, url_for
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from engine import imports
from engine.models import ImportRun, QuarantinedRow
from importers.onec.uploads import UnsafeName, safe_basename
from importers.sap_b1 import KINDS, SOURCE, ProfileError, pipeline
from server import jobs, uploads
from server.api.bounds import Text
from server.auth import require
from server.errors import ApiError
from server.extensions import db
from server.formats import xml_root

blp = Blueprint("imports", __name__, url_prefix="/api/v1/imports",
                description="SAP Business One file imports: upload, status, quarantined rows")
# Stored as "<16 hex>_<name>": the whole must stay below a file system's 255 bytes.
MAX_NAME_BYTES = 200


class ListArgs(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))
    kind = Text(32)
    status = Text(32)


class RowsArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(1, 1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(1, 500))


def _upload() -> tuple[object, str, str, str]:
    """(stream, filename, kind, source) from a multipart form or a raw body."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ApiError(422, "validation_error", "Send the file in the multipart field 'file'.",
                           {"fields": {"file": ["Missing file."]}})
        values, stream, name = request.form, upload.stream, upload.filename or ""
    else:
        values, stream, name = request.args, request.stream, request.args.get("filename", "")
    kind, source = values.get("kind", ""), values.get("source", SOURCE)
    if kind not in KINDS:
        raise ApiError(422, "validation_error", f"kind must be one of: {', '.join(KINDS)}.",
                       {"fields": {"kind": [f"Unknown kind {kind!r}." if kind else "Missing kind."]}})
    if source != SOURCE:
        raise ApiError(422, "validation_error", f"source must be {SOURCE!r} (the only ERP format so far).",
                       {"fields": {"source": [f"Unknown source {source!r}."]}})
    try:
        filename = safe_basename(name or f"{kind}.csv")
    except UnsafeName as exc:
        raise ApiError(422, "validation_error", str(exc), {"fields": {"filename": [str(exc)]}}) from exc
    if len(filename.encode("utf-8")) > MAX_NAME_BYTES:
        message = f"The file name is longer than {MAX_NAME_BYTES} bytes; rename the file and send it again."
        raise ApiError(422, "validation_error", message, {"fields": {"filename": [message]}})
    return stream, filename, kind, source


def _run_out(session, run: ImportRun) -> dict:
    details = run.details or {}
    timing = details.get("timing") or {}
    seconds = timing.get("total_s")
    if seconds is None and run.started_at is not None and run.finished_at is not None:
        seconds = round((run.finished_at - run.started_at).total_seconds(), 3)
    return {
        "id": run.id, "source": run.source, "kind": run.kind, "filename": run.filename, "sha256": run.sha256,
        "size": run.size, "status": run.status, "actor": run.actor, "origin": details.get("origin") or {},
        "encoding": details.get("encoding"),
        "counts": {"rows_read": run.rows_read, "applied": run.applied, "duplicates": run.duplicates,
                   "quarantined": run.quarantined, "skipped": details.get("skipped", 0)},
        "progress": imports.run_progress(session, run),
        "timing": {"created_at": run.created_at, "started_at": run.started_at, "finished_at": run.finished_at,
                   "seconds": seconds, "staging_seconds": timing.get("staging_s")},
        "error": run.error,
        "links": {"self": url_for("imports.get_import", run_id=run.id),
                  "rows": url_for("imports.quarantined_rows", run_id=run.id)},
    }


def _get(session, run_id: int) -> ImportRun:
    run = session.get(ImportRun, run_id) if 0 < run_id < 2 ** 63 else None
    if run is None:
        raise ApiError(404, "not_found", f"There is no import run {run_id}.")
    return run


@blp.route("", methods=["POST"])
@require("imports:write")
def upload():
    """Upload an ERP file (multipart field ``file`` with ``kind``, or the raw body with ``?kind=``).

    201 with the new run (already finished when the server has no job queue),
    200 with the earlier run when these exact bytes were received before.
    """
    xml_root("import")
    stream, filename, kind, _source = _upload()
    path, sha256, size = uploads.store(stream, filename)
    session = db.session()
    try:
        run, created = pipeline.register(session, path, kind=kind, actor=g.actor, filename=filename,
                                         sha256=sha256, size=size, origin={"via": "upload"})
    except (ProfileError, ValueError) as exc:
        raise ApiError(422, "validation_error", str(exc)) from exc
    session.commit()
    if not created and Path(run.stored_path or "") != path and path.exists():
        path.unlink()  # the bytes were stored under their first run already
    if run.status != "done":
        jobs.queue_import(run.id)  # after the commit
        session.expire_all()
    return run_answer(session, run.id, created)


def run_answer(session, run_id: int, created: bool) -> tuple:
    """An upload's answer: 201 with the new run, 200 with the earlier run of the same bytes."""
    body = _run_out(session, session.get(ImportRun, run_id))
    body["already_imported"] = not created
    return body, (201 if created else 200), {"Location": body["links"]["self"]}


@blp.route("", methods=["GET"])
@require("imports:read")
@blp.arguments(ListArgs, location="query")
def list_imports(args):
    """Recent import runs, newest first (``?limit=``, ``?kind=``, ``?status=``)."""
    xml_root("imports")
    session = db.session()
    stmt = select(ImportRun).order_by(ImportRun.id.desc()).limit(args["limit"])
    if args.get("kind"):
        stmt = stmt.where(ImportRun.kind == args["kind"])
    if args.get("status"):
        stmt = stmt.where(ImportRun.status == args["status"])
    return {"imports": [_run_out(session, run) for run in session.execute(stmt).scalars()]}


@blp.route("/<int:run_id>", methods=["GET"])
@require("imports:read")
def get_import(run_id: int):
    """One run: status, progress, counts, timing, errors."""
    xml_root("import")
    session = db.session()
    return _run_out(session, _get(session, run_id))


@blp.route("/<int:run_id>/rows", methods=["GET"])
@require("imports:read")
@blp.arguments(RowsArgs, location="query")
def quarantined_rows(args, run_id: int):
    """The run's quarantined rows by file line (``?page=``, ``?per_page=`` up to 500)."""
    xml_root("quarantine")
    session = db.session()
    run = _get(session, run_id)
    page, per_page = args["page"], args["per_page"]
    total = session.execute(select(func.count(QuarantinedRow.id))
                            .where(QuarantinedRow.import_run_id == run.id)).scalar_one()
    rows = session.execute(select(QuarantinedRow).where(QuarantinedRow.import_run_id == run.id)
                           .order_by(QuarantinedRow.line_no, QuarantinedRow.id)
                           .offset((page - 1) * per_page).limit(per_page)).scalars()
    return {"run": run.id, "file": run.filename, "page": page, "per_page": per_page, "total": total,
            "rows": [{"line_no": r.line_no, "raw": r.raw, "reason": r.reason, "details": r.details or {}}
                     for r in rows]}
