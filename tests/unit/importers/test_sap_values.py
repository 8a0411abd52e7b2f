"""Cell values of SAP B1 files: exact decimals, dates, enums (importers/sap_b1/values.py)."""
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from importers.sap_b1.values import (
    CANCEL_STATUS,
    CARD_TYPE,
    BadValue,
    make_date_parser,
    make_decimal_parser,
    make_local_midnight,
)

comma = make_decimal_parser(",")
point = make_decimal_parser(".")


@pytest.mark.parametrize("text, expected", [
    ("12,50", "12.50"), ("12", "12"), ("-3,5", "-3.5"), ("+7", "7"), (",5", "0.5"), (" 34,80 ", "34.80"),
    ("1 234,50", "1234.50"), ("1\xa0234,50", "1234.50"), ("1\u202f234\u202f567,1", "1234567.1"),
    ("1.234,50", "1234.50"), ("12.345.678", "12345678"), ("1 234", "1234"), ("-1 234,00", "-1234.00"),
    ("1,5E+03", "1500"), ("2E-2", "0.02"), ("0,00001", "0.00001"),
])
def test_decimal_comma_numbers(text, expected):
    value = comma(text, "Quantity")
    assert value == Decimal(expected) and str(value) == expected and isinstance(value, Decimal)


@pytest.mark.parametrize("text, expected", [
    ("1234.50", "1234.50"), ("1,234.50", "1234.50"), ("1 234.5", "1234.5"), ("-0.5", "-0.5"),
])
def test_decimal_point_numbers(text, expected):
    assert str(point(text, "Price")) == expected


@pytest.mark.parametrize("parser, text, fragment", [
    (comma, "12,3,4", 'unparseable number "12,3,4" in column Quantity'),
    (comma, "1234.50", "decimal separator is ','"),
    (comma, "1.234", "ambiguous"),
    (point, "1,234", "ambiguous"),
    (point, "12,5", "decimal separator is '.'"),
    (comma, "1 23,4", "unparseable"),
    (comma, "1,23457E+11", "scientific notation"),
    (comma, "NaN", "unparseable"), (comma, "Infinity", "unparseable"), (comma, "1_000", "unparseable"),
    (comma, "²", "unparseable"), (comma, "12 zł", "unparseable"),
])
def test_refused_numbers_say_why(parser, text, fragment):
    with pytest.raises(BadValue) as caught:
        parser(text, "Quantity")
    assert fragment in str(caught.value)


def test_empty_number_is_none():
    assert comma("  ", "Price") is None and comma("", "Price") is None


def test_cached_numbers_stay_exact():
    parse = make_decimal_parser(",", cache_size=2)
    values = [parse(t, "x") for t in ("1,10", "2,20", "3,30", "1,10", "2,20")]
    assert values == [Decimal("1.10"), Decimal("2.20"), Decimal("3.30"), Decimal("1.10"), Decimal("2.20")]


dates = make_date_parser(("%Y%m%d", "%d.%m.%Y", "iso"))


@pytest.mark.parametrize("text", ["20240115", "15.01.2024", "2024-01-15", "2024-01-15 00:00:00.000",
                                  "2024-01-15T00:00", "15.01.2024 00:00:00"])
def test_dates_in_every_configured_format(text):
    assert dates(text, "DocDate") == date(2024, 1, 15)


@pytest.mark.parametrize("text", ["2024-13-01", "31.02.2024", "15/01/2024", "2024-01-15 13:45", "yesterday"])
def test_bad_dates_are_refused_with_the_formats_expected(text):
    with pytest.raises(BadValue) as caught:
        dates(text, "DocDate")
    assert f'bad date "{text}" in column DocDate' in str(caught.value)
    assert "YYYYMMDD, DD.MM.YYYY, YYYY-MM-DD" in str(caught.value)


def test_only_listed_formats_are_tried():
    only_polish = make_date_parser(("%d.%m.%Y",))
    with pytest.raises(BadValue):
        only_polish("20240115", "DocDate")


def test_local_midnight_is_aware_utc_across_dst():
    midnight = make_local_midnight("Europe/Warsaw")
    assert midnight(date(2024, 1, 15)) == datetime(2024, 1, 14, 23, tzinfo=UTC)
    assert midnight(date(2024, 7, 15)) == datetime(2024, 7, 14, 22, tzinfo=UTC)
    assert midnight(date(2024, 7, 15)).tzinfo is UTC


def test_sap_and_dtw_enum_spellings():
    assert [CANCEL_STATUS(v, "CANCELED") for v in ("Y", "N", "C", "", "tYES", "tNO", "csCancellation")] == \
        ["Y", "N", "C", "N", "Y", "N", "C"]
    assert [CARD_TYPE(v, "CardType") for v in ("C", "cCustomer", "S", "L")] == ["C", "C", "S", "L"]
    with pytest.raises(BadValue, match='unknown cancel status value "X" in column CANCELED'):
        CANCEL_STATUS("X", "CANCELED")
    with pytest.raises(BadValue, match="missing CardType"):
        CARD_TYPE("", "CardType")
