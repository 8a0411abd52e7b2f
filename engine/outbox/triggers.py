"""What causes a message: points credited, points about to expire, webhook events; and their variables.

Each trigger writes its messages in the caller's transaction, once per
cause (``cause_key``), only on the channels the member consented to.
`TRIGGERS` documents the variables a trigger gives its templates: the
template editor refuses any other name (``exporters.messages``).
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine import config_stamp, ledger, policies
from engine.ledger import summaries, warnings
from engine.models import LedgerEntry, Member, OutboxRunCredit, WebhookSubscription
from engine.models.bulk import one_of
from engine.outbox import runs
from engine.outbox.queue import enqueue, enqueue_many

_MEMBER = {"member_name": "the member's name", "loyalty_id": "the member's loyalty number"}
_BALANCE = {"balance": "all the member's points (available and pending)"}
TRIGGERS: dict[str, dict[str, str]] = {
    "points.credited": {**_MEMBER, "amount": "the points credited by this accrual (or by one import run, summed)",
                        "balance": "all the member's points after it (available and pending)",
                        "available": "the points the member can spend now"},
    "points.expiring": {**_MEMBER, "points": "the points that expire soon",
                        "expires_on": "the date they expire (program time zone)", **_BALANCE},
    "digest.monthly": {**_MEMBER, "month": "the month the digest is about (YYYY-MM)",
                       "earned": "the points earned in that month", "spent": "the points spent in that month",
                       "expired": "the points that expired in that month",
                       "expiring": "the points that expire in the next 30 days",
                       "available": "the points the member can spend now", **_BALANCE},
    "mission.completed": {**_MEMBER, "mission": "the mission's name", "reward": "the points it rewards",
                          **_BALANCE},
    "tier.changed": {**_MEMBER, "tier": "the member's new tier", "previous_tier": "the tier before the change",
                     "direction": "up or down"},
    "reward_order.status_changed": {**_MEMBER, "reward": "the reward's name", "order_number": "the reward order",
                                    "status": "its new status", "previous_status": "its status before"},
}
# Which channels each trigger uses when the member consented ([004] wants SMS after accrual and the digest).
TRIGGER_CHANNELS = {"points.credited": ("sms",), "points.expiring": ("email", "sms"),
                    "digest.monthly": ("email", "sms"), "mission.completed": ("email", "sms"),
                    "tier.changed": ("email", "sms"), "reward_order.status_changed": ("email", "sms")}
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
    """Write ``trigger``'s messages for ``member`` on every consented channel; returns how many.

    The call for other rooms: ``notify(session, member, "tier.changed", f"tier:{member.id}:{n}",
    {"tier": "Gold", "previous_tier": "Silver", "direction": "up"}, now)`` next to
    ``publish_event(session, "tier.changed", data, cause, now)``; ``cause`` makes it once-only,
    ``member_name`` and ``loyalty_id`` are filled in here, and the variables are `TRIGGERS`'."""
    rows = messages_for(member, trigger, cause, variables)
    for row in rows:
        enqueue(session, **row, now=now)
    return len(rows)


def messages_for(member: Member, trigger: str, cause: str, variables: dict) -> list[dict]:
    """`enqueue`'s arguments for ``trigger``'s messages to ``member`` (consented channels only)."""
    if trigger not in TRIGGER_CHANNELS:
        raise ValueError(f"there is no trigger {trigger!r}; known: {', '.join(TRIGGER_CHANNELS)}")
    return [{"trigger": trigger, "channel": channel, "cause_key": f"{cause}:{channel}", "recipient": address,
             "variables": {**variables, "member_name": member.name, "loyalty_id": member.loyalty_id},
             "member_id": member.id, "language": _language(member)}
            for channel, address in _recipients(member, TRIGGER_CHANNELS[trigger])]


_ACTIVE = config_stamp.rows_of(WebhookSubscription, WebhookSubscription.active.is_(True))


def subscribers(session: Session, event_type: str) -> list[WebhookSubscription]:
    """The active webhook subscriptions to ``event_type`` (or to every event)."""
    return [config_stamp.attach(session, WebhookSubscription, row) for row in _ACTIVE.get(session)
            if event_type in (row["event_types"] or []) or "*" in (row["event_types"] or [])]


def publish_event(session: Session, event_type: str, data: dict, cause: str, now: datetime,
                  subscriptions: list[WebhookSubscription] | None = None) -> int:
    """One webhook message per active subscription to ``event_type`` (Standard Webhooks payload)."""
    subscriptions = subscribers(session, event_type) if subscriptions is None else subscriptions
    payload = {"type": event_type, "timestamp": now.isoformat(), "data": data}
    for sub in subscriptions:
        enqueue(session, trigger=event_type, channel="webhook", cause_key=f"{cause}:webhook:{sub.id}",
                recipient=sub.url, variables=payload, now=now, subscription_id=sub.id)
    return len(subscriptions)


