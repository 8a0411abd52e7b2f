"""Giving spent points back: a cancelled redemption, and the share of a returned order's spend.

Points spent on an order come back whichever way the goods come back. A
cancelled or returned order (status change), a redemption cancelled by the
shop or lowered by 1C, and a return or credit note (the one correction path,
`orders.apply_correction`) all end here. A correction refunds the order's
spend in proportion to the money returned so far (Odoo does the same), with
the program's rounding; a full return refunds everything. The share is
cumulative: each correction refunds what the returns so far entitle minus
what was refunded already, so several returns never refund more than was
spent, and rounding never loses a point at the last return.

Each refund is a ledger credit (kind ``refund``) keyed by the redemption's and
the correction's ids (their external ids together could outgrow the key
column), so a replayed correction refunds nothing twice. It gives back the
very lots the spend took (with their expiry), in the order it took them,
skipping what earlier refunds gave back.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import ledger, policies
from engine.models import Document, LedgerEntry, Redemption

ZERO = Decimal(0)


def of_order(session: Session, source: str, order_external_id: str) -> list[Redemption]:
    """The active redemptions that spent points on an order (same source, by its external id)."""
    return list(session.execute(select(Redemption).where(
        Redemption.source == source, Redemption.order_external_id == order_external_id,
        Redemption.status == "active").order_by(Redemption.id)).scalars())


def refunded(session: Session, redemption: Redemption) -> Decimal:
    """What refunds gave back of ``redemption`` so far."""
    total = session.execute(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.redemption_id == redemption.id, LedgerEntry.kind == "refund")).scalar_one()
    return Decimal(total)


def outstanding(session: Session, redemption: Redemption) -> Decimal:
    """What ``redemption`` still holds spent (its points less what was refunded)."""
    if redemption.status != "active":
        return ZERO
    return redemption.points - refunded(session, redemption)


def _give_back(session: Session, redemption: Redemption, amount: Decimal, *, key: str, actor: str,
               now: datetime, reason: str) -> LedgerEntry | None:
    """Credit ``amount`` of ``redemption`` back into the lots its spend took."""
    account = ledger.lock_account(session, redemption.account_id)
    existing = ledger.find_entry(session, key)
    if existing is not None:
        return existing
    spend = ledger.find_entry(session, f"redemption:{redemption.source}:{redemption.external_id}")
    skip, wanted, lots = refunded(session, redemption), amount, []
    for alloc, lot in ledger.allocations_of(session, spend.id):
        part = alloc.amount
        if skip > 0:
            skipped = min(skip, part)
            skip, part = skip - skipped, part - skipped
        take = min(part, wanted)
        if take > 0:
            lots.append(ledger.LotSpec(take, min(lot.available_at, now), lot.expires_at))
            wanted -= take
        if wanted <= 0:
            break
    if not lots:
        return None
    return ledger.credit(session, account, kind="refund", key=key, actor=actor, now=now, lots=lots,
                         member_id=redemption.member_id, redemption_id=redemption.id, reason=reason,
                         trace={"refund_of": spend.id})


def cancel(session: Session, redemption: Redemption, *, actor: str, now: datetime,
           reason: str = "redemption cancelled") -> LedgerEntry | None:
    """Give back what the redemption still holds (same lots, same expiry dates)."""
    if redemption.status == "cancelled":
        return None
    left = outstanding(session, redemption)
    redemption.status = "cancelled"
    redemption.cancelled_at = now
    if left <= 0:
        return None
    return _give_back(session, redemption, left, actor=actor, now=now, reason=reason,
                      key=f"refund:{redemption.source}:{redemption.external_id}")


def after_correction(session: Session, order: Document, correction: Document, *, actor: str,
                     now: datetime) -> list[LedgerEntry]:
    """Refund the share of the order's spend that the money returned so far entitles."""
    gross = sum((line.line_total for line in order.lines), ZERO)
    returned = sum((line.returned_total for line in order.lines), ZERO)
    full = order.status == "returned" or (gross > 0 and returned >= gross)
    settings = policies.settings(session, order.placed_at)
    posted = []
    for redemption in of_order(session, order.source, order.external_id):
        if full:
            target = redemption.points
        elif gross > 0:
            target = min(settings.round_points(redemption.points * returned / gross), redemption.points)
        else:
            target = ZERO
        give = target - refunded(session, redemption)
        reason = f"correction {correction.number or correction.external_id} of order {order.external_id}"
        if give > 0:
            entry = _give_back(session, redemption, give, actor=actor, now=now, reason=reason,
                               key=f"refund:{redemption.id}:correction:{correction.id}")
            if entry is not None:
                posted.append(entry)
        if full:
            # Fully given back: the same state a `returned` status change leaves it in.
            redemption.status, redemption.cancelled_at = "cancelled", now
    session.flush()
    return posted
