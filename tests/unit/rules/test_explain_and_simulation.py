"""Explain traces and simulation of a draft against the published policy."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal as D

import rules
from rules.facts import MemberFacts

from .rulekit import MONDAY, act, compile_rules, cond, make_doc, make_line, rule

S = rules.DEFAULT_SETTINGS


def test_trace_explains_matches_failures_and_contributions():
    policy = compile_rules(
        "accrual",
        rule("base", act("earn_percent", percent=10), priority=10),
        rule("g110", act("multiply", factor=2), conditions={"all": [
            cond("channel", "equal_to", "web"), cond("product_group", "equal_to", "110")]}),
        rule("later", act("earn_fixed", points=1), priority=-1, active_from="2030-01-01"),
        rule("stopper", act("cap", points=3), priority=-2, stop_processing=True),
        rule("never", act("earn_fixed", points=100), priority=-3),
        rule("bonus", act("earn_fixed", points=5), scope="document",
             conditions={"any": [cond("order_total", "greater_than", 1000), cond("is_birthday", "is_true")]}),
        version=7)
    doc = make_doc(make_line("1", "20", product_group="110"), make_line("2", "20", product_group="120"))
    r = rules.evaluate_accrual(policy, doc, MemberFacts(), S, explain=True)
    trace = r.trace
    json.dumps(trace)  # JSON-serialisable as stored by the ledger
    assert trace["policy_version"] == 7 and r.policy_version == 7 and trace["points"] == str(r.points) == "5"
    assert trace["ruled_out"] == {"later": "inactive", "bonus": "conditions"}
    assert trace["conditions"]["bonus"]["conditions"] == {"any": [
        {"name": "order_total", "operator": "greater_than", "value": "1000"},
        {"name": "is_birthday", "operator": "is_true", "value": None}]}
    assert trace["variables"]["order_total"] == "40"
    first, second = trace["lines"]
    assert [m["rule"] for m in first["matched"]] == ["base", "g110", "stopper"]
    assert first["matched"][0]["actions"] == [{"action": "earn_percent", "contribution": "2", "after": "2"}]
    assert first["matched"][1]["actions"][0]["contribution"] == "2"
    assert first["matched"][2]["actions"][0] == {"action": "cap", "contribution": "-1", "after": "3"}
    assert first["stopped_by"] == "stopper" and first["not_matched"] == {} and first["points"] == "3"
    assert second["not_matched"] == {"g110": "conditions.all[1]"}
    assert trace["conditions"]["g110"]["conditions.all[1]"] == {"name": "product_group", "operator": "equal_to",
                                                                "value": "110"}
    assert trace["document"]["lines_total"] == "5" and trace["document"]["matched"] == []
    assert r.lines[0].rules == ("base", "g110", "stopper")


def test_trace_of_an_excluded_line_and_dynamic_failure():
    policy = compile_rules("accrual", rule("base", act("earn_fixed", points=4), priority=5),
                           rule("promo", act("exclude"), conditions=cond("is_promo", "is_true")),
                           rule("bulk", act("multiply", factor=2), priority=-1,
                                conditions=cond("quantity", "greater_than", 10)))
    r = rules.evaluate_accrual(policy, make_doc(make_line("1", is_promo=True), make_line("2")), MemberFacts(), S,
                               explain=True)
    excluded, normal = r.trace["lines"]
    assert excluded["excluded"] and excluded["stopped_by"] == "promo" and excluded["points"] == "0"
    assert excluded["matched"][1]["actions"] == [{"action": "exclude", "contribution": "-4", "after": "0",
                                                  "excluded": True}]
    assert normal["not_matched"] == {"promo": "conditions", "bulk": "conditions"}
    assert r.trace["conditions"]["bulk"]["conditions"]["operator"] == "greater_than"


def test_member_excluded_trace():
    policy = compile_rules("accrual", rule("base", act("earn_fixed", points=1)))
    r = rules.evaluate_accrual(policy, make_doc(make_line()), MemberFacts(member_group="EMP"),
                               rules.ProgramSettings(excluded_groups=("EMP",)), explain=True)
    assert r.points == 0 and r.member_excluded and r.trace["member_excluded"] == "EMP"


def history():
    docs = []
    for i, (group, total) in enumerate([("110", "100"), ("120", "55"), ("110", "19.99"), ("130", "7")]):
        docs.append((make_doc(make_line("1", total, product_group=group), make_line("2", "10", product_group="120"),
                              placed_at=datetime(2025, 3, 1 + i, 12, tzinfo=UTC)), MemberFacts()))
    return docs


def test_simulation_totals_per_rule_and_group():
    published = compile_rules("accrual", rule("base", act("earn_per_amount", points=1, amount=10), priority=5),
                              version=3)
    result = rules.simulate(published, history(), rules.ProgramSettings(point_value=D("0.1")))
    # per document: 10+1, 5+1, 1+1, 0+1
    assert (result.documents, result.lines, result.points) == (4, 8, D(20))
    assert result.value == D("2.0") and result.by_rule == {"base": D(20)}
    assert result.by_product_group == {"110": D(11), "120": D(9), "130": D(0)}
    data = result.to_dict()
    json.dumps(data)
    assert data["points"] == "20" and data["policy_version"] == 3 and data["rounding"] == "0"


def test_simulation_matches_evaluate_accrual_and_attributes_multiply():
    draft = compile_rules("accrual", rule("base", act("earn_percent", percent=5), priority=5),
                          rule("x2", act("multiply", factor=2), conditions=cond("product_group", "equal_to", "110")),
                          rule("bonus", act("earn_fixed", points=1), scope="document"), version=4)
    items = history()
    result = rules.simulate(draft, items, S)
    assert result.points == sum(rules.evaluate_accrual(draft, d, m, S).points for d, m in items)
    assert result.by_rule["x2"] == D(5) + D("0.9995")  # doubles the 5 % of the 100 and 19.99 lines
    assert result.by_rule["bonus"] == 4
    assert sum(result.by_rule.values()) == result.unrounded
    assert result.rounding == result.points - result.unrounded < 0


def test_compare_draft_with_published():
    published = compile_rules("accrual", rule("base", act("earn_per_amount", points=1, amount=10)), version=1)
    draft = compile_rules("accrual", rule("base", act("earn_per_amount", points=1, amount=10), priority=1),
                          rule("x2", act("multiply", factor=2), conditions=cond("product_group", "equal_to", "110")),
                          version=2)
    old, new = rules.simulate(published, history(), S), rules.simulate(draft, history(), S)
    diff = rules.compare(new, old)
    json.dumps(diff)
    assert diff["points_change"] == "11" and diff["points_change_percent"] == "55.0"
    assert diff["by_rule"] == {"base": "0", "x2": "11"} and diff["by_product_group"]["110"] == "11"


def test_rules_outside_their_period_do_not_count_in_simulation():
    policy = compile_rules("accrual", rule("promo", act("earn_fixed", points=10), active_from="2025-03-03",
                                           active_until="2025-03-03"))
    result = rules.simulate(policy, [(make_doc(make_line(), placed_at=MONDAY), MemberFacts())] + history(), S)
    assert result.points == D(30)  # the three lines placed on 3 March, nothing on other days
