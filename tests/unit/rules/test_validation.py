"""validate_policy: every problem found, with stable codes and messages a marketer can act on."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

import rules
from rules import RuleValidationError

from .rulekit import act, cond, rule


def problems(doc) -> list[rules.ValidationMessage]:
    with pytest.raises(RuleValidationError) as info:
        rules.validate_policy(doc)
    assert info.value.errors, "an invalid document must say why"
    return info.value.errors


def one(doc, code) -> rules.ValidationMessage:
    found = [e for e in problems(doc) if e.code == code]
    assert found, [e.to_dict() for e in problems(doc)]
    return found[0]


def accrual(*rs) -> dict:
    return {"policy": "accrual", "rules": list(rs)}


EARN = act("earn_fixed", points=1)


def test_valid_document_round_trips_through_to_json():
    doc = accrual(
        rule("a", act("earn_percent", percent="2.5"), priority=3, description="d", stop_processing=True,
             conditions={"all": [cond("product_group", "equal_to", "110"),
                                 {"any": [cond("line_total", "greater_than", 0.1), cond("is_promo", "is_false")]}]},
             active_from="2025-01-01", active_until="2025-02-01T00:00:00+01:00"),
        rule("b", EARN, scope="document"))
    policy = rules.validate_policy(doc)
    assert isinstance(policy.rules, tuple) and policy.rules[0].priority == 3
    assert policy.rules[0].conditions.children[1].children[0].value == Decimal("0.1")  # no float drift
    normalised = policy.to_json()
    json.dumps(normalised)
    assert rules.validate_policy(normalised) == policy
    assert normalised["rules"][1]["conditions"] == {}
    assert policy.rules[1].conditions is None


def test_policy_document_is_immutable():
    policy = rules.validate_policy(accrual(rule("a", EARN)))
    with pytest.raises(AttributeError):
        policy.rules[0].priority = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        policy.rules[0].actions[0].params["points"] = 5  # type: ignore[index]


@pytest.mark.parametrize("doc,code", [
    ([], "not_an_object"), ("accrual", "not_an_object"), ({"rules": []}, "required"),
    ({"policy": "cashback", "rules": []}, "unknown_policy"), ({"policy": "accrual"}, "required"),
    ({"policy": "accrual", "rules": {}}, "invalid_type"), ({"policy": "accrual", "rules": [], "x": 1}, "unknown_field"),
])
def test_document_level_problems(doc, code):
    assert code in {e.code for e in problems(doc)}


def test_unknown_policy_lists_the_policies():
    message = one({"policy": "cashback", "rules": []}, "unknown_policy").message
    assert "cashback" in message and "accrual" in message and "tier" in message


def test_unknown_variable_names_rule_condition_and_allowed_variables():
    e = one(accrual(rule("vip", EARN, conditions={"all": [cond("sku", "equal_to", "A"),
                                                           cond("colour", "equal_to", "red")]})),
            "unknown_variable")
    assert e.rule_id == "vip" and e.path == "rules[0].conditions.all[1].name"
    assert "'vip'" in e.message and "conditions.all[1]" in e.message and "'colour'" in e.message
    assert "product_group" in e.message and "order_total" in e.message


def test_variable_from_another_policy_is_unknown():
    e = one(accrual(rule("x", EARN, conditions=cond("event_type", "equal_to", "review"))), "unknown_variable")
    assert "event_type" in e.message


def test_operator_not_valid_for_the_type():
    e = one(accrual(rule("big", EARN, conditions=cond("order_total", "contains", "1"))), "invalid_operator")
    assert e.path == "rules[0].conditions.operator"
    assert "'contains'" in e.message and "order_total" in e.message and "greater_than" in e.message


@pytest.mark.parametrize("leaf,code", [
    (cond("order_total", "greater_than", "a lot"), "invalid_value"),
    (cond("order_total", "greater_than", True), "invalid_value"),
    (cond("order_total", "greater_than", None), "required"),
    (cond("sku", "equal_to", 12), "invalid_value"),
    (cond("sku", "starts_with", ""), "empty_value"),
    (cond("weekday", "equal_to", "Monday"), "unknown_option"),
    (cond("channel", "equal_to_case_insensitive", "fax"), "unknown_option"),
    (cond("sku", "matches_regex", "([A-Z]+)+$"), "unsafe_regex"),
    (cond("sku", "matches_regex", "(\\d)\\1"), "unsafe_regex"),
    (cond("sku", "matches_regex", "x" * 300), "unsafe_regex"),
    (cond("sku", "matches_regex", "[unclosed"), "invalid_regex"),
    ({"name": "sku", "operator": "equal_to", "value": "A", "op": "x"}, "unknown_field"),
    ({"operator": "equal_to", "value": "A"}, "required"),
    ({"name": "sku", "value": "A"}, "required"),
    ({"all": []}, "empty_group"),
    ({"any": []}, "empty_group"),
    ({"all": [cond("sku", "equal_to", "A")], "any": [cond("sku", "equal_to", "B")]}, "mixed_condition"),
    ({"all": "sku"}, "invalid_condition"),
    ("sku == A", "invalid_condition"),
])
def test_condition_problems(leaf, code):
    e = one(accrual(rule("r1", EARN, conditions=leaf)), code)
    assert e.rule_id == "r1" and e.path.startswith("rules[0].conditions") and "'r1'" in e.message


def test_wrong_value_message_says_what_is_expected():
    e = one(accrual(rule("r", EARN, conditions=cond("line_total", "greater_than", "ten"))), "invalid_value")
    assert "number" in e.message and "'ten'" in e.message and "line_total" in e.message


def test_empty_group_message_explains_the_way_out():
    e = one(accrual(rule("r", EARN, conditions={"any": []})), "empty_group")
    assert "empty" in e.message and "always applies" in e.message


def test_no_input_operators_accept_and_drop_a_value():
    policy = rules.validate_policy(accrual(rule("r", EARN, conditions=cond("is_promo", "is_true", "yes"))))
    assert policy.rules[0].conditions.value is None


def test_deep_nesting_is_refused():
    node = cond("sku", "equal_to", "A")
    for _ in range(12):
        node = {"all": [node]}
    assert one(accrual(rule("deep", EARN, conditions=node)), "too_complex")


def test_line_variable_in_document_rule():
    e = one(accrual(rule("d", EARN, scope="document", conditions=cond("sku", "equal_to", "A"))),
            "line_variable_in_document_rule")
    assert "'sku'" in e.message and '"scope": "line"' in e.message and "order_total" in e.message


def test_default_scope_is_line_for_accrual_and_document_elsewhere():
    assert rules.validate_policy(accrual(rule("a", EARN))).rules[0].scope == "line"
    tier = rules.validate_policy({"policy": "tier", "rules": [rule("t", act("set_tier", name="gold"))]})
    assert tier.rules[0].scope == "document"
    e = one({"policy": "tier", "rules": [rule("t", act("set_tier", name="gold"), scope="line")]}, "scope_not_allowed")
    assert "'document'" in e.message


@pytest.mark.parametrize("action,code", [
    ({"name": "earn_bonus", "params": {}}, "unknown_action"),
    (act("earn_fixed"), "missing_param"),
    (act("earn_fixed", points=1, extra=2), "unknown_param"),
    (act("earn_fixed", points="many"), "invalid_param"),
    (act("earn_fixed", points=True), "invalid_param"),
    (act("earn_per_amount", points=1, amount=0), "param_out_of_range"),
    (act("multiply", factor=-2), "param_out_of_range"),
    ({"name": "exclude", "params": [], }, "invalid_type"),
    ({"name": "exclude", "when": "now"}, "unknown_field"),
    ({"params": {}}, "required"),
    ("exclude", "invalid_action"),
])
def test_action_problems(action, code):
    e = one(accrual({"id": "act", "actions": [action]}), code)
    assert e.rule_id == "act" and e.path.startswith("rules[0].actions[0]")


def test_unknown_action_lists_the_allowed_ones():
    e = one(accrual(rule("a", {"name": "give_points", "params": {}})), "unknown_action")
    assert "give_points" in e.message and "earn_percent" in e.message and "multiply" in e.message


def test_missing_param_says_what_the_param_is():
    e = one(accrual(rule("a", act("earn_per_amount", points=1))), "missing_param")
    assert "'amount'" in e.message and "between 0.01 and" in e.message  # a divisor: at least 0.01


def test_action_scope_is_checked():
    e = one({"policy": "redemption", "rules": [rule("x", act("exclude_line"), scope="document")]},
            "action_not_allowed_in_scope")
    assert "line" in e.message and "max_points" in e.message


def test_integer_params():
    assert one({"policy": "expiry", "rules": [rule("x", act("expire_after_months", months="1.5"))]}, "invalid_param")
    policy = rules.validate_policy({"policy": "expiry", "rules": [rule("x", act("expire_after_months", months="6"))]})
    assert policy.rules[0].actions[0].params["months"] == 6


@pytest.mark.parametrize("fields,code", [
    ({"priority": "high"}, "invalid_type"), ({"priority": 1.5}, "invalid_type"), ({"priority": True}, "invalid_type"),
    ({"stop_processing": "yes"}, "invalid_type"), ({"scope": "order"}, "invalid_choice"),
    ({"active_from": "tomorrow"}, "invalid_type"), ({"active_from": "2025-01-01T10:00:00"}, "invalid_type"),
    ({"colour": "red"}, "unknown_field"), ({"id": ""}, "too_short"), ({"actions": []}, "too_short"),
])
def test_rule_field_problems(fields, code):
    e = one(accrual(dict(rule("f", EARN), **fields)), code)
    field = next(iter(fields))
    assert e.path == f"rules[0].{field}" and field in e.message


def test_missing_id_and_actions():
    codes = {(e.path, e.code) for e in problems(accrual({"conditions": {}}))}
    assert ("rules[0].id", "required") in codes and ("rules[0].actions", "required") in codes


def test_active_until_must_be_after_active_from():
    e = one(accrual(rule("p", EARN, active_from="2025-03-01", active_until="2025-02-28")), "invalid_period")
    assert "active_until" in e.message and "never apply" in e.message
    assert rules.validate_policy(accrual(rule("p", EARN, active_from="2025-03-01", active_until="2025-03-01")))
    one(accrual(rule("p", EARN, active_from="2025-03-01T10:00:00+00:00", active_until="2025-03-01T10:00:00+00:00")),
        "invalid_period")


def test_duplicate_ids():
    e = one(accrual(rule("same", EARN), rule("other", EARN), rule("same", EARN)), "duplicate_id")
    assert e.path == "rules[2].id" and "#1" in e.message


def test_every_problem_is_reported_not_only_the_first():
    errors = problems(accrual(rule("a", {"name": "nope"}), rule("b", EARN, priority="x"), 7))
    assert {e.path.split(".")[0] for e in errors} == {"rules[0]", "rules[1]", "rules[2]"}
    assert all(set(e.to_dict()) == {"rule_id", "path", "code", "message"} for e in errors)


def test_names_never_reach_python_attributes():
    for name in ("__class__", "__init__", "_context", "get_all_variables", "mro"):
        one(accrual(rule("x", EARN, conditions=cond(name, "equal_to", "a"))), "unknown_variable")
    for name in ("__init__", "_record", "intents", "get_all_actions", "specs"):
        one(accrual(rule("x", {"name": name, "params": {}})), "unknown_action")
    one(accrual(rule("x", EARN, conditions=cond("sku", "__eq__", "a"))), "invalid_operator")
    one(accrual(rule("x", EARN, conditions=cond("sku", "_assert_valid_value_and_cast", "a"))), "invalid_operator")


def test_error_summary_and_to_dict():
    with pytest.raises(RuleValidationError) as info:
        rules.validate_policy(accrual(rule("a", {"name": "nope"}), rule("a", EARN)))
    assert "(and 1 more problem)" in str(info.value)
    assert info.value.to_dict()["errors"][0]["code"] == "unknown_action"
