"""One bad row never fails an import: it is quarantined with its line and reason; a broken file is refused."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.models import Member
from tests.integration.imports import samples

D1 = samples.day(9)
GOOD = f"1;1001;{D1};C001;PLN;0;RM-15;Rura;110;2;10,00;20,00"  # 2 × 2 = 4 points


def _customers(importer, tmp_path):
    path = samples.write(tmp_path / "OCRD.csv", samples.CUSTOMERS_HEADER, samples.CUSTOMER_ROWS)
    assert importer(path, "customers").status == "done"


BAD_INVOICE_ROWS = {
    "empty DocEntry": f";1009;{D1};C001;PLN;0;RM-15;Rura;110;2;10,00;20,00",
    "year 1": "2;1002;00010101;C001;PLN;0;RM-15;Rura;110;2;10,00;20,00",
    "date zeros": "2;1002;00000000;C001;PLN;0;RM-15;Rura;110;2;10,00;20,00",
    "year 9999": "2;1002;99991231;C001;PLN;0;RM-15;Rura;110;2;10,00;20,00",
    "superscript DocEntry": f"2²;1002;{D1};C001;PLN;0;RM-15;Rura;110;2;10,00;20,00",
    "superscript LineNum": f"2;1002;{D1};C001;PLN;²;RM-15;Rura;110;2;10,00;20,00",
    "huge number": f"2;1002;{D1};C001;PLN;0;RM-15;Rura;110;2;10,00;1e400",
    "huge digits": f"2;1002;{D1};C001;PLN;0;RM-15;Rura;110;2;10,00;{'9' * 5000}",
    "huge LineNum": f"2;1002;{D1};C001;PLN;{'9' * 30};RM-15;Rura;110;2;10,00;20,00",
}


@pytest.mark.parametrize("bad", list(BAD_INVOICE_ROWS))
def test_a_bad_invoice_row_is_quarantined_and_the_good_one_applied(importer, tmp_path, bad):
    _customers(importer, tmp_path)
    rows = [BAD_INVOICE_ROWS[bad], GOOD] if bad == "empty DocEntry" else [GOOD, BAD_INVOICE_ROWS[bad]]
    path = samples.write(tmp_path / "INV.csv", samples.INVOICES_HEADER, rows, encoding="utf-8")
    run = importer(path, "invoices")
    assert run.status == "done", run.error
    if bad == "superscript DocEntry":  # a DocEntry that is not a number is a text key like any other
        assert run.rows_read == 2 and run.quarantined == 0 and run.applied == 2
        return
    assert run.rows_read == 2 and run.quarantined == 1 and run.applied == 1
    assert importer.balance("C001") == 4


def test_an_unclosed_quote_refuses_a_customers_file_before_any_card(importer, tmp_path):
    rows = samples.CUSTOMER_ROWS[:2] + ['C007;"Never closed;;;;;100;20230101'] + ["C008;Ósmy;;;;;100;20230101"]
    path = samples.write(tmp_path / "OCRD.csv", samples.CUSTOMERS_HEADER, rows)
    run = importer(path, "customers")
    assert run.status == "failed" and "never closed" in run.error and "Traceback" not in run.error
    assert run.applied == 0
    with importer.session() as session:
        assert session.execute(select(func.count(Member.id))).scalar_one() == 0
