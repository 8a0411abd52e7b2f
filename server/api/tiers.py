"""Tiers over HTTP [003]: a member's tier and its changes, admin pins and invitations, historical
turnover uploads; and points on product cards (``POST /quote/products``) [001][004]."""
from __future__ import annotations

from flask import Response, g, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine import clock, members, policies
from engine.documents import product_quotes
from engine.domain import CHANNELS
from engine.engagement import tiers
from importers import tier_turnover
from importers.textio import TextFileError
from server.api.bounds import Instant, Text
from server.api.imports import run_answer
from server.api.schemas import MemberRefField, Points, TierBenefitsOut
from server.auth import require
from server.errors import ApiError
from server.extensions import db
from server.formats import xml_root
from server.idempotency import transactional

blp = Blueprint("tiers", __name__, url_prefix="/api/v1",
                description="Tiers (pins, invitations, changes, historical turnover) and points on product cards")
MAX_UPLOAD = 50 * 1024 * 1024


class TierIn(Schema):
    tier = Text(64, required=True, metadata={"description": "a tier of the tier policy; \"\" removes the pin"})
    until = Instant(load_default=None, allow_none=True, metadata={
        "description": "the pin ends then (required unless the tier is invitation-only)"})
    note = Text(500, load_default="")


class TierChangeOut(Schema):
    from_tier = fields.String(data_key="from")
    to_tier = fields.String(data_key="to")
    reason = fields.String(metadata={"description": "upgrade, downgrade, pin, invitation, pin_ended, "
                                                    "removed_by_admin, tier_removed"})
    actor = fields.String()
    at = fields.DateTime()


class MemberTierOut(Schema):
    member = fields.String()
    tier = fields.String()
    tier_benefits = fields.Nested(TierBenefitsOut)
    next_tier = fields.Dict(allow_none=True)
    changes = fields.List(fields.Nested(TierChangeOut), metadata={"description": "newest first (100)"})


class ProductsQuoteIn(Schema):
    skus = fields.List(Text(64, min_length=1), required=True, validate=validate.Length(
        1, product_quotes.MAX_SKUS,
        error=f"Give 1 to {product_quotes.MAX_SKUS} SKUs per call; split a longer listing into several calls."))
    member = MemberRefField(metadata={"description": "optional: the member's group, tier and facts apply"})
    channel = fields.String(load_default="web", validate=validate.OneOf(CHANNELS))
    store = Text(64, load_default="")


class ProductPointsOut(Schema):
    sku = fields.String()
    points = Points(allow_none=True, metadata={"description": "bought alone, quantity 1, at the catalog price"})
    price = Points(allow_none=True)
    currency = fields.String(allow_none=True)
    error = fields.String(allow_none=True, metadata={"description": "unknown_sku, inactive or no_price"})


class ProductsQuoteOut(Schema):
    member = fields.String(allow_none=True)
    currency = fields.String()
    policy_version = fields.Integer(allow_none=True)
    discount_percent = Points(metadata={"description": "the member's tier discount (0 without a member)"})
    products = fields.List(fields.Nested(ProductPointsOut))


def _member_tier(session, member) -> dict:
    found = tiers.summary(session, member, clock.now())
    return {"member": member.loyalty_id, "tier": found["tier"], "next_tier": found["next_tier"],
            "tier_benefits": {k: found[k] for k in ("discount_percent", "multiplier", "invitation_only",
                                                    "pinned_until")},
            "changes": tiers.history(session, member)}


@blp.route("/members/<ref>/tier", methods=["GET"])
@require("members:read")
@blp.response(200, MemberTierOut)
def member_tier(ref):
    """The member's tier, its benefits, pin, progress to the next tier, and its changes."""
    xml_root("member_tier")
    session = db.session()
    return _member_tier(session, members.get(session, ref))


