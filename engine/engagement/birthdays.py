"""Birthdays [001]: the nightly step that awards the birthday policy once per member and year."""
from __future__ import annotations

import calendar
from datetime import date, datetime

from sqlalchemy import extract, or_, select
from sqlalchemy.orm import Session

from engine import ledger, policies
from engine.engagement import events
from engine.models import Member


def key(member: Member, year: int) -> str:
    return f"birthday:{member.loyalty_id}:{year}"


def celebrating(today: date):
    """The condition for members whose birthday is ``today``: 29 February is
    celebrated on 28 February in the years without one."""
    on_day = (extract("month", Member.birth_date) == today.month) & \
        (extract("day", Member.birth_date) == today.day)
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        leapling = (extract("month", Member.birth_date) == 2) & (extract("day", Member.birth_date) == 29)
        return or_(on_day, leapling)
    return on_day


def award(session: Session, now: datetime, *, actor: str = "system:birthdays",
          batch: int = 1000) -> dict:
    """Fire the birthday policy for every member whose birthday is today in the
    program's time zone (idempotent on ``birthday:<member>:<year>``)."""
    _row, compiled = policies.active(session, "birthday", now)
    if compiled is None:
        return {"members": 0, "awarded": 0}
    today = now.astimezone(policies.settings(session, now).tz).date()
    seen = awarded = 0
    last_id = 0
    while True:
        found = list(session.execute(
            select(Member).where(Member.id > last_id, Member.merged_into_id.is_(None),
                                 Member.birth_date.is_not(None), celebrating(today))
            .order_by(Member.id).limit(batch)).scalars())
        if not found:
            break
        for member in found:
            entry_key = key(member, today.year)
            if ledger.find_entry(session, entry_key) is not None:
                continue
            if events.fire(session, member, "birthday", key=entry_key, actor=actor, now=now,
                           attributes={"year": today.year}):
                awarded += 1
        seen += len(found)
        last_id = found[-1].id
        session.flush()
    return {"members": seen, "awarded": awarded}
