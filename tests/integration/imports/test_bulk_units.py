"""The set-based path's hand-written pieces equal what the per-document path computes (no database)."""
import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine.accrual import batch
from engine.documents import orders
from engine.documents.fingerprint import content_hash
from engine.domain import LineDoc, PurchaseDoc
from engine.models.bulk import esc
from importers.sap_b1.pipeline.stage import bucket_count


@pytest.mark.parametrize("sku,group,brand,member", [
    ("RM-15", "110", "", "erp:C001"),
    ('Zawór "1/2"', "Grupa żółta", "Kan-therm", "erp:Łódź-7"),
    ("back\\slash\ttab", "", "ß", "erp:\u2603"),
])
def test_hand_written_content_hash_is_the_per_document_one(sku, group, brand, member):
    lines = (LineDoc(0, sku, Decimal("2"), Decimal("1234.50"), Decimal("2469.00"), "name", group, brand),
             LineDoc(7, "X", Decimal("0.125"), Decimal("1E+2"), Decimal("-3"), "", "", ""))
    placed = datetime(2024, 1, 14, 23, tzinfo=UTC)
    doc = PurchaseDoc(source="sap_b1", external_id="13:1", document_type="invoice", member_ref=member,
                      placed_at=placed, currency="PLN", lines=lines, channel="erp", status="fulfilled")
    assert orders.content_hash(doc) == _json_hash(doc)
    assert content_hash(document_type="invoice", member_ref=member, placed_at=placed.isoformat(), currency="PLN",
                        lines=lines, channel="erp") == _json_hash(doc)


def _json_hash(doc: PurchaseDoc) -> str:
    """The fingerprint as it was first defined: the bytes of ``json.dumps(body, sort_keys=True)``."""
    body = {
        "type": doc.document_type, "member": doc.member_ref, "placed_at": doc.placed_at.isoformat(),
        "currency": doc.currency, "channel": doc.channel, "store": doc.store,
        "shipping": str(doc.shipping_total), "base": doc.base_external_id,
        "lines": [[l.line_no, l.sku, str(l.quantity), str(l.unit_price), str(l.line_total),
                   l.product_group, l.brand, l.is_promo, l.base_line_no] for l in doc.lines],
    }
    if doc.codes:  # only an order that carried codes says so: every other keeps its first fingerprint
        body["codes"] = list(doc.codes)
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@pytest.mark.parametrize("promo,base,store,shipping", [(True, 3, "Kraków 2", Decimal("12.50")),
                                                       (False, None, "", Decimal(0))])
def test_fingerprint_of_orders_and_corrections_is_the_json_one(promo, base, store, shipping):
    lines = (LineDoc(1, "A", Decimal("1"), Decimal("9.99"), Decimal("9.99"), "n", "g", "b", is_promo=promo,
                     base_line_no=base),)
    doc = PurchaseDoc(source="shop", external_id="o-1", document_type="correction" if base else "order",
                      member_ref="L1", placed_at=datetime(2026, 2, 1, tzinfo=UTC), currency="EUR", lines=lines,
                      channel="web", store=store, shipping_total=shipping, base_external_id="o-0" if base else None)
    assert orders.content_hash(doc) == _json_hash(doc)


def test_an_order_s_codes_are_part_of_its_fingerprint_only_when_it_has_some():
    lines = (LineDoc(1, "A", Decimal("1"), Decimal("9.99"), Decimal("9.99")),)
    doc = PurchaseDoc(source="shop", external_id="o-1", document_type="order", member_ref="L1",
                      placed_at=datetime(2026, 2, 1, tzinfo=UTC), currency="PLN", lines=lines)
    coded = replace(doc, codes=("SUMMER10", 'Zażółć "x"'))
    assert orders.content_hash(coded) == _json_hash(coded) != orders.content_hash(doc) == _json_hash(doc)
    assert orders.content_hash(replace(doc, codes=("OTHER",))) != orders.content_hash(coded)


def test_amounts_are_rounded_like_the_orm():
    from engine.models.base import Amount
    for text in ("1.23456", "1.23455", "-0.00005", "12", "1E+2"):
        value = Decimal(text)
        assert batch.amount(value) == Amount().process_bind_param(value, _Postgres())


class _Postgres:
    name = "postgresql"


def test_copy_escaping_and_bucket_estimate():
    assert esc("a\\b\tc\nd\re") == "a\\\\b\\tc\\nd\\re" and esc("plain ąę") == "plain ąę"
    head = b"header\n" + b"x" * 99 + b"\n"  # two lines in 107 bytes
    assert bucket_count(107 * 50_000, head, 25_000) == 4
    assert bucket_count(10, b"", 25_000) == 1
