"""The outbox queue a batch at a time: claim many due messages in one UPDATE, renew, record in one statement.

The same guarantees as `queue.claim` / `queue.record`, with a constant number
of statements per batch instead of about nine per message. `claim_batch`
takes the plain cases in one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE
SKIP LOCKED LIMIT n) RETURNING …`` (due, not held, not given up, not an SMS
in quiet hours, not for a disabled subscription) and adds their attempt rows
in one executemany; whatever it left (quiet hours, a message to give up, a
disabled subscription) goes through `queue.claim` one by one, which knows
those cases. `record_batch` writes the sent ones with one executemany per
table; failures go through `queue.record` (rare, and each has its own backoff).
"""
from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import and_, bindparam, exists, or_, select, update
from sqlalchemy.orm import Session

from engine import policies
from engine.models import OutboxAttempt, OutboxMessage, WebhookSubscription
from engine.outbox.queue import BACKOFF, LEASE, Claim, claim, quiet_until, record

_M = OutboxMessage.__table__
_A = OutboxAttempt.__table__
_LOST = "no outcome was recorded (the worker stopped); resent with the same delivery key"


def claim_batch(session: Session, message_ids: list[int], now: datetime, *, lease: timedelta = LEASE,
                quiet_hours: tuple[time, time] | None = None) -> list[Claim]:
    """Claim every message of ``message_ids`` that may be attempted now (the caller commits before sending)."""
    if not message_ids:
        return []
    quiet = quiet_until(now, policies.settings(session, now).tz, quiet_hours) is not None
    subscription_live = exists().where(WebhookSubscription.id == _M.c.subscription_id,
                                       WebhookSubscription.active.is_(True))
    chosen = (select(_M.c.id).where(
        _M.c.id.in_(message_ids), _M.c.state.in_(("queued", "failed")), _M.c.next_attempt_at <= now,
        or_(_M.c.claimed_until.is_(None), _M.c.claimed_until <= now), _M.c.attempts <= len(BACKOFF),
        or_(_M.c.subscription_id.is_(None), subscription_live),
        *([_M.c.channel != "sms"] if quiet else []))
        .order_by(_M.c.id).limit(len(message_ids)).with_for_update(skip_locked=True))
    rows = session.execute(
        update(_M).where(_M.c.id.in_(chosen.scalar_subquery()))
        .values(attempts=_M.c.attempts + 1, claimed_until=now + lease)
        .returning(_M.c.id, _M.c.attempts, _M.c.trigger, _M.c.channel, _M.c.recipient, _M.c.language,
                   _M.c.variables, _M.c.delivery_key, _M.c.subscription_id, _M.c.created_at)).all()
    claims = sorted((Claim(r.id, r.attempts, r.trigger, r.channel, r.recipient, r.language, dict(r.variables or {}),
                           r.delivery_key, r.subscription_id, r.created_at) for r in rows),
                    key=lambda c: c.message_id)
    retried = [{"m": c.message_id, "n": c.number - 1} for c in claims if c.number > 1]
    if retried:  # the previous attempt's claim ran out without an outcome: the worker stopped
        session.execute(update(_A).where(_A.c.message_id == bindparam("m"), _A.c.number == bindparam("n"),
                                         _A.c.outcome.is_(None))
                        .values(outcome="unknown", finished_at=now, detail=_LOST), retried)
    if claims:
        session.execute(_A.insert(), [{"message_id": c.message_id, "number": c.number, "started_at": now}
                                      for c in claims])
    left = [i for i in message_ids if i not in {c.message_id for c in claims}]
    if left:  # what the one statement left out and is still due (quiet hours, give up, …): the careful way
        careful = session.execute(select(_M.c.id).where(
            _M.c.id.in_(left), _M.c.state.in_(("queued", "failed")), _M.c.next_attempt_at <= now,
            or_(_M.c.claimed_until.is_(None), _M.c.claimed_until <= now)).order_by(_M.c.id)).scalars().all()
        claims.extend(one for message_id in careful
                      if (one := claim(session, message_id, now, lease=lease, quiet_hours=quiet_hours)) is not None)
    session.flush()
    return claims


def renew(session: Session, claims: list[Claim], now: datetime, *, lease: timedelta = LEASE) -> list[Claim]:
    """Extend the claims still this worker's (the same attempt, not yet recorded) to ``now + lease``; the
    caller commits. Returns those renewed: one whose claim ran out and was taken over is dropped."""
    if not claims:
        return []
    numbers = {c.message_id: c.number for c in claims}
    kept = set(session.execute(
        update(_M).where(_M.c.id.in_(list(numbers)), _M.c.state.in_(("queued", "failed")),
                         _M.c.claimed_until > now)
        .values(claimed_until=now + lease).returning(_M.c.id, _M.c.attempts)).all())
    return [c for c in claims if (c.message_id, c.number) in kept]


def record_batch(session: Session, results: list[tuple[Claim, object]], now: datetime) -> dict[int, str]:
    """Outcomes (``exporters.channels.Outcome``-like: ok, status_code, detail, gone, retry) of claimed
    attempts; the caller commits. Returns each message's state."""
    sent = [(c, o) for c, o in results if o.ok]
    states: dict[int, str] = {}
    if sent:
        session.execute(update(_A).where(_A.c.message_id == bindparam("m"), _A.c.number == bindparam("n"))
                        .values(finished_at=now, status_code=bindparam("code"), detail=bindparam("detail"),
                                outcome="sent"),
                        [{"m": c.message_id, "n": c.number, "code": o.status_code, "detail": o.detail}
                         for c, o in sent])
        # Only the attempt that still holds the message: a later one took over if this claim ran out.
        session.execute(update(_M).where(and_(_M.c.id == bindparam("m"), _M.c.attempts == bindparam("n"),
                                              _M.c.state != "sent"))
                        .values(state="sent", sent_at=now, last_error=None, claimed_until=None),
                        [{"m": c.message_id, "n": c.number} for c, _ in sent])
        states.update((c.message_id, "sent") for c, _ in sent)
    for c, o in results:
        if not o.ok:
            states[c.message_id] = record(session, c, now, ok=False, status_code=o.status_code, detail=o.detail,
                                          gone=o.gone, retry=o.retry).state
    session.flush()
    return states
