"""A lean dump of the usual order answer, for `schemas.OrderOut.dump`.

Marshmallow costs a few microseconds per field and an order's answer has dozens. This takes only the
answer `present.order_out` builds (exactly its keys; texts as strings, numbers as Decimals, the instant
as a datetime) and gives exactly what `OrderOut` dumps from it, keys in the same order; anything else
is `Refused`, and marshmallow dumps it. tests/unit/test_order_dump.py holds the two equal.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

ORDER_KEYS = ("order_id", "member", "status", "placed_at", "currency", "total", "earned", "pending",
              "codes", "lines")
LINE_KEYS = ("line_no", "sku", "quantity", "line_total", "returned_quantity", "points")


class Refused(Exception):
    """Not for the lean dump: marshmallow decides."""


def _text(value):
    if value is None or type(value) is str:
        return value
    raise Refused


def _number(value):
    """`fields.Decimal(as_string=True)`: format(Decimal(str(value)), "f"); a Decimal is its own str."""
    if value is None:
        return None
    if type(value) is not Decimal or not value.is_finite():
        raise Refused
    return format(value, "f")


def _line(line) -> dict:
    if type(line) is not dict or len(line) != len(LINE_KEYS):
        raise Refused
    try:
        line_no = line["line_no"]
        if line_no is not None and type(line_no) is not int:
            raise Refused
        return {"line_no": line_no, "sku": _text(line["sku"]), "quantity": _number(line["quantity"]),
                "line_total": _number(line["line_total"]),
                "returned_quantity": _number(line["returned_quantity"]), "points": _number(line["points"])}
    except KeyError:
        raise Refused from None


def dump(order) -> dict:
    if type(order) is not dict or len(order) != len(ORDER_KEYS):
        raise Refused
    try:
        placed_at, codes, lines = order["placed_at"], order["codes"], order["lines"]
        if placed_at is not None and type(placed_at) is not datetime:
            raise Refused
        if type(codes) is not list or type(lines) is not list:
            raise Refused
        return {"order_id": _text(order["order_id"]), "member": _text(order["member"]),
                "status": _text(order["status"]),
                "placed_at": None if placed_at is None else placed_at.isoformat(),
                "currency": _text(order["currency"]), "total": _number(order["total"]),
                "earned": _number(order["earned"]), "pending": _number(order["pending"]),
                "codes": [_text(code) for code in codes],
                "lines": [_line(line) for line in lines]}
    except KeyError:
        raise Refused from None
