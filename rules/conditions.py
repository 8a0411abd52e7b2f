"""Compiled conditions: each condition as a node that runs fast or explains why it failed.

A node's ``fast(line, values)`` is a closure (single-call specialisations for
the hottest comparisons); ``explain(line, values)`` returns None or the
failing leaf with the value it saw. The semantics are those of
``business_rules`` (see ``rules.operators``).
"""
from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from .facts import ZERO
from .model import Leaf
from .operators import EPSILON, predicate
from .vocabulary import PolicyVocabulary

Fast = Callable[[Any, dict], bool]


class CLeaf:
    __slots__ = ("path", "leaf", "is_line", "name", "test", "get", "fast")

    def __init__(self, leaf: Leaf, path: str, vocab: PolicyVocabulary):
        variable = vocab.variables_by_name[leaf.name]
        self.path, self.leaf, self.name = path, leaf, leaf.name
        self.is_line = variable.kind == "line"
        self.test = predicate(variable.type_name, leaf.operator, leaf.value)
        test, name = self.test, leaf.name
        if self.is_line:
            get = line_getter(name, variable.type_name)
            self.get = lambda line, values: get(line)
            self.fast = _specialised(name, variable.type_name, leaf) or (lambda line, values: test(get(line)))
        else:
            self.get = lambda line, values: values[name]
            self.fast = _specialised_static(name, variable.type_name, leaf) or (
                lambda line, values: test(values[name]))

    def explain(self, line, values) -> dict | None:
        actual = self.get(line, values)
        if self.test(actual):
            return None
        return {"path": self.path, "name": self.name, "operator": self.leaf.operator,
                "value": self.leaf.value, "actual": actual}


class CGroup:
    __slots__ = ("path", "kind", "children", "is_line", "fast")

    def __init__(self, kind: str, children: list, path: str):
        self.path, self.kind, self.children = path, kind, tuple(children)
        self.is_line = any(c.is_line for c in children)
        self.fast = combine(kind, [c.fast for c in children])

    def explain(self, line, values) -> dict | None:
        failures = []
        for child in self.children:
            failure = child.explain(line, values)
            if self.kind == "all" and failure is not None:
                return failure
            if self.kind == "any":
                if failure is None:
                    return None
                failures.append(failure)
        if self.kind == "all":
            return None
        return {"path": self.path, "any_failed": failures}


def _specialised(name: str, type_name: str, leaf: Leaf):
    """Single-call closures for the hottest line conditions (same results as
    ``predicate``; the differential test covers both)."""
    get, op, c = attrgetter(name), leaf.operator, leaf.value
    if type_name == "boolean" and name == "is_promo":
        return (lambda line, values: line.is_promo) if op == "is_true" else (lambda line, values: not line.is_promo)
    if type_name == "numeric" and name != "product_points_per_unit":
        if op == "greater_than":
            return lambda line, values: (get(line) - c) > EPSILON
        if op == "greater_than_or_equal_to":
            return lambda line, values: (get(line) - c) >= -EPSILON
        if op == "less_than":
            return lambda line, values: (get(line) - c) < -EPSILON
        if op == "less_than_or_equal_to":
            return lambda line, values: (get(line) - c) <= EPSILON
    if type_name == "string" and op == "equal_to":
        return lambda line, values: (get(line) or "") == c
    return None


def _specialised_static(name: str, type_name: str, leaf: Leaf):
    """Single-call closures for common document/member conditions (values are
    already coerced: text variables hold "" for None)."""
    op, c = leaf.operator, leaf.value
    if type_name == "string" and op == "equal_to":
        return lambda line, values: values[name] == c
    if type_name == "boolean":
        return (lambda line, values: bool(values[name])) if op == "is_true" else (lambda line, values: not values[name])
    if type_name == "numeric":
        if op == "greater_than":
            return lambda line, values: (values[name] - c) > EPSILON
        if op == "greater_than_or_equal_to":
            return lambda line, values: (values[name] - c) >= -EPSILON
        if op == "less_than":
            return lambda line, values: (values[name] - c) < -EPSILON
        if op == "less_than_or_equal_to":
            return lambda line, values: (values[name] - c) <= EPSILON
    return None


def line_getter(name: str, type_name: str):
    get = attrgetter(name)
    if type_name == "string":  # business-rules reads None as ""
        return lambda line: get(line) or ""
    if name == "product_points_per_unit":
        return lambda line: ZERO if line.product_points_per_unit is None else line.product_points_per_unit
    return get


def combine(kind: str, fs: list[Fast]) -> Fast:
    if len(fs) == 1:
        return fs[0]
    if len(fs) == 2:
        a, b = fs
        return (lambda l, v: a(l, v) and b(l, v)) if kind == "all" else (lambda l, v: a(l, v) or b(l, v))
    fs_t = tuple(fs)
    if kind == "all":
        def all_of(l, v):
            for f in fs_t:
                if not f(l, v):
                    return False
            return True
        return all_of

    def any_of(l, v):
        for f in fs_t:
            if f(l, v):
                return True
        return False
    return any_of


def build_tree(node, path: str, vocab: PolicyVocabulary):
    if isinstance(node, Leaf):
        return CLeaf(node, path, vocab)
    return CGroup(node.kind, [build_tree(c, f"{path}.{node.kind}[{i}]", vocab)
                              for i, c in enumerate(node.children)], path)
