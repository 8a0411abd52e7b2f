"""The variables of the rule language: what a condition may look at, per kind.

Each variable is declared once here, with its business-rules field type, a
label for the editor, a getter over an evaluation ``Context`` and, when it is
numeric, the range a condition may compare it with (``rules.limits``). The
business-rules ``BaseVariables`` classes used by the reference evaluator and
by ``export_rule_data`` are generated from these declarations, so the editor,
the validator, the compiled evaluator and the reference can never disagree on
what a name means.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from business_rules.operators import (
    BaseType,
    BooleanType,
    NumericType,
    SelectMultipleType,
    SelectType,
    StringType,
)
from business_rules.variables import BaseVariables, rule_variable

from .facts import ZERO, DocumentFacts, EventFacts, LineFacts, LotFacts, MemberFacts
from .limits import CATALOG_POINTS, COUNT, DAYS, HOUR, LINES, QUANTITY, SIGNED_MONEY, SIGNED_POINTS, Range
from .values import aware_utc, to_decimal

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DOCUMENT_TYPES = ("order", "invoice", "correction")
CHANNELS = ("web", "phone", "pos", "erp")


class Context:
    """Everything one evaluation may read; derived document values computed on first use."""

    __slots__ = ("line", "doc", "member", "event", "lot", "tz", "_local", "_order_total")

    def __init__(self, *, doc: DocumentFacts | None = None, member: MemberFacts | None = None,
                 event: EventFacts | None = None, lot: LotFacts | None = None, tz=None):
        self.line: LineFacts | None = None
        self.doc = doc
        self.member = member if member is not None else MemberFacts()
        self.event = event
        self.lot = lot
        self.tz = tz
        self._local = None
        self._order_total = None

    def for_line(self, line: LineFacts) -> Context:
        self.line = line
        return self

    @property
    def order_total(self) -> Decimal:
        if self._order_total is None:
            self._order_total = self.doc.order_total
        return self._order_total

    @property
    def local_time(self):
        """When the document was placed, in the program time zone."""
        if self._local is None:
            placed = aware_utc(self.doc.placed_at)
            self._local = placed.astimezone(self.tz) if self.tz is not None else placed
        return self._local

    @property
    def weekday(self) -> str:
        return WEEKDAYS[self.local_time.weekday()]

    @property
    def hour(self) -> int:
        return self.local_time.hour

    @property
    def lines_count(self) -> int:
        return len(self.doc.lines)


@dataclass(frozen=True)
class Variable:
    name: str
    kind: str  # line | document | member | event | lot
    field_type: type[BaseType]
    label: str
    getter: Callable[[Context], Any]
    options: tuple[str, ...] = ()
    help: str = ""
    range: Range | None = None  # the values a condition may compare a numeric variable with

    @property
    def type_name(self) -> str:
        return self.field_type.name


def _event_attribute_pairs(event: EventFacts) -> list[str]:
    """Scalar attributes as "key=value" text; nested values are not exposed."""
    pairs = []
    for key, value in sorted((event.attributes or {}).items(), key=lambda kv: str(kv[0])):
        if value is True or value is False:
            text = "true" if value else "false"
        elif isinstance(value, (str, int, float, Decimal)):
            text = str(value)
        else:
            continue
        pairs.append(f"{key}={text}")
    return pairs


def _event_amount(event: EventFacts) -> Decimal:
    number = to_decimal((event.attributes or {}).get("amount"))
    return number if number is not None else ZERO


def _event_text(event: EventFacts, key: str) -> str:
    value = (event.attributes or {}).get(key)
    return value if isinstance(value, str) else ""


def _event_count(name: str) -> Callable[[Context], int]:
    return lambda c: getattr(c.event, name)


def _v(name, kind, field_type, label, getter, options=(), help="", allowed=None):
    return Variable(name, kind, field_type, label, getter, tuple(options), help, allowed)


S, N, B, SEL, MULTI = StringType, NumericType, BooleanType, SelectType, SelectMultipleType

LINE = (
    _v("sku", "line", S, "SKU", lambda c: c.line.sku, help="the product code of the line"),
    _v("product_group", "line", S, "Product group", lambda c: c.line.product_group,
       help="the product group code (SAP ItmsGrpCod, shop category)"),
    _v("brand", "line", S, "Brand", lambda c: c.line.brand),
    _v("quantity", "line", N, "Quantity", lambda c: c.line.quantity, allowed=QUANTITY),
    _v("unit_price", "line", N, "Unit price", lambda c: c.line.unit_price, allowed=SIGNED_MONEY),
    _v("line_total", "line", N, "Line total", lambda c: c.line.line_total,
       help="the money value of the line, net of discounts", allowed=SIGNED_MONEY),
    _v("is_promo", "line", B, "Promotional item", lambda c: c.line.is_promo),
    _v("product_points_per_unit", "line", N, "Catalog points per unit",
       lambda c: c.line.product_points_per_unit if c.line.product_points_per_unit is not None else ZERO,
       help="the product's own points per unit from the catalog; 0 when it has none", allowed=CATALOG_POINTS),
    _v("line_tags", "line", MULTI, "Product tags", lambda c: c.line.line_tags,
       help="the product's labels from the catalog (e.g. eco, new, bestseller); compare with a list: "
            "contains_all (has every one), shares_at_least_one_element_with (has any), "
            "shares_no_elements_with (has none); case is ignored"),
)

DOCUMENT = (
    _v("document_type", "document", S, "Document type", lambda c: c.doc.document_type, DOCUMENT_TYPES),
    _v("channel", "document", S, "Channel", lambda c: c.doc.channel, CHANNELS),
    _v("store", "document", S, "Store", lambda c: c.doc.store),
    _v("order_total", "document", N, "Order total", lambda c: c.order_total,
       help="sum of the line totals, without shipping", allowed=SIGNED_MONEY),
    _v("currency", "document", S, "Currency", lambda c: c.doc.currency),
    _v("weekday", "document", S, "Weekday", lambda c: c.weekday, WEEKDAYS,
       help="the day the document was placed, in the program time zone"),
    _v("hour", "document", N, "Hour of day", lambda c: c.hour,
       help="0-23, when the document was placed, in the program time zone", allowed=HOUR),
    _v("shipping_total", "document", N, "Shipping total", lambda c: c.doc.shipping_total,
       allowed=SIGNED_MONEY),
    _v("lines_count", "document", N, "Number of lines", lambda c: c.lines_count, allowed=LINES),
    _v("order_codes", "document", SEL, "Promo codes on the order", lambda c: c.doc.codes,
       help="the promo/coupon codes the shop applied to the order; test one with contains "
            "(or does_not_contain), e.g. 'SUMMER10'; case is ignored"),
)

MEMBER = (
    _v("member_group", "member", S, "Member group", lambda c: c.member.member_group,
       help="SAP GroupCode, 1C partner group or the shop's customer group"),
    _v("tier", "member", S, "Tier", lambda c: c.member.tier),
    _v("days_since_registration", "member", N, "Days since registration",
       lambda c: c.member.days_since_registration, allowed=DAYS),
    _v("orders_count", "member", N, "Number of orders", lambda c: c.member.orders_count, allowed=COUNT),
    _v("turnover_12m", "member", N, "Turnover in the last 12 months", lambda c: c.member.turnover_12m,
       allowed=SIGNED_MONEY),
    _v("is_birthday", "member", B, "Birthday today", lambda c: c.member.is_birthday),
    _v("referral_count", "member", N, "Number of referrals", lambda c: c.member.referral_count,
       allowed=COUNT),
    _v("points_balance", "member", N, "Points balance", lambda c: c.member.points_balance,
       allowed=SIGNED_POINTS),
)

EVENT = (
    _v("event_type", "event", S, "Event type", lambda c: c.event.event_type,
       help="registration, review, subscription, social_share, birthday, referral or a custom name"),
    _v("event_amount", "event", N, "Event amount", lambda c: _event_amount(c.event),
       help="the event's numeric 'amount' attribute; 0 when absent", allowed=SIGNED_MONEY),
    _v("event_source", "event", S, "Event source", lambda c: _event_text(c.event, "source"),
       help="the event's 'source' attribute (e.g. facebook, sticker, app)"),
    _v("event_attributes", "event", SEL, "Event attributes", lambda c: _event_attribute_pairs(c.event),
       help="every scalar attribute as 'key=value' text; test one with contains, e.g. 'network=facebook'"),
    *(_v(f"events_{period}", "event", N, f"Earlier events of this type {label}",
         _event_count(f"events_{period}"),
         help=f"how many events of this type the member was already awarded {label} "
              "(program time zone, weeks from Monday); e.g. less than 3 for three a month",
         allowed=COUNT)
      for period, label in (("today", "today"), ("this_week", "this week"),
                            ("this_month", "this month"), ("this_year", "this year"),
                            ("total", "ever"))),
    _v("referrals_this_month", "event", N, "Referrer's referrals this month",
       lambda c: c.event.referrals_this_month,
       help="referral policy: how many referrals already rewarded the referrer this calendar month "
            "(a cap per referrer and month)", allowed=COUNT),
)

LOT = (
    _v("entry_kind", "lot", S, "Entry kind", lambda c: c.lot.entry_kind,
       ("accrual", "bonus", "referral", "mission_reward", "promo_code", "adjustment", "refund"),
       help="what created the lot"),
    _v("channel", "lot", S, "Channel", lambda c: c.lot.channel, CHANNELS),
    _v("document_type", "lot", S, "Document type", lambda c: c.lot.document_type, DOCUMENT_TYPES),
)


def variables_class(name: str, variables: tuple[Variable, ...]) -> type[BaseVariables]:
    """A business-rules ``BaseVariables`` subclass over a ``Context``."""

    def method_for(var: Variable):
        def method(self):
            return var.getter(self._context)
        method.__name__ = var.name
        return rule_variable(var.field_type, label=var.label, options=list(var.options))(method)

    namespace: dict[str, Any] = {
        "__init__": lambda self, context: setattr(self, "_context", context),
        "__doc__": f"business-rules variables: {', '.join(v.name for v in variables)}",
    }
    for var in variables:
        namespace[var.name] = method_for(var)
    return type(name, (BaseVariables,), namespace)
