"""Imports: runs with their counts, a run's quarantined rows (and as CSV), upload with live progress."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from flask import Response, abort, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from admin_ui import bp
from admin_ui.auth import WRITERS, role_required
from admin_ui.forms import UploadForm
from engine import imports as import_runs
from engine import reports
from engine.models import ImportRun, QuarantinedRow
from importers.onec.uploads import UnsafeName, safe_basename
from importers.sap_b1 import KINDS, ProfileError, pipeline

# The API's own helpers, so an upload here is stored and reported exactly as POST /api/v1/imports does.
from server import jobs, uploads
from server.errors import ApiError
from server.extensions import db

PER_PAGE = 25
ROWS_PER_PAGE = 100


def _kind_choices():
    names = {"customers": _("Customers"), "invoices": _("Invoices"), "credit_notes": _("Credit notes"),
             "catalog": _("Catalog")}
    return [(kind, names.get(kind, kind)) for kind in KINDS]


def _run(session, run_id: int) -> ImportRun:
    run = session.get(ImportRun, run_id) if 0 < run_id < 2 ** 63 else None
    if run is None:
        abort(404)
    return run


@bp.get("/imports")
@login_required
def imports():
    session = db.session()
    page = max(request.args.get("page", 1, type=int), 1)
    total = reports.count_imports(session)
    form = UploadForm(formdata=None)
    form.kind.choices = _kind_choices()
    return render_template("admin/imports/list.html", form=form, page=reports.Page(
        reports.recent_imports(session, limit=PER_PAGE, offset=(page - 1) * PER_PAGE), total, page, PER_PAGE),
        can_write=current_user.role in WRITERS)


@bp.post("/imports")
@role_required(*WRITERS)
def import_upload():
    session = db.session()
    form = UploadForm()
    form.kind.choices = _kind_choices()
    if not form.validate():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(url_for("admin.imports"))
    upload = form.file.data
    try:
        filename = safe_basename(upload.filename or f"{form.kind.data}.csv")
        path, sha256, size = uploads.store(upload.stream, filename)
        run, created = pipeline.register(session, path, kind=form.kind.data, actor=f"admin:{current_user.email}",
                                         filename=filename, sha256=sha256, size=size,
                                         origin={"via": "admin-ui"})
    except (UnsafeName, ProfileError, ValueError) as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.imports"))
    except ApiError as exc:
        flash(_("The file is empty; nothing was imported.") if exc.code == "empty_file" else exc.message, "error")
        return redirect(url_for("admin.imports"))
    session.commit()
    run_id = run.id
    if not created:
        if Path(run.stored_path or "") != path and path.exists():
            path.unlink()  # the bytes were stored under their first run already
        flash(_("These exact bytes were imported before (run %(id)s): nothing changed.", id=run_id), "ok")
    elif run.status != "done":
        jobs.queue_import(run_id)  # after the commit
    return redirect(url_for("admin.import_run", run_id=run_id))


def _rows(session, run: ImportRun, page: int, per_page: int):
    return list(session.execute(select(QuarantinedRow).where(QuarantinedRow.import_run_id == run.id)
                                .order_by(QuarantinedRow.line_no, QuarantinedRow.id)
                                .offset((page - 1) * per_page).limit(per_page)).scalars())


@bp.get("/imports/<int:run_id>")
@login_required
def import_run(run_id: int):
    session = db.session()
    run = _run(session, run_id)
    page = max(request.args.get("page", 1, type=int), 1)
    total = session.execute(select(func.count(QuarantinedRow.id))
                            .where(QuarantinedRow.import_run_id == run.id)).scalar_one()
    return render_template("admin/imports/run.html", run=run, progress=import_runs.run_progress(session, run),
                           rows=reports.Page(_rows(session, run, page, ROWS_PER_PAGE), total, page, ROWS_PER_PAGE))


@bp.get("/imports/<int:run_id>/progress")
@login_required
def import_progress(run_id: int):
    """The progress bar alone, polled by htmx until the run has finished."""
    session = db.session()
    run = _run(session, run_id)
    progress = import_runs.run_progress(session, run)
    response = Response(render_template("admin/imports/_progress.html", run=run, progress=progress))
    if run.status in ("done", "failed") and request.headers.get("HX-Request"):
        response.headers["HX-Refresh"] = "true"  # reload once so the counts and rows appear
    return response


@bp.get("/imports/<int:run_id>/quarantine.csv")
@login_required
def import_quarantine_csv(run_id: int):
    run = _run(db.session(), run_id)
    stem = Path(run.filename).stem or "import"

    def generate():  # runs while the response streams, in the request's context
        session = db.session()
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["line", "reason", "raw"])
        stmt = (select(QuarantinedRow.line_no, QuarantinedRow.reason, QuarantinedRow.raw)
                .where(QuarantinedRow.import_run_id == run_id)
                .order_by(QuarantinedRow.line_no, QuarantinedRow.id))
        for line_no, reason, raw in session.execute(stmt.execution_options(yield_per=1000)):
            writer.writerow([line_no if line_no is not None else "", reason, raw])
            if buffer.tell() > 1 << 16:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(stream_with_context(generate()), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="run-{run_id}-{stem}-quarantine.csv"'})
