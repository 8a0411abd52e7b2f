"""A generated export end to end: exact totals, whole documents, and reading that streams (flat memory)."""
from engine.domain import PurchaseDoc
from importers.sap_b1 import InvoiceRow, default_profile, open_file
from tests.support.sap_files import documents_of, write_invoices


def test_generated_export_parses_to_the_exact_total(tmp_path):
    path = tmp_path / "INV.csv"
    expected = write_invoices(path, 20_000, seed=7)
    with open_file(path, default_profile("invoices")) as f:
        documents = documents_of(f)
    assert all(isinstance(d, PurchaseDoc) for d in documents)
    assert sum(line.line_total for d in documents for line in d.lines) == expected
    assert sum(len(d.lines) for d in documents) == 20_000
    assert len({d.external_id for d in documents}) == len(documents)


def test_rows_are_read_as_they_are_needed(tmp_path):
    path = tmp_path / "INV.csv"
    write_invoices(path, 40_000, thousands="")
    with open_file(path, default_profile("invoices")) as f:
        rows = iter(f)
        first = [next(rows) for _ in range(3)]
        assert all(isinstance(r, InvoiceRow) for r in first)
        assert f.size > 3_000_000 and f.bytes_read < 100_000  # only a buffer's worth was read
        assert sum(1 for _ in rows) == 40_000 - 3
        assert all(r.line_total == r.quantity * r.unit_price for r in first)
