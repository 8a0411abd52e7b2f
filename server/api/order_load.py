"""A lean load of the usual POST /orders body, for `schemas.OrderIn.load`.

Marshmallow costs a few microseconds per field and an order has dozens. This takes only a body in the
plainest shapes (texts as strings, numbers as JSON numbers or decimal strings, booleans as booleans, no
unknown keys) and gives exactly what `OrderIn` loads from it, with the same checks; anything else —
every body that has an error among them — is `Refused`, and marshmallow loads it, so every error a
client sees is still marshmallow's, word for word. tests/unit/test_order_load.py holds the two equal.
"""
from __future__ import annotations

import re
from decimal import Decimal

from marshmallow import ValidationError

from engine.domain import CHANNELS, MAX_CODE_LENGTH, MAX_CODES, ORDER_STATUSES
from server.api.bounds import LIMIT, MAX_LINE_NO, REF, TEXT

ORDER_KEYS = frozenset(("order_id", "member", "channel", "store", "placed_at", "currency", "lines",
                        "shipping_total", "status", "codes"))
LINE_KEYS = frozenset(("line_no", "sku", "name", "product_group", "brand", "quantity", "unit_price",
                       "line_total", "is_promo"))
STATUSES = ORDER_STATUSES[:3]
VISIBLE = re.compile(r"\s*\S")  # the codes' Regexp validator
MAX_LINES = 5000


class Refused(Exception):
    """Not for the lean load: marshmallow decides, and words the error if there is one."""


def _text(value, low: int, high: int) -> str:
    if type(value) is not str or not low <= len(value) <= high:
        raise Refused
    return value


def _exact(value, *, non_negative: bool = False) -> Decimal:
    """`bounds.Exact`: marshmallow's Decimal(str(value)), finite, below 10^10, at most 4 places."""
    if type(value) not in (str, int, float):
        raise Refused
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise Refused from None
    if not number.is_finite() or abs(number) >= LIMIT or number.as_tuple().exponent < -4 or \
            (non_negative and number < 0):
        raise Refused
    return number


def _choice(raw: dict, key: str, choices, default: str) -> str:
    if key not in raw:
        return default
    if type(raw[key]) is not str or raw[key] not in choices:
        raise Refused
    return raw[key]


def _line(raw) -> dict:
    if type(raw) is not dict or not raw.keys() <= LINE_KEYS or "sku" not in raw:
        raise Refused
    out = {"sku": _text(raw["sku"], 1, 64), "name": _text(raw.get("name", ""), 0, TEXT),
           "product_group": _text(raw.get("product_group", ""), 0, 64),
           "brand": _text(raw.get("brand", ""), 0, 64),
           "quantity": _exact(raw.get("quantity"), non_negative=True), "unit_price": _exact(raw.get("unit_price"))}
    if "line_no" in raw:
        if type(raw["line_no"]) is not int or not 0 <= raw["line_no"] <= MAX_LINE_NO:
            raise Refused
        out["line_no"] = raw["line_no"]
    if "line_total" in raw:
        out["line_total"] = _exact(raw["line_total"])
    promo = raw.get("is_promo", False)
    if promo is not True and promo is not False:
        raise Refused
    out["is_promo"] = promo
    return out


def _codes(raw) -> list:
    if type(raw) is not list or len(raw) > MAX_CODES:
        raise Refused
    for code in raw:
        if type(code) is not str or not 1 <= len(code) <= MAX_CODE_LENGTH or not VISIBLE.match(code):
            raise Refused
    return list(raw)


def load(schema, raw) -> dict:
    """What ``schema`` (an `OrderIn`) loads from ``raw``, or `Refused`."""
    if type(raw) is not dict or not raw.keys() <= ORDER_KEYS or "placed_at" not in raw:
        raise Refused
    lines = raw.get("lines")
    if type(lines) is not list or not 1 <= len(lines) <= MAX_LINES:
        raise Refused
    try:  # one field through marshmallow itself: its ISO parsing and offset handling are the contract
        placed_at = schema.fields["placed_at"].deserialize(raw["placed_at"], "placed_at", raw)
    except ValidationError:
        raise Refused from None
    data = {"order_id": _text(raw.get("order_id"), 1, 100), "member": _text(raw.get("member"), 1, REF),
            "channel": _choice(raw, "channel", CHANNELS, "web"), "store": _text(raw.get("store", ""), 0, 64),
            "placed_at": placed_at, "currency": _text(raw.get("currency"), 3, 3),
            "lines": [_line(line) for line in lines],
            "shipping_total": _exact(raw["shipping_total"], non_negative=True) if "shipping_total" in raw else 0,
            "status": _choice(raw, "status", STATUSES, "placed"),
            "codes": _codes(raw["codes"]) if "codes" in raw else []}
    try:
        schema._lines(data)  # the schema's own checks and numbering, as marshmallow runs them
    except ValidationError:
        raise Refused from None
    return schema._numbered(data)
