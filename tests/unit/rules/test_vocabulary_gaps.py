"""Order codes, line tags and bundles priced in points: against business-rules' own classes."""
from __future__ import annotations

from decimal import Decimal as D

import pytest
from business_rules.engine import check_condition, do_actions

import rules
from rules.facts import MemberFacts
from rules.variables import Context
from rules.vocabulary import vocabulary

from .rulekit import act, cond, make_doc, make_line, rule

SETTINGS = rules.DEFAULT_SETTINGS
TAG_SETS = [(), ("eco",), ("ECO", "new"), ("new", "sale"), ("eco", "eco")]
TAG_VALUES = [["eco"], ["Eco", "sale"], ["new", "sale"], ["x"], ["eco", "eco"]]
MULTI_OPS = ("contains_all", "is_contained_by", "shares_at_least_one_element_with",
             "shares_exactly_one_element_with", "shares_no_elements_with")


def accrual(*rule_docs):
    return {"policy": "accrual", "rules": list(rule_docs)}


def both(doc, facts):
    """(compiled points, business-rules reference points) of an accrual document."""
    policy = rules.validate_policy(doc)
    fast = rules.evaluate_accrual(rules.compile_policy(policy), facts, MemberFacts(), SETTINGS)
    return fast.points, rules.reference_accrual(policy, facts, MemberFacts(), SETTINGS)


@pytest.mark.parametrize("tags", TAG_SETS)
@pytest.mark.parametrize("value", TAG_VALUES)
@pytest.mark.parametrize("operator", MULTI_OPS)
def test_line_tags_operators_match_business_rules(tags, value, operator):
    """The compiled condition equals business-rules' own check on the generated variables class."""
    line = make_line(total="10", line_tags=tags)
    ctx = Context(doc=make_doc(line)).for_line(line)
    leaf = cond("line_tags", operator, value)
    expected = check_condition(leaf, vocabulary("accrual").variables_class("line")(ctx))
    fast, reference = both(accrual(rule("t", act("earn_fixed", points=5), conditions={"all": [leaf]})),
                           make_doc(line))
    assert fast == reference == (D(5) if expected else D(0))


@pytest.mark.parametrize("codes,operator,value,earns", [
    (("SUMMER10",), "contains", "SUMMER10", True),
    (("summer10", "FREESHIP"), "contains", "SUMMER10", True),  # business-rules ignores case
    ((), "contains", "SUMMER10", False),
    (("WINTER",), "contains", "SUMMER10", False),
    (("WINTER",), "does_not_contain", "SUMMER10", True),
    (("SUMMER10",), "does_not_contain", "summer10", False),
])
def test_order_codes_earn_only_with_the_code(codes, operator, value, earns):
    doc = accrual(rule("code", act("earn_fixed", points=50), scope="document",
                       conditions={"all": [cond("order_codes", operator, value)]}))
    facts = make_doc(make_line(total="100"), codes=codes)
    ctx = Context(doc=facts)
    assert check_condition(cond("order_codes", operator, value),
                           vocabulary("accrual").variables_class("document")(ctx)) is earns
    assert both(doc, facts) == ((D(50), D(50)) if earns else (D(0), D(0)))


def test_a_line_rule_may_test_the_order_codes_and_the_tags_together():
    doc = accrual(rule("eco-with-code", act("earn_per_unit", points=2), conditions={"all": [
        cond("order_codes", "contains", "ECO"), cond("line_tags", "contains_all", ["eco"])]}))
    facts = make_doc(make_line("1", total="10", quantity=D(3), line_tags=("eco",)),
                     make_line("2", total="10", quantity=D(4), line_tags=("new",)), codes=("eco",))
    assert both(doc, facts) == (D(6), D(6))
    assert both(doc, make_doc(*facts.lines)) == (D(0), D(0))


def redemption(*rule_docs):
    return rules.compile_policy(rules.validate_policy({"policy": "redemption", "rules": list(rule_docs)}))


def bundle(points=3, units=2, rounding="up", **kw):
    return rule("bundle", act("free_for_points", points=points, units=units, rounding=rounding), scope="line",
                conditions={"all": [cond("sku", "equal_to", "BRUSH")]}, **kw)


