"""Marshmallow schemas of the shop API: one per resource, shared by API and admin UI."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from engine.domain import CHANNELS, MAX_CODE_LENGTH, MAX_CODES, ORDER_STATUSES, unique_texts
from server.api import order_dump, order_load
from server.api.bounds import (
    MAX_LINE_NO,
    REF,
    Day,
    Days,
    Exact,
    Id,
    Instant,
    Text,
    non_negative,
    positive,
)

Points = lambda **kw: fields.Decimal(as_string=True, allow_nan=False, **kw)  # noqa: E731
Money = Points


class MemberRefField(fields.String):
    """A member reference: loyalty id, ext:<id>, erp:<code>, phone:<number>, onec:<id>."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", validate.Length(1, REF))
        super().__init__(**kwargs)


class MemberIn(Schema):
    ext_id = fields.String(validate=validate.Length(1, 64))
    erp_code = fields.String(validate=validate.Length(1, 64))
    phone = fields.String(validate=validate.Length(3, 40))
    email = fields.Email(validate=validate.Length(3, 254))
    name = fields.String(validate=validate.Length(0, 200), load_default="")
    birth_date = Day()
    group = fields.String(validate=validate.Length(0, 64))
    consent_email = fields.Boolean()
    consent_sms = fields.Boolean()
    referral_code = fields.String(validate=validate.Length(1, 32),
                                  metadata={"description": "the referrer's code"})
    company_erp_code = fields.String(validate=validate.Length(1, 64),
                                     metadata={"description": "join this company's account"})
    registered_at = Instant()
    attributes = fields.Dict(keys=fields.String(validate=validate.Length(1, 64)),
                             values=fields.Raw(), validate=validate.Length(max=100))


class MemberPatch(MemberIn):
    status = fields.String(validate=validate.OneOf(["active", "blocked"]))

    class Meta:
        exclude = ("referral_code", "company_erp_code", "registered_at")


class TierBenefitsOut(Schema):
    discount_percent = Points(metadata={"description": "the tier's discount, for the shop to apply"})
    multiplier = Points(metadata={"description": "accrual points are multiplied by this"})
    invitation_only = fields.Boolean()
    pinned_until = fields.DateTime(allow_none=True, metadata={
        "description": "an admin pinned the tier until then (null: not pinned, or invited for good)"})


class MemberOut(Schema):
    loyalty_id = fields.String()
    ext_id = fields.String(allow_none=True)
    erp_code = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    name = fields.String()
    birth_date = fields.Date(allow_none=True)
    group = fields.String()
    tier = fields.String()
    tier_benefits = fields.Nested(TierBenefitsOut)
    next_tier = fields.Dict(allow_none=True, metadata={
        "description": "the next tier by turnover: tier, turnover_12m, threshold, missing"})
    status = fields.String()
    registered_at = fields.DateTime()
    referral_code = fields.String(allow_none=True)
    company = fields.Dict(allow_none=True)
    consent_email = fields.Boolean()
    consent_sms = fields.Boolean()


class ExpiringOut(Schema):
    date = fields.DateTime()
    points = Points()


class BalanceOut(Schema):
    member = fields.String()
    currency = fields.String()
    available = Points()
    pending = Points()
    value = Money(metadata={"description": "available points in money at the point value"})
    point_value = Money()
    expiring = fields.List(fields.Nested(ExpiringOut))
    tier = fields.String()
    tier_benefits = fields.Nested(TierBenefitsOut)
    next_tier = fields.Dict(allow_none=True)
    status = fields.String()


class BalanceBrief(Schema):
    available = Points()
    pending = Points()
    value = Money()


class EntryOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    amount = Points()
    created_at = fields.DateTime()
    effective_at = fields.DateTime()
    order_id = fields.String(allow_none=True)
    redemption_id = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    actor = fields.String()
    explanation = fields.Dict(allow_none=True)


