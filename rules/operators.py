"""Fast predicates for the business-rules operators, with identical semantics.

Each factory takes the (validated) comparison value once and returns a
one-argument predicate over the variable's value. Semantics follow
``business_rules.operators`` exactly: text variables treat None as "", numeric
comparisons use its EPSILON of 0.000001, select comparisons ignore case.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from business_rules.operators import NumericType

EPSILON: Decimal = NumericType.EPSILON
NEG_EPSILON = -EPSILON
Predicate = Callable[[Any], bool]


def _text(operator: str, c: str) -> Predicate:
    if operator == "equal_to":
        return lambda v: v == c
    if operator == "equal_to_case_insensitive":
        lc = c.lower()
        return lambda v: v.lower() == lc
    if operator == "starts_with":
        return lambda v: v.startswith(c)
    if operator == "ends_with":
        return lambda v: v.endswith(c)
    if operator == "contains":
        return lambda v: c in v
    if operator == "matches_regex":
        search = re.compile(c).search
        return lambda v: search(v) is not None
    if operator == "non_empty":
        return bool
    raise KeyError(operator)


def _numeric(operator: str, c: Decimal) -> Predicate:
    # business-rules compares (value - other) with EPSILON; greater_than_or_equal_to
    # is "greater or equal within EPSILON", which is exactly value - other >= -EPSILON.
    if operator == "equal_to":
        return lambda v: abs(v - c) <= EPSILON
    if operator == "greater_than":
        return lambda v: (v - c) > EPSILON
    if operator == "greater_than_or_equal_to":
        return lambda v: (v - c) >= NEG_EPSILON
    if operator == "less_than":
        return lambda v: (v - c) < NEG_EPSILON
    if operator == "less_than_or_equal_to":
        return lambda v: (v - c) <= EPSILON
    raise KeyError(operator)


def _boolean(operator: str, _c: Any) -> Predicate:
    if operator == "is_true":
        return bool
    if operator == "is_false":
        return lambda v: not v
    raise KeyError(operator)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return a == b


def _contains(values, c) -> bool:
    return any(_same(v, c) for v in values)


def _lowered(values) -> list[str] | None:
    """The values in lower case when they are all text (tags and codes always are), else None."""
    out = []
    for v in values:
        if type(v) is not str:
            return None
        out.append(v.lower())
    return out


# The list predicates compare in lower case once per value (what business-rules' case-insensitive
# equality amounts to for text), and fall back to its pairwise comparison for anything else.
def _select(operator: str, c: Any) -> Predicate:
    if operator not in ("contains", "does_not_contain"):
        raise KeyError(operator)
    if not isinstance(c, str):
        return (lambda v: _contains(v, c)) if operator == "contains" else (lambda v: not _contains(v, c))
    lc = c.lower()

    def contains(v) -> bool:
        lowered = _lowered(v)
        return lc in lowered if lowered is not None else _contains(v, c)

    return contains if operator == "contains" else (lambda v: not contains(v))


def _select_multiple(operator: str, c: tuple) -> Predicate:
    wanted = _lowered(c)
    if wanted is None:
        return _select_multiple_pairwise(operator, c)
    wanted_set = frozenset(wanted)
    slow = _select_multiple_pairwise(operator, c)

    def fast(test):
        def predicate(v) -> bool:
            lowered = _lowered(v)
            return test(lowered) if lowered is not None else slow(v)
        return predicate

    if operator == "contains_all":
        return fast(lambda lv: wanted_set.issubset(lv))
    if operator == "is_contained_by":
        return fast(lambda lv: all(x in wanted_set for x in lv))
    if operator == "shares_at_least_one_element_with":
        return fast(lambda lv: not wanted_set.isdisjoint(lv))
    if operator == "shares_exactly_one_element_with":  # counts repeated values, as business-rules does
        return fast(lambda lv: sum(1 for x in wanted if x in lv) == 1)
    if operator == "shares_no_elements_with":
        return fast(lambda lv: wanted_set.isdisjoint(lv))
    raise KeyError(operator)


def _select_multiple_pairwise(operator: str, c: tuple) -> Predicate:
    if operator == "contains_all":
        return lambda v: all(_contains(v, x) for x in c)
    if operator == "is_contained_by":
        return lambda v: all(_contains(c, x) for x in v)
    if operator == "shares_at_least_one_element_with":
        return lambda v: any(_contains(v, x) for x in c)
    if operator == "shares_exactly_one_element_with":
        return lambda v: sum(1 for x in c if _contains(v, x)) == 1
    if operator == "shares_no_elements_with":
        return lambda v: not any(_contains(v, x) for x in c)
    raise KeyError(operator)


_FACTORIES = {"string": _text, "numeric": _numeric, "boolean": _boolean, "select": _select,
              "select_multiple": _select_multiple}


def predicate(type_name: str, operator: str, value: Any) -> Predicate:
    """The predicate for a validated (type, operator, value)."""
    return _FACTORIES[type_name](operator, value)
