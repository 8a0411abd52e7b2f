"""`loyalty import FILE`, `import show`, `import runs`: the same pipeline from the command line."""
from click.testing import CliRunner

from tests.integration.imports import samples


def test_import_file_show_and_again(importer, tmp_path):
    app = importer.app
    runner = CliRunner()
    customers = samples.write(tmp_path / "OCRD.csv", samples.CUSTOMERS_HEADER, samples.CUSTOMER_ROWS)
    invoices = samples.write(tmp_path / "INV.csv", samples.INVOICES_HEADER, samples.invoice_rows())
    with app.app_context():
        first = runner.invoke(app.cli, ["import", str(customers), "--kind", "customers"], catch_exceptions=False)
        second = runner.invoke(app.cli, ["import", str(invoices), "--kind", "invoices", "--chunk-lines", "3"],
                               catch_exceptions=False)
        shown = runner.invoke(app.cli, ["import", "show", "2"], catch_exceptions=False)
        again = runner.invoke(app.cli, ["import", str(invoices), "--source", "sap_b1", "--kind", "invoices"],
                              catch_exceptions=False)
        listed = runner.invoke(app.cli, ["import", "runs"], catch_exceptions=False)
        wrong = runner.invoke(app.cli, ["import", str(invoices), "--kind", "orders"])
    assert first.exit_code == 0 and "applied 3" in first.output and "quarantined 2" in first.output
    assert second.exit_code == 0, second.output
    assert "applying" in second.output and "rows read 9, applied 3, duplicates 0, quarantined 4" in second.output
    assert "line 5: unparseable number" in shown.output and "line 9: missing key CardCode" in shown.output
    assert again.exit_code == 0 and "was imported already (run 2)" in again.output
    assert "run 2: invoices INV.csv — done" in listed.output and "run 1: customers" in listed.output
    assert wrong.exit_code != 0 and "orders" in wrong.output
    assert importer.balance("C001") == 502
