"""``compile_policy``: a validated document turned into closures and indexes.

Each condition becomes a tree of nodes that can run fast (closures over
``(line, values)``) or explain itself (which leaf failed, with what value).
For line-scope rules the top-level ``all`` is split three ways:

* an ``equal_to`` on ``sku``/``product_group``/``brand`` (or an ``any`` of
  them on one variable) becomes an index key, so a line only meets the rules
  that can match it;
* conditions without line variables ("static") run once per document;
* the rest ("dynamic") runs per line.

The semantics are those of ``business_rules`` (see ``rules.operators``);
``tests/unit/rules/test_differential.py`` proves it against ``run_all``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any, Callable

from .model import Group, Leaf, PolicyDocument, Rule
from .operators import predicate
from .vocabulary import PolicyVocabulary, vocabulary

INDEXED = ("sku", "product_group", "brand")
_CACHE_LIMIT = 50_000
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
            self.fast = lambda line, values: test(get(line))
        else:
            self.get = lambda line, values: values[name]
            self.fast = lambda line, values: test(values[name])

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


def line_getter(name: str, type_name: str):
    get = attrgetter(name)
    if type_name == "string":  # business-rules reads None as ""
        return lambda line: get(line) or ""
    if name == "product_points_per_unit":
        from .facts import ZERO
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


def _index_keys(node) -> tuple[str, tuple[str, ...]] | None:
    """(variable, values) when ``node`` alone restricts a line to equal values."""
    if isinstance(node, CLeaf):
        if node.name in INDEXED and node.leaf.operator == "equal_to":
            return node.name, (node.leaf.value,)
        return None
    if node.kind == "any" and all(isinstance(c, CLeaf) for c in node.children):
        names = {c.name for c in node.children}
        if len(names) == 1 and all(c.leaf.operator == "equal_to" for c in node.children):
            name = names.pop()
            if name in INDEXED:
                return name, tuple(c.leaf.value for c in node.children)
    return None


@dataclass(eq=False)
class CompiledRule:
    rule: Rule
    n: int  # position in the policy's rule tuple
    tree: Any  # CLeaf | CGroup | None
    static: Fast | None = None
    dynamic: Fast | None = None
    index: tuple[str, tuple[str, ...]] | None = None

    @property
    def id(self) -> str:
        return self.rule.id

    def matches(self, line, values) -> bool:
        return self.tree is None or self.tree.fast(line, values)

    def explain(self, line, values) -> dict | None:
        return None if self.tree is None else self.tree.explain(line, values)


def _compile_rule(rule: Rule, n: int, vocab: PolicyVocabulary) -> CompiledRule:
    tree = build_tree(rule.conditions, "conditions", vocab) if rule.conditions is not None else None
    compiled = CompiledRule(rule, n, tree)
    if tree is None:
        return compiled
    parts = list(tree.children) if isinstance(tree, CGroup) and tree.kind == "all" else [tree]
    if rule.scope == "line":
        keyed = [(p, _index_keys(p)) for p in parts]
        for choice in INDEXED:  # sku is the most selective
            hit = next(((p, k) for p, k in keyed if k and k[0] == choice), None)
            if hit:
                compiled.index = hit[1]
                parts.remove(hit[0])
                break
    static = [p.fast for p in parts if not p.is_line]
    dynamic = [p.fast for p in parts if p.is_line]
    compiled.static = combine("all", static) if static else None
    compiled.dynamic = combine("all", dynamic) if dynamic else None
    return compiled


@dataclass(eq=False)
class CompiledPolicy:
    """A validated policy ready to evaluate. Immutable in meaning; it only
    caches index lookups and resolved active periods."""

    document: PolicyDocument
    version: int | None
    vocab: PolicyVocabulary
    rules: tuple[CompiledRule, ...]
    by_scope: dict[str, tuple[CompiledRule, ...]]
    static_names: tuple[str, ...]
    _unindexed: tuple[CompiledRule, ...] = ()
    _buckets: dict[str, dict[str, tuple[CompiledRule, ...]]] = field(default_factory=dict)
    _candidates: dict[tuple, tuple[CompiledRule, ...]] = field(default_factory=dict)
    _periods: dict[str, list] = field(default_factory=dict)
    _getters: tuple = ()
    # Per-evaluator compiled data (e.g. the accrual action closures), built lazily.
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def policy(self) -> str:
        return self.document.policy

    def candidates(self, key: tuple[str, str, str]) -> tuple[CompiledRule, ...]:
        """Line-scope rules that may match a line with (sku, product_group, brand), in order."""
        found = self._candidates.get(key)
        if found is None:
            merged = list(self._unindexed)
            for name, value in zip(INDEXED, key):
                merged.extend(self._buckets.get(name, {}).get(value, ()))
            found = tuple(sorted(merged, key=lambda r: r.rule.sort_key))
            if len(self._candidates) >= _CACHE_LIMIT:
                self._candidates.clear()
            self._candidates[key] = found
        return found

    def values(self, context) -> dict[str, Any]:
        """The non-line variables the rules use, read once per evaluation."""
        out = {}
        for name, get, is_text in self._getters:
            value = get(context)
            out[name] = (value or "") if is_text else value
        return out

    def enabled(self, values: dict, flags: list[bool] | None) -> list[bool]:
        """Per rule: active and its static (document/member) conditions hold."""
        return [(flags is None or flags[r.n]) and (r.static is None or r.static(None, values))
                for r in self.rules]

    def active_flags(self, at: datetime, tz) -> list[bool] | None:
        """Per rule: active at ``at``? None when no rule has an active period."""
        periods = self._periods.get(tz.key if hasattr(tz, "key") else str(tz))
        if periods is None:
            periods = [r.rule.period(tz) for r in self.rules]
            self._periods[tz.key if hasattr(tz, "key") else str(tz)] = periods
        if not any(a is not None or b is not None for a, b in periods):
            return None
        return [(a is None or a <= at) and (b is None or at < b) for a, b in periods]


def compile_policy(doc: PolicyDocument, version: int | None = None) -> CompiledPolicy:
    """Compile a validated ``PolicyDocument`` (from ``validate_policy``)."""
    vocab = vocabulary(doc.policy)
    rules = tuple(_compile_rule(rule, n, vocab) for n, rule in enumerate(doc.rules))
    by_scope = {scope: tuple(sorted((r for r in rules if r.rule.scope == scope), key=lambda r: r.rule.sort_key))
                for scope in vocab.scopes}
    static_names = sorted({name for r in rules if r.rule.conditions is not None
                           for name in r.rule.conditions.variables()
                           if vocab.variables_by_name[name].kind != "line"})
    policy = CompiledPolicy(doc, version, vocab, rules, by_scope, tuple(static_names))
    buckets: dict[str, dict[str, list]] = {}
    unindexed = []
    for r in by_scope.get("line", ()):
        if r.index is None:
            unindexed.append(r)
            continue
        name, values = r.index
        for value in set(values):
            buckets.setdefault(name, {}).setdefault(value, []).append(r)
    policy._unindexed = tuple(unindexed)
    policy._getters = tuple((name, vocab.variables_by_name[name].getter,
                             vocab.variables_by_name[name].type_name == "string") for name in static_names)
    policy._buckets = {name: {v: tuple(rs) for v, rs in values.items()} for name, values in buckets.items()}
    return policy