@blp.route("/members/<ref>/tier", methods=["PUT"])
@require("tiers:write")
@transactional
@blp.arguments(TierIn)
@blp.response(200, MemberTierOut)
def pin_tier(data, ref):
    """Pin a negotiated tier until a date, invite into an invitation-only tier, or (``tier: ""``)
    remove the pin and the tier; the nightly recalculation leaves a pinned member alone until then."""
    xml_root("member_tier")
    session = db.session()
    member = members.get(session, ref)
    try:
        tiers.assign(session, member, data["tier"], until=data["until"], actor=g.actor, note=data["note"],
                     now=clock.now())
    except tiers.TierError as exc:
        raise ApiError(422, exc.code, str(exc), {"fields": {"tier": [str(exc)]}}) from exc
    return _member_tier(session, member)


@blp.route("/tiers/turnover", methods=["POST"])
@require("tiers:write")
@blp.alt_response(201, description="the new import run (as GET /imports/{id})")
@blp.alt_response(200, description="these bytes were imported before: their run, nothing changed")
@blp.alt_response(422, description="the file cannot be read (encoding, separator, header)")
@blp.alt_response(413, description="larger than 50 MB")
def upload_turnover():
    """Import historical turnover (CSV: member, period, amount) as the multipart field ``file`` or the raw
    body; it counts in the tier window. Bad rows are quarantined (``GET /imports/{id}/rows``); the same
    bytes again change nothing (200 with the earlier run)."""
    xml_root("import")
    if request.content_length and request.content_length > MAX_UPLOAD:
        raise ApiError(413, "too_large", f"The file is larger than {MAX_UPLOAD // (1024 * 1024)} MB; split it.")
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ApiError(422, "validation_error", "Send the file in the multipart field 'file'.",
                           {"fields": {"file": ["Missing file."]}})
        data, name = upload.read(MAX_UPLOAD + 1), upload.filename or "turnover.csv"
    else:
        data, name = request.get_data(cache=False)[:MAX_UPLOAD + 1], request.args.get("filename", "turnover.csv")
    if len(data) > MAX_UPLOAD:
        raise ApiError(413, "too_large", f"The file is larger than {MAX_UPLOAD // (1024 * 1024)} MB; split it.")
    session = db.session()
    now = clock.now()
    try:
        run, created = tier_turnover.import_file(session, data, filename=name[:200], actor=g.actor, now=now,
                                                 tz=policies.settings(session, now).tz)
    except TextFileError as exc:
        session.rollback()
        raise ApiError(422, "invalid_file", str(exc)) from exc
    session.commit()
    return run_answer(session, run.id, created)


@blp.route("/quote/products", methods=["POST"])
@require("orders:write")
@blp.arguments(ProductsQuoteIn)
@blp.alt_response(200, schema=ProductsQuoteOut, description="points per SKU, in the order asked")
@blp.alt_response(304, description="the answer for this ETag (If-None-Match) has not changed")
def quote_products(data):
    """Points per product for cards and listings: each SKU as if bought alone, quantity 1, at its catalog
    price; up to 500 SKUs, one catalog query. The ``ETag`` changes when a policy version, the day, the
    member's facts or tier, or a product changes; send it back in ``If-None-Match`` for a 304."""
    xml_root("product_quote")
    found = product_quotes.quote_products(
        db.session(), data["skus"], data.get("member"), channel=data["channel"], store=data["store"],
        now=clock.now(), if_none_match=request.if_none_match.contains)
    headers = {"ETag": f'"{found.etag}"', "Cache-Control": "private, no-cache"}
    if found.not_modified:
        return Response(status=304, headers=headers)
    # Built here rather than dumped through ProductsQuoteOut (which documents it): a schema dump of a few
    # hundred items costs more than evaluating them.
    return {"member": found.member.loyalty_id if found.member else None, "currency": found.currency,
            "policy_version": found.policy_version, "discount_percent": str(found.discount_percent),
            "products": [{k: (None if v is None else str(v)) if k in ("points", "price") else v
                          for k, v in item.items()} for item in found.items]}, 200, headers
