"""Explaining evaluation: the same numbers as the fast path, plus a compact trace.

``traced_accrual`` uses the same compiled checks as the fast path and asks a
rule *why* only when it fails, so explaining costs little more than
evaluating; the trace names each failing condition by its path once per rule
(``conditions``) rather than repeating it per line, which keeps it small
enough to store with every ledger entry. Everything is JSON-serialisable
(Decimals as text). ``rule_check`` serves the other policies' evaluators.

What does not depend on the document is prepared once per policy and line
key (``_line_plan``): a rule whose index key the line misses always fails on
the same condition, so its path and description are constants; the trace is
built from JSON-ready values (text, not Decimals) as it goes, with no second
pass over it.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from .compiler import INDEXED, CompiledPolicy, CompiledRule
from .earning import DocTotals, accrual_actions
from .facts import ZERO, DocumentFacts, MemberFacts
from .limits import checked, checked_lines
from .results import AccrualResult, LineResult
from .settings import ProgramSettings
from .values import to_jsonable
from .variables import Context

_PLAN_LIMIT = 50_000


def rule_check(r: CompiledRule, line, values: dict, flags: list[bool] | None) -> dict | None:
    """None when the rule matches, else the reason it does not."""
    if flags is not None and not flags[r.n]:
        rule = r.rule
        return {"reason": "inactive", "active_from": rule.active_from, "active_until": rule.active_until}
    failure = r.explain(line, values)
    if failure is not None:
        return {"reason": "conditions", "failed": failure}
    return None


def _describe(failure: dict) -> dict:
    """A failing condition without the actual value (the facts are stored elsewhere), JSON-ready."""
    if "any_failed" in failure:
        return {"any": [_describe(f) for f in failure["any_failed"]]}
    return {"name": failure["name"], "operator": failure["operator"], "value": to_jsonable(failure["value"])}


def _note(conditions: dict, rule_id: str, path: str, description: dict) -> None:
    """Record a failing condition per (rule, path); a later line's failure of the same part wins."""
    found = conditions.get(rule_id)
    if found is None:
        conditions[rule_id] = {path: description}
    else:
        found[path] = description


def _failure_note(conditions: dict, r: CompiledRule, failure: dict | None, leaves: dict) -> str:
    """Note ``failure`` and return its path; a leaf's description (it never shows the actual value)
    is the same every time its path fails, so it is kept in ``leaves`` (per policy)."""
    if failure is None:  # cannot happen while fast and explaining paths agree
        return "conditions"
    path = failure["path"]
    if "any_failed" in failure:
        description = _describe(failure)
    else:
        description = leaves.get((r.n, path))
        if description is None:
            description = leaves[(r.n, path)] = _describe(failure)
    _note(conditions, r.rule.id, path, description)
    return path


def _index_miss(r: CompiledRule) -> tuple[str, dict]:
    """The path and description of the condition a line fails when it misses the rule's index key:
    every value of the index is unequal, so it is the same for every such line."""
    node = r.index_node
    if hasattr(node, "leaf"):
        leaf = node.leaf
        return node.path, {"name": node.name, "operator": leaf.operator, "value": to_jsonable(leaf.value)}
    return node.path, {"any": [{"name": c.name, "operator": c.leaf.operator, "value": to_jsonable(c.leaf.value)}
                               for c in node.children]}


def _line_plan(policy: CompiledPolicy, key: tuple, mask: int) -> tuple:
    """The line-scope rules for lines with this ``line_key`` when the rules of ``mask`` are ruled out:
    runs of rules the line misses by index key merged into one constant item (None, {id: path},
    their bits: `_miss_run`); the others as (n, id, dynamic check, rule, action names, closures, stop,
    the path of the one way a line can fail it, or None)."""
    plans = policy.cache.setdefault("explain_plans", {})
    plan = plans.get((key, mask))
    if plan is None:
        actions = accrual_actions(policy)
        out, run = [], []
        for r in policy.by_scope.get("line", ()):
            if (mask >> r.n) & 1:
                continue
            if r.index is not None:
                value = key[INDEXED.index(r.index[0])]
                if value is None or value not in r.index_values:
                    run.append((r.n, r.rule.id, *_index_miss(r)))
                    continue
            if run:
                out.append(_miss_run(run))
                run = []
            out.append((r.n, r.rule.id, r.dynamic, r, tuple(a.name for a in r.rule.actions),
                        actions[r.n][1], r.rule.stop_processing, (_single_failure(r) or (None,))[0]))
        if run:
            out.append(_miss_run(run))
        if len(plans) >= _PLAN_LIMIT:
            plans.clear()
        plan = plans[(key, mask)] = tuple(out)
    return plan


