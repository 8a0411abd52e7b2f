"""A cancelling SAP document (CANCELED=C) alone cancels the invoice it names, once, in any order with its Y."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.models import Document, LedgerEntry
from tests.integration.imports import samples

HEADER = samples.INVOICES_HEADER + ";CANCELED;BaseType;BaseEntry;BaseLine"
D1 = samples.day(9)
ORIGINAL = f"1;1001;{D1};C001;PLN;0;RM-15;Rura;110;2;10,00;20,00;N;;;"  # 2 × 2 = 4 points
ORIGINAL_Y = ORIGINAL.replace(";N;;;", ";Y;;;")
CANCELLING = f"2;1002;{D1};C001;PLN;0;RM-15;Rura;110;2;10,00;20,00;C;13;1;0"
OTHER = f"3;1003;{D1};C001;PLN;0;X-1;Inne;120;1;30,00;30,00;N;;;"  # 3 points: every file differs


@pytest.fixture
def run_file(importer, tmp_path):
    path = samples.write(tmp_path / "OCRD.csv", samples.CUSTOMERS_HEADER, samples.CUSTOMER_ROWS)
    assert importer(path, "customers").status == "done"
    counter = iter(range(100))

    def run(rows, use_bulk):
        path = samples.write(tmp_path / f"INV{next(counter)}.csv", HEADER, rows)
        run = importer(path, "invoices", use_bulk=use_bulk)
        assert run.status == "done", run.error
        return run
    return run


def _state(importer) -> tuple[str, int]:
    with importer.session() as session:
        original = session.execute(select(Document).where(Document.external_id == "13:1")).scalar_one_or_none()
        reversals = session.execute(select(LedgerEntry).where(LedgerEntry.amount < 0)).scalars().all()
        return (original.status if original else None), len(reversals)


BULK = pytest.mark.parametrize("use_bulk", [True, False], ids=["set-based", "per-document"])


@BULK
def test_y_then_c(importer, run_file, use_bulk):
    run_file([ORIGINAL], use_bulk)
    assert importer.balance("C001") == 4
    run_file([ORIGINAL_Y], use_bulk)
    c = run_file([CANCELLING], use_bulk)
    assert (c.applied, c.duplicates, c.quarantined) == (0, 1, 0)
    assert importer.balance("C001") == 0 and _state(importer) == ("cancelled", 1)


@BULK
def test_c_then_y(importer, run_file, use_bulk):
    run_file([ORIGINAL], use_bulk)
    c = run_file([CANCELLING], use_bulk)
    assert (c.applied, c.quarantined) == (1, 0)
    assert importer.balance("C001") == 0 and _state(importer) == ("cancelled", 1)
    y = run_file([ORIGINAL_Y], use_bulk)
    assert (y.applied, y.duplicates) == (0, 1)
    assert importer.balance("C001") == 0 and _state(importer) == ("cancelled", 1)


@BULK
def test_c_alone_is_quarantined_until_its_original_arrives(importer, run_file, use_bulk):
    c = run_file([CANCELLING], use_bulk)
    assert (c.applied, c.quarantined) == (0, 1)
    [(line, reason)] = importer.quarantine(c.id)
    assert line == 2 and "invoice 13:1, which has not been imported" in reason
    run_file([ORIGINAL], use_bulk)
    assert importer.balance("C001") == 4
    again = run_file([CANCELLING, OTHER], use_bulk)  # the next day's export carries it again
    assert (again.applied, again.quarantined) == (2, 0)
    assert importer.balance("C001") == 3 and _state(importer) == ("cancelled", 1)


@BULK
def test_c_twice_and_with_its_original_in_one_file(importer, run_file, use_bulk):
    first = run_file([ORIGINAL, CANCELLING], use_bulk)
    assert (first.applied, first.quarantined) == (2, 0)
    assert importer.balance("C001") == 0 and _state(importer) == ("cancelled", 1)
    twice = run_file([CANCELLING, OTHER], use_bulk)
    assert (twice.applied, twice.duplicates) == (1, 1)
    assert importer.balance("C001") == 3 and _state(importer) == ("cancelled", 1)


def test_a_c_row_naming_no_original_is_skipped(importer, run_file):
    run = run_file([ORIGINAL, CANCELLING.replace(";C;13;1;0", ";C;;;")], True)
    assert (run.applied, run.quarantined, run.details["skipped"]) == (1, 0, 1)
    assert importer.balance("C001") == 4