def offers(policy, *lines, settings=SETTINGS):
    result = rules.evaluate_redemption(policy, make_doc(*lines), MemberFacts(), settings, balance=D(100))
    return {f.line_id: (f.bundles, f.free_quantity, f.points) for f in result.free_lines}


def test_free_for_points_records_its_intent_through_business_rules():
    actions = vocabulary("redemption").actions_class()
    do_actions([{"name": "free_for_points", "params": {"points": D(3), "units": 2, "rounding": "up"}}], actions)
    assert actions.intents == [("free_for_points", {"points": D(3), "units": 2, "rounding": "up"})]


def test_three_points_per_two_units_rounded_up_costs_six_for_three_units():
    policy = redemption(bundle())
    assert offers(policy, make_line("1", sku="BRUSH", quantity=D(3)), make_line("2", sku="PAINT")) == {
        "1": (D(2), D(3), D(6))}
    assert offers(policy, make_line("1", sku="BRUSH", quantity=D(4))) == {"1": (D(2), D(4), D(6))}
    assert offers(policy, make_line("1", sku="BRUSH", quantity=D("0.5"))) == {"1": (D(1), D("0.5"), D(3))}


def test_rounding_down_frees_whole_bundles_only():
    policy = redemption(bundle(rounding="down"))
    assert offers(policy, make_line("1", sku="BRUSH", quantity=D(3))) == {"1": (D(1), D(2), D(3))}
    assert offers(policy, make_line("1", sku="BRUSH", quantity=D(1))) == {}


def test_bundle_points_round_up_to_the_program_precision_and_no_quantity_no_offer():
    policy = redemption(bundle(points="1.25", units=1))
    assert offers(policy, make_line("1", sku="BRUSH", quantity=D(3))) == {"1": (D(3), D(3), D(4))}
    precise = rules.validate_settings({"precision": 2})
    assert offers(policy, make_line("1", sku="BRUSH", quantity=D(3)), settings=precise) == {
        "1": (D(3), D(3), D("3.75"))}
    assert offers(policy, make_line("1", sku="BRUSH", quantity=D(0)), make_line("2", sku="BRUSH",
                                                                                 quantity=D(-1))) == {}


def test_the_first_matching_rule_sets_the_price_and_exclude_line_leaves_the_offer():
    policy = redemption(bundle(points=10, units=1, priority=1), bundle(points=1, units=1, id="cheap"),
                        rule("no-money", "exclude_line", scope="line"))
    result = rules.evaluate_redemption(policy, make_doc(make_line("1", sku="BRUSH", quantity=D(2))),
                                       MemberFacts(), SETTINGS, balance=D(100), explain=True)
    assert [(f.rule, f.points) for f in result.free_lines] == [("bundle", D(20))]
    assert result.excluded_lines == ("1",) and result.reason_code == "nothing_eligible"
    assert result.to_dict()["free_lines"][0]["points"] == "20"
    assert result.trace["lines"][0]["free_for_points"]["bundles"] == "2"


def problems(doc):
    with pytest.raises(rules.RuleValidationError) as caught:
        rules.validate_policy(doc)
    return {(m.path, m.code): m.message for m in caught.value.errors}


def test_bad_code_and_tag_conditions_are_refused_with_paths():
    found = problems(accrual(
        rule("a", act("earn_fixed", points=1), scope="document",
             conditions={"all": [cond("order_codes", "contains", ["SUMMER10"])]}),
        rule("b", act("earn_fixed", points=1), scope="document",
             conditions={"all": [cond("order_codes", "equal_to", "SUMMER10")]}),
        rule("c", act("earn_fixed", points=1), conditions={"all": [cond("line_tags", "contains", "eco")]}),
        rule("d", act("earn_fixed", points=1), conditions={"all": [cond("line_tags", "contains_all", "eco")]}),
        rule("e", act("earn_fixed", points=1), scope="document",
             conditions={"all": [cond("line_tags", "contains_all", ["eco"])]}),
        rule("f", act("earn_fixed", points=1), scope="document",
             conditions={"all": [cond("order_codes", "contains", "")]}),
    ))
    assert ("rules[0].conditions.all[0].value", "invalid_value") in found
    assert ("rules[1].conditions.all[0].operator", "invalid_operator") in found
    hint = found[("rules[2].conditions.all[0].operator", "invalid_operator")]
    assert "contains_all with a list" in hint
    assert ("rules[3].conditions.all[0].value", "invalid_value") in found
    assert ("rules[4].conditions.all[0].name", "line_variable_in_document_rule") in found
    assert ("rules[5].conditions.all[0].value", "empty_value") in found


