"""Per-account figures for many accounts at once (the monthly digest, an import run's credits): set-based reads.

Each function answers for a batch of accounts with a few GROUP BY queries
instead of one balance query per member, so a digest of a million members
is a thousand batches of a handful of statements.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from engine.models import Account, LedgerEntry, Lot
from engine.models.bulk import one_of

ZERO = Decimal(0)
# Credits a member earned; refunds (a redemption given back) and transfers are not "earned".
EARNING = ("accrual", "mission_reward", "promo_code", "adjustment", "birthday", "referral", "event")


@dataclass(frozen=True)
class Figures:
    available: Decimal = ZERO
    pending: Decimal = ZERO
    earned: Decimal = ZERO  # positive entries of an earning kind in the window
    spent: Decimal = ZERO  # redemptions in the window, net of their refunds
    expired: Decimal = ZERO  # points that expired in the window
    expiring: Decimal = ZERO  # points left that expire before ``expiring_until``

    @property
    def balance(self) -> Decimal:
        return self.available + self.pending


def balances(session: Session, account_ids: Iterable[int], now: datetime) -> dict[int, tuple[Decimal, Decimal]]:
    """account id → (available, pending) at ``now``, as `ledger.balance` computes them."""
    ids = list(account_ids)
    if not ids:
        return {}
    live = or_(Lot.expires_at.is_(None), Lot.expires_at > now)
    rows = session.execute(
        select(Lot.account_id,
               func.coalesce(func.sum(case((Lot.available_at <= now, Lot.remaining), else_=0)), 0),
               func.coalesce(func.sum(case((Lot.available_at > now, Lot.remaining), else_=0)), 0))
        .where(one_of(session, Lot.account_id, ids), Lot.remaining > 0, live).group_by(Lot.account_id)).all()
    found = {a: (Decimal(av), Decimal(pe)) for a, av, pe in rows}
    # Account ids as one array parameter: an IN-list of a thousand binds cost more to render than to run.
    debts = dict(session.execute(select(Account.id, Account.debt).where(one_of(session, Account.id, ids),
                                                                       Account.debt > 0)).all())
    out = {}
    for account_id in ids:
        available, pending = found.get(account_id, (ZERO, ZERO))
        out[account_id] = (available - Decimal(debts.get(account_id, 0)), pending)
    return out


def window(session: Session, account_ids: Iterable[int], start: datetime, end: datetime, now: datetime,
           expiring_until: datetime) -> dict[int, Figures]:
    """account id → the figures of ``[start, end)`` (earned, spent, expired), the balance at ``now`` and
    what expires between ``now`` and ``expiring_until``."""
    ids = list(account_ids)
    if not ids:
        return {}
    amount = LedgerEntry.amount
    moves = dict((a, (Decimal(e), Decimal(s), Decimal(x))) for a, e, s, x in session.execute(
        select(LedgerEntry.account_id,
               func.coalesce(func.sum(case(((LedgerEntry.kind.in_(EARNING)) & (amount > 0), amount), else_=0)), 0),
               func.coalesce(func.sum(case((LedgerEntry.kind.in_(("redemption", "refund")), -amount), else_=0)), 0),
               func.coalesce(func.sum(case((LedgerEntry.kind == "expiry", -amount), else_=0)), 0))
        .where(LedgerEntry.account_id.in_(ids), LedgerEntry.created_at >= start, LedgerEntry.created_at < end)
        .group_by(LedgerEntry.account_id)).all())
    expiring = {a: Decimal(p) for a, p in session.execute(
        select(Lot.account_id, func.sum(Lot.remaining))
        .where(Lot.account_id.in_(ids), Lot.remaining > 0, Lot.expires_at > now, Lot.expires_at <= expiring_until)
        .group_by(Lot.account_id)).all()}
    out = {}
    for account_id, (available, pending) in balances(session, ids, now).items():
        earned, spent, expired = moves.get(account_id, (ZERO, ZERO, ZERO))
        out[account_id] = Figures(available, pending, earned, spent, expired, expiring.get(account_id, ZERO))
    return out


def existing_entries(session: Session, entry_ids: list[int]) -> set[int]:
    """Which of these entry ids are there (a savepoint may have rolled some back)."""
    found: set[int] = set()
    for start in range(0, len(entry_ids), 1000):
        part = entry_ids[start:start + 1000]
        found.update(session.execute(select(LedgerEntry.id).where(LedgerEntry.id.in_(part))).scalars())
    return found
