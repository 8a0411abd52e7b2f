"""What causes a message: points credited, points about to expire, webhook events; and their variables.

Each trigger writes its messages in the caller's transaction, once per
cause (``cause_key``), only on the channels the member consented to.
`TRIGGERS` documents the variables a trigger gives its templates: the
template editor refuses any other name (``exporters.messages``).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

import rules
from engine import ledger, policies
from engine.models import LedgerEntry, Lot, Member, WebhookSubscription
from engine.outbox.queue import enqueue
from rules.expiry import DEFAULT_WARN_DAYS
from rules.facts import LotFacts, MemberFacts

_MEMBER = {"member_name": "the member's name", "loyalty_id": "the member's loyalty number"}
TRIGGERS: dict[str, dict[str, str]] = {
    "points.credited": {**_MEMBER, "amount": "the points credited by this accrual",
                        "balance": "all the member's points after it (available and pending)",
                        "available": "the points the member can spend now"},
    "points.expiring": {**_MEMBER, "points": "the points that expire soon",
                        "expires_on": "the date they expire (program time zone)",
                        "balance": "all the member's points (available and pending)"},
}
# Which channels each trigger uses when the member consented ([004] wants SMS after accrual).
TRIGGER_CHANNELS = {"points.credited": ("sms",), "points.expiring": ("email", "sms")}
EVENT_TYPES = ("member.created", "points.credited", "points.debited", "points.expired",
               "points.expiring", "order.status_changed", "reward_order.status_changed",
               "mission.completed", "tier.changed", "import.finished")


def _language(member: Member) -> str:
    return str((member.attributes or {}).get("language") or "en")[:8]


def _recipients(member: Member, channels) -> list[tuple[str, str]]:
    """(channel, address) the member consented to and can be reached on."""
    out = []
    if "sms" in channels and member.consent_sms and member.phone:
        out.append(("sms", member.phone))
    if "email" in channels and member.consent_email and member.email:
        out.append(("email", member.email))
    return out


def notify(session: Session, member: Member, trigger: str, cause: str, variables: dict,
           now: datetime) -> int:
    """Write ``trigger``'s messages for ``member`` on every consented channel; returns how many."""
    count = 0
    for channel, address in _recipients(member, TRIGGER_CHANNELS[trigger]):
        enqueue(session, trigger=trigger, channel=channel, cause_key=f"{cause}:{channel}", recipient=address,
                variables={**variables, "member_name": member.name, "loyalty_id": member.loyalty_id},
                now=now, member_id=member.id, language=_language(member))
        count += 1
    return count


def publish_event(session: Session, event_type: str, data: dict, cause: str, now: datetime) -> int:
    """One webhook message per active subscription to ``event_type`` (Standard Webhooks payload)."""
    subscriptions = session.execute(select(WebhookSubscription).where(
        WebhookSubscription.active.is_(True))).scalars()
    count = 0
    for sub in subscriptions:
        if event_type in (sub.event_types or []) or "*" in (sub.event_types or []):
            payload = {"type": event_type, "timestamp": now.isoformat(), "data": data}
            enqueue(session, trigger=event_type, channel="webhook", cause_key=f"{cause}:webhook:{sub.id}",
                    recipient=sub.url, variables=payload, now=now, subscription_id=sub.id)
            count += 1
    return count


def points_credited(session: Session, member: Member, entry: LedgerEntry, now: datetime) -> None:
    """An accrual posted: one SMS with the amount and the new balance, and the webhook event."""
    balance = ledger.balance(session, member.account, now)
    total = balance.available + balance.pending
    variables = {"amount": entry.amount, "balance": total, "available": balance.available}
    notify(session, member, "points.credited", f"entry:{entry.id}", variables, now)
    publish_event(session, "points.credited", {
        "member": member.loyalty_id, "entry_id": entry.id, "kind": entry.kind, "amount": str(entry.amount),
        "balance": str(total), "available": str(balance.available)}, f"entry:{entry.id}", now)


def _warn_window(policy) -> int:
    """The most days before expiry any rule of the policy warns (an upper bound for the query)."""
    if policy is None:
        return DEFAULT_WARN_DAYS
    days = [int(a.params["days"]) for r in policy.document.rules for a in r.actions
            if a.name == "warn_days_before"]
    return max([DEFAULT_WARN_DAYS, *days])


def _warn_days(policy, settings, lot: Lot, kind: str) -> int:
    if policy is None:
        return DEFAULT_WARN_DAYS
    facts = LotFacts(entry_kind=kind, available_at=lot.available_at)
    # The member facts of the day are not rebuilt per lot: rules on lot facts decide here.
    return rules.evaluate_expiry(policy, facts, MemberFacts(), settings, explain=False).warn_days_before


def warn_expiring(session: Session, now: datetime, *, batch: int = 1000) -> dict:
    """The nightly warning step: each lot is warned about once (``warned_at``), one message per
    member and channel covering all of that member's lots that reached their warning day."""
    _ref, policy = policies.active(session, "expiry", now)
    settings = policies.settings(session, now)
    horizon = now + timedelta(days=_warn_window(policy))
    rows = session.execute(
        select(Lot, LedgerEntry.kind, Member).join(LedgerEntry, LedgerEntry.id == Lot.entry_id)
        .join(Member, Member.account_id == Lot.account_id)
        .where(Lot.remaining > 0, Lot.warned_at.is_(None), Lot.expires_at > now, Lot.expires_at <= horizon,
               Member.merged_into_id.is_(None))
        .order_by(Lot.account_id, Lot.expires_at).with_for_update(of=Lot)).all()
    per_member: dict[int, tuple[Member, list[Lot]]] = {}
    for lot, kind, member in rows:
        if lot.expires_at - timedelta(days=_warn_days(policy, settings, lot, kind)) <= now:
            per_member.setdefault(member.id, (member, []))[1].append(lot)
    lots = messages = 0
    points = Decimal(0)
    day = now.astimezone(settings.tz).date().isoformat()
    for member, member_lots in per_member.values():
        total = sum((lot.remaining for lot in member_lots), Decimal(0))
        soonest = min(lot.expires_at for lot in member_lots)
        balance = ledger.balance(session, member.account, now)
        messages += notify(session, member, "points.expiring", f"expiring:{member.id}:{day}", {
            "points": total, "expires_on": soonest.astimezone(settings.tz).date().isoformat(),
            "balance": balance.available + balance.pending}, now)
        for lot in member_lots:
            lot.warned_at = now
        lots += len(member_lots)
        points += total
    session.flush()
    return {"lots": lots, "members": len(per_member), "messages": messages, "points": points}
