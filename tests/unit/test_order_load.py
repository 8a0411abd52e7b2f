"""The lean load of POST /orders (`server.api.order_load`) gives what marshmallow gives, or steps aside."""
from __future__ import annotations

import copy

import pytest
from marshmallow import Schema, ValidationError

from server.api import order_load
from server.api.schemas import OrderIn

BASE = {"order_id": "A1", "member": "L000000001", "placed_at": "2026-03-02T10:00:00+01:00", "currency": "PLN",
        "status": "fulfilled", "channel": "pos", "store": "S1", "shipping_total": "9.90", "codes": [" lato ", "LATO"],
        "lines": [{"line_no": 1, "sku": "A", "quantity": 2, "unit_price": "34.80", "product_group": "110"},
                  {"sku": "B", "quantity": "1.5", "unit_price": 3, "line_total": "4.5000", "is_promo": True,
                   "name": "Kran", "brand": "X"}]}

# (path, value) changes of BASE; None as the path's last part drops the key.
VARIANTS = [
    (("status",), None), (("channel",), None), (("store",), None), (("shipping_total",), None), (("codes",), None),
    (("status",), "cancelled"), (("status",), "paid"), (("status",), 3), (("channel",), "shop"),
    (("channel",), ["web"]),
    (("order_id",), ""), (("order_id",), "x" * 100), (("order_id",), "x" * 101), (("order_id",), 7),
    (("member",), None), (("member",), "m" * 101), (("currency",), "PL"), (("currency",), None),
    (("placed_at",), "2026-03-02T10:00:00"), (("placed_at",), "2026-03-02T10:00:00Z"),
    (("placed_at",), "0001-01-01T00:00:00+05:00"),
    (("placed_at",), "2026-13-02T10:00:00+00:00"), (("placed_at",), None), (("placed_at",), 1700000000),
    (("shipping_total",), -1), (("shipping_total",), "1e3"), (("shipping_total",), "NaN"), (("shipping_total",), 1.1),
    (("shipping_total",), True), (("shipping_total",), "0.00001"), (("codes",), []), (("codes",), ["  "]),
    (("codes",), ["x" * 65]), (("codes",), [1]), (("codes",), ["c"] * 21), (("lines",), []), (("lines",), {}),
    (("extra",), 1), (("lines", 0, "line_no"), 2), (("lines", 0, "line_no"), -1), (("lines", 0, "line_no"), 1.0),
    (("lines", 0, "line_no"), "1"), (("lines", 0, "line_no"), True), (("lines", 0, "sku"), ""),
    (("lines", 0, "sku"), None),
    (("lines", 0, "quantity"), -2), (("lines", 0, "quantity"), "abc"), (("lines", 0, "quantity"), 10**10),
    (("lines", 0, "unit_price"), "-3.5"), (("lines", 0, "unit_price"), None), (("lines", 0, "is_promo"), "true"),
    (("lines", 0, "is_promo"), 1), (("lines", 0, "name"), "n" * 201), (("lines", 0, "brand"), "b" * 65),
    (("lines", 0, "extra"), 1), (("lines", 1, "line_no"), 1), (("lines", 1, "line_no"), 2), (("lines", 1), "x"),
    (("lines", 0, "line_total"), "1e-5"), (("lines", 0, "line_total"), "Infinity"), (("lines", 0, "line_total"), 12),
]


def _variant(path, value):
    body = copy.deepcopy(BASE)
    target = body
    for part in path[:-1]:
        target = target[part]
    if value is None and path[-1] in target:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


def _marshmallow(body):
    return Schema.load(OrderIn(), copy.deepcopy(body))  # the schema's own load, not the lean one


@pytest.mark.parametrize(("path", "value"), [((), None), *VARIANTS])
def test_the_lean_load_is_marshmallows_or_steps_aside(path, value):
    body = _variant(path, value) if path else copy.deepcopy(BASE)
    try:
        expected = _marshmallow(body)
    except ValidationError:
        expected = None
    try:
        got = order_load.load(OrderIn(), copy.deepcopy(body))
    except order_load.Refused:
        got = None
    if expected is None:
        assert got is None, "the lean load accepted what marshmallow refuses"
    elif got is not None:
        assert got == expected
        assert [type(v) for v in got.values()] == [type(expected[k]) for k in got]
        assert [sorted(line.items()) for line in got["lines"]] == [sorted(line.items()) for line in expected["lines"]]


def test_the_usual_body_takes_the_lean_path_and_errors_stay_marshmallows():
    assert order_load.load(OrderIn(), copy.deepcopy(BASE)) == _marshmallow(BASE)
    with pytest.raises(ValidationError) as lean:
        OrderIn().load(_variant(("lines", 0, "quantity"), -2))
    with pytest.raises(ValidationError) as plain:
        _marshmallow(_variant(("lines", 0, "quantity"), -2))
    assert lean.value.messages == plain.value.messages
