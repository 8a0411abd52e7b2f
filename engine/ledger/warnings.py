"""Lots due an expiry warning (the expiry policy's ``warn_days_before``), and marking them warned once.

The messages themselves are the outbox's (``engine.outbox.warn_expiring``);
``warned_at`` is a column of a ledger table, so it is written here, in the
one room that writes lots.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

import rules
from engine import policies
from engine.models import LedgerEntry, Lot, Member
from rules.expiry import DEFAULT_WARN_DAYS
from rules.facts import LotFacts, MemberFacts


def _window(policy) -> int:
    """The most days before expiry any rule of the policy warns: the query's horizon."""
    if policy is None:
        return DEFAULT_WARN_DAYS
    days = [int(a.params["days"]) for r in policy.document.rules for a in r.actions
            if a.name == "warn_days_before"]
    return max([DEFAULT_WARN_DAYS, *days])


def _warn_days(policy, settings, lot: Lot, kind: str) -> int:
    if policy is None:
        return DEFAULT_WARN_DAYS
    facts = LotFacts(entry_kind=kind, available_at=lot.available_at)
    # Rules on the lot decide; the member facts of the day are not rebuilt per lot.
    return rules.evaluate_expiry(policy, facts, MemberFacts(), settings, explain=False).warn_days_before


def due_for_warning(session: Session, now: datetime) -> list[tuple[Member, list[Lot]]]:
    """Per member, the unwarned lots with points left whose warning day has come (rows locked)."""
    _ref, policy = policies.active(session, "expiry", now)
    settings = policies.settings(session, now)
    horizon = now + timedelta(days=_window(policy))
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
    return list(per_member.values())


def mark_warned(session: Session, lots: list[Lot], now: datetime) -> None:
    for lot in lots:
        lot.warned_at = now
    session.flush()
