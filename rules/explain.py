"""The explaining evaluator: same numbers as the fast path, plus a trace.

It walks every rule of a scope in order (no index) and records, per rule:
matched or not, why not (``inactive``, the failing condition with the actual
value, or ``not_reached`` after a stop), and for each action the points
before and after. Everything in the trace is JSON-serialisable (Decimals as
text), so the ledger can store it next to the entry it explains.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from .compiler import CompiledPolicy, CompiledRule
from .facts import ZERO, DocumentFacts, MemberFacts
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


def run_traced(rules, line, values, flags, target, start: Decimal, fns_of) -> tuple[Decimal, bool, list, list]:
    """Run ``rules`` on ``target`` from ``start``; returns (points, excluded, matched ids, entries)."""
    v = start
    entries: list[dict[str, Any]] = []
    matched: list[str] = []
    stopped_by = None
    excluded = False
    for r in rules:
        entry: dict[str, Any] = {"rule": r.rule.id, "priority": r.rule.priority}
        if stopped_by is not None:
            entry.update(matched=False, reason="not_reached", stopped_by=stopped_by)
            entries.append(entry)
            continue
        why = rule_check(r, line, values, flags)
        if why is not None:
            entry.update(matched=False, **why)
            entries.append(entry)
            continue
        matched.append(r.rule.id)
        steps = []
        for action, fn in zip(r.rule.actions, fns_of(r)):
            before = v
            after = fn(v, target)
            step = {"action": action.name, "params": dict(action.params), "before": before}
            if after is None:
                step.update(after=ZERO, contribution=-before, excluded=True)
                steps.append(step)
                v, excluded = ZERO, True
                break
            step.update(after=after, contribution=after - before)
            steps.append(step)
            v = after
        entry.update(matched=True, actions=steps)
        entries.append(entry)
        if excluded:
            stopped_by = r.rule.id
        elif r.rule.stop_processing:
            entry["stop_processing"] = True
            stopped_by = r.rule.id
    return v, excluded, matched, entries


def traced_accrual(policy: CompiledPolicy, doc: DocumentFacts, member: MemberFacts,
                   settings: ProgramSettings, at: datetime, multiplier: Decimal):
    from .accrual import AccrualResult, DocTotals, LineResult, _compiled_actions

    ctx = Context(doc=doc, member=member, tz=settings.tz)
    values = policy.values(ctx)
    flags = policy.active_flags(at, settings.tz)
    actions = _compiled_actions(policy)

    def fns_of(r):
        return actions[r.n][1]

    results, line_traces = [], []
    total = ZERO
    for line in doc.lines:
        v, excluded, matched, entries = run_traced(policy.by_scope.get("line", ()), line, values, flags,
                                                   line, ZERO, fns_of)
        total += v
        results.append(LineResult(line.line_id, v, excluded, tuple(matched)))
        line_traces.append({"line_id": line.line_id, "points": v, "excluded": excluded, "rules": entries})
    lines_sum = total
    total, doc_excluded, doc_matched, doc_entries = run_traced(
        policy.by_scope.get("document", ()), None, values, flags, DocTotals(doc), lines_sum, fns_of)
    unrounded = total * multiplier
    points = settings.round_points(unrounded)
    trace = {
        "policy": policy.policy,
        "policy_version": policy.version,
        "at": at,
        "variables": values,
        "lines": line_traces,
        "document": {"lines_total": lines_sum, "points": total, "excluded": doc_excluded,
                     "rules": doc_entries},
        "tier_multiplier": multiplier,
        "unrounded": unrounded,
        "rounding": {"precision": settings.precision, "mode": settings.rounding},
        "points": points,
    }
    return AccrualResult(points, unrounded, tuple(results), total - lines_sum, policy.version,
                         tuple(doc_matched), False, to_jsonable(trace))
