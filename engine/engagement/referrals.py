"""Referrals: a referred member's first earning purchase rewards both sides."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from engine import ledger
from engine.engagement import events
from engine.models import Member


def after_first_purchase(session: Session, member: Member, *, actor: str, now: datetime) -> None:
    """Fire the referral policy once per referred member (by its key): the policy
    decides how much the referee and the referrer receive."""
    if member.referred_by_id is None:
        return
    key = f"referral:{member.loyalty_id}"
    if ledger.find_entry(session, key) is not None:
        return
    referrer = session.get(Member, member.referred_by_id)
    events.fire(session, member, "referral", key=key, actor=actor, now=now, referrer=referrer)
