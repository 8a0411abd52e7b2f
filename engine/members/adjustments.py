"""Manual adjustments and bonuses: an operator's correction or apology, with a reason."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from engine import ledger, members, policies, terms
from engine.models import LedgerEntry, Member


class AdjustmentError(Exception):
    code = "adjustment_error"


def adjust(session: Session, member: Member, amount: Decimal, *, reason: str, actor: str,
           key: str, now: datetime, kind: str = "adjustment",
           expire_after_days: int | None = None, activation_delay_days: int = 0,
           allow_negative: bool = False) -> LedgerEntry:
    """Add (amount > 0) or remove (amount < 0) points. Removing more than the
    available balance needs ``allow_negative`` and a program that allows it."""
    if amount == 0:
        raise AdjustmentError("an adjustment of zero points changes nothing")
    if not reason or not reason.strip():
        raise AdjustmentError("an adjustment needs a reason")
    settings = policies.settings(session, now)
    if amount != settings.round_points(amount):
        raise AdjustmentError(f"points must have at most {settings.precision} decimal places")
    # Taking points away stays possible (an operator cleaning up); giving them follows the same
    # rule as earning them: a blocked or excluded member is credited nothing.
    refused = members.refusal(member, settings) if amount > 0 else None
    if refused:
        raise AdjustmentError(f"{refused}: no points can be added")
    account = ledger.lock_account(session, member.account_id)
    if amount > 0:
        available_at = now + timedelta(days=activation_delay_days)
        member_facts = members.facts(session, member, now, settings)
        expires_at = terms.lot_expiry(session, kind, available_at, member_facts, settings,
                                        expire_after_days=expire_after_days)
        return ledger.credit(session, account, kind=kind, key=key, actor=actor, now=now,
                             lots=[ledger.LotSpec(amount, available_at, expires_at)],
                             member_id=member.id, reason=reason)
    allow_debt = allow_negative and settings.negative_balance_allowed
    return ledger.debit(session, account, kind=kind, amount=-amount, key=key, actor=actor,
                        now=now, allow_debt=allow_debt, member_id=member.id, reason=reason)
