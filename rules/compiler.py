"""``compile_policy``: a validated document turned into closures and indexes.

Each condition becomes a tree of nodes (``rules.conditions``) that can run
fast (closures over ``(line, values)``) or explain itself (which leaf failed,
with what value). For line-scope rules the top-level ``all`` is split three ways:

* an ``equal_to`` on ``sku``/``product_group``/``brand`` (or an ``any`` of
  them on one variable) becomes an index key, so a line only meets the rules
  that can match it;
* conditions without line variables ("static") run once per document;
* the rest ("dynamic") runs per line.

The semantics are those of ``business_rules`` (see ``rules.operators``);
``tests/unit/rules/test_differential.py`` proves it against ``run_all``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .conditions import CGroup, CLeaf, Fast, build_tree, combine
from .limits import guarded
from .model import PolicyDocument, Rule
from .vocabulary import PolicyVocabulary, vocabulary

INDEXED = ("sku", "product_group", "brand")
_CACHE_LIMIT = 50_000


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
    # The same split as nodes, for explaining: which part failed.
    index_node: Any = None
    static_nodes: tuple = ()
    dynamic_nodes: tuple = ()
    index_values: frozenset = frozenset()

    @property
    def id(self) -> str:
        return self.rule.id

    def explain_static(self, values) -> dict | None:
        """The failing document/member condition, or None."""
        for node in self.static_nodes:
            failure = node.explain(None, values)
            if failure is not None:
                return failure
        return None

    def explain_line(self, line, values) -> dict | None:
        """The failing line-dependent condition (index key included), or None."""
        if self.index_node is not None:
            failure = self.index_node.explain(line, values)
            if failure is not None:
                return failure
        for node in self.dynamic_nodes:
            failure = node.explain(line, values)
            if failure is not None:
                return failure
        return None

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
                compiled.index_node = hit[0]
                compiled.index_values = frozenset(hit[1][1])
                parts.remove(hit[0])
                break
    compiled.static_nodes = tuple(p for p in parts if not p.is_line)
    compiled.dynamic_nodes = tuple(p for p in parts if p.is_line)
    static = [p.fast for p in compiled.static_nodes]
    dynamic = [p.fast for p in compiled.dynamic_nodes]
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
    _bucket_keys: tuple = ((), (), ())
    _static_rules: tuple = ()  # (bit, static closure) of rules with document/member conditions
    _period_rules: tuple = ()  # (n, bit) of rules with an active period
    # Per-evaluator compiled data (e.g. the accrual action closures), built lazily.
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def policy(self) -> str:
        return self.document.policy

    def derived(self, key: str, build: Callable[[CompiledPolicy], Any]) -> Any:
        """``build(self)``, computed once and kept with the policy: the hook through
        which an evaluator compiles its own data (e.g. action closures) without
        this module knowing what the actions mean."""
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = build(self)
        return found

    @property
    def bucket_keys(self) -> tuple:
        """The indexed values of sku, product_group and brand (for an inlined ``line_key``)."""
        return self._bucket_keys

    def line_key(self, line) -> tuple:
        """The index key of a line: each of sku/product_group/brand, or None when no
        rule is indexed on that value (so unrelated values share one cache entry)."""
        b = self._buckets
        sku, group, brand = line.sku or "", line.product_group or "", line.brand or ""
        return (sku if sku in b["sku"] else None, group if group in b["product_group"] else None,
                brand if brand in b["brand"] else None)

    def candidates(self, key: tuple) -> tuple[CompiledRule, ...]:
        """Line-scope rules that may match a line with this ``line_key``, in order."""
        found = self._candidates.get(key)
        if found is None:
            merged = list(self._unindexed)
            for name, value in zip(INDEXED, key):
                if value is not None:
                    merged.extend(self._buckets[name].get(value, ()))
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

    def disabled_mask(self, values: dict, at: datetime, tz) -> int:
        """Bit n set when rule n cannot match this evaluation: outside its active
        period, or its static (document/member) conditions fail."""
        mask = 0
        if self._period_rules:
            periods = self._resolved_periods(tz)
            for n, bit in self._period_rules:
                start, end = periods[n]
                if (start is not None and at < start) or (end is not None and at >= end):
                    mask |= bit
        for bit, static in self._static_rules:
            if not static(None, values):
                mask |= bit
        return mask

    def inactive_mask(self, at: datetime, tz) -> int:
        """Bit n set when rule n is outside its active period at ``at`` (part of ``disabled_mask``)."""
        mask = 0
        if self._period_rules:
            periods = self._resolved_periods(tz)
            for n, bit in self._period_rules:
                start, end = periods[n]
                if (start is not None and at < start) or (end is not None and at >= end):
                    mask |= bit
        return mask

    def active_flags(self, at: datetime, tz) -> list[bool] | None:
        """Per rule: active at ``at``? None when no rule has an active period."""
        if not self._period_rules:
            return None
        return [(a is None or a <= at) and (b is None or at < b) for a, b in self._resolved_periods(tz)]

    def _resolved_periods(self, tz) -> list:
        key = getattr(tz, "key", None) or str(tz)
        periods = self._periods.get(key)
        if periods is None:
            periods = [r.rule.period(tz) for r in self.rules]
            self._periods[key] = periods
        return periods


@guarded
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
    policy._buckets = {name: {v: tuple(rs) for v, rs in buckets.get(name, {}).items()} for name in INDEXED}
    policy._bucket_keys = tuple(frozenset(policy._buckets[name]) for name in INDEXED)
    policy._static_rules = tuple((1 << r.n, r.static) for r in rules if r.static is not None)
    policy._period_rules = tuple((r.n, 1 << r.n) for r in rules
                                 if r.rule.active_from is not None or r.rule.active_until is not None)
    return policy
