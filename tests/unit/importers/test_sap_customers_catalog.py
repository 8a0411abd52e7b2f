"""Customer and catalog files: CustomerDoc / ProductDoc, phones, e-mails, reward prices (importers/sap_b1)."""
from datetime import date
from decimal import Decimal

import pytest

from engine.domain import CustomerDoc, ProductDoc, RowError
from importers.sap_b1 import SkippedRow, default_profile, open_file, profile_from_dict
from importers.sap_b1.card_rows import erp_phone, first_email

CUSTOMERS = (
    "CardCode;CardName;CardType;LicTradNum;Phone1;Cellular;E_Mail;GroupCode;CreateDate;BirthDate\r\n"
    "C001;Hydro-Instal Sp. z o.o.;C;PL5250000000;22 123 45 67;601 234 567;Biuro@Hydro.PL;110;20200115;\r\n"
    'C002;Jan Kowalski;C;;+48 601 234 568 wew. 12;;"jan@x.pl; jan2@x.pl";100;15.02.2021;01.05.1980\r\n'
    "C003;Anna Nowak;cCustomer;;48601234569;;not-an-email;100;2021-03-01;\r\n"
    "S001;Dostawca;S;;;;;;20200101;\r\n"
    "L001;Lead;L;;;;;;20200101;\r\n"
    ";Bez kodu;C;;;;;;20200101;\r\n"
    "C004;Zły typ;X;;;;;;20200101;\r\n"
    "C005;Zła data;C;;;;;;2020-02-30;\r\n"
    "C006;Infolinia;C;;800 123 456;;;;20200101;\r\n"
)


def customer_rows(tmp_path, text=CUSTOMERS, profile=None):
    path = tmp_path / "CUST.csv"
    path.write_bytes(text.encode("cp1250"))
    with open_file(path, profile or default_profile("customers")) as f:
        return list(f)


def test_customers_become_customer_docs(tmp_path):
    rows = customer_rows(tmp_path)
    company, person, excel = rows[:3]
    assert isinstance(company, CustomerDoc)
    assert (company.source, company.external_id, company.name, company.tax_id, company.is_company,
            company.group, company.registered_at, company.birth_date) == \
        ("sap_b1", "C001", "Hydro-Instal Sp. z o.o.", "PL5250000000", True, "110", date(2020, 1, 15), None)
    assert (company.phone, company.phone_raw, company.email) == ("+48601234567", "601 234 567", "biuro@hydro.pl")
    assert (person.phone, person.email, person.is_company, person.birth_date) == \
        ("+48601234568", "jan@x.pl", False, date(1980, 5, 1))
    assert (excel.phone, excel.phone_raw, excel.email) == ("+48601234569", "48601234569", None)
    assert company.origin.line_no == 2 and company.origin.name == "CUST.csv"


def test_suppliers_and_leads_are_skipped_and_bad_rows_quarantined(tmp_path):
    rows = customer_rows(tmp_path)
    skipped = [r for r in rows if isinstance(r, SkippedRow)]
    assert [(s.origin.line_no, s.extra["card_code"]) for s in skipped] == [(5, "S001"), (6, "L001")]
    assert "supplier" in skipped[0].reason and "lead" in skipped[1].reason
    errors = [r for r in rows if isinstance(r, RowError)]
    assert [(e.origin.line_no, e.reason) for e in errors] == [
        (7, "missing key CardCode"),
        (8, 'unknown card type value "X" in column CardType (expected C, L, S)'),
        (9, 'bad date "2020-02-30" in column CreateDate (expected one of: YYYYMMDD, DD.MM.YYYY, YYYY-MM-DD)'),
    ]


def test_toll_free_number_is_kept_raw_but_never_a_key(tmp_path):
    last = customer_rows(tmp_path)[-1]
    assert isinstance(last, CustomerDoc) and last.phone is None and last.phone_raw == "800 123 456"


def test_customer_file_without_card_type_imports_everyone(tmp_path):
    text = ("CardCode;CardName;LicTradNum;Phone1;Cellular;E_Mail;GroupCode;CreateDate\n"
            "C1;A;;;;;;20200101\n")
    [row] = customer_rows(tmp_path, text)
    assert isinstance(row, CustomerDoc) and row.phone is None and row.phone_raw == ""


def test_phone_regions_come_from_the_profile(tmp_path):
    text = ("CardCode;CardName;LicTradNum;Phone1;Cellular;E_Mail;GroupCode;CreateDate\n"
            "C1;A;;;8 (912) 345-67-89;;;20200101\n")
    [polish] = customer_rows(tmp_path, text)
    assert polish.phone is None and polish.phone_raw == "8 (912) 345-67-89"
    [russian] = customer_rows(tmp_path, text, profile_from_dict({"phone_regions": ["RU"]}, kind="customers"))
    assert russian.phone == "+79123456789"


@pytest.mark.parametrize("raws, expected", [
    (["601 234 567", "22 123 45 67"], ("+48601234567", "601 234 567")),
    (["12", "22 123 45 67"], ("+48221234567", "22 123 45 67")),  # invalid cellular: Phone1 wins
    (["0048601234567"], ("+48601234567", "0048601234567")),
    (["4915123456789"], (None, "4915123456789")),  # a German number without "+": not one of our regions
    (["", ""], (None, "")),
])
def test_erp_phone_choice(raws, expected):
    assert erp_phone(raws, ("PL",)) == expected


