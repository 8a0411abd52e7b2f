"""Redemptions: spending points on an order, and cancelling (refunding) them."""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint

from engine import clock, policies
from engine.documents import redemptions
from server.api import present
from server.api.orders import SOURCE, cart_facts
from server.api.schemas import RedemptionIn, RedemptionOut
from server.auth import require
from server.extensions import db
from server.formats import xml_document, xml_root
from server.idempotency import idempotent

blp = Blueprint("redemptions", __name__, url_prefix="/api/v1/redemptions",
                description="Spending points and refunds")


@blp.route("", methods=["POST"])
@xml_document("redemption")
@require("redemptions:write")
@idempotent(lambda _kw, body: f"redemption:{body['redemption_id']}"
            if body.get("redemption_id") else None)
@blp.arguments(RedemptionIn)
@blp.response(201, RedemptionOut)
def redeem(data):
    """Spend points (idempotent on redemption_id). Never overdraws: the balance is
    checked under the account's lock. The redemption policy limits the order as
    a whole, over all its redemptions: a recorded order is judged on its lines,
    another on the ``cart`` sent. A blocked member spends nothing, neither
    directly nor as the ``acting_member`` of a colleague."""
    session = db.session()
    now = clock.now()
    cart = None
    if data.get("cart"):
        cart = cart_facts(session, data["cart"], currency=policies.settings(session, now).currency,
                          now=now)
    request = redemptions.RedemptionRequest(
        source=SOURCE, external_id=data["redemption_id"], member_ref=data["member"],
        points=data["points"], order_external_id=data.get("order_id"), cart=cart,
        acting_member_ref=data.get("acting_member"),
        free_lines=tuple(dict.fromkeys(str(n) for n in data["free_lines"])))
    redemption, _created = redemptions.redeem(session, request, actor=g.actor, now=now)
    return present.redemption_out(session, redemption)


@blp.route("/<redemption_id>", methods=["GET"])
@require("redemptions:write")
@blp.response(200, RedemptionOut)
def get_redemption(redemption_id):
    xml_root("redemption")
    session = db.session()
    return present.redemption_out(session, redemptions.get(session, SOURCE, redemption_id))


@blp.route("/<redemption_id>/cancel", methods=["POST"])
@xml_document("redemption")
@require("redemptions:write")
@idempotent()
@blp.response(200, RedemptionOut)
def cancel(redemption_id):
    """Cancel a redemption: its points go back into the lots they came from."""
    session = db.session()
    redemption = redemptions.get(session, SOURCE, redemption_id)
    redemptions.cancel(session, redemption, actor=g.actor, now=clock.now())
    return present.redemption_out(session, redemption)
