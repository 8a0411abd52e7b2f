"""Invoice and credit-note files end to end: bytes on disk → rows → documents (importers/sap_b1)."""
import codecs
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from engine.domain import PurchaseDoc, RowError
from importers.sap_b1 import (
    BadHeader,
    InvoiceRow,
    SkippedRow,
    UndecodableFile,
    default_profile,
    open_file,
    profile_from_dict,
)
from tests.support.sap_files import documents_of

HEADER = "DocEntry;DocNum;DocDate;CardCode;DocCur;LineNum;ItemCode;Dscription;ItmsGrpCod;Quantity;Price;LineTotal"
CN_HEADER = HEADER + ";BaseType;BaseEntry;BaseLine"


def write(tmp_path, text, encoding="cp1250", name="INV_20240115.csv", bom=b""):
    path = tmp_path / name
    path.write_bytes(bom + text.encode(encoding))
    return path


def rows(path, profile=None, kind="invoices"):
    with open_file(path, profile or default_profile(kind)) as f:
        return list(f)


def docs(path, profile=None, kind="invoices"):
    with open_file(path, profile or default_profile(kind)) as f:
        return documents_of(f)


POLISH_FILE = (
    HEADER + "\r\n"
    "\r\n"
    '1;1001;20240115;C001;PLN;0;RM-15;"Rura miedziana; 15 mm";110;2;1 234,50;2 469,00\r\n'
    '1;1001;20240115;C001;PLN;1;ZK-12;"Zawór kulowy 1/2"" mosiądz";120;3;34,80;104,40\r\n'
    "\r\n"
    "2;1002;16.01.2024;C002;;0;KL-1;Kolano;110;12,3,4;1,00;1,00\r\n"
    "3;1003;16.01.2024;;PLN;0;KL-1;Kolano;110;1;1,00;1,00\r\n"
    "4;1004;2024-01-17;C003;PLN;0;GR-9;Grzejnik łazienkowy;130;1;1\xa0999,99;1\xa0999,99\r\n"
    "5;1005;20240132;C003;PLN;0;GR-9;Grzejnik;130;1;1,00;1,00\r\n"
    "6;1006;20240118;C004;PLN;0;GR-9;Grzejnik;130;1;1,00\r\n"
)


def test_polish_cp1250_file_good_rows_come_through_exactly(tmp_path):
    path = write(tmp_path, POLISH_FILE)
    got = rows(path)
    good = [r for r in got if isinstance(r, InvoiceRow)]
    assert [(r.doc_key, r.line_no, r.quantity, r.unit_price, r.line_total) for r in good] == [
        ("13:1", 0, Decimal("2"), Decimal("1234.50"), Decimal("2469.00")),
        ("13:1", 1, Decimal("3"), Decimal("34.80"), Decimal("104.40")),
        ("13:4", 0, Decimal("1"), Decimal("1999.99"), Decimal("1999.99")),
    ]
    first = good[0]
    assert first.name == "Rura miedziana; 15 mm" and good[1].name == 'Zawór kulowy 1/2" mosiądz'
    assert (first.member_ref, first.number, first.currency, first.product_group, first.sku) == \
        ("erp:C001", "1001", "PLN", "110", "RM-15")
    assert first.placed_at == datetime(2024, 1, 14, 23, tzinfo=UTC)  # midnight in Warsaw
    assert first.doc_date == date(2024, 1, 15) and good[2].doc_date == date(2024, 1, 17)
    assert (first.origin.name, first.origin.line_no, first.origin.source) == ("INV_20240115.csv", 3, "sap_b1")
    assert first.line.line_total == Decimal("2469.00") and first.line.sku == "RM-15"


def test_polish_cp1250_file_bad_rows_are_quarantined_with_reasons(tmp_path):
    errors = [r for r in rows(write(tmp_path, POLISH_FILE)) if isinstance(r, RowError)]
    assert [(e.origin.line_no, e.reason) for e in errors] == [
        (6, 'unparseable number "12,3,4" in column Quantity'),
        (7, "missing key CardCode"),
        (9, 'bad date "20240132" in column DocDate (expected one of: YYYYMMDD, DD.MM.YYYY, YYYY-MM-DD)'),
        (10, "the row has 11 fields but the header has 12; a separator inside a value must be quoted"),
    ]
    assert errors[0].raw == "2;1002;16.01.2024;C002;;0;KL-1;Kolano;110;12,3,4;1,00;1,00"
    assert errors[0].extra == {"doc_key": "13:2"} and errors[0].origin.name == "INV_20240115.csv"


