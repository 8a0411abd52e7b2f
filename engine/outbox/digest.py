"""The monthly digest: one message per consented member per month with the balance and the month's figures.

Months are the program's (its time zone decides where a month starts).
Members are read a batch at a time in id order, their figures come from a
few GROUP BY queries per batch (`engine.ledger.summaries`), and the messages
are written with one INSERT per batch (`enqueue_many`); each batch commits
on its own (the caller's ``commit``), so a million members never sit in one
transaction. Idempotent: the cause key is the month and the member, so a
second run (or a run resumed after a crash) writes only what is missing.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine import policies
from engine.ledger import summaries
from engine.models import Member
from engine.outbox.queue import enqueue_many
from engine.outbox.triggers import messages_for

BATCH = 1000
EXPIRING_DAYS = 30
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class DigestError(ValueError):
    """A month that cannot be digested, said plainly."""


def parse_month(text: str | None, now: datetime, tz) -> date:
    """``YYYY-MM`` → its first day; None → the month before ``now`` (the digest runs on the 1st)."""
    if text is None:
        first = now.astimezone(tz).date().replace(day=1)
        return (first - timedelta(days=1)).replace(day=1)
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise DigestError(f"{text!r} is not a month; write it as YYYY-MM, for example 2026-11")
    month = date(int(match[1]), int(match[2]), 1)
    if month > now.astimezone(tz).date():
        raise DigestError(f"{text} has not begun yet")
    return month


def _bounds(month: date, tz) -> tuple[datetime, datetime]:
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (datetime.combine(month, datetime.min.time(), tzinfo=tz),
            datetime.combine(following, datetime.min.time(), tzinfo=tz))


def send_digest(session: Session, now: datetime, month: str | None = None, *,
                commit: Callable[[], None] | None = None, batch: int = BATCH) -> dict:
    """Write the month's digest for every active member with a consented channel; ``commit`` is called
    after each batch (the CLI and the job pass the session's commit)."""
    settings = policies.settings(session, now)
    first = parse_month(month, now, settings.tz)
    start, end = _bounds(first, settings.tz)
    label = first.strftime("%Y-%m")
    reachable = or_((Member.consent_sms.is_(True)) & (Member.phone.is_not(None)) & (Member.phone != ""),
                    (Member.consent_email.is_(True)) & (Member.email.is_not(None)) & (Member.email != ""))
    after, members, messages = 0, 0, 0
    while True:
        people = list(session.execute(
            select(Member).where(Member.id > after, Member.merged_into_id.is_(None), Member.status == "active",
                                 reachable).order_by(Member.id).limit(batch)).scalars())
        if not people:
            break
        after = people[-1].id
        figures = summaries.window(session, {m.account_id for m in people}, start, end, now,
                                   now + timedelta(days=EXPIRING_DAYS))
        rows = []
        for member in people:
            f = figures[member.account_id]
            rows += messages_for(member, "digest.monthly", f"digest:{label}:{member.id}", {
                "month": label, "earned": f.earned, "spent": f.spent, "expired": f.expired,
                "expiring": f.expiring, "available": f.available, "balance": f.balance})
        messages += enqueue_many(session, rows, now)
        members += len(people)
        if commit is not None:
            commit()
    return {"month": label, "members": members, "messages": messages}