def _miss_run(run: list) -> tuple:
    # The shape of a rule item, so the hot loop unpacks one kind: (None, ids → paths, the rules' bits).
    return (None, {rid: path for _n, rid, path, _d in run}, sum(1 << n for n, *_ in run), None, None, None, None,
            None)


def _single_failure(r: CompiledRule) -> tuple[str, dict] | None:
    """(path, description) when a line that meets the rule's index key can fail it one way only: its
    line-dependent part is one leaf."""
    if len(r.dynamic_nodes) == 1 and hasattr(r.dynamic_nodes[0], "leaf"):
        node = r.dynamic_nodes[0]
        return node.path, {"name": node.name, "operator": node.leaf.operator, "value": to_jsonable(node.leaf.value)}
    return None


def _apply(names, fns, v: Decimal, target) -> tuple[Decimal, bool, list]:
    steps = []
    for name, fn in zip(names, fns):
        after = fn(v, target)
        if after is None:
            steps.append({"action": name, "contribution": str(-v), "after": "0", "excluded": True})
            return ZERO, True, steps
        steps.append({"action": name, "contribution": str(after - v), "after": str(after)})
        v = after
    return v, False, steps


def _run_line(plan, line, values, conditions, leaves):
    """One line's rules, with the same semantics as the fast path; also the bits of the rules it
    missed by index key and of those it failed on their one line condition (their conditions are
    constant: noted once per trace, `_note_constants`)."""
    v, excluded, stopped_by, missed, failed = ZERO, False, None, 0, 0
    matched, matched_ids, not_matched = [], [], {}
    for n, rid, dynamic, r, names, fns, stop, single in plan:
        if n is None:  # rules the line misses by index key: constant paths
            not_matched.update(rid)
            missed |= dynamic
            continue
        if dynamic is not None and not dynamic(line, values):
            if single is None:
                not_matched[rid] = _failure_note(conditions, r, r.explain_line(line, values), leaves)
            else:  # a constant note, made once per trace (`_note_constants`)
                not_matched[rid] = single
                failed |= 1 << n
            continue
        matched_ids.append(rid)
        if len(fns) == 1:  # most rules have one action: `_apply` inlined
            after = fns[0](v, line)
            if after is None:
                steps = [{"action": names[0], "contribution": str(-v), "after": "0", "excluded": True}]
                v, excluded = ZERO, True
            else:
                steps = [{"action": names[0], "contribution": str(after - v), "after": str(after)}]
                v = after
        else:
            v, excluded, steps = _apply(names, fns, v, line)
        matched.append({"rule": rid, "actions": steps})
        if excluded or stop:
            stopped_by = rid
            break
    return v, excluded, matched_ids, missed, failed, {"matched": matched, "not_matched": not_matched,
                                                      "stopped_by": stopped_by, "excluded": excluded}


def _note_constants(policy: CompiledPolicy, conditions: dict, missed: int, failed: int) -> None:
    """The constant notes of a trace, once each: the index conditions of the rules in ``missed`` and the
    one line condition of the rules in ``failed``."""
    notes = policy.cache.setdefault("explain_constants", {})
    found = notes.get((missed, failed))
    if found is None:
        if len(notes) >= _PLAN_LIMIT:
            notes.clear()
        found = tuple((r.rule.id, *_index_miss(r)) for r in policy.rules if (missed >> r.n) & 1) + tuple(
            (r.rule.id, *_single_failure(r)) for r in policy.rules if (failed >> r.n) & 1)
        notes[(missed, failed)] = found
    for rid, path, description in found:
        _note(conditions, rid, path, description)


