"""Referrals: a referred member's first qualifying purchase rewards both sides.

Qualifying means the referral policy awards something for it (its rules may
look at the purchase through ``event_amount``, the order total, and at the
referrer's cap through ``referrals_this_month``). The awards wait for the
purchase's holding period like its accrual, and a cancellation of that
purchase while they still wait takes both back; the referral is then spent
(a buy-and-cancel cycle cannot farm it).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import ledger, policies
from engine.engagement import events
from engine.models import Document, LedgerEntry, Lot, Member


class SelfReferral(ValueError):
    """A member cannot be referred by itself (same phone, e-mail or company)."""


def key(member: Member) -> str:
    return f"referral:{member.loyalty_id}"


def check_not_self(member: Member, referrer: Member) -> None:
    """Refuse a referral between two members sharing a phone, an e-mail or a company."""
    same = []
    if member.phone and member.phone == referrer.phone:
        same.append("phone")
    if member.email and referrer.email and member.email.lower() == referrer.email.lower():
        same.append("e-mail")
    if member.company_id is not None and member.company_id == referrer.company_id:
        same.append("company")
    if same:
        raise SelfReferral(f"a member cannot use a referral code of its own: the new member and the "
                           f"code's owner share the {' and the '.join(same)}")


def referrals_this_month(session: Session, referrer: Member, now: datetime, settings) -> int:
    """The referral rewards the referrer received this calendar month (program time zone)."""
    start = events.period_starts(now, settings.tz)["this_month"]
    return int(session.execute(select(func.count(LedgerEntry.id)).where(
        LedgerEntry.kind == "referral", LedgerEntry.amount > 0, LedgerEntry.member_id == referrer.id,
        LedgerEntry.idempotency_key.like("referral:%:referrer"),
        LedgerEntry.created_at >= start)).scalar_one())


def after_first_purchase(session: Session, member: Member, *, actor: str, now: datetime,
                         document: Document | None = None,
                         available_at: datetime | None = None) -> None:
    """Fire the referral policy once per referred member (by its key): the policy
    decides how much the referee and the referrer receive. ``available_at`` is
    when the purchase's own points become available: the awards wait as long."""
    if member.referred_by_id is None:
        return
    entry_key = key(member)
    if ledger.find_entry(session, entry_key) is not None:
        return
    referrer = session.get(Member, member.referred_by_id)
    settings = policies.settings(session, now)
    attributes, extra = {}, {}
    if document is not None:
        attributes = {"amount": str(document.total), "document_type": document.document_type}
        extra = {"document_id": document.id, "document": f"{document.source}:{document.external_id}"}
    events.fire(session, member, "referral", key=entry_key, actor=actor, now=now, referrer=referrer,
                attributes=attributes, not_before=available_at, trace_extra=extra,
                facts={"referrals_this_month": referrals_this_month(session, referrer, now, settings)})


def after_cancel(session: Session, document: Document, *, actor: str, now: datetime) -> list[LedgerEntry]:
    """Take back the referral awards ``document`` triggered, while they still wait
    for its holding period (after it they are the members' like any points)."""
    member = session.get(Member, document.member_id)
    if member is None or member.referred_by_id is None:
        return []
    posted = []
    for entry_key in (key(member), f"{key(member)}:referrer"):
        entry = ledger.find_entry(session, entry_key)
        if entry is None or (entry.trace or {}).get("document_id") != document.id:
            continue
        lots = list(session.execute(select(Lot).where(Lot.entry_id == entry.id)).scalars())
        if not lots or any(lot.available_at <= now for lot in lots):
            continue
        account = ledger.lock_account(session, entry.account_id)
        posted.append(ledger.debit(
            session, account, kind="reversal", amount=entry.amount, key=f"{entry_key}:reversed",
            actor=actor, now=now, allow_debt=True, prefer_lot_ids=[lot.id for lot in lots],
            member_id=entry.member_id, reason=f"order {document.external_id} {document.status}",
            trace={"policy": "referral", "reverses": entry_key, "document_id": document.id}))
    return posted
