"""Member events (registration, review, subscription, share, birthday, referral):
the event, referral or birthday policy decides the award; the ledger posts it."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

import rules
from engine import ledger, members, policies, terms
from engine.models import LedgerEntry, Member
from rules.facts import EventFacts

POLICY_OF_EVENT = {"birthday": "birthday", "referral": "referral"}
KIND_OF_POLICY = {"event": "event", "birthday": "birthday", "referral": "referral"}


def _post(session: Session, member: Member, points: Decimal, *, kind: str, key: str,
          actor: str, now: datetime, delay_days: int, expire_after_days: int | None,
          settings, trace: dict) -> LedgerEntry | None:
    points = settings.round_points(points)
    if points <= 0:
        return None
    available_at = now + timedelta(days=delay_days or 0)
    member_facts = members.facts(session, member, now, settings)
    expires_at = terms.lot_expiry(session, kind, available_at, member_facts, settings,
                                    expire_after_days=expire_after_days)
    account = ledger.lock_account(session, member.account_id)
    return ledger.credit(session, account, kind=kind, key=key, actor=actor, now=now,
                         lots=[ledger.LotSpec(points, available_at, expires_at)],
                         member_id=member.id, beneficiary_member_id=member.id, trace=trace)


def fire(session: Session, member: Member, event_type: str, *, key: str, actor: str,
         now: datetime, attributes: dict | None = None,
         referrer: Member | None = None) -> list[LedgerEntry]:
    """Evaluate the policy for ``event_type`` and post its awards (idempotent on ``key``)."""
    policy_name = POLICY_OF_EVENT.get(event_type, "event")
    row, compiled = policies.active(session, policy_name, now)
    if compiled is None:
        return []
    settings = policies.settings(session, now)
    if members.effective_status(member, settings) != "active":
        return []
    facts = members.facts(session, member, now, settings)
    result = rules.evaluate_award(compiled, EventFacts(event_type, attributes or {}), facts,
                                  settings, at=now, explain=True)
    trace = {"policy": policy_name, "policy_version": row.version, "event": event_type,
             **(result.trace or {})}
    kind = KIND_OF_POLICY[policy_name]
    common = dict(kind=kind, actor=actor, now=now, settings=settings, trace=trace,
                  delay_days=result.activation_delay_days,
                  expire_after_days=result.expire_after_days)
    posted = []
    own = result.points + (result.referee_points if referrer is not None else 0)
    entry = _post(session, member, own, key=key, **common)
    if entry is not None:
        posted.append(entry)
    # The referrer is credited under the same rule as any member: not while blocked or excluded.
    if referrer is not None and result.referrer_points > 0 and not members.refusal(referrer, settings):
        entry = _post(session, referrer, result.referrer_points, key=f"{key}:referrer", **common)
        if entry is not None:
            posted.append(entry)
    return posted
