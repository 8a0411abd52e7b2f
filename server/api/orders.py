"""Orders: purchases, status transitions, partial returns, and quotes for a cart."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from flask import g
from flask_smorest import Blueprint

from engine import accrual, clock
from engine.documents import orders, quotes, redemptions
from engine.documents.corrections import ReturnItem
from engine.domain import LineDoc, Origin, PurchaseDoc
from rules.facts import DocumentFacts
from server.api import present
from server.api.bounds import LIMIT
from server.api.schemas import OrderIn, OrderOut, QuoteIn, ReturnIn, StatusIn
from server.auth import require
from server.errors import ApiError
from server.extensions import db
from server.formats import xml_document, xml_root
from server.idempotency import idempotent

SOURCE = "shop"
# One instance for every request: given the class, webargs builds a schema (deep-copying its fields, and
# its lines' nested schema) per request, which cost more than loading the order.
ORDER_IN = OrderIn()
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
@blp.arguments(ORDER_IN)
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
                      origin=Origin("api", g.api_key.name), codes=data["codes"])
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
    items = [ReturnItem(quantity=item["quantity"], line_no=item["line_no"], amount=item.get("amount"))
             for item in data["lines"]]
    orders.record_return(session, base, data["return_id"], items, origin=Origin("api", g.api_key.name),
                         actor=g.actor, now=clock.now())
    return present.order_out(session, base)


@blp.route("/quote", methods=["POST"])
@require("orders:write")
@blp.arguments(QuoteIn)
def quote(data):
    """Points each line of a cart would earn, and how much of it could be paid with
    points (member optional: without one, the program's general terms)."""
    xml_root("quote")
    found = quotes.quote(db.session(), data.get("member"), _lines(data["lines"]), currency=data.get("currency"),
                         channel=data["channel"], store=data["store"], shipping_total=data["shipping_total"],
                         explain=data["explain"], now=clock.now(), codes=data["codes"])
    earn, member = found.earn, found.member
    return {
        "member": member.loyalty_id if member else None, "currency": found.cart.currency,
        "points": str(earn.points) if earn else "0",
        "lines": [{"line_no": int(l.line_id), "points": str(l.points), "excluded": l.excluded}
                  for l in earn.lines] if earn else [],
        "policy_version": found.version,
        "tier": member.tier if member else None, "discount_percent": str(found.discount_percent),
        "redemption": _redemption_dict(found.spend, member is not None),
        "explanation": earn.trace if earn and data["explain"] else None,
    }


def _redemption_dict(result, has_member: bool) -> dict | None:
    if result is None:
        return None
    return {"allowed": result.allowed, "reason_code": result.reason_code,
            "reason": redemptions.reason_text(result.reason_code),
            "point_value": str(result.point_value), "eligible_total": str(result.eligible_total),
            "max_points": str(result.max_points) if has_member else None,
            "max_value": str(result.max_amount) if has_member else None,
            "free_lines": [{"line_no": int(f.line_id), "bundles": str(f.bundles),
                            "free_quantity": str(f.free_quantity), "points": str(f.points)}
                           for f in result.free_lines]}


def cart_facts(session, data: dict, *, currency: str, now) -> DocumentFacts:
    """A cart (quote or redemption) as rule facts, with catalog points per unit."""
    return accrual.cart_facts(session, _lines(data["lines"]), channel=data["channel"], store=data["store"],
                              currency=currency, placed_at=now, shipping_total=data["shipping_total"],
                              codes=data["codes"])
