"""Program settings: defaults, both accepted shapes, validation, rounding."""
from __future__ import annotations

import json
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

import rules


def test_defaults_are_the_spec_defaults():
    s = rules.DEFAULT_SETTINGS
    assert (s.currency, s.precision, s.rounding, s.accrue_on, s.holding_days) == ("PLN", 0, "down", "fulfilled", 0)
    assert s.default_lifetime_months == 12 and s.negative_balance_allowed and s.visibility == "everyone"
    assert s.time_zone == "Europe/Warsaw" and s.tz == ZoneInfo("Europe/Warsaw") and s.point_value == D(1)
    assert s.excluded_groups == () and s.phone_regions == ("PL",)


def test_both_shapes_are_accepted_and_to_json_round_trips():
    flat = rules.validate_settings({"precision": 2, "point_value": "0.5", "excluded_groups": ["EMP"]})
    wrapped = rules.validate_settings({"policy": "settings", "settings": {"precision": 2, "point_value": 0.5,
                                                                           "excluded_groups": ["EMP"]}})
    assert flat == wrapped and flat.point_value == D("0.5") and flat.excluded_groups == ("EMP",)
    as_json = flat.to_json()
    json.dumps(as_json)
    assert as_json["policy"] == "settings" and rules.validate_settings(as_json) == flat
    assert rules.validate_settings({"default_lifetime_months": None}).default_lifetime_months is None


@pytest.mark.parametrize("body,path,code", [
    ({"precision": 5}, "settings.precision", "out_of_range"),
    ({"precision": "2"}, "settings.precision", "invalid_type"),
    ({"rounding": "nearest"}, "settings.rounding", "invalid_choice"),
    ({"accrue_on": "placed"}, "settings.accrue_on", "invalid_choice"),
    ({"point_value": 0}, "settings.point_value", "out_of_range"),
    ({"point_value": "free"}, "settings.point_value", "invalid_type"),
    ({"holding_days": -1}, "settings.holding_days", "out_of_range"),
    ({"currency": "zloty"}, "settings.currency", "invalid_value"),
    ({"negative_balance_allowed": "no"}, "settings.negative_balance_allowed", "invalid_type"),
    ({"time_zone": "Europe/Atlantis"}, "settings.time_zone", "unknown_time_zone"),
    ({"phone_regions": ["pl"]}, "settings.phone_regions[0]", "invalid_value"),
    ({"precison": 2}, "settings.precison", "unknown_field"),
])
def test_invalid_settings(body, path, code):
    with pytest.raises(rules.RuleValidationError) as info:
        rules.validate_settings(body)
    e = info.value.errors[0]
    assert (e.path, e.code) == (path, code), e
    assert e.message.startswith("Settings:")


def test_wrapped_shape_problems():
    for doc in ({"policy": "accrual", "settings": {}}, {"policy": "settings", "settings": []},
                {"policy": "settings", "settings": {}, "extra": 1}, []):
        with pytest.raises(rules.RuleValidationError):
            rules.validate_settings(doc)


def test_unknown_field_message_lists_the_settings():
    with pytest.raises(rules.RuleValidationError) as info:
        rules.validate_settings({"precison": 2})
    assert "precision" in info.value.errors[0].message and "time_zone" in info.value.errors[0].message


@pytest.mark.parametrize("rounding,precision,value,expected", [
    ("down", 0, "2.99", "2"), ("down", 0, "-2.99", "-2"), ("up", 0, "2.01", "3"), ("half_up", 1, "2.25", "2.3"),
    ("half_even", 1, "2.25", "2.2"), ("half_even", 0, "3.5", "4"), ("down", 4, "1.23456", "1.2345"),
])
def test_round_points(rounding, precision, value, expected):
    s = rules.ProgramSettings(rounding=rounding, precision=precision)
    assert str(s.round_points(D(value))) == expected
