"""The outbox queue: enqueue in the caller's transaction, claim one attempt, record what came of it."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine import policies
from engine.models import OutboxAttempt, OutboxMessage, WebhookSubscription

# Growing delays after each failed attempt; their sum (~3 days) is how long a message is retried.
BACKOFF = tuple(timedelta(seconds=s) for s in (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 72000))
# How long a claim holds: longer than the slowest send (15 s HTTP timeout, an SMTP dialogue),
# so only a worker that died leaves one to run out.
LEASE = timedelta(seconds=120)
_PENDING = "outbox_pending"  # session.info key: ids of messages written in this transaction


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def enqueue(session: Session, *, trigger: str, channel: str, cause_key: str, recipient: str,
            variables: dict, now: datetime, member_id: int | None = None,
            subscription_id: int | None = None, language: str = "en") -> OutboxMessage:
    """Write a message in the caller's transaction (idempotent on ``cause_key``); the
    delivery layer picks its id up after COMMIT (`pending_ids`)."""
    existing = session.execute(select(OutboxMessage).where(OutboxMessage.cause_key == cause_key)
                               ).scalar_one_or_none()
    if existing is not None:
        return existing
    message = OutboxMessage(
        trigger=trigger, channel=channel, cause_key=cause_key, delivery_key=f"msg_{uuid.uuid4().hex}",
        member_id=member_id, subscription_id=subscription_id, recipient=recipient, language=language,
        variables=_plain(variables), state="queued", attempts=0, next_attempt_at=now, created_at=now)
    session.add(message)
    session.flush()
    session.info.setdefault(_PENDING, []).append(message.id)
    return message


def enqueue_many(session: Session, messages: list[dict], now: datetime) -> int:
    """`enqueue` for a batch (the digest, an import run's credits): one read of the cause keys already
    there, one multi-row INSERT of the rest; each dict has `enqueue`'s keyword arguments. Returns how
    many were new."""
    if not messages:
        return 0
    keys = [m["cause_key"] for m in messages]
    taken = set(session.execute(select(OutboxMessage.cause_key).where(OutboxMessage.cause_key.in_(keys))).scalars())
    fresh = [OutboxMessage(**{**m, "variables": _plain(m["variables"])}, delivery_key=f"msg_{uuid.uuid4().hex}",
                           state="queued", attempts=0, next_attempt_at=now, created_at=now)
             for m in dict((m["cause_key"], m) for m in messages if m["cause_key"] not in taken).values()]
    session.add_all(fresh)
    session.flush()
    session.info.setdefault(_PENDING, []).extend(m.id for m in fresh)
    return len(fresh)


def pending_ids(session: Session) -> list[int]:
    """The ids written since the last call (the after-commit hook delivers them, a rollback drops them)."""
    return session.info.pop(_PENDING, [])


@dataclass(frozen=True)
class Claim:
    """What a worker needs to send one attempt, detached from the session."""

    message_id: int
    number: int
    trigger: str
    channel: str
    recipient: str
    language: str
    variables: dict
    delivery_key: str
    subscription_id: int | None
    created_at: datetime


def quiet_until(now: datetime, tz, window: tuple[time, time] | None) -> datetime | None:
    """The end of the quiet window ``now`` falls in (program time zone), else None."""
    if window is None:
        return None
    start, end = window
    local = now.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    inside = (start <= t < end) if start <= end else (t >= start or t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz).astimezone(now.tzinfo)


def claim(session: Session, message_id: int, now: datetime, *, lease: timedelta = LEASE,
          quiet_hours: tuple[time, time] | None = None) -> Claim | None:
    """Take the message for one attempt (the caller commits before sending); None when it is
    not due, already sent, held by a live claim, or waits for the end of the SMS quiet hours."""
    message = session.execute(select(OutboxMessage).where(OutboxMessage.id == message_id)
                              .with_for_update(skip_locked=True)).scalar_one_or_none()
    if message is None or message.state not in ("queued", "failed") or message.next_attempt_at > now:
        return None
    if message.claimed_until is not None and message.claimed_until > now:
        return None
    if message.attempts:
        _close_lost_attempt(session, message, now)
    if message.attempts > len(BACKOFF):
        message.state, message.claimed_until = "gave_up", None
        return None
    if message.channel == "sms":
        later = quiet_until(now, policies.settings(session, now).tz, quiet_hours)
        if later is not None:
            message.next_attempt_at = later
            return None
    if message.subscription_id is not None:
        subscription = session.get(WebhookSubscription, message.subscription_id)
        if subscription is None or not subscription.active:
            message.state, message.last_error = "gave_up", "the webhook subscription is disabled"
            return None
    message.attempts += 1
    message.claimed_until = now + lease
    session.add(OutboxAttempt(message_id=message.id, number=message.attempts, started_at=now))
    session.flush()
    return Claim(message.id, message.attempts, message.trigger, message.channel, message.recipient,
                 message.language, dict(message.variables or {}), message.delivery_key,
                 message.subscription_id, message.created_at)


def _close_lost_attempt(session: Session, message: OutboxMessage, now: datetime) -> None:
    attempt = _attempt(session, message.id, message.attempts)
    if attempt is not None and attempt.outcome is None:
        # Its claim ran out without an outcome: the worker stopped, perhaps after sending.
        attempt.outcome, attempt.finished_at = "unknown", now
        attempt.detail = "no outcome was recorded (the worker stopped); resent with the same delivery key"


def _attempt(session: Session, message_id: int, number: int) -> OutboxAttempt | None:
    return session.execute(select(OutboxAttempt).where(
        OutboxAttempt.message_id == message_id, OutboxAttempt.number == number)).scalar_one_or_none()


def record(session: Session, claim_: Claim, now: datetime, *, ok: bool, status_code: int | None = None,
           detail: str | None = None, gone: bool = False, retry: bool = True) -> OutboxMessage:
    """The outcome of a claimed attempt: sent; gone (HTTP 410: the subscription is disabled);
    failed with the next try after a growing delay; or given up."""
    message = session.execute(select(OutboxMessage).where(OutboxMessage.id == claim_.message_id)
                              .with_for_update()).scalar_one()
    attempt = _attempt(session, message.id, claim_.number)
    if attempt is not None:
        attempt.finished_at, attempt.status_code, attempt.detail = now, status_code, detail
        attempt.outcome = "sent" if ok else ("gone" if gone else "failed")
    if message.state == "sent" or message.attempts != claim_.number:
        return message  # a later attempt took over after this one's claim ran out
    message.claimed_until = None
    if ok:
        message.state, message.sent_at, message.last_error = "sent", now, None
        return message
    message.last_error = detail
    if gone:
        message.state = "gave_up"
        subscription = session.get(WebhookSubscription, message.subscription_id)
        if subscription is not None:
            subscription.active = False
            subscription.disabled_reason = f"the receiver answered 410 Gone on {now.isoformat()}"
    elif not retry or message.attempts > len(BACKOFF):
        message.state = "gave_up"
    else:
        message.state = "failed"
        message.next_attempt_at = now + BACKOFF[message.attempts - 1]
    session.flush()
    return message


def due_ids(session: Session, now: datetime, *, limit: int = 500) -> list[int]:
    """Messages waiting for an attempt: due, and not held by a live claim."""
    return list(session.execute(
        select(OutboxMessage.id).where(
            OutboxMessage.state.in_(("queued", "failed")), OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)).scalars())
