"""What the explaining evaluator prepares once per policy: trace fragments that do not depend on a line.

A failing condition's description never shows the actual value (the facts are
stored next to the trace), so much of a trace is constant per policy:

* a line that misses a rule's index key fails the same condition every time
  (``index_miss``), and a rule whose line-dependent part is one leaf (or an
  ``any`` of leaves) can fail one way only (``constant_failure``);
* so a line's ``not_matched`` is a function of which rules it missed and
  failed (two bit sets, one int: `Prepared.bits`), built once per such set;
* the notes these constant failures add to ``conditions``, once per trace;
* per set of ruled-out rules: the line plans, the document rules to run and
  the ``ruled_out`` reasons.

Everything here is JSON-ready already (text, not Decimals). Caches are bounded.
"""
from __future__ import annotations

from .compiler import INDEXED, CompiledPolicy, CompiledRule
from .earning import accrual_actions
from .values import to_jsonable

LIMIT = 50_000


def describe(failure: dict) -> dict:
    """A failing condition without the actual value (the facts are stored elsewhere), JSON-ready."""
    if "any_failed" in failure:
        return {"any": [describe(f) for f in failure["any_failed"]]}
    return {"name": failure["name"], "operator": failure["operator"], "value": to_jsonable(failure["value"])}


def constant_description(node) -> dict | None:
    """The description of ``node``'s failure when it is the same whatever failed it: a leaf, or an
    ``any`` whose children all are (every child fails then); None otherwise."""
    if hasattr(node, "leaf"):
        return {"name": node.name, "operator": node.leaf.operator, "value": to_jsonable(node.leaf.value)}
    if node.kind != "any":
        return None
    children = [constant_description(c) for c in node.children]
    return None if any(c is None for c in children) else {"any": children}


def constant_failure(nodes: tuple) -> tuple[str, dict] | None:
    """(path, description) when a check of ``nodes`` (all of them must hold) can fail one way only."""
    if len(nodes) != 1:
        return None
    description = constant_description(nodes[0])
    return None if description is None else (nodes[0].path, description)


def index_miss(r: CompiledRule) -> tuple[str, dict]:
    """The path and description of the condition a line fails when it misses the rule's index key:
    every value of the index is unequal, so it is the same for every such line."""
    node = r.index_node
    return node.path, constant_description(node)


