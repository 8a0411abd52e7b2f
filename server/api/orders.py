"""Orders: purchases, status transitions, partial returns, and quotes for a cart."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from flask import g
from flask_smorest import Blueprint
from sqlalchemy import select

import rules
from engine import clock, members, policies, terms
from engine.documents import orders, redemptions
from engine.documents.domain import LineDoc, Origin, PurchaseDoc
from engine.models import Member, Product
from rules.facts import DocumentFacts, LineFacts
from server import db
from server.api import present
from server.api.bounds import LIMIT
from server.api.schemas import OrderIn, OrderOut, QuoteIn, ReturnIn, StatusIn
from server.auth import require
from server.errors import ApiError
from server.formats import xml_document, xml_root
from server.idempotency import idempotent

SOURCE = "shop"
MAX_EXTERNAL_ID = 100  # documents.external_id is VARCHAR(100)
blp = Blueprint("orders", __name__, url_prefix="/api/v1",
                description="Orders, statuses, returns and quotes")


def _lines(raw_lines) -> list[LineDoc]:
    out = []
    for line in raw_lines:
        total = line.get("line_total")
        if total is None:
            total = (line["quantity"] * line["unit_price"]).quantize(Decimal("0.01"),
                                                                   rounding=ROUND_HALF_UP)
            if abs(total) >= LIMIT:
                raise ApiError(422, "validation_error", f"line {line['line_no']}: quantity × "
                               "unit_price is too large", {"fields": {"lines": ["too large"]}})
        out.append(LineDoc(line_no=line["line_no"], sku=line["sku"], name=line["name"],
                           product_group=line["product_group"], brand=line["brand"],
                           quantity=line["quantity"], unit_price=line["unit_price"],
                           line_total=total, is_promo=line["is_promo"]))
    return out


@blp.route("/orders", methods=["POST"])
@xml_document("order")
@require("orders:write")
@idempotent(lambda _kw, body: f"order:{body['order_id']}" if body.get("order_id") else None)
@blp.arguments(OrderIn)
@blp.response(201, OrderOut)
def create_order(data):
    """Record a purchase (idempotent on order_id). Points accrue when the order
    reaches the program's accrue-on status (paid or fulfilled)."""
    session = db.session()
    now = clock.now()
    doc = PurchaseDoc(source=SOURCE, external_id=data["order_id"], document_type="order",
                      member_ref=data["member"], placed_at=data["placed_at"],
                      currency=data["currency"].upper(), lines=tuple(_lines(data["lines"])),
                      channel=data["channel"], store=data["store"],
                      shipping_total=data["shipping_total"], status=data["status"],
                      origin=Origin("api", g.api_key.name))
    document, _created = orders.record_purchase(session, doc, actor=g.actor, now=now)
    return present.order_out(session, document)


@blp.route("/orders/<order_id>", methods=["GET"])
@require("orders:write")
@blp.response(200, OrderOut)
def get_order(order_id):
    """An order with what it earned so far."""
    xml_root("order")
    session = db.session()
    return present.order_out(session, orders.get(session, SOURCE, order_id))


@blp.route("/orders/<order_id>/status", methods=["POST"])
@xml_document("order")
@require("orders:write")
@idempotent()
@blp.arguments(StatusIn)
@blp.response(200, OrderOut)
def set_status(data, order_id):
    """Move an order to paid, fulfilled, cancelled or returned. Cancelling or
    returning takes back what it earned and refunds what was spent on it."""
    session = db.session()
    document = orders.get(session, SOURCE, order_id)
    orders.set_status(session, document, data["status"], actor=g.actor, now=clock.now())
    return present.order_out(session, document)


@blp.route("/orders/<order_id>/returns", methods=["POST"])
@xml_document("order")
@require("orders:write")
@idempotent(lambda kw, body: f"return:{kw['order_id']}:{body['return_id']}"
            if body.get("return_id") else None)
