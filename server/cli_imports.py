"""`loyalty import` (registered by server.cli): import an ERP file, poll the sources, see and continue runs.

    loyalty import FILE --kind invoices [--source sap_b1] [--profile profile.json] [--workers 2]
    loyalty import poll [--source NAME]
    loyalty import runs            loyalty import show RUN_ID            loyalty import resume RUN_ID
"""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from engine.models import ImportRun, QuarantinedRow
from importers.sap_b1 import KINDS, SOURCE, ProfileError, pipeline
from server import jobs
from server.extensions import session_factory


class _FileFirst(click.Group):
    """``loyalty import FILE …`` and ``loyalty import poll``: an unknown first word is the file."""

    def resolve_command(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["file", *args]
        return super().resolve_command(ctx, args)


@click.group("import", cls=_FileFirst)
def import_group():
    """Import ERP files (SAP Business One CSV): FILE, poll, runs, show, resume."""


class _Bars:
    """One progress bar per phase (reading the file, applying it), fed by the pipeline."""

    def __init__(self):
        self.phase, self.bar, self.shown = None, None, 0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self.phase:
            self.close()
            label = "reading " if phase == "staging" else "applying"
            self.phase, self.shown = phase, 0
            self.bar = click.progressbar(length=max(total, 1), label=label, show_percent=True, show_eta=True)
            self.bar.__enter__()
        step = max(done - self.shown, 0)
        if step:
            self.bar.update(step)
            self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _run(run_id: int, workers: int, bulk: bool, chunk_lines: int | None = None) -> ImportRun:
    config = current_app.config
    bars = _Bars()
    try:
        return pipeline.execute(session_factory(), run_id, on_progress=bars, helpers=max(workers - 1, 0),
                                use_bulk=bulk and config.get("IMPORT_BULK", True),
                                chunk_lines=chunk_lines or int(config.get("IMPORT_CHUNK_LINES", 50_000)))
    finally:
        bars.close()


def _report(run: ImportRun) -> None:
    details = run.details or {}
    timing = details.get("timing") or {}
    click.echo(f"run {run.id}: {run.kind} {run.filename} — {run.status}")
    click.echo(f"  rows read {run.rows_read}, applied {run.applied}, duplicates {run.duplicates}, "
               f"quarantined {run.quarantined}, skipped {details.get('skipped', 0)}"
               + (f", {timing['total_s']} s" if timing.get("total_s") is not None else ""))
    if run.quarantined:
        click.echo(f"  see the quarantined rows with: loyalty import show {run.id}")
    if run.error:
        click.echo(f"  error: {run.error}", err=True)


@import_group.command("file", hidden=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(KINDS), required=True, help="what the file holds")
@click.option("--source", type=click.Choice([SOURCE]), default=SOURCE, show_default=True)
@click.option("--profile", "profile_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON file with the columns, encoding, delimiter… where they differ from SAP's defaults")
@click.option("--workers", type=click.IntRange(1, 16), default=1, show_default=True,
              help="processes applying chunks in parallel (PostgreSQL)")
@click.option("--chunk-lines", type=click.IntRange(1), help="lines per chunk (one transaction each)")
@click.option("--queue", "queued", is_flag=True, help="hand the file to the RQ workers instead of importing here")
@click.option("--per-document", "per_document", is_flag=True, help="skip the set-based path (for comparisons)")
@with_appcontext
def import_file(file, kind, source, profile_path, workers, chunk_lines, queued, per_document):
    """Import FILE exactly once (the same bytes again change nothing)."""
    profile = None
    if profile_path:
        try:
            profile = json.loads(profile_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise click.ClickException(f"{profile_path} is not valid JSON: {exc}") from None
    with session_factory().new_session() as session:
        try:
            run, created = pipeline.register(session, file.resolve(), kind=kind, actor="cli",
                                             origin={"via": "cli", "path": str(file.resolve())}, profile=profile)
        except (ProfileError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
        run_id, status = run.id, run.status
    if status == "done":
        click.echo(f"{file.name} was imported already (run {run_id}); nothing changed.")
        return
    if not created:
        click.echo(f"continuing run {run_id} ({status})")
    if queued:
        if current_app.config.get("JOBS_INLINE", True):
            raise click.ClickException("REDIS_URL is not set: without Redis there are no workers to queue for")
        jobs.queue_import(run_id)
        click.echo(f"run {run_id} queued on '{jobs.IMPORTS}'")
        return
    run = _run(run_id, workers, not per_document, chunk_lines)
    _report(run)
    if run.status != "done":
        raise SystemExit(1)


@import_group.command("poll")
@click.option("--source", "names", multiple=True, help="only these sources (default: all)")
@with_appcontext
def import_poll(names):
    """Fetch finished files from the configured FTP/SFTP sources and import them."""
    if not jobs.configured_sources():
        raise click.ClickException("no import sources are configured (IMPORT_SOURCES)") from None
    for line in jobs.poll_sources(list(names) or None):
        click.echo(json.dumps(line, ensure_ascii=False))


@import_group.command("runs")
@click.option("--limit", default=20, show_default=True)
@with_appcontext
def import_runs(limit):
    """The most recent import runs."""
    with session_factory().new_session() as session:
        for run in session.execute(select(ImportRun).order_by(ImportRun.id.desc()).limit(limit)).scalars():
            _report(run)


@import_group.command("show")
@click.argument("run_id", type=int)
@click.option("--rows", default=50, show_default=True, help="how many quarantined rows to list")
@with_appcontext
def import_show(run_id, rows):
    """One run and its quarantined rows (file line, reason)."""
    with session_factory().new_session() as session:
        run = session.get(ImportRun, run_id)
        if run is None:
            raise click.ClickException(f"there is no import run {run_id}") from None
        _report(run)
        stmt = (select(QuarantinedRow).where(QuarantinedRow.import_run_id == run_id)
                .order_by(QuarantinedRow.line_no, QuarantinedRow.id).limit(rows))
        for row in session.execute(stmt).scalars():
            click.echo(f"  line {row.line_no}: {row.reason}")


@import_group.command("resume")
@click.argument("run_id", type=int)
@click.option("--workers", type=click.IntRange(1, 16), default=1, show_default=True)
@click.option("--chunk-lines", type=click.IntRange(1), help="lines per chunk, if the file is staged again")
@with_appcontext
def import_resume(run_id, workers, chunk_lines):
    """Continue an interrupted run (after a crash or a killed worker) from where it stopped."""
    with session_factory().new_session() as session:
        run = session.get(ImportRun, run_id)
        if run is None:
            raise click.ClickException(f"there is no import run {run_id}") from None
    run = _run(run_id, workers, True, chunk_lines)
    _report(run)
    if run.status != "done":
        raise SystemExit(1)
