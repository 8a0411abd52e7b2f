"""The nightly jobs: mature pending lots, birthdays, expire lots, warn about upcoming expiry.

Each job is idempotent for its day (a `JobRun` row per job and day in the
program's time zone), and each posting is idempotent on its own key, so a
re-run or a late run changes nothing twice.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import clock, ledger, policies
from engine.ledger import sweeps
from engine.models import JobRun, Lot

ORDER = ("mature", "tiers", "birthdays", "expire", "warn", "digest")
# Connections the nightly expiry shares its batches between (PostgreSQL, more than one batch): the
# statements are bound by PostgreSQL's CPU, one core each.
EXPIRE_WORKERS = 2


def day_of(session: Session, now: datetime) -> str:
    return now.astimezone(policies.settings(session, now).tz).date().isoformat()


def start_run(session: Session, job: str, now: datetime, *, force: bool = False) -> JobRun | None:
    """Claim today's run of ``job``; None when it already ran today (unless forced)."""
    day = day_of(session, now)
    existing = session.execute(select(JobRun).where(JobRun.job == job, JobRun.day == day)
                               ).scalar_one_or_none()
    if existing is not None:
        if not force:
            return None
        existing.started_at = now
        return existing
    run = JobRun(job=job, day=day, started_at=now)
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:  # another process claimed it first
        return None
    return run


def finish_run(run: JobRun, now: datetime, **stats) -> None:
    run.finished_at = now
    run.stats = {k: str(v) if isinstance(v, Decimal) else v for k, v in stats.items()}


def run_once(session: Session, job: str, step, now: datetime, *, force: bool = False) -> dict | None:
    """Run ``step(session, now)`` as today's run of ``job``; None when it already ran."""
    run = start_run(session, job, now, force=force)
    if run is None:
        return None
    stats = step(session, now)
    finish_run(run, clock.now(), **stats)
    return stats


def mature(session: Session, now: datetime) -> dict:
    """Mark lots whose holding period ended as matured and let them pay any debt (set-based)."""
    return sweeps.mature(session, now)


def expire(session: Session, now: datetime, *, actor: str = "system:expire",
           workers: int = EXPIRE_WORKERS) -> dict:
    """Turn the remainder of every lot past its expiry into an expiry entry (set-based; its batches
    on ``workers`` connections, each committed on its own: call it with nothing uncommitted but the
    day's `JobRun`)."""
    return sweeps.expire(session, now, actor=actor, workers=workers)


# The per-lot paths: the reference the set-based sweeps are compared with (tests, bench_daily).

def mature_per_lot(session: Session, now: datetime, *, batch: int = 1000) -> dict:
    """`mature`, lot by lot through the ORM."""
    matured = 0
    paid = Decimal(0)
    while True:
        lots = list(session.execute(
            select(Lot).where(Lot.matured_at.is_(None), Lot.available_at <= now)
            .order_by(Lot.account_id, Lot.id).limit(batch)).scalars())
        if not lots:
            break
        for account_id in sorted({lot.account_id for lot in lots}):
            account = ledger.lock_account(session, account_id)
            paid += ledger.settle_debt(session, account, now)
        for lot in lots:
            lot.matured_at = now
        matured += len(lots)
        session.flush()
    return {"matured": matured, "debt_paid": paid}


def expire_per_lot(session: Session, now: datetime, *, actor: str = "system:expire",
                   batch: int = 1000) -> dict:
    """`expire`, lot by lot through the ORM."""
    expired = 0
    points = Decimal(0)
    last_id = 0
    while True:
        lots = list(session.execute(
            select(Lot).where(Lot.remaining > 0, Lot.expires_at <= now, Lot.id > last_id)
            .order_by(Lot.id).limit(batch)).scalars())
        if not lots:
            break
        last_id = lots[-1].id
        for account_id in sorted({lot.account_id for lot in lots}):
            account = ledger.lock_account(session, account_id)
            for lot in (l for l in lots if l.account_id == account_id):
                session.refresh(lot)
                entry = ledger.expire_lot(session, account, lot, now, actor)
                if entry is not None:
                    expired += 1
                    points -= entry.amount
        session.flush()
    return {"lots": expired, "points": points}
