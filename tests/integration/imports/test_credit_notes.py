"""Credit notes (ORIN/RIN1) take back what the lines they return earned: recomputed on what is kept, the
difference posted, rounded once per document; corrections earn nothing; unknown references are quarantined."""
from decimal import Decimal

from sqlalchemy import select

from engine.ledger.check import check
from engine.models import Document, LedgerEntry
from tests.integration.imports import samples

CREDIT_HEADER = samples.CREDIT_HEADER

# ACCRUAL_BASIC: 1 point per full 10 PLN of a line, group 110 ×2, the document total rounded down once.
# Invoice 1 (C001): line 0 = 25,00 in 110 → 2×2 = 4; line 1 = 19,99 in 120 → 1; line 2 = 30,00 in 120 → 3: 8.
# Invoice 2 (C002): one line of 100,00 in 120 → 10.
INVOICES = [
    f"1;1001;{samples.day(9)};C001;PLN;0;A;Rura;110;5;5,00;25,00",
    f"1;1001;{samples.day(9)};C001;PLN;1;B;Kolano;120;1;19,99;19,99",
    f"1;1001;{samples.day(9)};C001;PLN;2;C;Zawór;120;3;10,00;30,00",
    f"2;1002;{samples.day(8)};C002;PLN;0;D;Grzejnik;120;2;50,00;100,00",
]


def credit(entry: int, card: str, line: int, sku: str, group: str, quantity: str, total: str, base: int,
           base_line: int, days_ago: int = 2) -> str:
    return (f"{entry};{7000 + entry};{samples.day(days_ago)};{card};PLN;{line};{sku};Zwrot;{group};{quantity};"
            f"1,00;{total};13;{base};{base_line}")


def load(importer, tmp_path):
    importer(samples.write(tmp_path / "OCRD.csv", samples.CUSTOMERS_HEADER, samples.CUSTOMER_ROWS), "customers")
    importer(samples.write(tmp_path / "INV.csv", samples.INVOICES_HEADER, INVOICES), "invoices")
    assert (importer.balance("C001"), importer.balance("C002")) == (Decimal(8), Decimal(10))


def entries(importer, external_id: str) -> list[tuple[str, Decimal]]:
    with importer.session() as session:
        doc = session.execute(select(Document).where(Document.external_id == external_id)).scalar_one()
        rows = session.execute(select(LedgerEntry).where(LedgerEntry.document_id == doc.id)
                               .order_by(LedgerEntry.id)).scalars()
        return [(e.kind, e.amount) for e in rows]


def test_partial_and_full_returns_recompute_what_the_invoice_earns(importer, tmp_path):
    load(importer, tmp_path)
    notes = [
        # 14:1 returns 10,00 of line 0 (25 → 15: 1×2 = 2) and 9,99 of line 1 (19,99 → 10,00: still 1): 8 → 6
        credit(1, "C001", 0, "A", "110", "2", "10,00", 1, 0),
        credit(1, "C001", 1, "B", "120", "0,5", "9,99", 1, 1),
        # 14:2 returns all of invoice 2: 10 → 0
        credit(2, "C002", 0, "D", "120", "2", "100,00", 2, 0),
    ]
    run = importer(samples.write(tmp_path / "ORIN.csv", CREDIT_HEADER, notes), "credit_notes")
    assert (run.status, run.applied, run.quarantined) == ("done", 2, 0)
    assert (importer.balance("C001"), importer.balance("C002")) == (Decimal(6), Decimal(0))
    assert entries(importer, "13:1") == [("accrual", Decimal(8)), ("reversal", Decimal(-2))]
    assert entries(importer, "13:2") == [("accrual", Decimal(10)), ("reversal", Decimal(-10))]
    assert entries(importer, "14:1") == [] and entries(importer, "14:2") == []  # corrections earn nothing
    with importer.session() as session:
        invoice1 = session.execute(select(Document).where(Document.external_id == "13:1")).scalar_one()
        invoice2 = session.execute(select(Document).where(Document.external_id == "13:2")).scalar_one()
        assert (invoice1.earned, invoice1.total, invoice1.status) == (6, Decimal(55), "fulfilled")  # 74,99 − 19,99
        assert [(l.returned_total, l.points) for l in invoice1.lines] == [
            (Decimal(10), Decimal(2)), (Decimal("9.99"), Decimal(1)), (Decimal(0), Decimal(3))]
        assert (invoice2.earned, invoice2.status) == (0, "returned")
        assert check(session) == []

    # The rest of invoice 1 comes back in a second credit note: nothing is left, nothing is earned.
    rest = [credit(3, "C001", 0, "A", "110", "3", "15,00", 1, 0),
            credit(3, "C001", 1, "B", "120", "0,5", "10,00", 1, 1),
            credit(3, "C001", 2, "C", "120", "3", "30,00", 1, 2)]
    importer(samples.write(tmp_path / "ORIN2.csv", CREDIT_HEADER, rest), "credit_notes")
    assert importer.balance("C001") == 0
    assert entries(importer, "13:1")[-1] == ("reversal", Decimal(-6))


def test_credit_notes_that_cannot_apply_are_quarantined_with_reasons(importer, tmp_path):
    load(importer, tmp_path)
    notes = [
        credit(4, "C001", 0, "A", "110", "1", "5,00", 99, 0),  # line 2: an invoice never imported
        credit(5, "C001", 0, "A", "110", "1", "5,00", 1, 7),  # line 3: a line the invoice does not have
        credit(6, "C001", 0, "A", "110", "9", "99,00", 1, 0),  # line 4: more than was sold
        credit(7, "C009", 0, "A", "110", "1", "5,00", 1, 0),  # line 5: an unknown customer
        "8;7008;20240101;C001;PLN;0;A;Zwrot;110;1;1,00;1,00;13;;0",  # line 6: no BaseEntry
    ]
    run = importer(samples.write(tmp_path / "ORIN.csv", CREDIT_HEADER, notes), "credit_notes")
    assert (run.status, run.applied, run.quarantined) == ("done", 0, 5)
    reasons = dict(importer.quarantine(run.id))
    assert "'13:99' from sap_b1 is unknown" in reasons[2]
    assert "corrects line 7 of 13:1, which does not exist" in reasons[3]
    assert "returns more of line 0" in reasons[4]
    assert reasons[5].startswith("unknown customer C009")
    assert reasons[6] == "missing BaseEntry"
    assert importer.balance("C001") == Decimal(8)
