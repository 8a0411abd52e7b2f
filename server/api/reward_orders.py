"""Reward orders over HTTP: buy rewards with points, follow and move an order on, export them for shipping."""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine import clock
from engine.engagement import reward_orders
from engine.engagement.reward_orders import ADDRESS_FIELDS, MAX_ITEMS, MAX_QUANTITY, STATUSES
from engine.models import Member
from server.api import present
from server.api.bounds import REF, Id, Text
from server.api.schemas import BalanceBrief, MemberRefField, Points
from server.auth import require
from server.extensions import db
from server.formats import xml_document, xml_root
from server.idempotency import idempotent

blp = Blueprint("reward_orders", __name__, url_prefix="/api/v1/reward-orders",
                description="Reward orders: rewards bought with points, their statuses, the shipping export")


class RewardItemIn(Schema):
    sku = fields.String(validate=validate.Length(1, 64), metadata={"description": "the reward's SKU, or"})
    reward_id = Id(metadata={"description": "the reward's id"})
    quantity = fields.Integer(load_default=1, validate=validate.Range(1, MAX_QUANTITY))

    @validates_schema
    def _one(self, data, **_kw):
        if ("sku" in data) == ("reward_id" in data):
            raise ValidationError("name the reward by sku or by reward_id (one of them)", "sku")


class DeliveryAddressIn(Schema):
    name = Text(required=True, min_length=1)
    line1 = Text(required=True, min_length=1)
    line2 = Text()
    postal_code = Text(32, required=True, min_length=1)
    city = Text(required=True, min_length=1)
    country = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{2}$"),
                            metadata={"description": "ISO 3166 code such as PL", "maxLength": 2})
    phone = Text(40)


class RewardOrderIn(Schema):
    reward_order_id = fields.String(required=True, validate=validate.Length(1, REF))
    member = MemberRefField(required=True, metadata={"description": "whose account pays"})
    recipient = MemberRefField(metadata={"description": "who receives it: for a company account, an employee "
                                                        "sharing it [003]; left out: the member"})
    items = fields.List(fields.Nested(RewardItemIn), required=True, validate=validate.Length(1, MAX_ITEMS))
    address = fields.Nested(DeliveryAddressIn, required=True)


class RewardStatusIn(Schema):
    status = fields.String(required=True, validate=validate.OneOf(STATUSES[1:]))
    note = Text(500)


class RewardItemOut(Schema):
    reward_id = fields.Integer()
    sku = fields.String()
    name = fields.String()
    quantity = fields.Integer()
    unit_points = Points()


class RewardStatusOut(Schema):
    status = fields.String()
    at = fields.AwareDateTime()
    actor = fields.String()
    note = fields.String()


class RewardOrderOut(Schema):
    reward_order_id = fields.String()
    status = fields.String()
    member = fields.String()
    recipient = fields.String()
    points = Points()
    items = fields.List(fields.Nested(RewardItemOut))
    address = fields.Dict(keys=fields.String(), values=fields.String())
    placed_at = fields.AwareDateTime()
    history = fields.List(fields.Nested(RewardStatusOut))
    balance = fields.Nested(BalanceBrief)


class RewardExportArgs(Schema):
    status = fields.List(fields.String(validate=validate.OneOf(STATUSES)), validate=validate.Length(max=5),
                         metadata={"description": "only orders in these statuses (repeat the parameter)"})


def order_out(session, order) -> dict:
    member, recipient = session.get(Member, order.member_id), session.get(Member, order.recipient_id)
    return {"reward_order_id": order.external_id, "status": order.status, "member": member.loyalty_id,
            "recipient": recipient.loyalty_id, "points": order.points, "placed_at": order.placed_at,
            "items": [{"reward_id": i.reward_id, "sku": i.sku, "name": i.name, "quantity": i.quantity,
                       "unit_points": i.unit_points} for i in order.items],
            "address": {k: v for k, v in (order.address or {}).items() if k in ADDRESS_FIELDS and v},
            "history": [{"status": h.status, "at": h.at, "actor": h.actor, "note": h.note} for h in order.history],
            "balance": present.balance_out(session, member)}


@blp.route("", methods=["POST"])
@xml_document("reward_order")
@require("redemptions:write")
@idempotent(lambda _kw, body: f"reward_order:{body['reward_order_id']}"
            if isinstance(body.get("reward_order_id"), str) else None)
@blp.arguments(RewardOrderIn)
@blp.response(201, RewardOrderOut)
def place(data):
    """Buy rewards with points (idempotent on reward_order_id): the stock is taken and the points spent
    in one transaction, with a redemption's guarantees (the account row lock, never overdrawn).
    Refusals: ``reward_out_of_stock`` (409), ``insufficient_points`` (422), ``reward_unknown`` (404),
    ``reward_inactive``, ``reward_recipient_refused``, ``reward_order_invalid`` (422),
    ``reward_order_conflict`` (409: the id was used for another order)."""
    session = db.session()
    request = reward_orders.OrderRequest(
        external_id=data["reward_order_id"], member_ref=data["member"], recipient_ref=data.get("recipient"),
        items=tuple(reward_orders.Item(i.get("reward_id") or i["sku"], i["quantity"]) for i in data["items"]),
        address=data["address"])
    order, _created = reward_orders.place(session, request, actor=g.actor, now=clock.now())
    return order_out(session, order)


@blp.route("/<reward_order_id>", methods=["GET"])
@require("redemptions:write")
@blp.response(200, RewardOrderOut)
def get_order(reward_order_id):
    """A reward order with its items, delivery address and status history."""
    xml_root("reward_order")
    session = db.session()
    return order_out(session, reward_orders.get(session, reward_order_id))


@blp.route("/<reward_order_id>/status", methods=["POST"])
@xml_document("reward_order")
@require("rewards:write")
@idempotent()
@blp.arguments(RewardStatusIn)
@blp.response(200, RewardOrderOut)
def change_status(data, reward_order_id):
    """placed → confirmed → shipped → delivered, or cancelled from placed or confirmed: the points go
    back into the lots they came from, once, and the stock is put back. The same status again changes
    nothing; any other move is ``reward_order_status`` (409). Each change is in the history and sends the
    webhook event ``reward_order.status_changed``."""
    session = db.session()
    order, _changed = reward_orders.change_status(session, reward_order_id, data["status"], actor=g.actor,
                                                  now=clock.now(), note=data.get("note", ""))
    return order_out(session, order)


@blp.route("/export.csv", methods=["GET"])
@require("rewards:write")
@blp.arguments(RewardExportArgs, location="query")
@blp.response(200, content_type="text/csv")
def export(args):
    """Reward orders as CSV for whoever ships them: one row per item with the recipient and address."""
    statuses = tuple(args.get("status") or ())
    return present.csv_download(lambda own: reward_orders.export_csv(own, statuses), "reward-orders.csv")
