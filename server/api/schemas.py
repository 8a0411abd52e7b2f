"""Marshmallow schemas of the shop API: one per resource, shared by API and admin UI."""
from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine.domain import CHANNELS, ORDER_STATUSES

Points = lambda **kw: fields.Decimal(as_string=True, allow_nan=False, **kw)  # noqa: E731
Money = Points


# Plain functions rather than validate.Range: apispec would render a Decimal
# bound as a string, which is not valid OpenAPI.
# A line or amount below ten billion: 5,000 such lines still fit NUMERIC(18,4).
LIMIT = Decimal(10) ** 10


class Exact(fields.Decimal):
    """A decimal input the ledger can hold: finite, below 10^10, at most 4 places."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_nan", False)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        number = super()._deserialize(value, attr, data, **kwargs)
        if not number.is_finite() or abs(number) >= LIMIT:
            raise ValidationError("must be a number below 10,000,000,000")
        if number.as_tuple().exponent < -4:
            raise ValidationError("must have at most 4 decimal places")
        return number


def non_negative(value) -> None:
    if value < 0:
        raise ValidationError("must not be negative")


def positive(value) -> None:
    if value <= 0:
        raise ValidationError("must be greater than zero")


class MemberRefField(fields.String):
    """A member reference: loyalty id, ext:<id>, erp:<code>, phone:<number>, onec:<id>."""


class MemberIn(Schema):
    ext_id = fields.String(validate=validate.Length(1, 64))
    erp_code = fields.String(validate=validate.Length(1, 64))
    phone = fields.String(validate=validate.Length(3, 40))
    email = fields.Email()
    name = fields.String(validate=validate.Length(0, 200), load_default="")
    birth_date = fields.Date()
    group = fields.String(validate=validate.Length(0, 64))
    consent_email = fields.Boolean()
    consent_sms = fields.Boolean()
    referral_code = fields.String(validate=validate.Length(1, 32),
                                  metadata={"description": "the referrer's code"})
    company_erp_code = fields.String(validate=validate.Length(1, 64),
                                     metadata={"description": "join this company's account"})
    registered_at = fields.AwareDateTime(default_timezone=None)
    attributes = fields.Dict(keys=fields.String(), values=fields.Raw())


class MemberPatch(MemberIn):
    status = fields.String(validate=validate.OneOf(["active", "blocked"]))

    class Meta:
        exclude = ("referral_code", "company_erp_code", "registered_at")


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
    before = fields.Integer(metadata={"description": "return entries older than this id"})
    explain = fields.Boolean(load_default=True)


class HistoryOut(Schema):
    member = fields.String()
    entries = fields.List(fields.Nested(EntryOut))
    next_before = fields.Integer(allow_none=True)


class LineIn(Schema):
    line_no = fields.Integer(required=True, validate=validate.Range(min=0))
    sku = fields.String(required=True, validate=validate.Length(1, 64))
    name = fields.String(load_default="")
    product_group = fields.String(load_default="")
    brand = fields.String(load_default="")
    quantity = Exact(required=True, validate=non_negative)
    unit_price = Exact(required=True)
    line_total = Exact(
                                metadata={"description": "default: quantity × unit_price"})
    is_promo = fields.Boolean(load_default=False)


def _unique_lines(lines) -> None:
    numbers = [line["line_no"] for line in lines]
    if len(numbers) != len(set(numbers)):
        raise ValidationError("line numbers must be unique", "lines")


class OrderIn(Schema):
    order_id = fields.String(required=True, validate=validate.Length(1, 100))
    member = MemberRefField(required=True)
    channel = fields.String(load_default="web", validate=validate.OneOf(CHANNELS))
    store = fields.String(load_default="")
    placed_at = fields.AwareDateTime(required=True)
    currency = fields.String(required=True, validate=validate.Length(3, 3))
    lines = fields.List(fields.Nested(LineIn), required=True, validate=validate.Length(1, 5000))
    shipping_total = Exact(load_default=0, validate=non_negative)
    status = fields.String(load_default="placed", validate=validate.OneOf(ORDER_STATUSES[:3]))

    @validates_schema
    def _lines(self, data, **_):
        _unique_lines(data.get("lines", []))


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
    lines = fields.List(fields.Nested(OrderLineOut))


class StatusIn(Schema):
    status = fields.String(required=True, validate=validate.OneOf(ORDER_STATUSES[1:]))


class ReturnLineIn(Schema):
    line_no = fields.Integer(required=True)
    quantity = Exact(required=True, validate=positive)
    amount = Exact(validate=non_negative,
                            metadata={"description": "money returned; default: pro rata"})


class ReturnIn(Schema):
    return_id = fields.String(required=True, validate=validate.Length(1, 60))
    lines = fields.List(fields.Nested(ReturnLineIn), required=True, validate=validate.Length(1))


class QuoteIn(Schema):
    member = MemberRefField()
    channel = fields.String(load_default="web", validate=validate.OneOf(CHANNELS))
    store = fields.String(load_default="")
    currency = fields.String(validate=validate.Length(3, 3))
    lines = fields.List(fields.Nested(LineIn), required=True, validate=validate.Length(1, 5000))
    shipping_total = Exact(load_default=0)
    explain = fields.Boolean(load_default=False)

    @validates_schema
    def _lines(self, data, **_):
        _unique_lines(data.get("lines", []))


class CartIn(Schema):
    lines = fields.List(fields.Nested(LineIn), required=True, validate=validate.Length(1, 5000))
    shipping_total = Exact(load_default=0)
    channel = fields.String(load_default="web", validate=validate.OneOf(CHANNELS))
    store = fields.String(load_default="")


class RedemptionIn(Schema):
    redemption_id = fields.String(required=True, validate=validate.Length(1, 100))
    member = MemberRefField(required=True)
    points = Exact(required=True, validate=positive)
    order_id = fields.String(validate=validate.Length(1, 100))
    acting_member = MemberRefField(metadata={"description": "a company employee spending"})
    cart = fields.Nested(CartIn)


class RedemptionOut(Schema):
    redemption_id = fields.String()
    member = fields.String()
    order_id = fields.String(allow_none=True)
    points = Points()
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
    expire_after_days = fields.Integer(validate=validate.Range(min=1))
    allow_negative = fields.Boolean(load_default=False)


class AdjustmentOut(Schema):
    entry = fields.Nested(EntryOut)
    balance = fields.Nested(BalanceBrief)