def test_grouping_makes_whole_documents(tmp_path):
    out = docs(write(tmp_path, POLISH_FILE))
    documents = [d for d in out if isinstance(d, PurchaseDoc)]
    assert [d.external_id for d in documents] == ["13:1", "13:4"]
    invoice = documents[0]
    assert (invoice.source, invoice.document_type, invoice.channel, invoice.member_ref, invoice.number,
            invoice.currency, invoice.status, invoice.cancelled) == \
        ("sap_b1", "invoice", "erp", "erp:C001", "1001", "PLN", "fulfilled", False)
    assert [line.line_no for line in invoice.lines] == [0, 1]
    assert sum(line.line_total for line in invoice.lines) == Decimal("2573.40")
    assert invoice.origin.line_no == 3
    assert len([d for d in out if isinstance(d, RowError)]) == 4


def test_empty_currency_falls_back_to_the_profile(tmp_path):
    text = HEADER + "\n7;1;20240115;C1;;0;A;a;1;1;2,00;2,00\n"
    [row] = rows(write(tmp_path, text))
    assert row.currency == "PLN"
    [row] = rows(write(tmp_path, text), profile_from_dict({"currency": "EUR"}, kind="invoices"))
    assert row.currency == "EUR"


def test_a_bad_line_holds_back_its_whole_document(tmp_path):
    text = (HEADER + "\n"
            "1;1;20240115;C1;PLN;0;A;a;1;1;2,00;2,00\n"
            "1;1;20240115;C1;PLN;1;B;b;1;x;2,00;2,00\n"
            "1;1;20240115;C1;PLN;2;C;c;1;1;2,00;2,00\n"
            "2;2;20240115;C1;PLN;0;A;a;1;1;2,00;2,00\n")
    out = docs(write(tmp_path, text))
    assert [type(o).__name__ for o in out] == ["RowError", "RowError", "RowError", "PurchaseDoc"]
    assert [o.origin.line_no for o in out[:3]] == [3, 2, 4]
    assert 'unparseable number "x"' in out[0].reason
    assert "held back as a whole" in out[1].reason and "file line 3" in out[1].reason
    assert all(o.extra["doc_key"] == "13:1" for o in out[:3])


def test_lines_that_disagree_on_the_header_quarantine_the_document(tmp_path):
    text = (HEADER + "\n"
            "1;1;20240115;C1;PLN;0;A;a;1;1;2,00;2,00\n"
            "1;1;20240116;C1;PLN;1;B;b;1;1;2,00;2,00\n"
            "2;2;20240115;C1;PLN;0;A;a;1;1;2,00;2,00\n"
            "2;2;20240115;C2;PLN;1;A;a;1;1;2,00;2,00\n"
            "3;3;20240115;C1;PLN;0;A;a;1;1;2,00;2,00\n"
            "3;3;20240115;C1;PLN;0;B;b;1;1;2,00;2,00\n")
    out = docs(write(tmp_path, text))
    assert all(isinstance(o, RowError) for o in out) and len(out) == 6
    assert "disagree on DocDate" in out[0].reason and '"2024-01-16" on file line 3' in out[0].reason
    assert "disagree on CardCode" in out[2].reason
    assert "LineNum 0 more than once" in out[4].reason


def test_cancelled_and_cancelling_documents(tmp_path):
    text = (HEADER + ";CANCELED\n"
            "1;1;20240115;C1;PLN;0;A;a;1;1;2,00;2,00;Y\n"
            "2;2;20240116;C1;PLN;0;A;a;1;1;2,00;2,00;C\n"
            "3;3;20240116;C1;PLN;0;A;a;1;1;2,00;2,00;N\n"
            "4;4;20240116;C1;PLN;0;A;a;1;1;2,00;2,00;tYES\n"
            "5;5;20240116;C1;PLN;0;A;a;1;1;2,00;2,00;maybe\n")
    out = docs(write(tmp_path, text))
    assert [type(o).__name__ for o in out] == ["PurchaseDoc", "SkippedRow", "PurchaseDoc", "PurchaseDoc",
                                               "RowError"]
    assert out[0].cancelled and out[0].status == "cancelled"
    assert "cancelling document" in out[1].reason and out[1].extra == {"doc_key": "13:2"}
    assert not out[2].cancelled and out[3].cancelled
    assert 'unknown cancel status value "maybe" in column CANCELED' in out[4].reason


