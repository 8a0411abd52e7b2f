"""Turn domain rows into the plain dicts the schemas dump (and XML renders)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import ROUND_DOWN, Decimal

from flask import Response, stream_with_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock, ledger, members, policies
from engine.documents import redemptions
from engine.engagement import tiers
from engine.models import Document, LedgerEntry, Member, Redemption
from engine.models.bulk import is_postgres


def member_out(session: Session, member: Member) -> dict:
    settings = policies.settings(session)
    company = member.company
    return {
        "loyalty_id": member.loyalty_id, "ext_id": member.ext_id, "erp_code": member.erp_code,
        "phone": member.phone, "email": member.email, "name": member.name,
        "birth_date": member.birth_date, "group": member.group, **_tier(session, member),
        "status": members.effective_status(member, settings),
        "registered_at": member.registered_at, "referral_code": member.referral_code,
        "company": {"name": company.name, "erp_code": company.erp_code} if company else None,
        "consent_email": member.consent_email, "consent_sms": member.consent_sms,
    }


def _tier(session: Session, member: Member, now=None) -> dict:
    found = tiers.summary(session, member, now or clock.now())
    return {"tier": found["tier"], "next_tier": found["next_tier"],
            "tier_benefits": {k: found[k] for k in ("discount_percent", "multiplier", "invitation_only",
                                                    "pinned_until")}}


def member_balance_out(session: Session, ref: str) -> dict:
    """`balance_out` of the member ``ref`` names; on PostgreSQL the member's lookup brings its balance."""
    now = clock.now()
    found = members.with_balance(session, ref, now) if is_postgres(session) else None
    if found is None:
        return balance_out(session, members.get(session, ref), now=now)
    return balance_out(session, found[0], now=now, bal=found[1])


def balance_out(session: Session, member: Member, *, now=None, bal: ledger.Balance | None = None) -> dict:
    """The balance answer of ``member``; ``bal``: its account's `ledger.balance_of` at ``now``, when known."""
    now = now or clock.now()
    settings = policies.settings(session, now)
    if bal is None:
        bal = ledger.balance_of(session, member.account_id, now)
    # What the points would really pay: the redemption policy may value a point differently.
    point_value = redemptions.point_value(session, member, settings, now)
    value = (max(bal.available, Decimal(0)) * point_value).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    return {
        "member": member.loyalty_id, "currency": settings.currency,
        "available": bal.available, "pending": bal.pending, "value": value,
        "point_value": point_value,
        "expiring": [{"date": when, "points": pts} for when, pts in bal.expiring],
        **_tier(session, member, now),
        "status": members.effective_status(member, settings),
    }


def entries_out(session: Session, rows: list[LedgerEntry], explain: bool) -> list[dict]:
    doc_ids = {r.document_id for r in rows if r.document_id}
    red_ids = {r.redemption_id for r in rows if r.redemption_id}
    docs = dict(session.execute(select(Document.id, Document.external_id)
                                .where(Document.id.in_(doc_ids))).all()) if doc_ids else {}
    reds = dict(session.execute(select(Redemption.id, Redemption.external_id)
                                .where(Redemption.id.in_(red_ids))).all()) if red_ids else {}
    return [{
        "id": r.id, "kind": r.kind, "amount": r.amount, "created_at": r.created_at,
        "effective_at": r.effective_at, "order_id": docs.get(r.document_id),
        "redemption_id": reds.get(r.redemption_id), "reason": r.reason, "actor": r.actor,
        "explanation": r.trace if explain else None,
    } for r in rows]


def order_out(session: Session, document: Document) -> dict:
    member = document.fresh_member or session.get(Member, document.member_id)
    now = clock.now()
    pending = ledger.document_pending(session, document.id, now, new=document.fresh_member is not None)
    return {
        "order_id": document.external_id, "member": member.loyalty_id,
        "status": document.status, "placed_at": document.placed_at,
        "currency": document.currency, "total": document.total, "earned": document.earned,
        "pending": pending, "codes": list(document.codes or ()),
        "lines": [{"line_no": l.line_no, "sku": l.sku, "quantity": l.quantity,
                   "line_total": l.line_total, "returned_quantity": l.returned_quantity,
                   "points": l.points} for l in document.lines],
    }


def redemption_out(session: Session, redemption: Redemption) -> dict:
    member = redemption.fresh_member or session.get(Member, redemption.member_id)
    return {
        "redemption_id": redemption.external_id, "member": member.loyalty_id,
        "order_id": redemption.order_external_id, "points": redemption.points,
        "free_lines": [int(line) for line in (redemption.details or {}).get("free_lines", ())],
        "value": redemption.value, "currency": redemption.currency,
        "status": redemption.status, "balance": balance_out(session, member),
    }


def csv_download(rows: Callable[[Session], Iterator[str]], filename: str) -> Response:
    """A CSV file streamed from a session of its own: the request's transaction ends first, so a
    million rows going out never hold it open."""
    from server.extensions import db, session_factory
    db.session().commit()

    def produce():
        own = session_factory().new_session()
        try:
            yield from rows(own)
        finally:
            own.close()
    return Response(stream_with_context(produce()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
