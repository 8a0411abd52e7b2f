"""Spending points: quotes, redemptions (idempotent, never overdrawn, limited per order) and cancellation.

The redemption policy limits an order as a whole: every redemption naming an
order is judged, under the account's row lock, on the order's recorded lines
(else the cart sent, else the quote an earlier redemption of it was judged
on) with what its earlier redemptions still hold counted in. Refunds live in
`engine.documents.refunds`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

import rules
from engine import accrual, ledger, members, policies
from engine.documents import refunds, states
from engine.models import Document, Member, Redemption
from engine.models.base import filled
from engine.models.bulk import is_postgres
from rules.facts import DocumentFacts, MemberFacts

ZERO = Decimal(0)


# What a shop can show the customer when points cannot pay for a cart.
_REASONS = {
    "member_group_excluded": "the member's group is not part of the program",
    "below_min_order_total": "the order is below the minimum total for paying with points",
    "nothing_eligible": "nothing in this cart can be paid with points",
    "no_balance": "there are no points to spend",
    "balance_does_not_cover": "points can pay for this order only when they cover all of it",
    "member_blocked": "the member is blocked",
}


def reason_text(code: str | None) -> str | None:
    return _REASONS.get(code, code) if code else None


class RedemptionError(Exception):
    code = "redemption_error"


class RedemptionConflict(RedemptionError):
    code = "redemption_conflict"


class RedemptionNotAllowed(RedemptionError):
    code = "redemption_not_allowed"


class UnknownRedemption(RedemptionError, LookupError):
    code = "unknown_redemption"


@dataclass(frozen=True)
class RedemptionRequest:
    source: str
    external_id: str
    member_ref: str
    points: Decimal
    order_external_id: str | None = None
    cart: DocumentFacts | None = None  # when given, the redemption policy limits the spend
    acting_member_ref: str | None = None  # a company employee spending the company's points
    free_lines: tuple[str, ...] = ()  # cart lines taken free for points (free_for_points): ``points`` is their price


def _redemption_policy(session: Session, at: datetime):
    row, compiled = policies.active(session, "redemption", at)
    return row, compiled


def evaluate(session: Session, cart: DocumentFacts, member: Member | None,
             settings, now: datetime, *, balance: Decimal | None = None, explain=False):
    """How much of ``cart`` may be paid with points (None when no redemption policy)."""
    row, compiled = _redemption_policy(session, now)
    if compiled is None:
        return None
    if member is not None:
        facts = members.facts(session, member, now, settings)
        if balance is None:
            balance = facts.points_balance
    else:
        facts = MemberFacts()
    result = rules.evaluate_redemption(compiled, cart, facts, settings,
                                       balance=balance if balance is not None else ZERO,
                                       explain=explain, at=now)
    if member is not None and result.allowed and members.effective_status(member, settings) == "blocked":
        # A quote says what `redeem` would answer: a blocked member spends nothing.
        nothing = settings.floor_points(ZERO)
        result = replace(result, allowed=False, reason_code="member_blocked", max_points=nothing,
                         max_amount=nothing * result.point_value)
    return result


def _member_locking(session: Session, ref: str) -> Member | None:
    """`members.resolve`; on PostgreSQL the same statement takes the member's account lock, which the
    `ledger.lock_account` that follows gets without a round trip (a merged-away member: resolved as
    `resolve` does, its old account's lock held to the end of the transaction like any other)."""
    if is_postgres(session):
        found = members.resolve_with(session, ref, (), {}, lock_account=True)
        if found is not None:
            return found[0]
    return members.resolve(session, ref)


def redeem(session: Session, request: RedemptionRequest, *, actor: str,
           now: datetime) -> tuple[Redemption, bool]:
    """Spend points; returns (redemption, created). A retry returns the first one."""
    if request.points <= 0:
        raise RedemptionNotAllowed("the number of points to redeem must be positive")
    member = _member_locking(session, request.member_ref)
    if member is None:
        existing = _find(session, request.source, request.external_id)
        if existing is not None:  # a retry naming no member: the conflict, as before
            return _replay(session, existing, request), False
        member = members.get(session, request.member_ref)  # raises UnknownMember
    # The lock first, then one look for the redemption: a retry (even one committed a moment ago)
    # is found under it, and a new one needs the lock anyway; the checks come after, so a retry
    # answers whatever changed since (a member blocked meanwhile).
    account = ledger.lock_account(session, member.account_id)
    existing = _find(session, request.source, request.external_id)
    if existing is not None:
        return _replay(session, existing, request, member), False
    settings = policies.settings(session, now)
    if request.points != settings.round_points(request.points):
        raise RedemptionNotAllowed(
            f"points must have at most {settings.precision} decimal places")
    actor_member = members.get(session, request.acting_member_ref) \
        if request.acting_member_ref else member
    # Both the account's member and whoever spends through it must be allowed to act on it.
    for who in {member.id: member, actor_member.id: actor_member}.values():
        refused = members.refusal(who, settings, account_id=member.account_id)
        if refused:
            raise RedemptionNotAllowed(refused)
    order = _recorded_order(session, request, member)
    point_value, details = _judge(session, request, order, member, account, settings, now)
    redemption = filled(Redemption, dict(source=request.source, external_id=request.external_id,
                                         account_id=account.id, member_id=actor_member.id,
                                         order_external_id=request.order_external_id, points=request.points,
                                         value=(request.points * point_value).quantize(
                                             Decimal("0.01"), rounding=ROUND_DOWN),
                                         currency=settings.currency, status="active", details=details,
                                         created_at=now))
    redemption.fresh_member = actor_member  # see the model: the answer reads it back
    session.add(redemption)
    session.flush()
    ledger.spend(session, account, kind="redemption", amount=request.points,
                 key=f"redemption:{request.source}:{request.external_id}", actor=actor, now=now,
                 member_id=actor_member.id, redemption_id=redemption.id,
                 reason=f"order {request.order_external_id}" if request.order_external_id else None,
                 trace={"point_value": str(point_value)})
    return redemption, True


def _recorded_order(session: Session, request: RedemptionRequest, member: Member) -> Document | None:
    """The stored order the redemption names, when there is one; it must take a redemption."""
    if not request.order_external_id:
        return None
    order = session.execute(select(Document).where(
        Document.source == request.source, Document.external_id == request.order_external_id)
    ).scalar_one_or_none()
    if order is None:
        return None
    states.check_operation(order, "redeem", RedemptionNotAllowed)
    if order.account_id != member.account_id:
        raise RedemptionNotAllowed(f"order {order.external_id} belongs to another account")
    return order


def _judge(session: Session, request: RedemptionRequest, order: Document | None, member: Member,
           account, settings, now: datetime) -> tuple[Decimal, dict]:
    """Apply the redemption policy to the order as a whole (under the account lock): its
    recorded lines, else the cart sent, else the strictest quote an earlier redemption of the
    same order was judged on. Returns the point value and the details to keep."""
    earlier = refunds.of_order(session, request.source, request.order_external_id) \
        if request.order_external_id else []
    cart = accrual.document_facts(order) if order is not None else request.cart
    if request.free_lines:
        return _judge_free(session, request, cart, earlier, member, account, settings, now)
    # Lines taken free were paid by their own price, not out of the order's money limit.
    spent = sum((refunds.outstanding(session, r) for r in earlier if not (r.details or {}).get("free_lines")), ZERO)
    if cart is None:
        quotes = [r.details["quote"] for r in earlier if (r.details or {}).get("quote")]
        if not quotes:
            return settings.point_value, {}
        limit = min(Decimal(q["max_points"]) for q in quotes)
        point_value = Decimal(quotes[0].get("point_value", settings.point_value))
        _check_limit(request, limit, spent)
        return point_value, {"quote": {**quotes[0], "max_points": str(limit), "from": "earlier"}}
    # The order's limit counts the points already spent on it as still in hand.
    balance = ledger.available_points(session, account, now) + spent
    result = evaluate(session, cart, member, settings, now, balance=balance, explain=True)
    if result is None:
        return settings.point_value, {}
    if not result.allowed:
        raise RedemptionNotAllowed(reason_text(result.reason_code)
                                   or "this cart cannot be paid with points")
    _check_limit(request, result.max_points, spent)
    return result.point_value, {"quote": {
        "max_points": str(result.max_points), "eligible_total": str(result.eligible_total),
        "point_value": str(result.point_value), "spent_before": str(spent),
        "from": "order" if order is not None else "cart", "trace": result.trace}}


def _judge_free(session: Session, request: RedemptionRequest, cart: DocumentFacts | None, earlier, member: Member,
                account, settings, now: datetime) -> tuple[Decimal, dict]:
    """Lines taken free for points: each must have a ``free_for_points`` offer, not be taken by an
    earlier redemption of the order still standing, and ``points`` must be exactly their price. The
    order's money terms (max percent, max points, minimum total) do not apply to them."""
    if cart is None:
        raise RedemptionNotAllowed("lines can be taken free only with the order's lines or a cart")
    taken = {line for r in earlier if refunds.outstanding(session, r) > 0
             for line in (r.details or {}).get("free_lines", ())}
    balance = ledger.available_points(session, account, now)
    result = evaluate(session, cart, member, settings, now, balance=balance)
    if result is None:
        raise RedemptionNotAllowed("no redemption policy offers lines free for points")
    if result.reason_code == "member_group_excluded":
        raise RedemptionNotAllowed(reason_text(result.reason_code))
    offers = {offer.line_id: offer for offer in result.free_lines}
    cost = ZERO
    for line_id in request.free_lines:
        if line_id not in offers:
            raise RedemptionNotAllowed(f"line {line_id} cannot be taken free for points")
        if line_id in taken:
            raise RedemptionNotAllowed(f"line {line_id} was already taken free for points on this order")
        cost += offers[line_id].points
    if request.points != cost:
        raise RedemptionNotAllowed(
            f"taking line(s) {', '.join(request.free_lines)} free costs {cost} points, not {request.points}; "
            "pay the rest of the cart with a redemption of its own")
    # Not under "quote": an order judged later on earlier quotes reads only money limits from there.
    return settings.point_value, {"free_lines": list(request.free_lines),
                                  "free": [offers[line_id].to_dict() for line_id in request.free_lines],
                                  "from": "order" if cart is not request.cart else "cart"}


def _check_limit(request: RedemptionRequest, limit: Decimal, spent: Decimal) -> None:
    if spent + request.points <= limit:
        return
    if spent > 0:
        raise RedemptionNotAllowed(
            f"at most {limit} points may be used on order {request.order_external_id}; "
            f"{spent} already are")
    raise RedemptionNotAllowed(f"at most {limit} points may be used on this cart")


def point_value(session: Session, member: Member, settings, now: datetime) -> Decimal:
    """What one point of ``member`` pays now: the redemption policy's value where it sets one
    (judged without a cart, so rules that need one do not count), else the settings'."""
    _row, compiled = _redemption_policy(session, now)
    if compiled is None:
        return settings.point_value
    empty = DocumentFacts(lines=(), currency=settings.currency, placed_at=now)
    try:
        facts = members.facts(session, member, now, settings, needed=members.variables_used(compiled))
        result = rules.evaluate_redemption(compiled, empty, facts, settings, balance=ZERO, at=now)
    except rules.EvaluationError:
        return settings.point_value
    return result.point_value


_FIND = select(Redemption).where(Redemption.source == bindparam("source"),
                                 Redemption.external_id == bindparam("external_id"))  # built once


def _find(session: Session, source: str, external_id: str) -> Redemption | None:
    return session.execute(_FIND, {"source": source, "external_id": external_id}).scalar_one_or_none()


def _replay(session: Session, existing: Redemption, request: RedemptionRequest,
            member: Member | None = None) -> Redemption:
    member = member or members.resolve(session, request.member_ref)
    if (existing.points != request.points or member is None
            or member.account_id != existing.account_id
            or (existing.order_external_id or None) != (request.order_external_id or None)):
        raise RedemptionConflict(
            f"redemption {request.external_id!r} was already made with different details")
    return existing


def get(session: Session, source: str, external_id: str) -> Redemption:
    redemption = _find(session, source, external_id)
    if redemption is None:
        raise UnknownRedemption(f"there is no redemption {external_id!r}")
    return redemption


def cancel(session: Session, redemption: Redemption, *, actor: str, now: datetime,
           reason: str = "redemption cancelled"):
    """Give the points back into the lots they came from (same expiry dates)."""
    return refunds.cancel(session, redemption, actor=actor, now=now, reason=reason)
