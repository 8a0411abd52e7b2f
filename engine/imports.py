"""Applying received files: import runs, exactly-once per file, per-document savepoints,
and the quarantine. Every source (SAP B1 file, upload, 1C) goes through here.

A run is identified by (source, kind, sha256): the same bytes again find the
finished run and change nothing. Inside a run each document is applied in its
own savepoint, so a bad document is quarantined with its reason and the good
ones go through; each document is itself idempotent on its ERP key, so an
overlapping file or a re-run after a crash posts nothing twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import ledger, members
from engine.documents import catalog, orders, redemptions
from engine.domain import CustomerDoc, ProductDoc, PurchaseDoc, RowError, WriteOffDoc
from engine.engagement import rewards
from engine.members import customers
from engine.models import ImportChunk, ImportRun, QuarantinedRow

OUTCOMES = ("applied", "duplicate", "quarantined", "skipped")
# Files whose documents are staged and applied in chunks (the SAP pipeline).
DOCUMENT_KINDS = ("invoices", "credit_notes")
# Errors that mean "this document cannot be applied": quarantine it, go on.
DOCUMENT_ERRORS = (orders.DocumentError, members.MemberError, ledger.LedgerError,
                   redemptions.RedemptionError, customers.CustomerError, ValueError)


@dataclass
class Tally:
    rows_read: int = 0
    applied: int = 0
    duplicates: int = 0
    quarantined: int = 0

    def add(self, outcome: str) -> None:
        if outcome == "applied":
            self.applied += 1
        elif outcome == "duplicate":
            self.duplicates += 1
        elif outcome == "quarantined":
            self.quarantined += 1


def begin_run(session: Session, *, source: str, kind: str, filename: str, sha256: str,
              size: int, actor: str, now: datetime,
              stored_path: str | None = None) -> tuple[ImportRun, bool]:
    """Find or create the run for these bytes; returns (run, created)."""
    stmt = select(ImportRun).where(ImportRun.source == source, ImportRun.kind == kind,
                                   ImportRun.sha256 == sha256)
    existing = session.execute(stmt).scalar_one_or_none()
    if existing is not None:
        return existing, False
    run = ImportRun(source=source, kind=kind, filename=filename, sha256=sha256, size=size,
                    actor=actor, status="queued", created_at=now, stored_path=stored_path)
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:  # the same file registered concurrently
        return session.execute(stmt).scalar_one(), False
    return run, True


def quarantine(session: Session, run: ImportRun, error: RowError) -> None:
    session.add(QuarantinedRow(import_run_id=run.id, line_no=error.origin.line_no,
                               raw=error.raw[:10000], reason=error.reason,
                               details=error.extra or None))


def apply(session: Session, run: ImportRun, item, *, actor: str, now: datetime,
          raw: str = "") -> str:
    """Apply one parsed item (document, customer, product, write-off, or RowError)."""
    if isinstance(item, RowError):
        quarantine(session, run, item)
        return "quarantined"
    try:
        with session.begin_nested():
            return _apply(session, item, actor=actor, now=now)
    except DOCUMENT_ERRORS as exc:
        origin = getattr(item, "origin", None)
        quarantine(session, run, RowError(origin=origin, raw=raw or _describe(item),
                                          reason=str(exc),
                                          extra={"code": getattr(exc, "code", "invalid")}))
        return "quarantined"


def _describe(item) -> str:
    key = getattr(item, "external_id", None) or getattr(item, "sku", "")
    return f"{type(item).__name__} {key}"


def _apply(session: Session, item, *, actor: str, now: datetime) -> str:
    if isinstance(item, PurchaseDoc):
        # An ERP invoice counts as fulfilled on its document date: the holding
        # period and the lot's life start there, not at the import.
        accrue_from = item.placed_at if item.document_type == "invoice" else None
        _doc, created = orders.record_purchase(session, item, actor=actor, now=now,
                                               accrue_from=accrue_from)
        return "applied" if created else "duplicate"
    if isinstance(item, CustomerDoc):
        return customers.upsert(session, item, now=now)
    if isinstance(item, ProductDoc):
        product = catalog.upsert(session, item, now=now)
        reward = rewards.from_catalog(session, item, now=now)
        return "applied" if "applied" in (product, reward) else "duplicate"
    if isinstance(item, WriteOffDoc):
        request = redemptions.RedemptionRequest(
            source=item.source, external_id=item.external_id, member_ref=item.member_ref,
            points=item.points, order_external_id=item.document_external_id)
        _red, created = redemptions.redeem(session, request, actor=actor, now=now)
        return "applied" if created else "duplicate"
    raise ValueError(f"cannot import a {type(item).__name__}")


def finish(run: ImportRun, tally: Tally, now: datetime, *, error: str | None = None) -> None:
    run.rows_read += tally.rows_read
    run.applied += tally.applied
    run.duplicates += tally.duplicates
    run.quarantined += tally.quarantined
    run.status = "failed" if error else "done"
    run.error = error
    run.finished_at = now


def run_progress(session: Session, run: ImportRun) -> dict:
    """How far a run has come: its own progress, or its chunks' once a document file is staged."""
    progress = dict(run.progress or {})
    if run.kind in DOCUMENT_KINDS and (run.details or {}).get("staged"):
        total, done, chunks, chunks_done = session.execute(
            select(func.coalesce(func.sum(ImportChunk.lines), 0),
                   func.coalesce(func.sum(ImportChunk.lines).filter(ImportChunk.status == "done"), 0),
                   func.count(ImportChunk.id), func.count(ImportChunk.id).filter(ImportChunk.status == "done"))
            .where(ImportChunk.import_run_id == run.id)).one()
        progress.update({"phase": "done" if run.status == "done" else "applying", "done": int(done),
                         "total": int(total), "chunks": int(chunks), "chunks_done": int(chunks_done)})
    total = progress.get("total") or 0
    progress["percent"] = 100 if run.status == "done" else (
        round(100 * progress.get("done", 0) / total, 1) if total else 0)
    return progress
