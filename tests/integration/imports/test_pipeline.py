"""The pipeline end to end on both databases: cp1250 files with decimal commas, quoted ``;``, blank lines and
bad rows; balances to the point, the quarantine, exactly once for the same file and an overlapping one."""
from decimal import Decimal

from sqlalchemy import func, select

from engine.ledger.check import check
from engine.models import Document, DocumentLine, ImportChunk, LedgerEntry, Member
from tests.integration.imports import samples

HELD_BACK = "is held back as a whole because its line(s) on file line 5 could not be read"


def load(importer, tmp_path):
    customers = importer(samples.write(tmp_path / "OCRD.csv", samples.CUSTOMERS_HEADER, samples.CUSTOMER_ROWS),
                         "customers")
    invoices = importer(samples.write(tmp_path / "INV.csv", samples.INVOICES_HEADER, samples.invoice_rows()),
                        "invoices")
    return customers, invoices


def test_customers_file_makes_members_and_quarantines_bad_rows(importer, tmp_path):
    customers, _ = load(importer, tmp_path)
    assert (customers.status, customers.rows_read, customers.applied, customers.quarantined) == ("done", 5, 3, 2)
    assert customers.details["encoding"] == "cp1250 (declared)"
    assert importer.quarantine(customers.id) == [
        (6, "missing key CardCode"),
        (7, 'bad date "20231340" in column CreateDate (expected one of: YYYYMMDD, DD.MM.YYYY, YYYY-MM-DD)')]
    with importer.session() as session:
        first = session.execute(select(Member).where(Member.erp_code == "C001")).scalar_one()
        assert (first.name, first.phone, first.email, first.group) == (
            "Hurtownia Łódź; Sp. z o.o.", "+48601234567", "biuro@lodz.pl", "100")


def test_invoice_file_balances_to_the_point(importer, tmp_path):
    _, invoices = load(importer, tmp_path)
    assert invoices.status == "done" and invoices.error is None
    assert (importer.balance("C001"), importer.balance("C002"), importer.balance("C003")) == (
        Decimal(502), Decimal(201), Decimal(0))
    with importer.session() as session:
        assert check(session) == []
        doc4 = session.execute(select(Document).where(Document.external_id == "13:4")).scalar_one()
        assert doc4.total == Decimal("2015.49") and doc4.earned == 201  # its far-away line was not lost
        assert [(l.line_no, l.line_total, l.points) for l in doc4.lines] == [
            (0, Decimal("1999.99"), Decimal(199)), (1, Decimal("15.5"), Decimal(2))]
        doc1 = session.execute(select(Document).where(Document.external_id == "13:1")).scalar_one()
        assert [l.name for l in doc1.lines] == ["Rura miedziana; 15 mm", 'Zawór kulowy 1/2" mosiądz']
        assert session.execute(select(func.count(LedgerEntry.id))).scalar_one() == 2  # doc 6 earned nothing


def test_invoice_quarantine_names_lines_and_reasons(importer, tmp_path):
    _, invoices = load(importer, tmp_path)
    assert (invoices.rows_read, invoices.applied, invoices.duplicates, invoices.quarantined) == (9, 3, 0, 4)
    rows = importer.quarantine(invoices.id)
    assert [line for line, _ in rows] == [5, 6, 7, 9]
    reasons = dict(rows)
    assert reasons[5] == 'unparseable number "12,3,4" in column Quantity'
    assert HELD_BACK in reasons[6] and "invoice 13:2" in reasons[6]
    assert reasons[7].startswith("unknown customer C009")
    assert reasons[9] == "missing key CardCode"


def test_the_same_file_again_changes_nothing(importer, tmp_path):
    _, first = load(importer, tmp_path)
    again = importer(tmp_path / "INV.csv", "invoices")
    assert again.id == first.id and (again.applied, again.duplicates) == (first.applied, 0)
    with importer.session() as session:
        assert session.execute(select(func.count(Document.id))).scalar_one() == 3
        assert session.execute(select(func.count(LedgerEntry.id))).scalar_one() == 2
    assert importer.balance("C001") == 502


def test_an_overlapping_file_only_adds_what_is_new(importer, tmp_path):
    load(importer, tmp_path)
    overlap = importer(samples.write(tmp_path / "INV2.csv", samples.INVOICES_HEADER, samples.overlapping_rows()),
                       "invoices")
    assert (overlap.status, overlap.applied, overlap.duplicates, overlap.quarantined) == ("done", 1, 2, 0)
    assert (importer.balance("C001"), importer.balance("C002"), importer.balance("C003")) == (
        Decimal(502), Decimal(201), Decimal(4))
    with importer.session() as session:
        assert session.execute(select(func.count(DocumentLine.id))).scalar_one() == 6
        assert check(session) == []


def test_chunks_are_recorded_and_staging_is_cleared(importer, tmp_path):
    _, invoices = load(importer, tmp_path)
    with importer.session() as session:
        chunks = session.execute(select(ImportChunk).where(ImportChunk.import_run_id == invoices.id)).scalars().all()
        assert len(chunks) == invoices.details["chunks"] >= 2 and all(c.status == "done" for c in chunks)
        assert sum(c.lines for c in chunks) == invoices.details["lines"] == 9
        assert sum(c.applied for c in chunks) == invoices.applied
        from engine.models import StagedLine
        assert session.execute(select(func.count()).select_from(StagedLine)).scalar_one() == 0
    assert invoices.progress["phase"] == "done"


def test_a_chunk_the_set_based_path_cannot_write_goes_document_by_document(pg_importer, tmp_path, caplog):
    """A ledger key taken by something else makes the chunk's COPY fail: the chunk is applied again one
    document at a time, the offending document is quarantined with the reason, the others go through."""
    from engine import clock, ledger
    importer = pg_importer
    importer(samples.write(tmp_path / "OCRD.csv", samples.CUSTOMERS_HEADER, samples.CUSTOMER_ROWS), "customers")
    with importer.session() as session:
        member = session.execute(select(Member).where(Member.erp_code == "C001")).scalar_one()
        account = ledger.lock_account(session, member.account_id)
        ledger.credit(session, account, kind="adjustment", key="sap_b1:13:1:accrual", actor="test",
                      lots=[ledger.LotSpec(Decimal(5), clock.now(), None)], now=clock.now())
        session.commit()
    run = importer(samples.write(tmp_path / "INV.csv", samples.INVOICES_HEADER, samples.invoice_rows()),
                   "invoices", chunk_lines=100)
    assert (run.status, run.applied, run.quarantined) == ("done", 2, 6)
    reasons = dict(importer.quarantine(run.id))
    assert "sap_b1:13:1:accrual" in reasons[2] and "sap_b1:13:1:accrual" in reasons[3]
    assert importer.balance("C002") == Decimal(201) and importer.balance("C001") == Decimal(5)
    assert "goes document by document" in caplog.text