@pytest.mark.parametrize("value, expected", [
    ("Jan@X.pl", "jan@x.pl"), ("a@x.pl; b@y.pl", "a@x.pl"), ("bad; b@y.pl", "b@y.pl"), ("<a@b.pl>", "a@b.pl"),
    ("jan@", None), ("", None), ("jan@localhost", None),
])
def test_first_email(value, expected):
    assert first_email(value) == expected


CATALOG = (
    "ItemCode;ItemName;ItmsGrpCod;Price;Currency;PictureURL;RedeemableForPoints\r\n"
    "R1;Wycieczka do Rzymu;900;5 000,00;PLN;https://cdn.example/rzym.jpg;25 000\r\n"
    "R2;Kubek;900;20,01;;;Y\r\n"
    "P1;Rura;110;3,50;PLN;;N\r\n"
    "P2;Kolano;110;;;;\r\n"
    "R3;Zły;900;10,00;PLN;;-5\r\n"
    "R4;Bez ceny;900;;PLN;;tYES\r\n"
    ";Bez kodu;900;1,00;PLN;;\r\n"
    "R5;Zero;900;1,00;PLN;;0\r\n"
)


def catalog_rows(tmp_path, profile):
    path = tmp_path / "CAT.csv"
    path.write_bytes(CATALOG.encode("cp1250"))
    with open_file(path, profile) as f:
        return list(f)


def test_catalog_rows_with_points_prices(tmp_path):
    rows = catalog_rows(tmp_path, profile_from_dict({"points_per_price_unit": "10"}, kind="catalog"))
    trip, mug, pipe, elbow = rows[:4]
    assert isinstance(trip, ProductDoc)
    assert (trip.sku, trip.name, trip.product_group, trip.price, trip.currency, trip.picture_url,
            trip.redeemable_for_points) == ("R1", "Wycieczka do Rzymu", "900", Decimal("5000.00"), "PLN",
                                           "https://cdn.example/rzym.jpg", Decimal("25000"))
    assert mug.redeemable_for_points == Decimal("201") and mug.currency == "PLN"  # 200.1 rounded up
    assert pipe.redeemable_for_points is None and pipe.price == Decimal("3.50")
    assert (elbow.price, elbow.currency, elbow.redeemable_for_points) == (None, "", None)
    assert rows[-1].redeemable_for_points is None
    errors = [r for r in rows if isinstance(r, RowError)]
    assert [(e.origin.line_no, e.reason) for e in errors] == [
        (6, 'negative points price "-5" in column RedeemableForPoints'),
        (7, "RedeemableForPoints is tYES but the row has no price to turn into points"),
        (8, "missing key ItemCode"),
    ]


def test_catalog_yes_flag_without_a_profile_rate_is_priced_by_the_program(tmp_path):
    rows = catalog_rows(tmp_path, default_profile("catalog"))
    trip, mug, pipe, elbow = rows[:4]
    assert (mug.reward, mug.redeemable_for_points, mug.price) == (True, None, Decimal("20.01"))
    assert (trip.reward, trip.redeemable_for_points) == (True, Decimal("25000"))
    assert pipe.reward is False and elbow.reward is False  # N, and an empty flag: not rewards
    assert rows[-1].reward is False  # 0 points: not a reward


def test_catalog_stock_column_when_the_profile_maps_it(tmp_path):
    path = tmp_path / "STOCK.csv"
    path.write_bytes(b"ItemCode;ItemName;ItmsGrpCod;Price;Currency;PictureURL;RedeemableForPoints;OnHand\r\n"
                     b"R1;Kubek;900;;PLN;;100;7\r\nR2;Plecak;900;;PLN;;50;-1\r\nR3;Rower;900;;PLN;;50;2,5\r\n")
    with open_file(path, profile_from_dict({"columns": {"stock": "OnHand"}}, kind="catalog")) as f:
        rows = list(f)
    assert rows[0].stock == 7
    assert [r.reason for r in rows[1:]] == ['stock "-1" in column OnHand is not a whole number of at least 0',
                                           'stock "2.5" in column OnHand is not a whole number of at least 0']


def test_catalog_tags_column_feeds_the_rules_line_tags(tmp_path):
    path = tmp_path / "TAGS.csv"
    path.write_text("ItemCode;ItemName;ItmsGrpCod;Price;Currency;PictureURL;RedeemableForPoints;Tags\r\n"
                    "E1;Zawór eko;110;10,00;PLN;;N;eco| new ,Eco\r\n"
                    "E2;Rura;120;5,00;PLN;;N;\r\n"
                    f"E3;Zbyt wiele;120;5,00;PLN;;N;{'|'.join(f't{n}' for n in range(21))}\r\n"
                    f"E4;Za długi;120;5,00;PLN;;N;{'x' * 41}\r\n", encoding="utf-8")
    with open_file(path, default_profile("catalog")) as f:
        eco, plain, many, long_tag = list(f)
    assert eco.tags == ("eco", "new") and plain.tags == ()  # trimmed, repeats (case ignored) dropped
    assert isinstance(many, RowError) and many.reason == "Tags: a product has at most 20 tags, not 21"
    assert isinstance(long_tag, RowError) and "longer than 40 characters" in long_tag.reason
    without = catalog_rows(tmp_path, profile_from_dict({"points_per_price_unit": "10"}, kind="catalog"))
    assert without[0].tags is None  # a file without the column leaves the catalog's tags alone
