"""Import profiles: SAP defaults and validated JSON overrides (importers/sap_b1/profiles.py)."""
import dataclasses
import json
from decimal import Decimal

import pytest

from importers.sap_b1.profiles import KINDS, Profile, ProfileError, default_profile, profile_from_dict


def test_defaults_use_sap_field_names_from_the_spec():
    invoices = default_profile("invoices")
    assert [invoices.columns[k] for k in ("doc_entry", "doc_num", "doc_date", "card_code", "currency",
                                          "line_num", "item_code", "description", "item_group", "quantity",
                                          "price", "line_total", "cancelled")] == \
        "DocEntry DocNum DocDate CardCode DocCur LineNum ItemCode Dscription ItmsGrpCod Quantity Price " \
        "LineTotal CANCELED".split()
    assert default_profile("credit_notes").columns["base_entry"] == "BaseEntry"
    assert default_profile("customers").columns["email"] == "E_Mail"
    assert default_profile("catalog").columns["redeemable"] == "RedeemableForPoints"
    assert (invoices.encoding, invoices.delimiter, invoices.decimal_separator, invoices.phone_regions,
            invoices.timezone, invoices.currency, invoices.header_rows) == \
        ("cp1250", None, ",", ("PL",), "Europe/Warsaw", "PLN", 1)


def test_every_kind_has_a_default():
    assert {default_profile(kind).kind for kind in KINDS} == set(KINDS)


def test_overrides_merge_onto_the_defaults():
    profile = profile_from_dict({
        "columns": {"quantity": "Ilosc", "doc_num": None}, "encoding": "windows-1250", "delimiter": "tab",
        "decimal_separator": ".", "date_formats": ["%d/%m/%Y", "iso"], "header_rows": 2, "names_row": 2,
        "phone_regions": ["pl", "de"], "timezone": "Europe/Berlin", "currency": "eur",
        "fixed_encoding": True}, kind="invoices")
    assert profile.columns["quantity"] == "Ilosc" and profile.columns["doc_num"] is None
    assert profile.columns["doc_entry"] == "DocEntry"
    assert (profile.encoding, profile.delimiter, profile.decimal_separator, profile.date_formats) == \
        ("cp1250", "\t", ".", ("%d/%m/%Y", "iso"))
    assert (profile.phone_regions, profile.currency, profile.header_rows, profile.names_row) == \
        (("PL", "DE"), "EUR", 2, 2)


def test_profile_round_trips_through_json():
    profile = profile_from_dict({"points_per_price_unit": "2.5", "columns": {"price": "Cena"}}, kind="catalog")
    again = profile_from_dict(json.loads(json.dumps(profile.to_dict())))
    assert again == profile and again.points_per_price_unit == Decimal("2.5")


def test_every_problem_is_listed_in_one_clear_error():
    with pytest.raises(ProfileError) as caught:
        profile_from_dict({
            "kind": "invoices", "encodng": "cp1250", "encoding": "klingon", "delimiter": "ab",
            "decimal_separator": ";", "date_formats": ["%d.%m"], "header_rows": 5, "phone_regions": ["XX"],
            "timezone": "Mars/Olympus", "currency": "zloty",
            "columns": {"doc_entry": None, "colour": "Farbe", "quantity": "Price"}})
    message = str(caught.value)
    for fragment in ("unknown setting(s) encodng", '"klingon" is not an encoding', "delimiter:",
                     "decimal_separator:", "does not give back a full date", "header_rows: must be 1, 2 or 3",
                     "unknown region code(s) XX", "Mars/Olympus", "three-letter currency",
                     '"doc_entry" is required and cannot be switched off', '"colour" is not a invoices field',
                     "the same header is used for several fields: price"):
        assert fragment in message, fragment


def test_kind_must_be_known_and_consistent():
    with pytest.raises(ProfileError, match="Unknown file kind"):
        default_profile("orders")
    with pytest.raises(ProfileError, match="is used for"):
        profile_from_dict({"kind": "customers"}, kind="invoices")
    with pytest.raises(ProfileError, match="names_row is 2"):
        profile_from_dict({"names_row": 2}, kind="customers")


def test_profile_is_frozen_and_fills_missing_columns():
    profile = Profile(kind="customers", columns={"card_code": "Kod"})
    assert profile.columns["card_code"] == "Kod" and profile.columns["email"] == "E_Mail"
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.kind = "invoices"