def points_credited(session: Session, member: Member, entry: LedgerEntry, now: datetime) -> None:
    """An accrual posted: one SMS with the amount and the new balance, and the webhook event. Inside an
    import run (`runs.batched`) the credit is noted instead, and announced per member when the run ends."""
    if runs.note(session, entry.id, member.id, entry.amount):
        return
    subscriptions = subscribers(session, "points.credited")
    if not subscriptions and not _recipients(member, TRIGGER_CHANNELS["points.credited"]):
        return  # nobody to tell: spare the accrual the balance query
    balance = ledger.balance(session, member.account, now)
    total = balance.available + balance.pending
    variables = {"amount": entry.amount, "balance": total, "available": balance.available}
    notify(session, member, "points.credited", f"entry:{entry.id}", variables, now)
    publish_event(session, "points.credited", {
        "member": member.loyalty_id, "entry_id": entry.id, "kind": entry.kind, "amount": str(entry.amount),
        "balance": str(total), "available": str(balance.available)}, f"entry:{entry.id}", now,
        subscriptions=subscriptions)


def warn_expiring(session: Session, now: datetime) -> dict:
    """The nightly warning step: one message per member and channel for all of the member's lots
    that reached their warning day; each lot is warned about once (``warned_at``)."""
    settings = policies.settings(session, now)
    day = now.astimezone(settings.tz).date().isoformat()
    lots = messages = 0
    points = Decimal(0)
    due = warnings.due_for_warning(session, now)
    for member, member_lots in due:
        total = sum((lot.remaining for lot in member_lots), Decimal(0))
        soonest = min(lot.expires_at for lot in member_lots)
        balance = ledger.balance(session, member.account, now)
        messages += notify(session, member, "points.expiring", f"expiring:{member.id}:{day}", {
            "points": total, "expires_on": soonest.astimezone(settings.tz).date().isoformat(),
            "balance": balance.available + balance.pending}, now)
        warnings.mark_warned(session, member_lots, now)
        lots += len(member_lots)
        points += total
    return {"lots_warned": lots, "members": len(due), "messages": messages, "points": points}


def mission_completed(session: Session, member: Member, mission, entry: LedgerEntry, now: datetime) -> None:
    """A mission's reward posted: the member hears of it, subscribers get ``mission.completed``."""
    subscriptions = subscribers(session, "mission.completed")
    if not subscriptions and not _recipients(member, TRIGGER_CHANNELS["mission.completed"]):
        return
    balance = ledger.balance(session, member.account, now)
    notify(session, member, "mission.completed", f"mission:{entry.id}", {
        "mission": mission.name, "reward": entry.amount, "balance": balance.available + balance.pending}, now)
    publish_event(session, "mission.completed", {
        "member": member.loyalty_id, "mission": mission.code, "entry_id": entry.id, "reward": str(entry.amount)},
        f"mission:{entry.id}", now, subscriptions=subscriptions)


def announce_run(session: Session, run_id: int, now: datetime, *, summary: dict | None = None) -> dict:
    """One ``points.credited`` per member (the run's sum and the balance now), then ``import.finished``;
    idempotent per run and member (the cause keys), the held rows deleted once announced."""
    subscriptions = subscribers(session, "points.credited")
    members = messages = 0
    after = 0
    while True:
        sums = session.execute(
            select(OutboxRunCredit.member_id, func.sum(OutboxRunCredit.amount))
            .where(OutboxRunCredit.run_id == run_id, OutboxRunCredit.member_id > after)
            .group_by(OutboxRunCredit.member_id).order_by(OutboxRunCredit.member_id).limit(runs.BATCH)).all()
        if not sums:
            break
        after = sums[-1][0]
        people = {m.id: m for m in session.execute(
            select(Member).where(one_of(session, Member.id, [s[0] for s in sums]))).scalars()}
        balances = summaries.balances(session, {m.account_id for m in people.values()}, now)
        batch, events = [], []
        for member_id, amount in sums:
            member = people[member_id]
            available, pending = balances[member.account_id]
            cause = f"import:{run_id}:member:{member_id}"
            variables = {"amount": Decimal(amount), "balance": available + pending, "available": available}
            batch += messages_for(member, "points.credited", cause, variables)
            events.append(({"member": member.loyalty_id, "import_run": run_id, "amount": str(Decimal(amount)),
                            "balance": str(available + pending), "available": str(available)}, cause))
        messages += enqueue_many(session, batch, now)
        for data, cause in events if subscriptions else ():
            publish_event(session, "points.credited", data, cause, now, subscriptions=subscriptions)
        members += len(sums)
    session.execute(delete(OutboxRunCredit).where(OutboxRunCredit.run_id == run_id))
    publish_event(session, "import.finished", {"import_run": run_id, **(summary or {})},
                           f"import:{run_id}:finished", now)
    return {"members": members, "messages": messages}
