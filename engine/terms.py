"""What the program's policies say at a moment, beyond one document: the accrual
version in force, the tier multiplier, and when a new lot expires."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from sqlalchemy.orm import Session

import rules
from engine import policies
from rules.facts import LotFacts, MemberFacts
from rules.tiering import tier_catalog


def policy_for(session: Session, at: datetime) -> policies.VersionRef | None:
    """The accrual version for a document dated ``at``: the one in force then, or,
    for documents older than the program, its first published version."""
    return policies.active_ref(session, "accrual", at) or policies.first_ref(session, "accrual")


def tier_multiplier(session: Session, member_facts: MemberFacts, settings, at) -> Decimal:
    """The accrual multiplier of the tier the member holds (pinned, invited or earned), under the
    tier policy in force at ``at``; 1 without a tier or when the policy no longer defines it."""
    row, tier_policy = policies.active(session, "tier", at)
    if tier_policy is None or not member_facts.tier:
        return Decimal(1)
    spec = tier_catalog(tier_policy).get(member_facts.tier)
    return spec.multiplier if spec is not None else Decimal(1)


def lot_expiry(session: Session, kind: str, available_at: datetime, member_facts: MemberFacts,
               settings, *, document=None,
               expire_after_days: int | None = None) -> datetime | None:
    """When a lot made available at ``available_at`` expires (expiry policy, else settings)."""
    if expire_after_days is not None:
        return available_at + timedelta(days=int(expire_after_days))
    row, expiry_policy = policies.active(session, "expiry", available_at)
    facts = LotFacts(entry_kind=kind, available_at=available_at,
                     channel=document.channel if document else "",
                     document_type=document.document_type if document else "")
    if expiry_policy is None:
        months = settings.default_lifetime_months
        if months is None:
            return None
        return available_at + relativedelta(months=months)
    return rules.evaluate_expiry(expiry_policy, facts, member_facts, settings).expires_at
