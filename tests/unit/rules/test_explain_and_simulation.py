"""Explain traces and simulation of a draft against the published policy."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal as D

import rules
from rules.facts import MemberFacts

from rulekit import MONDAY, act, compile_rules, cond, make_doc, make_line, rule

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
    assert trace["policy_version"] == 7 and r.policy_version == 7 and trace["points"] == str(r.points)
    first = {e["rule"]: e for e in trace["lines"][0]["rules"]}
    assert first["base"]["actions"][0] == {"action": "earn_percent", "params": {"percent": "10"}, "before": "0",
                                           "after": "2", "contribution": "2"}
    assert first["g110"]["actions"][0]["contribution"] == "2"
    assert first["later"] == {"rule": "later", "priority": -1, "matched": False, "reason": "inactive",
                              "active_from": "2030-01-01", "active_until": None}
    assert first["stopper"]["actions"][0]["contribution"] == "-1" and first["stopper"]["stop_processing"]
    assert first["never"]["reason"] == "not_reached" and first["never"]["stopped_by"] == "stopper"
    second = {e["rule"]: e for e in trace["lines"][1]["rules"]}
    assert second["g110"]["failed"] == {"path": "conditions.all[1]", "name": "product_group", "operator": "equal_to",
                                        "value": "110", "actual": "120"}
    doc_rule = trace["document"]["rules"][0]
    assert doc_rule["reason"] == "conditions" and doc_rule["failed"]["path"] == "conditions"
    assert [f["name"] for f in doc_rule["failed"]["any_failed"]] == ["order_total", "is_birthday"]
    assert r.points == D(5) and trace["unrounded"] == "5"


def test_member_excluded_trace():
    policy = compile_rules("accrual", rule("base", act("earn_fixed", points=1)))
    r = rules.evaluate_accrual(policy, make_doc(make_line()), MemberFacts(member_group="EMP"),
                               rules.ProgramSettings(excluded_groups=("EMP",)), explain=True)
    assert r.points == 0 and r.member_excluded and r.trace["member_excluded"] == "EMP"


def history():
    docs = []
    for i, (group, total) in enumerate([("110", "100"), ("120", "55"), ("110", "19.99"), ("130", "7")]):
        docs.append((make_doc(make_line("1", total, product_group=group), make_line("2", "10", product_group="120"),
                              placed_at=datetime(2025, 3, 1 + i, 12, tzinfo=timezone.utc)), MemberFacts()))
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