def test_out_of_range_bundle_params_are_refused_with_paths():
    def doc(*rule_docs):
        return {"policy": "redemption", "rules": list(rule_docs)}

    found = problems(doc(
        bundle(points=0), bundle(units=0, id="u0"), bundle(units="1.5", id="u15"),
        bundle(rounding="sideways", id="r"), bundle(points="1.00001", id="p5"),
        rule("m", act("free_for_points", points=3, units=2), scope="line"),
        rule("doc", act("free_for_points", points=3, units=2, rounding="up"), scope="document"),
        bundle(units=10001, id="big")))
    assert found[("rules[0].actions[0].params.points", "param_out_of_range")].endswith("(got 0).")
    assert ("rules[1].actions[0].params.units", "param_out_of_range") in found
    assert ("rules[2].actions[0].params.units", "invalid_param") in found
    assert "one of up, down" in found[("rules[3].actions[0].params.rounding", "invalid_param")]
    assert ("rules[4].actions[0].params.points", "too_many_decimals") in found
    assert ("rules[5].actions[0].params.rounding", "missing_param") in found
    assert ("rules[6].actions[0].name", "action_not_allowed_in_scope") in found
    assert ("rules[7].actions[0].params.units", "param_out_of_range") in found


def test_the_new_names_are_exported_with_their_types_ranges_and_options():
    accrual_vocab = rules.export_vocabulary("accrual")
    variables = {v["name"]: v for v in accrual_vocab["variables"]}
    assert variables["line_tags"]["field_type"] == "select_multiple" and variables["line_tags"]["scopes"] == ["line"]
    assert variables["order_codes"]["field_type"] == "select" and variables["order_codes"]["kind"] == "document"
    ops = accrual_vocab["variable_type_operators"]
    assert {o["name"] for o in ops["select_multiple"]} == set(MULTI_OPS)
    assert {o["name"] for o in ops["select"]} == {"contains", "does_not_contain"}
    spend = {a["name"]: a for a in rules.export_vocabulary("redemption")["actions"]}["free_for_points"]
    params = {p["name"]: p for p in spend["params"]}
    assert spend["scopes"] == ["line"]
    assert (params["points"]["minimum"], params["points"]["maximum"]) == ("0.0001", "1000000")
    assert (params["units"]["min"], params["units"]["max"], params["units"]["integer"]) == (1, 10000, True)
    assert params["rounding"]["options"] == ["up", "down"] and params["rounding"]["fieldType"] == "select"


def test_a_list_condition_survives_the_round_trip_through_its_json_form():
    doc = accrual(rule("t", act("earn_fixed", points=1),
                       conditions={"all": [cond("line_tags", "contains_all", ["eco", "new"])]}))
    stored = rules.validate_policy(doc).to_json()
    assert stored["rules"][0]["conditions"]["all"][0]["value"] == ["eco", "new"]
    assert rules.validate_policy(stored).to_json() == stored


def test_the_default_program_earns_by_a_tag_and_a_code_and_offers_a_bundle():
    defaults = rules.default_policies()
    line = make_line("1", total="100", product_group="100", line_tags=("Eco",))
    plain = make_doc(make_line("1", total="100", product_group="100"))
    # 10 points for 100 PLN, +2 for the eco unit, fittings ×2 → 24; the code adds 100 to the order.
    assert both(defaults["accrual"], make_doc(line)) == (D(24), D(24))
    assert both(defaults["accrual"], make_doc(line, codes=("lato2026",))) == (D(124), D(124))
    assert both(defaults["accrual"], plain) == (D(20), D(20))
    spend = rules.compile_policy(rules.validate_policy(defaults["redemption"]))
    assert offers(spend, make_line("1", quantity=D(3), line_tags=("reward-bundle",))) == {"1": (D(2), D(3), D(6))}
