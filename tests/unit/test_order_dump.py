"""The lean dump of an order's answer (`server.api.order_dump`) gives what marshmallow gives, keys in its order."""
from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest
from marshmallow import Schema

from exporters.xml import to_xml
from server.api import order_dump
from server.api.schemas import OrderOut

LINE = {"line_no": 1, "sku": "A", "quantity": D("2"), "line_total": D("69.6000"), "returned_quantity": D("0"),
        "points": D("6.96")}
BASE = {"order_id": "A1", "member": "L000000001", "status": "fulfilled",
        "placed_at": datetime(2026, 3, 2, 9, 0, tzinfo=UTC), "currency": "PLN", "total": D("79.5000"),
        "earned": D("6.96"), "pending": D("0"), "codes": ["LATO"],
        "lines": [LINE, {**LINE, "line_no": 2, "sku": "B", "points": None}]}

# (path, value) changes of BASE; None as the last part of a path drops the key.
VARIANTS = [
    ((), None), (("total",), D("0E-4")), (("total",), D("-12.5")), (("total",), D("1E+3")), (("total",), D("1e-7")),
    (("total",), D("9999999999.9999")), (("total",), None), (("total",), D("NaN")), (("total",), 3),
    (("total",), 3.5), (("total",), "3.50"), (("earned",), D("-0")), (("pending",), D("12.3400")),
    (("placed_at",), datetime(2026, 3, 2, 9, 0, 0, 250, tzinfo=UTC)),
    (("placed_at",), datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=3)))),
    (("placed_at",), datetime(2026, 3, 2, 9, 0)), (("placed_at",), None), (("placed_at",), "2026-03-02"),
    (("codes",), []), (("codes",), ["A", "B"]), (("codes",), [None]), (("codes",), [1]), (("codes",), ("A",)),
    (("lines",), []), (("lines",), ()), (("order_id",), None), (("order_id",), 7), (("member",), "ext:x"),
    (("status",), "returned"), (("currency",), None), (("extra",), 1), (("earned", None), None),
    (("lines", 0, "line_no"), None), (("lines", 0, "line_no"), True), (("lines", 0, "line_no"), "1"),
    (("lines", 0, "line_no"), 10**6), (("lines", 0, "sku"), None), (("lines", 0, "sku"), 5),
    (("lines", 0, "quantity"), D("1.5")), (("lines", 0, "quantity"), 2), (("lines", 0, "points"), D("-3")),
    (("lines", 0, "returned_quantity"), D("2.0000")), (("lines", 0, "points", None), None),
    (("lines", 0, "extra"), 1), (("lines", 1), "x"), (("lines", 1), None),
]


def _variant(path, value) -> dict:
    order = copy.deepcopy(BASE)
    if not path:
        return order
    *parents, last = path if path[-1] is not None else path[:-1]
    target = order
    for part in parents:
        target = target[part]
    if path[-1] is None:
        del target[last]
    else:
        target[last] = value
    return order


@pytest.mark.parametrize("path, value", VARIANTS, ids=[f"{'.'.join(map(str, p)) or 'base'}={v!r}"[:60]
                                                        for p, v in VARIANTS])
def test_the_lean_dump_gives_what_marshmallow_gives(path, value):
    order = _variant(path, value)
    try:
        expected = Schema.dump(OrderOut(), order)
    except Exception as error:  # marshmallow's own failure: the lean dump must not hide it
        with pytest.raises(type(error)):
            OrderOut().dump(order)
        return
    got = OrderOut().dump(order)
    assert got == expected
    assert json.dumps(got) == json.dumps(expected)  # keys in the same order, all the way down
    assert to_xml("order", got) == to_xml("order", expected)


def test_the_usual_answer_takes_the_lean_dump_and_the_odd_one_does_not():
    assert order_dump.dump(copy.deepcopy(BASE))["total"] == "79.5000"
    for odd in (_variant(("total",), 3.5), _variant(("extra",), 1), _variant(("lines", 0, "extra"), 1),
                _variant(("placed_at",), "2026-03-02")):
        with pytest.raises(order_dump.Refused):
            order_dump.dump(odd)


def test_a_list_of_orders_is_dumped_by_marshmallow():
    orders = [copy.deepcopy(BASE), _variant(("total",), D("1.5"))]
    assert OrderOut(many=True).dump(orders) == [Schema.dump(OrderOut(), order) for order in orders]
