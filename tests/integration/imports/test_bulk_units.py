"""The set-based path's hand-written pieces equal what the per-document path computes (no database)."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine.accrual import batch
from engine.documents import orders
from engine.documents.domain import LineDoc, PurchaseDoc
from importers.bulk_copy import esc
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
    assert batch.content_hash(member, placed, "PLN", lines) == orders.content_hash(doc)
    assert batch.content_hash(member, placed.isoformat(), "PLN", lines) == orders.content_hash(doc)


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
