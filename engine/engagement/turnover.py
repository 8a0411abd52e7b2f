"""Turnover in the tier window, set-based, and historical turnover imported when a shop migrates [003].

The window is the rolling 12 months of ``turnover_12m`` (365 days before the
recalculation): the totals of the member's orders and invoices placed in it
(not cancelled, net of returns and credit notes), plus the imported periods
whose day (a month's first day) falls in it, in the program's time zone. Only
the tier recalculation and the tier progress read the imported part; the
accrual rules' ``turnover_12m`` stays what the member bought here.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import imports, members
from engine.domain import Origin, RowError
from engine.models import Document, HistoricalTurnover, ImportRun
from engine.models.base import Amount

WINDOW = timedelta(days=365)
SOURCE, KIND = "tiers", "turnover"


def window_turnover(session: Session, now: datetime, tz, member_ids: Iterable[int] | None = None
                    ) -> dict[int, Decimal]:
    """Member id → turnover in the window ending at ``now``: two grouped queries, whatever the count."""
    start = now - WINDOW
    docs = (select(Document.member_id, func.sum(Document.total, type_=Amount()))
            .where(Document.placed_at >= start, Document.placed_at < now,
                   Document.document_type.in_(("order", "invoice")), Document.status != "cancelled")
            .group_by(Document.member_id))
    first_day, today = start.astimezone(tz).date(), now.astimezone(tz).date()
    old = (select(HistoricalTurnover.member_id, func.sum(HistoricalTurnover.amount, type_=Amount()))
           .where(HistoricalTurnover.period >= first_day, HistoricalTurnover.period <= today)
           .group_by(HistoricalTurnover.member_id))
    if member_ids is not None:
        ids = list(member_ids)
        docs = docs.where(Document.member_id.in_(ids))
        old = old.where(HistoricalTurnover.member_id.in_(ids))
    totals: dict[int, Decimal] = {}
    for query in (docs, old):
        for member_id, amount in session.execute(query):
            totals[member_id] = totals.get(member_id, Decimal(0)) + Decimal(amount or 0)
    return totals


def record(session: Session, *, filename: str, sha256: str, size: int, rows, bad_rows, actor: str,
           now: datetime) -> tuple[ImportRun, bool]:
    """Store a parsed turnover file as one import run (exactly once per content): good rows replace
    their member's period, bad rows and unknown members are quarantined. Returns (run, created)."""
    run, created = imports.begin_run(session, source=SOURCE, kind=KIND, filename=filename, sha256=sha256,
                                     size=size, actor=actor, now=now)
    if not created:
        return run, False
    session.flush()
    run.started_at = now
    tally = imports.Tally(rows_read=len(rows) + len(bad_rows))

    def bad(line_no: int, raw: str, reason: str) -> None:
        imports.quarantine(session, run, RowError(Origin("upload", filename, line_no), raw, reason))
        tally.add("quarantined")

    for row in bad_rows:
        bad(row.line_no, row.raw, row.reason)
    seen: dict[tuple[int, date], int] = {}
    refs: dict[str, int | None] = {}
    for row in rows:
        if row.member_ref not in refs:
            member = members.resolve(session, row.member_ref)
            refs[row.member_ref] = member.id if member is not None else None
        member_id = refs[row.member_ref]
        if member_id is None:
            bad(row.line_no, row.raw, f"no member matches {row.member_ref!r}")
            continue
        key = (member_id, row.period)
        if key in seen:
            bad(row.line_no, row.raw, f"the same member and period as line {seen[key]}")
            continue
        seen[key] = row.line_no
        existing = session.execute(select(HistoricalTurnover).where(
            HistoricalTurnover.member_id == member_id, HistoricalTurnover.period == row.period)
        ).scalar_one_or_none()
        if existing is None:
            session.add(HistoricalTurnover(member_id=member_id, period=row.period, amount=row.amount,
                                           import_run_id=run.id, created_at=now))
            tally.add("applied")
        elif existing.amount == row.amount:
            tally.add("duplicate")
        else:
            existing.amount, existing.import_run_id = row.amount, run.id
            tally.add("applied")
    imports.finish(run, tally, now)
    session.flush()
    return run, True