class Prepared:
    """Per policy: the constant parts of its traces and the caches keyed by bit sets.

    Bit ``n`` of a line's bits: rule n missed by index key; bit ``n + shift``: rule n failed
    on its one constant line condition."""

    def __init__(self, policy: CompiledPolicy):
        self.policy = policy
        self.shift = len(policy.rules)
        self.actions = accrual_actions(policy)
        self.line_rules = policy.by_scope.get("line", ())
        self.doc_rules = policy.by_scope.get("document", ())
        self.static_failure = tuple(constant_failure(r.static_nodes) for r in policy.rules)
        # Otherwise the static part's nodes in order, each (check, path, constant description or None, node).
        self.static_checks = tuple(tuple((node.fast, node.path, constant_description(node), node)
                                         for node in r.static_nodes) for r in policy.rules)
        # Only a single leaf: the note of an ``any`` that fails is made as the line runs (where it
        # always was in the trace's order), not with the constants at the end.
        self.line_failure = tuple(constant_failure(r.dynamic_nodes) if len(r.dynamic_nodes) == 1
                                  and hasattr(r.dynamic_nodes[0], "leaf") else None for r in policy.rules)
        self.misses = tuple(index_miss(r) if r.index_node is not None else None for r in policy.rules)
        self.period_bits = sum(bit for _n, bit in policy._period_rules)
        # Rules with an active period and document/member conditions: in the mask, either reason.
        self.period_static_bits = sum(bit for n, bit in policy._period_rules if policy.rules[n].static is not None)
        self.by_mask: dict[int, tuple] = {}
        self.not_matched: dict[int, dict] = {}
        self.notes: dict[int, tuple] = {}
        self.leaves: dict[tuple, dict] = {}

    def for_mask(self, mask: int) -> tuple:
        """(line plans by line key, document items, ruled-out items by inactive bits) for ``mask``."""
        found = self.by_mask.get(mask)
        if found is None:
            if len(self.by_mask) >= LIMIT:
                self.by_mask.clear()
            doc_items = tuple((r.rule.id, tuple(a.name for a in r.rule.actions), self.actions[r.n][1],
                               r.rule.stop_processing) for r in self.doc_rules if not (mask >> r.n) & 1)
            found = self.by_mask[mask] = ({}, doc_items, {})
        return found

    def ruled_out(self, mask: int, inactive: int, by_inactive: dict) -> tuple:
        """Per rule of ``mask`` in rule order: (id, "inactive", None), (id, path, description) for a
        constant static failure, or (id, None, (rule, its `static_checks`)) when it can fail several ways."""
        found = by_inactive.get(inactive)
        if found is None:
            out = []
            for r in self.policy.rules:
                if not (mask >> r.n) & 1:
                    continue
                if (inactive >> r.n) & 1:
                    out.append((r.rule.id, "inactive", None))
                elif self.static_failure[r.n] is not None:
                    out.append((r.rule.id, *self.static_failure[r.n]))
                else:
                    out.append((r.rule.id, None, (r, self.static_checks[r.n])))
            found = by_inactive[inactive] = tuple(out)
        return found

    def line_plan(self, key: tuple, mask: int) -> tuple:
        """(items, bits of every rule the line misses by key, None or the items' rules) for lines with
        this ``line_key``.

        An item is (dynamic check, failure bit, id, first action, its name, stop, the bits of the
        misses before it, (names, closures) of all actions when more than one); a failure bit of 0
        means the rule can fail more than one way: then the plan carries its rules, to be asked why."""
        items, rules, misses, general = [], [], 0, False
        for r in self.line_rules:
            if (mask >> r.n) & 1:
                continue
            if r.index is not None:
                value = key[INDEXED.index(r.index[0])]
                if value is None or value not in r.index_values:
                    misses |= 1 << r.n
                    continue
            fail_bit = 0
            if r.dynamic is not None:
                if self.line_failure[r.n] is not None:
                    fail_bit = 1 << (r.n + self.shift)
                else:
                    general = True
            fns = self.actions[r.n][1]
            names = tuple(a.name for a in r.rule.actions)
            items.append((r.dynamic, fail_bit, r.rule.id, fns[0], names[0], r.rule.stop_processing, misses,
                          (names, fns) if len(fns) > 1 else None))
            rules.append(r)
        return tuple(items), misses, tuple(rules) if general else None

    def not_matched_of(self, bits: int) -> dict:
        """A line's ``not_matched`` (rule id → failing path, in rule order) for its missed and failed bits."""
        found = self.not_matched.get(bits)
        if found is None:
            if len(self.not_matched) >= LIMIT:
                self.not_matched.clear()
            found = {}
            for r in self.line_rules:
                if (bits >> r.n) & 1:
                    found[r.rule.id] = self.misses[r.n][0]
                elif (bits >> (r.n + self.shift)) & 1:
                    found[r.rule.id] = self.line_failure[r.n][0]
            self.not_matched[bits] = found
        return found

    def constant_notes(self, bits: int) -> dict:
        """The ``conditions`` notes of a trace whose lines missed and failed ``bits``: id → {path: description},
        in the order the notes were always made (index misses in rule order, then the constant failures)."""
        found = self.notes.get(bits)
        if found is None:
            if len(self.notes) >= LIMIT:
                self.notes.clear()
            grouped: dict[str, dict] = {}
            for r in self.policy.rules:
                if (bits >> r.n) & 1:
                    path, description = self.misses[r.n]
                    grouped.setdefault(r.rule.id, {})[path] = description
            for r in self.policy.rules:
                if (bits >> (r.n + self.shift)) & 1:
                    path, description = self.line_failure[r.n]
                    grouped.setdefault(r.rule.id, {})[path] = description
            found = self.notes[bits] = grouped
        return found


def prepared(policy: CompiledPolicy) -> Prepared:
    return policy.derived("explain_prepared", Prepared)