def test_credit_notes_point_at_the_invoice_line(tmp_path):
    text = (CN_HEADER + "\n"
            "7;501;20240120;C1;PLN;0;A;a;110;1;2,00;2,00;13;1;0\n"
            "7;501;20240120;C1;PLN;1;B;b;110;2;3,00;6,00;13;1;2\n"
            "8;502;20240120;C1;PLN;0;A;a;110;1;2,00;2,00;17;9;0\n"
            "9;503;20240120;C1;PLN;0;A;a;110;1;2,00;2,00;-1;;\n"
            "10;504;20240120;C1;PLN;0;A;a;110;1;2,00;2,00;13;1;0\n"
            "10;504;20240120;C1;PLN;1;A;a;110;1;2,00;2,00;13;2;0\n")
    out = docs(write(tmp_path, text, name="RIN.csv"), kind="credit_notes")
    note = out[0]
    assert isinstance(note, PurchaseDoc)
    assert (note.external_id, note.document_type, note.base_external_id, note.status) == \
        ("14:7", "correction", "13:1", None)
    assert [(line.line_no, line.base_line_no, line.line_total) for line in note.lines] == \
        [(0, 0, Decimal("2.00")), (1, 2, Decimal("6.00"))]
    assert 'BaseType is "17"' in out[1].reason
    assert "does not refer to an invoice line" in out[2].reason
    assert "more than one invoice" in out[3].reason and isinstance(out[4], RowError)


def test_credit_note_file_needs_its_base_columns(tmp_path):
    with pytest.raises(BadHeader) as caught:
        rows(write(tmp_path, HEADER + "\n"), kind="credit_notes")
    assert caught.value.missing == ("BaseEntry", "BaseLine")
    assert "no column BaseEntry, BaseLine" in str(caught.value) and "credit_notes" in str(caught.value)


def test_missing_required_column_refuses_the_file(tmp_path):
    text = HEADER.replace(";Quantity", "") + "\n1;1;20240115;C1;PLN;0;A;a;1;2,00;2,00\n"
    with pytest.raises(BadHeader) as caught:
        open_file(write(tmp_path, text), default_profile("invoices"))
    assert "no column Quantity" in str(caught.value) and "nothing was imported" in str(caught.value)
    assert "Its header has: DocEntry, DocNum" in str(caught.value)


def test_duplicate_column_refuses_the_file(tmp_path):
    with pytest.raises(BadHeader, match="more than once"):
        open_file(write(tmp_path, HEADER + ";Quantity\n"), default_profile("invoices"))


def test_empty_file_refuses(tmp_path):
    with pytest.raises(BadHeader, match="empty"):
        open_file(write(tmp_path, "\r\n\r\n"), default_profile("invoices"))


def test_undecodable_file_is_refused_before_any_row(tmp_path):
    path = tmp_path / "INV.csv"
    path.write_bytes((HEADER + "\n1;1;20240115;C1;PLN;0;A;Łódź;1;1;2,00;2,00\n").encode("cp1250") + b"\x98\n")
    with pytest.raises(UndecodableFile) as caught:
        open_file(path, default_profile("invoices"))
    assert caught.value.tried == ("UTF-8", "cp1250 (declared)")
    assert caught.value.offset == path.read_bytes().index(b"\x98")


def test_utf8_bom_comma_separated_with_decimal_point_and_iso_dates(tmp_path):
    text = HEADER.replace(";", ",") + "\r\n" + '11,9,2024-02-01,C9,EUR,0,A,"Łańcuch, stal",1,"1,000.5",2.50,2501.25\r\n'
    profile = profile_from_dict({"decimal_separator": "."}, kind="invoices")
    with open_file(write(tmp_path, text, "utf-8", bom=codecs.BOM_UTF8), profile) as f:
        assert (f.detected.label, f.delimiter) == ("UTF-8 (BOM)", ",")
        [row] = list(f)
    assert (row.name, row.quantity, row.unit_price, row.line_total, row.doc_date) == \
        ("Łańcuch, stal", Decimal("1000.5"), Decimal("2.50"), Decimal("2501.25"), date(2024, 2, 1))


