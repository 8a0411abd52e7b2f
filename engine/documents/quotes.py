"""Quotes: what a cart would earn, and how much of it could be paid with points, before it is an order."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

import rules
from engine import accrual, members, policies, terms
from engine.documents import redemptions
from engine.models import Member
from rules.facts import DocumentFacts, MemberFacts
from rules.tiering import tier_catalog


@dataclass(frozen=True)
class Quote:
    member: Member | None
    cart: DocumentFacts
    version: int | None
    earn: object | None  # rules.AccrualResult, None when nothing would be earned
    spend: object | None  # redemptions.evaluate's result, None without a redemption policy
    discount_percent: Decimal = Decimal(0)  # the member's tier discount, for the shop to apply [003]


def quote(session: Session, member_ref: str | None, lines, *, currency: str | None, channel: str, store: str,
          shipping_total: Decimal, explain: bool, now: datetime, codes=()) -> Quote:
    """Evaluate a cart (``lines``: `LineDoc`s) as the order it would become now; without a member, the
    program's general terms."""
    settings = policies.settings(session, now)
    member = members.get(session, member_ref) if member_ref else None
    cart = accrual.cart_facts(session, lines, channel=channel, store=store,
                              currency=(currency or settings.currency).upper(), placed_at=now,
                              shipping_total=shipping_total, codes=codes)
    version = terms.policy_for(session, now)
    facts = members.facts(session, member, now, settings) if member else MemberFacts()
    earn = None
    if version is not None and (member is None or members.effective_status(member, settings) == "active"):
        earn = rules.evaluate_accrual(policies.compiled(version, session), cart, facts, settings, explain=explain,
                                      at=now, tier_multiplier=terms.tier_multiplier(session, facts, settings, now))
    spend = redemptions.evaluate(session, cart, member, settings, now,
                                 balance=facts.points_balance if member else None)
    spec = tier_catalog(policies.active(session, "tier", now)[1]).get(member.tier) if member and member.tier \
        else None
    return Quote(member, cart, version.version if version else None, earn, spend,
                 spec.discount_percent if spec else Decimal(0))