def _run_document(policy, mask, totals, v):
    """The document-scope rules on the lines' sum (their conditions are all static: ruled out by ``mask``)."""
    actions = accrual_actions(policy)
    excluded, stopped_by, matched, matched_ids = False, None, [], []
    for r in policy.by_scope.get("document", ()):
        if (mask >> r.n) & 1:
            continue
        rid = r.rule.id
        matched_ids.append(rid)
        v, excluded, steps = _apply(tuple(a.name for a in r.rule.actions), actions[r.n][1], v, totals)
        matched.append({"rule": rid, "actions": steps})
        if excluded or r.rule.stop_processing:
            stopped_by = rid
            break
    return v, matched_ids, {"matched": matched, "not_matched": {}, "stopped_by": stopped_by,
                            "excluded": excluded}


def traced_accrual(policy: CompiledPolicy, doc: DocumentFacts, member: MemberFacts,
                   settings: ProgramSettings, at: datetime, multiplier: Decimal) -> AccrualResult:
    """``evaluate_accrual(explain=True)``. The trace:

    * ``ruled_out``: rules that could not match this document at all (rule id →
      ``"inactive"`` or the path of the failing document/member condition);
    * per line: ``matched`` rules with each action's contribution and the
      running total after it, ``not_matched`` (rule id → failing condition
      path), ``stopped_by`` (the rule after which nothing more ran);
    * ``document``: the same for document-scope rules, on the lines' sum;
    * ``conditions``: rule id → path → the failing condition (name, operator,
      value), so each path can be read without the rule document;
    * ``variables``: the document/member values the conditions saw.
    """
    ctx = Context(doc=doc, member=member, tz=settings.tz)
    values = policy.values(ctx)
    conditions: dict[str, dict] = {}
    leaves = policy.cache.setdefault("explain_leaves", {})
    # The fast path's mask says which rules cannot match; only those are asked why, in rule order.
    mask = policy.disabled_mask(values, at, settings.tz)
    ruled_out_ids: dict[str, str] = {}
    if mask:
        flags = policy.active_flags(at, settings.tz)
        bits = mask
        while bits:
            r = policy.rules[(bits & -bits).bit_length() - 1]
            bits &= bits - 1
            ruled_out_ids[r.rule.id] = "inactive" if flags is not None and not flags[r.n] else \
                _failure_note(conditions, r, r.explain_static(values), leaves)
    by_sku, by_group, by_brand = policy.bucket_keys
    results, line_traces = [], []
    missed = failed = 0
    total = ZERO
    for line in doc.lines:
        sku, group, brand = line.sku or "", line.product_group or "", line.brand or ""
        key = (sku if sku in by_sku else None, group if group in by_group else None,
               brand if brand in by_brand else None)
        v, excluded, matched, line_missed, line_failed, entry = _run_line(
            _line_plan(policy, key, mask), line, values, conditions, leaves)
        missed |= line_missed
        failed |= line_failed
        total += v
        results.append(LineResult(line.line_id, v, excluded, tuple(matched)))
        line_traces.append({"line_id": line.line_id, "points": str(v), **entry})
    lines_sum = total
    if missed or failed:
        _note_constants(policy, conditions, missed, failed)
    total, doc_matched, doc_entry = _run_document(policy, mask, DocTotals(doc, ctx), lines_sum)
    checked_lines(results, policy)
    unrounded = checked(total * multiplier, "the document's points", policy)
    points = checked(settings.round_points(unrounded), "the document's rounded points", policy)
    document_points = checked(total - lines_sum, "what the document rules add", policy)
    trace = {
        "policy": policy.policy,
        "policy_version": policy.version,
        "at": at.isoformat(),
        "variables": to_jsonable(values),
        "ruled_out": ruled_out_ids,
        "lines": line_traces,
        "document": {"lines_total": str(lines_sum), "points": str(total), **doc_entry},
        "conditions": conditions,
        "tier_multiplier": str(multiplier),
        "unrounded": str(unrounded),
        "rounding": to_jsonable({"precision": settings.precision, "mode": settings.rounding}),
        "points": str(points),
    }
    return AccrualResult(points, unrounded, tuple(results), document_points, policy.version,
                         tuple(doc_matched), False, trace)
