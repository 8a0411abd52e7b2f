"""SPEC §3 accrual semantics, one example per rule of the language."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

import rules
from rules.facts import MemberFacts

from .rulekit import MONDAY, accrue, act, compile_rules, cond, make_doc, make_line, rule

ONE_PER_10 = rule("base", act("earn_per_amount", points=1, amount=10))


def test_earn_percent_of_line_total():
    r = accrue(rule("p", act("earn_percent", percent=5)), doc=make_doc(make_line(total="250")))
    assert r.points == D("12") and r.unrounded == D("12.5")


def test_earn_per_amount_counts_full_amounts_only():
    r = accrue(ONE_PER_10, doc=make_doc(make_line("1", "99.99"), make_line("2", "10")))
    assert [line.points for line in r.lines] == [D(9), D(1)]
    assert r.points == D(10)


def test_earn_per_amount_on_a_return_line_mirrors_the_sale():
    r = accrue(ONE_PER_10, doc=make_doc(make_line("1", "-15")))
    assert r.points == D(-1)


def test_earn_per_unit_and_catalog_points():
    doc = make_doc(make_line("1", "10", quantity=D(3), product_points_per_unit=D("2.5")),
                   make_line("2", "10", quantity=D(2)))
    r = accrue(rule("u", act("earn_per_unit", points=2)), rule("c", act("earn_catalog_points")), doc=doc)
    assert [line.points for line in r.lines] == [D("13.5"), D(4)]  # 6 + 7.5 ; 4 + 0 (no catalog points)


def test_earn_fixed_per_line():
    r = accrue(rule("f", act("earn_fixed", points=3)), doc=make_doc(make_line("1"), make_line("2")))
    assert r.points == D(6)


def test_multiply_scales_what_the_line_has_so_far():
    doc = make_doc(make_line(total="100", product_group="110"))
    g110 = rule("x2", act("multiply", factor=2), conditions=cond("product_group", "equal_to", "110"))
    # earn first (higher priority), then multiply
    assert accrue(dict(ONE_PER_10, priority=10), g110, doc=doc).points == D(20)
    # multiply first: 0 × 2, then earn
    assert accrue(ONE_PER_10, dict(g110, priority=10), doc=doc).points == D(10)


def test_exclude_zeroes_the_line_and_stops_its_rules():
    promo = rule("promo", act("exclude"), conditions=cond("is_promo", "is_true"), priority=5)
    later = rule("later", act("earn_fixed", points=7), priority=-5)
    doc = make_doc(make_line("1", "100", is_promo=True), make_line("2", "100"))
    r = accrue(dict(ONE_PER_10, priority=10), promo, later, doc=doc)
    assert r.lines[0].points == 0 and r.lines[0].excluded and r.lines[0].rules == ("base", "promo")
    assert r.lines[1].points == D(17) and not r.lines[1].excluded
    assert r.points == D(17)


def test_exclude_stops_the_remaining_actions_of_its_own_rule():
    r = accrue(rule("x", act("exclude"), act("earn_fixed", points=5)), doc=make_doc(make_line()))
    assert r.points == 0 and r.lines[0].excluded


def test_stop_processing_stops_after_that_rule():
    first = rule("first", act("earn_fixed", points=1), priority=3, stop_processing=True)
    second = rule("second", act("earn_fixed", points=100), priority=1)
    r = accrue(first, second, doc=make_doc(make_line()))
    assert r.points == D(1) and r.lines[0].rules == ("first",)


def test_stop_processing_only_when_the_rule_matches():
    first = rule("first", act("earn_fixed", points=1), priority=3, stop_processing=True,
                 conditions=cond("sku", "equal_to", "NOPE"))
    second = rule("second", act("earn_fixed", points=100), priority=1)
    assert accrue(first, second, doc=make_doc(make_line(sku="A"))).points == D(100)


def test_equal_priority_runs_in_document_order():
    a = rule("a", act("earn_fixed", points=10))
    b = rule("b", act("multiply", factor=3))
    assert accrue(a, b, doc=make_doc(make_line())).points == D(30)
    assert accrue(b, a, doc=make_doc(make_line())).points == D(10)


def test_cap_limits_what_the_line_has_so_far():
    r = accrue(rule("p", act("earn_percent", percent=50), priority=2), rule("cap", act("cap", points=20)),
               doc=make_doc(make_line("1", "100"), make_line("2", "10")))
    assert [line.points for line in r.lines] == [D(20), D(5)]


def test_document_rules_run_on_the_sum():
    big = rule("big", act("earn_fixed", points=50), scope="document",
               conditions=cond("order_total", "greater_than_or_equal_to", 500), priority=2)
    double = rule("double", act("multiply", factor=2), scope="document")
    doc = make_doc(make_line("1", "300"), make_line("2", "250"))
    r = accrue(ONE_PER_10, big, double, doc=doc)
    assert r.points == D((30 + 25 + 50) * 2)
    assert r.document_points == D(105 * 2 - 55) and r.document_rules == ("big", "double")
    small = make_doc(make_line("1", "100"))
    assert accrue(ONE_PER_10, big, double, doc=small).points == D(20)


def test_document_percent_and_per_amount_use_order_total_and_cap():
    rs = [rule("pct", act("earn_percent", percent=1), scope="document", priority=3),
          rule("per", act("earn_per_amount", points=2, amount=100), scope="document", priority=2),
          rule("cap", act("cap", points=9), scope="document", priority=1)]
    r = accrue(*rs, doc=make_doc(make_line("1", "150"), make_line("2", "250")))
    assert r.unrounded == D(9)  # 4 + 8 = 12, capped at 9
    r = accrue(*rs[:2], doc=make_doc(make_line("1", "150"), make_line("2", "250")))
    assert r.unrounded == D(12)


def test_document_exclude_earns_nothing():
    corr = rule("corrections", act("exclude"), scope="document", priority=100,
                conditions=cond("document_type", "equal_to", "correction"))
    bonus = rule("bonus", act("earn_fixed", points=10), scope="document")
    assert accrue(ONE_PER_10, corr, bonus, doc=make_doc(make_line(), document_type="correction")).points == 0
    assert accrue(ONE_PER_10, corr, bonus, doc=make_doc(make_line())).points == D(20)


def test_rounding_happens_once_per_document():
    doc = make_doc(*(make_line(str(i), "4") for i in range(3)))
    r = accrue(rule("p", act("earn_percent", percent=10)), doc=doc)
    assert [line.points for line in r.lines] == [D("0.4")] * 3
    assert r.unrounded == D("1.2") and r.points == D(1)  # not 0 + 0 + 0


@pytest.mark.parametrize("mode,precision,expected", [
    ("down", 0, "2"), ("up", 0, "3"), ("half_up", 0, "3"), ("half_even", 0, "2"), ("down", 2, "2.50"),
])
def test_rounding_modes(mode, precision, expected):
    program = rules.ProgramSettings(rounding=mode, precision=precision)
    r = accrue(rule("p", act("earn_percent", percent=25)), doc=make_doc(make_line(total="10")), settings=program)
    assert r.points == D(expected) and str(r.points) == expected


def test_tier_multiplier_applies_before_rounding():
    r = accrue(ONE_PER_10, doc=make_doc(make_line(total="70")), tier_multiplier=D("1.5"))
    assert r.unrounded == D("10.5") and r.points == D(10)


def test_active_period_uses_the_document_time_by_default():
    promo = rule("march", act("earn_fixed", points=5), active_from="2025-03-01", active_until="2025-03-31")
    inside = make_doc(make_line(), placed_at=datetime(2025, 3, 31, 21, 59, tzinfo=UTC))
    after = make_doc(make_line(), placed_at=datetime(2025, 3, 31, 22, 0, tzinfo=UTC))  # April in Warsaw
    assert accrue(promo, doc=inside).points == D(5)
    assert accrue(promo, doc=after).points == 0
    assert accrue(promo, doc=after, at=datetime(2025, 3, 10, tzinfo=UTC)).points == D(5)


def test_active_period_with_datetimes_is_half_open():
    promo = rule("hour", act("earn_fixed", points=5), active_from="2025-03-03T10:00:00+00:00",
                 active_until="2025-03-03T11:00:00+00:00")
    assert accrue(promo, doc=make_doc(make_line(), placed_at=MONDAY)).points == D(5)
    assert accrue(promo, doc=make_doc(make_line(), placed_at=MONDAY.replace(hour=11))).points == 0


def test_weekday_is_computed_in_the_program_time_zone():
    sunday_rule = rule("sun", act("earn_fixed", points=1), conditions=cond("weekday", "equal_to", "sunday"))
    # Sunday 23:30 UTC is already Monday in Warsaw, still Sunday in New York.
    late_sunday = make_doc(make_line(), placed_at=datetime(2025, 3, 2, 23, 30, tzinfo=UTC))
    assert accrue(sunday_rule, doc=late_sunday).points == 0
    new_york = rules.ProgramSettings(time_zone="America/New_York")
    assert accrue(sunday_rule, doc=late_sunday, settings=new_york).points == 1


def test_member_variables_and_excluded_groups():
    vip = rule("vip", act("earn_fixed", points=10), conditions={"all": [
        cond("member_group", "equal_to", "VIP"), cond("turnover_12m", "greater_than", 1000),
        cond("is_birthday", "is_false")]})
    doc = make_doc(make_line())
    assert accrue(vip, doc=doc, member=MemberFacts(member_group="VIP", turnover_12m=D(2000))).points == 10
    assert accrue(vip, doc=doc, member=MemberFacts(member_group="VIP", turnover_12m=D(1000))).points == 0
    excluded = rules.ProgramSettings(excluded_groups=("VIP",))
    r = accrue(vip, doc=doc, member=MemberFacts(member_group="VIP", turnover_12m=D(2000)), settings=excluded)
    assert r.points == 0 and r.member_excluded


def test_percent_on_a_positive_document_is_never_negative():
    r = accrue(rule("p", act("earn_percent", percent=3)), rule("cap", act("cap", points=0), priority=-1),
               doc=make_doc(make_line(total="0.01")))
    assert r.points == 0 and r.unrounded >= 0


def test_wrong_policy_is_refused():
    compiled = compile_rules("tier", rule("t", act("set_tier", name="gold")))
    with pytest.raises(ValueError):
        rules.evaluate_accrual(compiled, make_doc(make_line()), MemberFacts(), rules.DEFAULT_SETTINGS)


def test_index_keys_still_respect_other_conditions():
    groups = rule("groups", act("earn_fixed", points=1), conditions={"all": [
        {"any": [cond("product_group", "equal_to", "110"), cond("product_group", "equal_to", "120")]},
        cond("quantity", "greater_than", 1), cond("channel", "equal_to", "web")]})
    sku = rule("sku", act("earn_fixed", points=100), conditions=cond("sku", "equal_to", "X"))
    doc = make_doc(make_line("1", product_group="110", quantity=D(2)), make_line("2", product_group="120"),
                   make_line("3", product_group="130", quantity=D(5), sku="X"))
    r = accrue(groups, sku, doc=doc)
    assert [line.points for line in r.lines] == [D(1), D(0), D(100)]
    assert accrue(groups, doc=make_doc(make_line(product_group="110", quantity=D(2)), channel="pos")).points == 0
