"""Promo codes over HTTP: redeem a code (rate-limited), and create, list, export and deactivate batches."""
from __future__ import annotations

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine import clock, members
from engine.engagement import promo_codes
from server.api import present
from server.api.bounds import Exact, Instant, positive
from server.api.schemas import BalanceBrief, MemberRefField, Points
from server.auth import require
from server.extensions import db
from server.formats import xml_document, xml_root
from server.idempotency import idempotent, transactional

blp = Blueprint("promo_codes", __name__, url_prefix="/api/v1/promo-codes",
                description="Single-use promo codes (paint-can stickers) and their batches")

# Bound in init_app: Redis when REDIS_URL is set (every worker shares the counts), memory on the embedded default.
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


@limiter.request_filter
def _not_limited() -> bool:
    """Only this blueprint's routes have limits: every other request skips the limiter's lookup of
    them, which cost about 0.15 ms of CPU per request (a third of /healthz)."""
    return request.blueprint != blp.name


class RedeemIn(Schema):
    code = fields.String(required=True, validate=validate.Length(1, 100))
    member = MemberRefField(required=True)


class RedeemOut(Schema):
    code = fields.String()
    batch = fields.String()
    member = fields.String()
    points = Points()
    redeemed_at = fields.AwareDateTime()
    balance = fields.Nested(BalanceBrief)


class BatchIn(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 100))
    pattern = fields.String(required=True, validate=validate.Length(1, 63),
                            metadata={"description": "# digit, ? letter, * either; e.g. MAL-####-????"})
    count = fields.Integer(required=True, validate=validate.Range(1, promo_codes.MAX_COUNT))
    points = Exact(validate=positive, metadata={"description": "left out: the event policy (type promo_code)"})
    valid_from = Instant()
    valid_until = Instant()

    @validates_schema
    def _window(self, data, **_kw):
        if data.get("valid_from") and data.get("valid_until") and data["valid_until"] <= data["valid_from"]:
            raise ValidationError("must be after valid_from", "valid_until")


class BatchOut(Schema):
    id = fields.Integer()
    name = fields.String()
    pattern = fields.String(allow_none=True)
    points = Points(allow_none=True)
    valid_from = fields.AwareDateTime(allow_none=True)
    valid_until = fields.AwareDateTime(allow_none=True)
    active = fields.Boolean()
    count = fields.Integer()
    redeemed = fields.Integer()
    created_at = fields.AwareDateTime()


def _batch_out(batch, redeemed: int = 0) -> dict:
    return {"id": batch.id, "name": batch.name, "pattern": batch.pattern, "points": batch.points,
            "valid_from": batch.valid_from, "valid_until": batch.valid_until, "active": batch.active,
            "count": batch.code_count, "redeemed": redeemed, "created_at": batch.created_at}


def _member_key() -> str:
    body = request.get_json(silent=True)
    member = body.get("member") if isinstance(body, dict) else None
    return f"member:{str(member).strip().lower()[:100]}" if member else f"address:{get_remote_address()}"


def _wrong(response: Response) -> bool:
    """Only wrong answers count against the limits: a shop redeeming many good codes is never slowed,
    and a request the limiter itself refused (429) was no try at a code."""
    return response.status_code >= 400 and response.status_code != 429


def _member_limit() -> str:
    return current_app.config.get("PROMO_REDEEM_LIMIT_MEMBER", "10/minute;50/day")


def _address_limit() -> str:
    return current_app.config.get("PROMO_REDEEM_LIMIT_ADDRESS", "60/minute;1000/day")


@blp.route("/redeem", methods=["POST"])
@limiter.limit(_member_limit, key_func=_member_key, deduct_when=_wrong, scope="promo-member")
@limiter.limit(_address_limit, deduct_when=_wrong, scope="promo-address")
@xml_document("promo_redemption")
@require("events:write")
@transactional
@blp.arguments(RedeemIn)
@blp.response(201, RedeemOut)
def redeem(data):
    """Redeem a single-use code for a member: once ever, by one member. Answers (stable codes):
    ``promo_unknown`` (404, also for a mistyped check character), ``promo_already_used`` (409; never
    who used it), ``promo_expired``, ``promo_not_yet_valid``, ``promo_inactive`` (422). The same
    member asking again gets the first answer with 200. Wrong codes count against limits per member
    and per client address (429 ``too_many_requests``)."""
    session = db.session()
    result = promo_codes.redeem(session, data["code"], data["member"], actor=g.actor, now=clock.now())
    member = members.get(session, data["member"])
    body = {"code": result.code, "batch": result.batch, "member": member.loyalty_id, "points": result.points,
            "redeemed_at": result.redeemed_at, "balance": present.balance_out(session, member)}
    return (body, 200) if result.replayed else body


@blp.route("/batches", methods=["POST"])
@xml_document("promo_batch")
@require("promo:write")
@idempotent()
@blp.arguments(BatchIn)
@blp.response(201, BatchOut)
def create_batch(data):
    """Generate a batch from a pattern (a check character is appended to every code); refused with a
    sentence when the pattern cannot hold the count."""
    batch = promo_codes.generate(db.session(), data["name"], data["pattern"], data["count"],
                                 points=data.get("points"), valid_from=data.get("valid_from"),
                                 valid_until=data.get("valid_until"), actor=g.actor, now=clock.now())
    return _batch_out(batch)


@blp.route("/batches", methods=["GET"])
@require("promo:write")
@blp.response(200, BatchOut(many=True))
def list_batches():
    """Every batch, newest first, with how many codes were redeemed."""
    xml_root("promo_batches")
    return [_batch_out(batch, used) for batch, used in promo_codes.batches(db.session())]


@blp.route("/batches/<int:batch_id>/deactivate", methods=["POST"])
@xml_document("promo_batch")
@require("promo:write")
@idempotent()
@blp.response(200, BatchOut)
def deactivate_batch(batch_id):
    """Withdraw a batch: its unused codes answer ``promo_inactive`` from now on."""
    session = db.session()
    batch = promo_codes.deactivate(session, promo_codes.get_batch(session, batch_id), now=clock.now())
    return _batch_out(batch)


@blp.route("/batches/<int:batch_id>/codes.csv", methods=["GET"])
@require("promo:write")
@blp.response(200, content_type="text/csv")
def export_batch(batch_id):
    """The batch's codes as CSV for the printer (code, batch, redeemed)."""
    batch = promo_codes.get_batch(db.session(), batch_id)
    return present.csv_download(lambda own: promo_codes.export_csv(own, batch), f"promo-{batch.id}.csv")


def init_app(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "loyalty-limits")
    limiter.init_app(app)