def test_utf16_tab_separated_dtw_template_with_two_header_rows(tmp_path):
    text = ("ParentKey\tDocumentNumber\tDocDate\tCardCode\tDocCurrency\tLineNum\tItemCode\tItemDescription\t"
            "ItemsGroupCode\tQuantity\tPrice\tLineTotal\tCancelled\r\n"
            "DocEntry\tDocNum\tDocDate\tCardCode\tDocCur\tLineNum\tItemCode\tDscription\tItmsGrpCod\tQuantity\t"
            "Price\tLineTotal\tCANCELED\r\n"
            "21\t3001\t20240301\tC7\tPLN\t0\tZK-1\tZłączka\t110\t4\t12,25\t49,00\ttNO\r\n"
            "21\t3001\t20240301\tC7\tPLN\t1\tZK-2\tZłączka 2\t110\t1\t0,75\t0,75\ttNO\r\n")
    path = write(tmp_path, text, "utf-16-le", bom=codecs.BOM_UTF16_LE)
    profile = profile_from_dict({"header_rows": 2, "names_row": 2}, kind="invoices")
    with open_file(path, profile) as f:
        assert (f.detected.label, f.delimiter) == ("UTF-16LE (BOM)", "\t")
        [doc] = documents_of(f)
    assert doc.external_id == "13:21" and doc.placed_at == datetime(2024, 2, 29, 23, tzinfo=UTC)
    assert [(l.name, l.quantity, l.line_total) for l in doc.lines] == \
        [("Złączka", Decimal("4"), Decimal("49.00")), ("Złączka 2", Decimal("1"), Decimal("0.75"))]
    assert doc.lines[0].product_group == "110" and not doc.cancelled


def test_dtw_names_in_row_one_with_a_custom_column_map(tmp_path):
    text = ("ParentKey;DocNum;DocDate;CardCode;DocCur;LineNum;ItemCode;Dscription;ItmsGrpCod;Quantity;Price;"
            "LineTotal\r\nDocEntry;x;x;x;x;x;x;x;x;x;x;x\r\n"
            "5;1;20240301;C7;PLN;0;A;a;1;1;1,00;1,00\r\n")
    profile = profile_from_dict({"header_rows": 2, "names_row": 1, "columns": {"doc_entry": "ParentKey"}},
                                kind="invoices")
    [row] = rows(write(tmp_path, text), profile)
    assert row.doc_key == "13:5" and row.origin.line_no == 3


def test_renamed_columns_and_switched_off_ones(tmp_path):
    text = ("Nr;Data;Klient;Poz;Towar;Ilosc;Wartosc\n"
            "0042;15.01.2024;K1;0;T1;2;10,00\n")
    profile = profile_from_dict({"columns": {
        "doc_entry": "Nr", "doc_date": "Data", "card_code": "Klient", "line_num": "Poz", "item_code": "Towar",
        "quantity": "Ilosc", "line_total": "Wartosc", "doc_num": None, "currency": None, "description": None,
        "item_group": None, "price": None}}, kind="invoices")
    [row] = rows(write(tmp_path, text), profile)
    assert (row.doc_key, row.number, row.unit_price, row.line_total, row.currency) == \
        ("13:42", "", Decimal("5.0000"), Decimal("10.00"), "PLN")


def test_object_type_column_guards_against_the_wrong_kind(tmp_path):
    text = HEADER + ";ObjType\n1;1;20240115;C1;PLN;0;A;a;1;1;2,00;2,00;14\n"
    [row] = rows(write(tmp_path, text))
    assert isinstance(row, RowError) and "only object type 13" in row.reason


def test_service_lines_need_no_item_code(tmp_path):
    text = (HEADER + ";DocType\n"
            "1;1;20240115;C1;PLN;0;;Montaż;;1;100,00;100,00;S\n"
            "2;2;20240115;C1;PLN;0;;Montaż;;1;100,00;100,00;I\n")
    service, missing = rows(write(tmp_path, text))
    assert service.is_service and service.sku == "" and service.line.is_service
    assert isinstance(missing, RowError) and missing.reason == "missing key ItemCode"


def test_skipped_rows_are_not_errors(tmp_path):
    text = HEADER + ";CANCELED\n1;1;20240115;C1;PLN;0;A;a;1;1;2,00;2,00;C\n"
    [row] = rows(write(tmp_path, text))
    assert isinstance(row, SkippedRow) and row.origin.line_no == 2