class HistoryArgs(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    before = Id(metadata={"description": "return entries older than this id"})
    explain = fields.Boolean(load_default=True)


class HistoryOut(Schema):
    member = fields.String()
    entries = fields.List(fields.Nested(EntryOut))
    next_before = fields.Integer(allow_none=True)


class LineIn(Schema):
    line_no = fields.Integer(validate=validate.Range(0, MAX_LINE_NO), metadata={
        "description": "unique in the document; default: the line's position (1-based)"})
    sku = fields.String(required=True, validate=validate.Length(1, 64))
    name = Text(load_default="")
    product_group = Text(64, load_default="")
    brand = Text(64, load_default="")
    quantity = Exact(required=True, validate=non_negative)
    unit_price = Exact(required=True)
    line_total = Exact(
                                metadata={"description": "default: quantity × unit_price"})
    is_promo = fields.Boolean(load_default=False)


def _unique_lines(lines) -> None:
    """Refuse repeated line numbers, counting a missing one as the line's position."""
    seen: dict[int, int] = {}
    for position, line in enumerate(lines, start=1):
        number = line.get("line_no", position)
        if number in seen:
            told = "has" if "line_no" in line else "takes by its position"
            raise ValidationError(f"line numbers must be unique: line {position} {told} the "
                                  f"number {number}, as line {seen[number]} does", "lines")
        seen[number] = position


def _number_lines(data: dict) -> dict:
    for position, line in enumerate(data.get("lines", []), start=1):
        line.setdefault("line_no", position)
    if "codes" in data:
        data["codes"] = unique_texts(data["codes"])
    return data


def Codes() -> fields.List:
    """The promo/coupon codes the shop applied to the order (the rules' ``order_codes``)."""
    code = fields.String(validate=[validate.Length(1, MAX_CODE_LENGTH),
                                   validate.Regexp(r"\s*\S", error="a code needs a visible character")])
    return fields.List(code, load_default=list, validate=validate.Length(0, MAX_CODES), metadata={
        "description": f"promo/coupon codes applied, at most {MAX_CODES} of at most {MAX_CODE_LENGTH} "
                       "characters; trimmed, repeats (case ignored) dropped"})


class OrderIn(Schema):
    order_id = fields.String(required=True, validate=validate.Length(1, 100))
    member = MemberRefField(required=True)
    channel = fields.String(load_default="web", validate=validate.OneOf(CHANNELS))
    store = Text(64, load_default="")
    placed_at = Instant(required=True)
    currency = fields.String(required=True, validate=validate.Length(3, 3))
    lines = fields.List(fields.Nested(LineIn), required=True, validate=validate.Length(1, 5000))
    shipping_total = Exact(load_default=0, validate=non_negative)
    status = fields.String(load_default="placed", validate=validate.OneOf(ORDER_STATUSES[:3]))
    codes = Codes()

    @validates_schema
    def _lines(self, data, **_):
        _unique_lines(data.get("lines", []))

    @post_load
    def _numbered(self, data, **_):
        return _number_lines(data)

    def load(self, data, *, many=None, partial=None, unknown=None):
        """The usual body loads without marshmallow's per-field machinery (`order_load`), the same."""
        if many is None and partial is None and unknown is None:
            try:
                return order_load.load(self, data)
            except order_load.Refused:
                pass
        return super().load(data, many=many, partial=partial, unknown=unknown)


class OrderLineOut(Schema):
    line_no = fields.Integer()
    sku = fields.String()
    quantity = Points()
    line_total = Money()
    returned_quantity = Points()
    points = Points(allow_none=True)


class OrderOut(Schema):
    order_id = fields.String()
    member = fields.String()
    status = fields.String()
    placed_at = fields.DateTime()
    currency = fields.String()
    total = Money()
    earned = Points()
    pending = Points()
    codes = fields.List(fields.String())
    lines = fields.List(fields.Nested(OrderLineOut))

    def dump(self, obj, *, many=None):
        """The usual answer dumps without marshmallow's per-field machinery (`order_dump`), the same."""
        if many is None and not self.many:
            try:
                return order_dump.dump(obj)
            except order_dump.Refused:
                pass
        return super().dump(obj, many=many)


class StatusIn(Schema):
    status = fields.String(required=True, validate=validate.OneOf(ORDER_STATUSES[1:]))


class ReturnLineIn(Schema):
    line_no = fields.Integer(required=True, validate=validate.Range(0, MAX_LINE_NO))
    quantity = Exact(required=True, validate=positive)
    amount = Exact(validate=non_negative,
                            metadata={"description": "money returned; default: pro rata"})


class ReturnIn(Schema):
    return_id = fields.String(required=True, validate=validate.Length(1, 60))
    lines = fields.List(fields.Nested(ReturnLineIn), required=True,
                        validate=validate.Length(1, 5000))


class QuoteIn(Schema):
    member = MemberRefField()
    channel = fields.String(load_default="web", validate=validate.OneOf(CHANNELS))
    store = Text(64, load_default="")
    currency = fields.String(validate=validate.Length(3, 3))
    lines = fields.List(fields.Nested(LineIn), required=True, validate=validate.Length(1, 5000))
    shipping_total = Exact(load_default=0)
    explain = fields.Boolean(load_default=False)
    codes = Codes()

    @validates_schema
    def _lines(self, data, **_):
        _unique_lines(data.get("lines", []))

    @post_load
    def _numbered(self, data, **_):
        return _number_lines(data)


class CartIn(Schema):
    lines = fields.List(fields.Nested(LineIn), required=True, validate=validate.Length(1, 5000))
    shipping_total = Exact(load_default=0)
    channel = fields.String(load_default="web", validate=validate.OneOf(CHANNELS))
    store = Text(64, load_default="")
    codes = Codes()

    @validates_schema
    def _lines(self, data, **_):
        _unique_lines(data.get("lines", []))

    @post_load
    def _numbered(self, data, **_):
        return _number_lines(data)


class RedemptionIn(Schema):
    redemption_id = fields.String(required=True, validate=validate.Length(1, 100))
    member = MemberRefField(required=True)
    points = Exact(required=True, validate=positive)
    order_id = fields.String(validate=validate.Length(1, 100))
    acting_member = MemberRefField(metadata={"description": "a company employee spending"})
    cart = fields.Nested(CartIn)
    free_lines = fields.List(fields.Integer(validate=validate.Range(0, MAX_LINE_NO)), load_default=list,
                             validate=validate.Length(0, 5000), metadata={
                                 "description": "line numbers taken free for points (the redemption policy's "
                                                "free_for_points): `points` must be what they cost, as the "
                                                "quote's free_lines say"})


class RedemptionOut(Schema):
    redemption_id = fields.String()
    member = fields.String()
    order_id = fields.String(allow_none=True)
    points = Points()
    free_lines = fields.List(fields.Integer(), metadata={"description": "lines taken free for points"})
    value = Money()
    currency = fields.String()
    status = fields.String()
    balance = fields.Nested(BalanceBrief)


class AdjustmentIn(Schema):
    adjustment_id = fields.String(validate=validate.Length(1, 100),
                                  metadata={"description": "idempotency key of the adjustment"})
    points = Exact(required=True)
    reason = fields.String(required=True, validate=validate.Length(1, 500))
    kind = fields.String(load_default="adjustment", validate=validate.OneOf(["adjustment", "bonus"]))
    expire_after_days = Days()
    allow_negative = fields.Boolean(load_default=False)


class AdjustmentOut(Schema):
    entry = fields.Nested(EntryOut)
    balance = fields.Nested(BalanceBrief)
