"""The reward catalog over HTTP: list what members can buy with points, the pictures we keep, operator edits."""
from __future__ import annotations

from flask import Response, g, request, url_for
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine import clock, ledger, members
from engine.engagement import rewards
from server.api.bounds import Exact, positive
from server.api.schemas import MemberRefField, Points
from server.auth import require
from server.errors import ApiError
from server.extensions import db
from server.formats import xml_document, xml_root
from server.idempotency import idempotent

blp = Blueprint("rewards", __name__, url_prefix="/api/v1/rewards",
                description="The reward catalog: products and trips bought with points, and their pictures")


class CatalogArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(1, 100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    member = MemberRefField(metadata={"description": "only what this member's available points can buy"})
    include_inactive = fields.Boolean(load_default=False,
                                      metadata={"description": "withdrawn rewards too (needs rewards:write)"})


class RewardOut(Schema):
    id = fields.Integer()
    sku = fields.String()
    name = fields.String()
    points_price = Points()
    points_manual = fields.Boolean(metadata={"description": "the points price was set by hand"})
    price = Points(allow_none=True)
    currency = fields.String()
    stock = fields.Integer(allow_none=True, metadata={"description": "null: not counted"})
    active = fields.Boolean()
    picture_url = fields.String(allow_none=True, metadata={"description": "our copy of the picture"})
    picture_state = fields.String(allow_none=True, metadata={"description": "pending, stored or failed"})


class CatalogOut(Schema):
    rewards = fields.List(fields.Nested(RewardOut))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


class RewardPatch(Schema):
    points_price = Exact(validate=positive, metadata={"description": "set by hand; the daily file keeps it"})
    stock = fields.Integer(allow_none=True, validate=validate.Range(0, rewards.MAX_STOCK),
                           metadata={"description": "null: stop counting"})
    active = fields.Boolean()


def reward_out(reward, picture) -> dict:
    kept = rewards.picture_kept(picture)
    return {"id": reward.id, "sku": reward.sku, "name": reward.name, "points_price": reward.points_price,
            "points_manual": reward.points_manual, "price": reward.price, "currency": reward.currency,
            "stock": reward.stock, "active": reward.active,
            "picture_url": url_for("rewards.picture", reward_id=reward.id, v=picture.sha256[:12], _external=True)
            if kept else None,
            "picture_state": picture.state if picture is not None else None}


@blp.route("", methods=["GET"])
@require("rewards:read")
@blp.arguments(CatalogArgs, location="query")
@blp.response(200, CatalogOut)
def catalog(args):
    """Active rewards by name, a page at a time, each with its points price, stock and the URL of our copy
    of its picture; with ``member``, only those the member's available points can buy."""
    xml_root("rewards")
    session = db.session()
    affordable = None
    if args.get("member"):
        member = members.get(session, args["member"])
        affordable = ledger.balance(session, member.account, clock.now()).available
    if args["include_inactive"] and "rewards:write" not in g.api_key.scope_set:
        raise ApiError(403, "forbidden", "withdrawn rewards are shown to keys with the scope 'rewards:write'")
    rows, total = rewards.catalog(session, page=args["page"], per_page=args["per_page"], affordable=affordable,
                                  include_inactive=args["include_inactive"])
    return {"rewards": [reward_out(r, p) for r, p in rows], "page": args["page"], "per_page": args["per_page"],
            "total": total}


@blp.route("/<int:reward_id>", methods=["GET"])
@require("rewards:read")
@blp.response(200, RewardOut)
def get_reward(reward_id):
    """One reward (also a withdrawn one)."""
    xml_root("reward")
    session = db.session()
    reward = rewards.get(session, reward_id)
    return reward_out(reward, session.get(rewards.RewardPicture, reward.id))


@blp.route("/<int:reward_id>", methods=["PATCH"])
@xml_document("reward")
@require("rewards:write")
@idempotent()
@blp.arguments(RewardPatch)
@blp.response(200, RewardOut)
def patch_reward(data, reward_id):
    """Set the points price by hand (the daily catalog no longer converts it), the stock (null: not
    counted) or the active flag."""
    session = db.session()
    reward = rewards.update(session, rewards.get(session, reward_id), now=clock.now(),
                            points_price=data.get("points_price"), stock=data.get("stock"),
                            clear_stock="stock" in data and data["stock"] is None, active=data.get("active"))
    return reward_out(reward, session.get(rewards.RewardPicture, reward.id))


@blp.route("/<int:reward_id>/picture", methods=["GET"])
@blp.response(200, content_type="image/*")
def picture(reward_id):
    """Our copy of the reward's picture (public, for shop pages; cached by its content hash)."""
    picture = db.session().get(rewards.RewardPicture, reward_id)
    if not rewards.picture_kept(picture):
        raise rewards.RewardError(f"reward {reward_id} has no picture kept", code="picture_unknown", status=404)
    etag = picture.sha256
    if request.if_none_match.contains(etag):
        return Response(status=304, headers={"ETag": f'"{etag}"'})
    response = Response(picture.data, mimetype=picture.content_type)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response
