"""Explaining evaluation: the same numbers as the fast path, plus a compact trace.

``traced_accrual`` uses the same compiled checks as the fast path and asks a
rule *why* only when it fails, so explaining costs little more than
evaluating; the trace names each failing condition by its path once per rule
(``conditions``) rather than repeating it per line, which keeps it small
enough to store with every ledger entry. Everything is JSON-serialisable
(Decimals as text). ``rule_check`` serves the other policies' evaluators.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from .compiler import CompiledPolicy, CompiledRule
from .earning import DocTotals, accrual_actions
from .facts import ZERO, DocumentFacts, MemberFacts
from .limits import checked, checked_lines
from .results import AccrualResult, LineResult
from .settings import ProgramSettings
from .values import to_jsonable
from .variables import Context


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
    """A failing condition without the actual value (the facts are stored elsewhere)."""
    if "any_failed" in failure:
        return {"any": [_describe(f) for f in failure["any_failed"]]}
    return {"name": failure["name"], "operator": failure["operator"], "value": failure["value"]}


class _Notes:
    """Failing conditions, described once per (rule, path) for the whole trace."""

    def __init__(self):
        self.conditions: dict[str, dict[str, dict]] = {}

    def path(self, r: CompiledRule, failure: dict | None) -> str:
        if failure is None:  # cannot happen while fast and explaining paths agree
            return "conditions"
        self.conditions.setdefault(r.rule.id, {})[failure["path"]] = _describe(failure)
        return failure["path"]


def _apply_traced(r: CompiledRule, fns, v: Decimal, target) -> tuple[Decimal, bool, list]:
    steps = []
    for action, fn in zip(r.rule.actions, fns):
        after = fn(v, target)
        if after is None:
            steps.append({"action": action.name, "contribution": -v, "after": ZERO, "excluded": True})
            return ZERO, True, steps
        steps.append({"action": action.name, "contribution": after - v, "after": after})
        v = after
    return v, False, steps


def _run(rules, line, values, ruled_out, notes, actions, target, start):
    """One line's (or the document's) rules, with the same semantics as the fast path."""
    v, excluded, stopped_by = start, False, None
    matched, matched_ids, not_matched = [], [], {}
    for r in rules:
        rid = r.rule.id
        if r.n in ruled_out:
            continue
        if line is not None and (r.index_node is not None or r.dynamic is not None):
            key_ok = r.index is None or (getattr(line, r.index[0]) or "") in r.index_values
            if not key_ok or (r.dynamic is not None and not r.dynamic(line, values)):
                not_matched[rid] = notes.path(r, r.explain_line(line, values))
                continue
        matched_ids.append(rid)
        v, excluded, steps = _apply_traced(r, actions[r.n][1], v, target)
        matched.append({"rule": rid, "actions": steps})
        if excluded or r.rule.stop_processing:
            stopped_by = rid
            break
    entry = {"matched": matched, "not_matched": not_matched, "stopped_by": stopped_by, "excluded": excluded}
    return v, excluded, matched_ids, entry


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
    flags = policy.active_flags(at, settings.tz)
    actions = accrual_actions(policy)
    notes = _Notes()
    ruled_out: dict[int, str] = {}
    for r in policy.rules:
        if flags is not None and not flags[r.n]:
            ruled_out[r.n] = "inactive"
        else:
            failure = r.explain_static(values)
            if failure is not None:
                ruled_out[r.n] = notes.path(r, failure)
    results, line_traces = [], []
    total = ZERO
    for line in doc.lines:
        v, excluded, matched, entry = _run(policy.by_scope.get("line", ()), line, values, ruled_out, notes,
                                           actions, line, ZERO)
        total += v
        results.append(LineResult(line.line_id, v, excluded, tuple(matched)))
        line_traces.append({"line_id": line.line_id, "points": v, **entry})
    lines_sum = total
    total, _excluded, doc_matched, doc_entry = _run(policy.by_scope.get("document", ()), None, values, ruled_out,
                                                    notes, actions, DocTotals(doc, ctx), lines_sum)
    checked_lines(results, policy)
    unrounded = checked(total * multiplier, "the document's points", policy)
    points = checked(settings.round_points(unrounded), "the document's rounded points", policy)
    document_points = checked(total - lines_sum, "what the document rules add", policy)
    trace = {
        "policy": policy.policy,
        "policy_version": policy.version,
        "at": at,
        "variables": values,
        "ruled_out": {policy.rules[n].rule.id: reason for n, reason in sorted(ruled_out.items())},
        "lines": line_traces,
        "document": {"lines_total": lines_sum, "points": total, **doc_entry},
        "conditions": notes.conditions,
        "tier_multiplier": multiplier,
        "unrounded": unrounded,
        "rounding": {"precision": settings.precision, "mode": settings.rounding},
        "points": points,
    }
    return AccrualResult(points, unrounded, tuple(results), document_points, policy.version,
                         tuple(doc_matched), False, to_jsonable(trace))
