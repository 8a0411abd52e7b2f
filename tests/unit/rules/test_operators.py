"""Every operator of every variable type: our predicates against business-rules' own."""
from __future__ import annotations

import itertools
from decimal import Decimal as D

import pytest
from business_rules import operators as br

from rules.operators import predicate
from rules.regex_guard import UnsafePattern, check_pattern

TEXTS = ["", "A1", "a1", "ABC-110", "110", "kan-therm"]
NUMBERS = [D(0), D("9.9999995"), D(10), D("10.0000005"), D("10.000002"), D(-3), 10, 0]
LISTS = [[], ["Red"], ["red", "blue"], ["x=1", "network=facebook"], [1, "RED"], ["Eco", "eco", "ECO"]]


def reference(type_cls, operator, value, comparison):
    method = getattr(type_cls(value), operator)
    return bool(method() if method.input_type == "none" else method(comparison))


CASES = {
    br.StringType: (TEXTS, {op: ["A1", "a", "110", "1", "^A", "\\d{3}$", "kan"] for op in
                            ("equal_to", "equal_to_case_insensitive", "starts_with", "ends_with", "contains",
                             "matches_regex")} | {"non_empty": [None]}),
    br.NumericType: (NUMBERS, {op: [D(10), D("10.0000001"), D(0), D("-3")] for op in
                               ("equal_to", "greater_than", "greater_than_or_equal_to", "less_than",
                                "less_than_or_equal_to")}),
    br.BooleanType: ([True, False], {"is_true": [None], "is_false": [None]}),
    br.SelectType: (LISTS, {"contains": ["red", "RED", "network=facebook", "x", "eco", 1],
                            "does_not_contain": ["red", "x=1", "y", 1]}),
    br.SelectMultipleType: (LISTS, {op: [("red",), ("red", "blue"), ("x=1", "y"), (), ("ECO", "eco"), (1, "x")]
                                    for op in
                                    ("contains_all", "is_contained_by", "shares_at_least_one_element_with",
                                     "shares_exactly_one_element_with", "shares_no_elements_with")}),
}


def test_every_business_rules_operator_is_covered():
    for type_cls, (_values, ops) in CASES.items():
        assert {op["name"] for op in type_cls.get_all_operators()} == set(ops), type_cls


@pytest.mark.parametrize("type_cls", list(CASES), ids=lambda t: t.name)
def test_predicates_equal_business_rules(type_cls):
    values, ops = CASES[type_cls]
    checked = 0
    for operator, comparisons in ops.items():
        for value, comparison in itertools.product(values, comparisons):
            given = list(comparison) if isinstance(comparison, tuple) else comparison
            theirs = reference(type_cls, operator, value, given)
            ours = predicate(type_cls.name, operator, comparison)(value)
            assert bool(ours) == theirs, (type_cls.name, operator, value, comparison)
            checked += 1
    assert checked >= 2 * len(ops)


def test_numeric_epsilon_semantics():
    ge = predicate("numeric", "greater_than_or_equal_to", D("10.0000005"))
    assert ge(D(10))  # within business-rules' EPSILON of 0.000001
    assert not predicate("numeric", "greater_than", D("10.0000005"))(D("10.000001"))
    assert predicate("numeric", "equal_to", D(10))(D("10.000001"))


@pytest.mark.parametrize("pattern", ["^110", "A|B", "[0-9]{3}-\\w+$", "(ab|cd)", "^SKU-1", "(a|b)*c"])
def test_regex_guard_accepts_ordinary_patterns(pattern):
    assert check_pattern(pattern).search is not None


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a*)*", "(a|aa)*b", "(\\w+)\\1", "(.*a){20}", "a*b*c*d*", "x" * 201])
def test_regex_guard_refuses_catastrophic_patterns(pattern):
    with pytest.raises(UnsafePattern):
        check_pattern(pattern)
