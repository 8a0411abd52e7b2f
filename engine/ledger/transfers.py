"""Moving points between accounts: a transfer debit and a credit whose lots mirror the lots it took."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine import policies, terms
from engine.ledger.locks import lock_account
from engine.ledger.posting import LotSpec, allocations_of, credit, debit
from engine.models import Account, LedgerEntry, Lot
from rules.facts import MemberFacts

ZERO = Decimal(0)


def lock_pair(session: Session, a: int, b: int) -> tuple[Account, Account]:
    """Lock two accounts in id order (no deadlock between opposite merges)."""
    locked = {i: lock_account(session, i) for i in sorted({a, b})}
    return locked[a], locked[b]


def open_lots(session: Session, account_id: int, now: datetime) -> list[Lot]:
    """An account's lots with points left that have not expired, pending ones too, oldest first."""
    return list(session.execute(select(Lot).where(
        Lot.account_id == account_id, Lot.remaining > 0,
        or_(Lot.expires_at.is_(None), Lot.expires_at > now)).order_by(Lot.id)).scalars())


def transfer(session: Session, src: Account, dst: Account, amount: Decimal, *, key: str,
             actor: str, now: datetime, reason: str, src_member_id: int | None = None,
             dst_member_id: int | None = None, prefer_lot_ids=(),
             allow_debt: bool = False) -> tuple[LedgerEntry, LedgerEntry]:
    """Move points between locked accounts: a "transfer" debit and a credit whose lots
    mirror the lots taken (same available_at and expires_at)."""
    taken = debit(session, src, kind="transfer", amount=amount, key=f"{key}:out",
                         actor=actor, now=now, allow_debt=allow_debt,
                         prefer_lot_ids=list(prefer_lot_ids), member_id=src_member_id,
                         reason=reason, trace={"to_account": dst.id})
    specs: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    for alloc, lot in allocations_of(session, taken.id):
        specs[(lot.available_at, lot.expires_at)] += alloc.amount
    rest = amount - sum(specs.values(), ZERO)
    if rest > 0:  # the source went into debt for it: a fresh lot with the default life
        settings = policies.settings(session, now)
        expires = terms.lot_expiry(session, "transfer", now, MemberFacts(), settings)
        specs[(now, expires)] += rest
    given = credit(
        session, dst, kind="transfer", key=f"{key}:in", actor=actor, now=now,
        lots=[LotSpec(a, at, exp) for (at, exp), a in sorted(
            specs.items(), key=lambda kv: (kv[0][0], kv[0][1] is None, kv[0][1] or now))],
        member_id=dst_member_id, reason=reason,
        trace={"from_account": src.id, "debit_entry": taken.id})
    return taken, given
