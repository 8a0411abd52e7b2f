"""The shipped defaults validate and behave; the exported vocabulary describes everything."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

import rules
from rules.facts import LotFacts, MemberFacts
from rules.vocabulary import VOCABULARIES

from .rulekit import make_doc, make_line

POLICIES = ("accrual", "redemption", "event", "referral", "birthday", "mission", "expiry", "tier")


def test_every_policy_and_the_settings_ship_a_default_that_validates():
    defaults = rules.default_policies()
    assert set(defaults) == set(POLICIES) | {"settings"}
    for name in POLICIES:
        policy = rules.validate_policy(defaults[name])
        assert policy.policy == name and policy.rules
        assert rules.validate_policy(policy.to_json()) == policy
    assert rules.validate_settings(defaults["settings"]) == rules.DEFAULT_SETTINGS


def test_default_accrual_is_the_wholesaler_program():
    policy = rules.compile_policy(rules.validate_policy(rules.default_policies()["accrual"]), version=1)
    doc = make_doc(make_line("1", "99.99"), make_line("2", "250", product_group="100"),
                   make_line("3", "100", product_group="120"), make_line("4", "500", is_promo=True),
                   make_line("5", "35", product_group="110"), document_type="invoice")
    r = rules.evaluate_accrual(policy, doc, MemberFacts(), rules.DEFAULT_SETTINGS)
    assert [line.points for line in r.lines] == [D(9), D(50), D(5), D(0), D("4.5")]
    assert r.points == D(68)  # 68.5 rounded down once
    correction = make_doc(*doc.lines, document_type="correction")
    assert rules.evaluate_accrual(policy, correction, MemberFacts(), rules.DEFAULT_SETTINGS).points == 0


def test_default_expiry_is_twelve_months_with_a_thirty_day_warning():
    policy = rules.compile_policy(rules.validate_policy(rules.default_policies()["expiry"]))
    lot = LotFacts("accrual", datetime(2025, 6, 15, 8, tzinfo=UTC))
    r = rules.evaluate_expiry(policy, lot, MemberFacts(), rules.DEFAULT_SETTINGS)
    assert r.expires_at == datetime(2026, 6, 15, 8, tzinfo=UTC) and r.warn_days_before == 30


def test_default_policies_are_fresh_copies():
    first = rules.default_policies()
    first["accrual"]["rules"].clear()
    assert rules.default_policies()["accrual"]["rules"]


def test_export_is_business_rules_export_plus_scopes():
    everything = rules.export_vocabulary()
    assert set(everything) == set(POLICIES)
    json.dumps(everything)
    accrual = rules.export_vocabulary("accrual")
    assert set(accrual) >= {"variables", "actions", "variable_type_operators", "scopes", "variables_by_kind"}
    names = {v["name"]: v for v in accrual["variables"]}
    spec = {"sku", "product_group", "brand", "quantity", "unit_price", "line_total", "is_promo",
            "product_points_per_unit", "document_type", "channel", "store", "order_total", "currency", "weekday",
            "member_group", "tier", "days_since_registration", "orders_count", "turnover_12m", "is_birthday",
            "referral_count", "points_balance"}
    assert spec <= set(names)
    assert names["sku"]["kind"] == "line" and names["sku"]["scopes"] == ["line"]
    assert names["order_total"]["field_type"] == "numeric" and names["order_total"]["scopes"] == ["line", "document"]
    assert names["weekday"]["options"][0] == "monday"
    assert {op["name"] for op in accrual["variable_type_operators"]["numeric"]} >= {"greater_than", "equal_to"}
    actions = {a["name"]: a for a in accrual["actions"]}
    assert set(actions) == {"earn_percent", "earn_per_amount", "earn_per_unit", "earn_catalog_points", "earn_fixed",
                            "multiply", "exclude", "cap"}
    amount = {p["name"]: p for p in actions["earn_per_amount"]["params"]}["amount"]
    assert amount["fieldType"] == "numeric" and amount["label"] == "Amount"
    # a divisor: strictly positive through an inclusive minimum of 0.01 (rules.limits.AMOUNT_STEP)
    assert amount["minimum"] == "0.01" and amount["min"] == 0.01 and not amount["exclusive_minimum"]
    assert accrual["variables_by_kind"]["member"][0] == "member_group"


@pytest.mark.parametrize("policy,actions", [
    ("redemption", {"set_point_value", "max_percent_of_order", "min_order_total", "max_points", "exclude_line",
                    "shipping_only"}),
    ("event", {"award", "award_referrer", "award_referee", "activation_delay_days", "expire_after_days"}),
    ("mission", {"progress_amount", "progress_quantity", "exclude_from_accrual"}),
    ("expiry", {"expire_after_months", "expire_after_days", "expire_end_of_month", "never_expire", "warn_days_before"}),
    ("tier", {"set_tier", "tier_discount_percent", "tier_multiplier"}),
])
def test_spec_actions_are_exported(policy, actions):
    exported = {a["name"] for a in rules.export_vocabulary(policy)["actions"]}
    assert actions <= exported


def test_event_variables_are_exported_with_their_kind():
    names = {v["name"]: v for v in rules.export_vocabulary("event")["variables"]}
    assert names["event_type"]["kind"] == "event" and names["event_attributes"]["field_type"] == "select"
    assert "line_total" not in names and names["turnover_12m"]["kind"] == "member"


def test_unknown_policy_export():
    with pytest.raises(KeyError):
        rules.export_vocabulary("cashback")


def test_every_variable_getter_reads_its_facts():
    """Each declared variable can be read from facts (no typo in a getter)."""
    from rules.facts import EventFacts
    from rules.variables import Context
    doc = make_doc(make_line(sku="A", product_points_per_unit=None))
    for vocab in VOCABULARIES.values():
        ctx = Context(doc=doc, member=MemberFacts(), event=EventFacts("x", {"amount": "2", "n": [1]}),
                      lot=LotFacts("accrual", datetime(2025, 1, 1, tzinfo=UTC)),
                      tz=rules.DEFAULT_SETTINGS.tz).for_line(doc.lines[0])
        for variable in vocab.line + vocab.document:
            value = variable.getter(ctx)
            variable.field_type(value)  # business-rules accepts the value's type