@blp.arguments(ReturnIn)
@blp.response(201, OrderOut)
def create_return(data, order_id):
    """A partial return by lines: the order's points are recomputed on what is
    kept, under the same rules and member snapshot, and the difference posted."""
    session = db.session()
    external_id = f"{order_id}/returns/{data['return_id']}"
    if len(external_id) > MAX_EXTERNAL_ID:  # the return is a document of its own, under this id
        message = (f"the order id and the return id together must stay within "
                   f"{MAX_EXTERNAL_ID - len('/returns/')} characters; use a shorter return_id")
        raise ApiError(422, "validation_error", message, {"fields": {"return_id": [message]}})
    base = orders.get(session, SOURCE, order_id)
    by_no = {line.line_no: line for line in base.lines}
    lines = []
    for i, item in enumerate(data["lines"], start=1):
        line = by_no.get(item["line_no"])
        if line is None:
            raise ApiError(422, "unknown_line", f"order {order_id} has no line {item['line_no']}")
        amount = item.get("amount")
        if amount is None:
            amount = (line.line_total * item["quantity"] / line.quantity).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP) if line.quantity else line.line_total
            if item["quantity"] + line.returned_quantity >= line.quantity:
                amount = line.line_total - line.returned_total  # the last return takes the rest
        lines.append(LineDoc(line_no=i, sku=line.sku, quantity=item["quantity"],
                             unit_price=line.unit_price, line_total=amount,
                             base_line_no=line.line_no))
    member = session.get(Member, base.member_id)
    doc = PurchaseDoc(source=SOURCE, external_id=external_id,
                      document_type="correction", member_ref=member.loyalty_id,
                      placed_at=clock.now(), currency=base.currency, lines=tuple(lines),
                      channel=base.channel, store=base.store, base_external_id=order_id,
                      origin=Origin("api", g.api_key.name))
    orders.record_purchase(session, doc, actor=g.actor, now=clock.now())
    return present.order_out(session, base)


@blp.route("/quote", methods=["POST"])
@require("orders:write")
@blp.arguments(QuoteIn)
def quote(data):
    """Points each line of a cart would earn, and how much of it could be paid with
    points (member optional: without one, the program's general terms)."""
    xml_root("quote")
    session = db.session()
    now = clock.now()
    settings = policies.settings(session, now)
    member = members.get(session, data["member"]) if data.get("member") else None
    cart = cart_facts(session, data, currency=(data.get("currency") or settings.currency).upper(),
                      now=now)
    version = terms.policy_for(session, now)
    facts = members.facts(session, member, now, settings) if member else rules.facts.MemberFacts()
    earn = None
    if version is not None and (member is None or
                                members.effective_status(member, settings) == "active"):
        earn = rules.evaluate_accrual(
            policies.compiled(version, session), cart, facts, settings, explain=data["explain"], at=now,
            tier_multiplier=terms.tier_multiplier(session, facts, settings, now))
    spend = redemptions.evaluate(session, cart, member, settings, now,
                                 balance=facts.points_balance if member else None)
    return {
        "member": member.loyalty_id if member else None, "currency": cart.currency,
        "points": str(earn.points) if earn else "0",
        "lines": [{"line_no": int(l.line_id), "points": str(l.points), "excluded": l.excluded}
                  for l in earn.lines] if earn else [],
        "policy_version": version.version if version else None,
        "redemption": _redemption_dict(spend, member is not None),
        "explanation": earn.trace if earn and data["explain"] else None,
    }


def _redemption_dict(result, has_member: bool) -> dict | None:
    if result is None:
        return None
    return {"allowed": result.allowed, "reason_code": result.reason_code,
            "reason": redemptions.reason_text(result.reason_code),
            "point_value": str(result.point_value), "eligible_total": str(result.eligible_total),
            "max_points": str(result.max_points) if has_member else None,
            "max_value": str(result.max_amount) if has_member else None}


def cart_facts(session, data: dict, *, currency: str, now) -> DocumentFacts:
    """A cart (quote or redemption) as rule facts, with catalog points per unit."""
    lines = _lines(data["lines"])
    per_unit = dict(session.execute(select(Product.sku, Product.points_per_unit).where(
        Product.sku.in_({l.sku for l in lines}))).all())
    return DocumentFacts(
        lines=tuple(LineFacts(line_id=str(l.line_no), sku=l.sku, product_group=l.product_group,
                              brand=l.brand, quantity=l.quantity, unit_price=l.unit_price,
                              line_total=l.line_total, is_promo=l.is_promo,
                              product_points_per_unit=per_unit.get(l.sku)) for l in lines),
        channel=data["channel"], store=data["store"], currency=currency, placed_at=now,
        shipping_total=data["shipping_total"])
