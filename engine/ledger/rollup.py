"""The dashboard's summaries of the ledger: per UTC hour and kind, each account's last activity, and the
grand total, kept up to an entry id (entries are append-only, so their ids only grow).

``refresh`` folds the entries appended since the last refresh (and older than ``FOLD_LAG``) into the
summaries (set-based, under a row lock, so two refreshes never count an entry twice); readers add the
entries past the watermark live (the tail), so what they show is exact at any moment. The nightly jobs
refresh; the dashboard refreshes too when the tail has grown past ``TAIL_LIMIT``.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.models import AccountActivity, LedgerEntry, LedgerHourTotal, RollupState

FOLD_LAG = timedelta(hours=1)  # longer than any transaction that writes ledger entries
TAIL_LIMIT = 50_000  # entries past the watermark a reader still sums live before it refreshes first
ZERO = Decimal(0)


def _hour(session: Session, column):
    if session.get_bind().dialect.name == "postgresql":
        return func.timezone("UTC", func.date_trunc("hour", func.timezone("UTC", column)))
    return func.strftime("%Y-%m-%d %H:00:00.000000", column)


def _insert(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def state(session: Session, *, lock: bool = False) -> RollupState:
    stmt = select(RollupState).where(RollupState.id == 1)
    # Locked: re-read the row even when this session loaded it before (a concurrent refresh may have moved it).
    stmt = stmt.with_for_update().execution_options(populate_existing=True) if lock else stmt
    row = session.execute(stmt).scalar_one_or_none()
    if row is None and not lock:  # never refreshed: readers sum the whole ledger as the tail, and write nothing
        return RollupState(id=1, last_entry_id=0, total=ZERO)
    if row is None:
        insert = _insert(session)
        session.execute(insert(RollupState).values(id=1, last_entry_id=0, total=ZERO).on_conflict_do_nothing())
        row = session.execute(stmt).scalar_one()
    return row


def refresh(session: Session, now: datetime) -> dict:
    """Fold the entries appended since the last refresh and written before ``now - FOLD_LAG`` into the
    summaries; the caller commits.

    The lag is for ids taken by transactions still open: an id below the newest one may commit later, so
    only ids older than any ledger transaction lasts are folded (the rest stays in the live tail)."""
    row = state(session, lock=True)
    since = row.last_entry_id
    upto = session.execute(select(func.max(LedgerEntry.id)).where(
        LedgerEntry.id > since, LedgerEntry.created_at <= now - FOLD_LAG)).scalar_one() or 0
    if upto <= since:
        return {"entries": 0, "last_entry_id": since}
    window = (LedgerEntry.id > since) & (LedgerEntry.id <= upto)
    insert = _insert(session)
    added, count = ZERO, 0
    for at, kind, credit, debit, entries in hour_totals(session, window):
        stmt = insert(LedgerHourTotal).values(hour=at, kind=kind, credit=credit, debit=debit, entries=entries)
        session.execute(stmt.on_conflict_do_update(
            index_elements=["hour", "kind"],
            set_={"credit": LedgerHourTotal.credit + stmt.excluded.credit,
                  "debit": LedgerHourTotal.debit + stmt.excluded.debit,
                  "entries": LedgerHourTotal.entries + stmt.excluded.entries}))
        added, count = added + credit + debit, count + entries
    last = (select(LedgerEntry.account_id, func.max(LedgerEntry.effective_at).label("last_at"))
            .where(window).group_by(LedgerEntry.account_id))
    if session.get_bind().dialect.name == "postgresql":
        stmt = insert(AccountActivity).from_select(["account_id", "last_at"], last)
        session.execute(stmt.on_conflict_do_update(
            index_elements=["account_id"], set_={"last_at": func.greatest(AccountActivity.last_at,
                                                                          stmt.excluded.last_at)}))
    else:
        for account_id, last_at in session.execute(last).all():
            stmt = insert(AccountActivity).values(account_id=account_id, last_at=last_at)
            session.execute(stmt.on_conflict_do_update(
                index_elements=["account_id"], set_={"last_at": func.max(AccountActivity.last_at,
                                                                         stmt.excluded.last_at)}))
    row.last_entry_id, row.total, row.refreshed_at = upto, row.total + added, now
    session.flush()
    return {"entries": count, "last_entry_id": upto}


def hour_totals(session: Session, where) -> list[tuple[datetime, str, Decimal, Decimal, int]]:
    """(UTC hour, kind, positive sum, negative sum, count) of the entries ``where`` selects."""
    hour = _hour(session, LedgerEntry.effective_at).label("hour")
    amount = LedgerEntry.amount
    rows = session.execute(select(hour, LedgerEntry.kind, func.coalesce(func.sum(amount).filter(amount > 0), 0),
                                  func.coalesce(func.sum(amount).filter(amount < 0), 0), func.count())
                           .where(where).group_by(hour, LedgerEntry.kind)).all()
    out = []
    for at, kind, credit, debit, entries in rows:
        at = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        out.append((at if at.tzinfo else at.replace(tzinfo=UTC), kind, Decimal(credit), Decimal(debit), entries))
    return out


def tail_size(session: Session) -> int:
    since = state(session).last_entry_id
    upto = session.execute(select(func.max(LedgerEntry.id))).scalar_one() or 0
    return max(upto - since, 0)
