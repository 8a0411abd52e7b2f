"""Member events (registration, review, subscription, share, birthday, referral):
the event, referral or birthday policy decides the award; the ledger posts it.

Per-period limits live in the policy, not here: the event facts carry how many
events of the same type this member was already awarded today, this week,
month and year and ever (``events_today`` … ``events_total``), counted from
the ledger by the entry keys ``event:<type>:<member>:<event id>``; a rule such
as "review and events_this_month < 3" is the limit.
"""
from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

import rules
from engine import ledger, members, policies, terms
from engine.models import LedgerEntry, Member
from rules.facts import EventFacts

POLICY_OF_EVENT = {"birthday": "birthday", "referral": "referral"}
KIND_OF_POLICY = {"event": "event", "birthday": "birthday", "referral": "referral"}
# What a client may send to POST /events; birthday and referral come from the program itself.
CLIENT_TYPES = ("registration", "review", "subscription", "social_share")
CUSTOM_TYPE = re.compile(r"custom:[a-z0-9][a-z0-9_.-]{0,49}")
KEY_LIMIT = 200  # the idempotency key column


class EventRefused(ValueError):
    """An event the program does not accept from a client (its type)."""


def check_type(event_type: str) -> None:
    if event_type in CLIENT_TYPES or CUSTOM_TYPE.fullmatch(event_type):
        return
    raise EventRefused(
        f"the event type {event_type!r} is not accepted: use one of {', '.join(CLIENT_TYPES)} "
        "or custom:<name> (lower-case letters, digits, '_', '.', '-'; up to 50 characters)"
        + ("; birthdays and referrals are awarded by the program itself"
           if event_type in POLICY_OF_EVENT else ""))


def event_key(member: Member, event_type: str, event_id: str) -> str:
    """The ledger key of a client event; a registration is once ever, whatever its id."""
    if event_type == "registration":
        return registration_key(member)
    key = f"{_prefix(member, event_type)}{event_id}"
    if len(key) > KEY_LIMIT:  # hashed, so it stays unique and the same on every retry
        key = f"{_prefix(member, event_type)}sha256:{hashlib.sha256(event_id.encode()).hexdigest()}"
    return key


def registration_key(member: Member) -> str:
    return f"event:registration:{member.loyalty_id}"


def _prefix(member: Member, event_type: str) -> str:
    return f"event:{event_type}:{member.loyalty_id}:"


def period_starts(now: datetime, tz) -> dict[str, datetime]:
    """The start of today, this week (Monday), month and year in ``tz``, as aware datetimes."""
    today = now.astimezone(tz).date()
    days = {"today": today, "this_week": today - timedelta(days=today.weekday()),
            "this_month": today.replace(day=1), "this_year": today.replace(month=1, day=1)}
    return {name: datetime.combine(day, time(), tzinfo=tz) for name, day in days.items()}


def counts(session: Session, member: Member, event_type: str, now: datetime, settings) -> dict[str, int]:
    """``events_<period>``: this member's awarded events of ``event_type`` per period."""
    starts = period_starts(now, settings.tz)
    columns = [func.count(LedgerEntry.id)] + [
        func.coalesce(func.sum(case((LedgerEntry.created_at >= start.astimezone(UTC), 1), else_=0)), 0)
        for start in starts.values()]
    row = session.execute(select(*columns).where(
        LedgerEntry.kind == "event", LedgerEntry.amount > 0, LedgerEntry.member_id == member.id,
        LedgerEntry.idempotency_key.startswith(_prefix(member, event_type), autoescape=True))).one()
    out = {"events_total": int(row[0])}
    out.update({f"events_{name}": int(n) for name, n in zip(starts, row[1:], strict=True)})
    return out


def _post(session: Session, member: Member, points: Decimal, *, kind: str, key: str,
          actor: str, now: datetime, delay_days: int, expire_after_days: int | None,
          settings, trace: dict, not_before: datetime | None = None) -> LedgerEntry | None:
    points = settings.round_points(points)
    if points <= 0:
        return None
    available_at = now + timedelta(days=delay_days or 0)
    if not_before is not None and not_before > available_at:
        available_at = not_before
    member_facts = members.facts(session, member, now, settings)
    expires_at = terms.lot_expiry(session, kind, available_at, member_facts, settings,
                                    expire_after_days=expire_after_days)
    account = ledger.lock_account(session, member.account_id)
    return ledger.credit(session, account, kind=kind, key=key, actor=actor, now=now,
                         lots=[ledger.LotSpec(points, available_at, expires_at)],
                         member_id=member.id, beneficiary_member_id=member.id, trace=trace)


def fire(session: Session, member: Member, event_type: str, *, key: str, actor: str,
         now: datetime, attributes: dict | None = None, referrer: Member | None = None,
         facts: dict | None = None, not_before: datetime | None = None,
         trace_extra: dict | None = None) -> list[LedgerEntry]:
    """Evaluate the policy for ``event_type`` and post its awards (idempotent on ``key``).

    ``facts`` adds counters to the event facts (``events_this_month``,
    ``referrals_this_month``); ``not_before`` keeps the lots pending at least
    until then (a referral waits for its purchase's holding period)."""
    policy_name = POLICY_OF_EVENT.get(event_type, "event")
    row, compiled = policies.active(session, policy_name, now)
    if compiled is None:
        return []
    settings = policies.settings(session, now)
    if members.effective_status(member, settings) != "active":
        return []
    member_facts = members.facts(session, member, now, settings)
    event = EventFacts(event_type, attributes or {}, **(facts or {}))
    result = rules.evaluate_award(compiled, event, member_facts, settings, at=now, explain=True)
    trace = {"policy": policy_name, "policy_version": row.version, "event": event_type,
             **(trace_extra or {}), **(result.trace or {})}
    kind = KIND_OF_POLICY[policy_name]
    common = dict(kind=kind, actor=actor, now=now, settings=settings, trace=trace,
                  delay_days=result.activation_delay_days,
                  expire_after_days=result.expire_after_days, not_before=not_before)
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


def record(session: Session, member: Member, event_type: str, event_id: str, *, actor: str,
           now: datetime, occurred_at: datetime | None = None,
           attributes: dict | None = None) -> tuple[str, list[LedgerEntry]]:
    """A client's event (POST /events): its ledger key and the entries it earned.

    Idempotent on the event id: a repeat finds the entry already posted. The
    period counters are taken at ``now`` (the server's clock, not the
    client's ``occurred_at``, so a back-dated event cannot dodge a limit)."""
    check_type(event_type)
    key = event_key(member, event_type, event_id)
    existing = ledger.find_entry(session, key)
    if existing is not None:
        return key, [existing]
    settings = policies.settings(session, now)
    extra = {"event_id": event_id}
    if occurred_at is not None:
        extra["occurred_at"] = occurred_at.isoformat()
    return key, fire(session, member, event_type, key=key, actor=actor, now=now,
                     attributes=attributes, facts=counts(session, member, event_type, now, settings),
                     trace_extra=extra)
