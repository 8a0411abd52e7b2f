"""Member events: POST /events runs the event policy, idempotent on the event id."""
from __future__ import annotations

from decimal import Decimal

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate

from engine import clock, members
from engine.engagement import events
from server.api import present
from server.api.bounds import REF, Instant
from server.api.schemas import BalanceBrief, EntryOut, MemberRefField, Points
from server.auth import require
from server.errors import ApiError
from server.extensions import db
from server.formats import xml_document
from server.idempotency import idempotent

blp = Blueprint("events", __name__, url_prefix="/api/v1/events",
                description="Member events (review, subscription, social share, custom)")


def _scalar_attributes(value: dict) -> None:
    for key, item in value.items():
        if isinstance(item, (dict, list)):
            raise ValidationError(f"attribute {key!r}: only text, numbers, true/false or null")
        if isinstance(item, str) and len(item) > 500:
            raise ValidationError(f"attribute {key!r}: at most 500 characters")


class EventIn(Schema):
    event_id = fields.String(required=True, validate=validate.Length(1, REF),
                             metadata={"description": "the shop's id of the event; a repeat is a replay"})
    member = MemberRefField(required=True)
    type = fields.String(required=True, validate=validate.Length(1, 64), metadata={
        "description": "registration, review, subscription, social_share or custom:<name>"})
    occurred_at = Instant()
    attributes = fields.Dict(keys=fields.String(validate=validate.Length(1, 64)), values=fields.Raw(),
                             validate=[validate.Length(max=50), _scalar_attributes], load_default=dict,
                             metadata={"description": "what the policy may test: amount, source, "
                                                      "and any key=value through event_attributes"})


class EventOut(Schema):
    event_id = fields.String()
    member = fields.String()
    type = fields.String()
    points = Points(metadata={"description": "what this event earned (0: no rule, or a limit reached)"})
    entries = fields.List(fields.Nested(EntryOut))
    balance = fields.Nested(BalanceBrief)


def _event_key(_kwargs, body):
    # An id the schema will refuse gets its 422 from the schema, not a key error.
    event_id = body.get("event_id")
    return f"event:{event_id}" if isinstance(event_id, str) and 0 < len(event_id) <= REF else None


@blp.route("", methods=["POST"])
@xml_document("event")
@require("events:write")
@idempotent(_event_key)
@blp.arguments(EventIn)
@blp.response(201, EventOut)
def post_event(data):
    """Record a member event: the event policy decides the points, and its rules
    hold the limits per period (``events_today`` … ``events_total``). Sending the
    same ``event_id`` again answers the first result and awards nothing twice."""
    session = db.session()
    member = members.get(session, data["member"])
    try:
        _key, entries = events.record(session, member, data["type"], data["event_id"], actor=g.actor,
                                      now=clock.now(), occurred_at=data.get("occurred_at"),
                                      attributes=data["attributes"])
    except events.EventRefused as exc:
        raise ApiError(422, "unknown_event_type", str(exc), {"fields": {"type": [str(exc)]}}) from exc
    own = [e for e in entries if e.member_id == member.id]
    return {"event_id": data["event_id"], "member": member.loyalty_id, "type": data["type"],
            "points": sum((e.amount for e in own), Decimal(0)),
            "entries": present.entries_out(session, own, True),
            "balance": present.balance_out(session, member)}
