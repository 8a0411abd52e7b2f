"""Explaining evaluation: the same numbers as the fast path, plus a compact trace.

``traced_accrual`` uses the same compiled checks as the fast path and asks a
rule *why* only when it fails, so explaining costs little more than
evaluating; the trace names each failing condition by its path once per rule
(``conditions``) rather than repeating it per line, which keeps it small
enough to store with every ledger entry. Everything is JSON-serialisable
(Decimals as text). ``rule_check`` serves the other policies' evaluators.

What does not depend on the line is prepared once per policy
(``rules.explain_plan``): the line plans per set of ruled-out rules, a line's
``not_matched`` per set of rules it missed or failed on a constant condition,
the constant notes of ``conditions``. What remains per line is running its
rules and writing each matched action's contribution; the trace is built in
one pass, JSON-ready as it goes.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from .compiler import CompiledPolicy, CompiledRule
from .earning import DocTotals
from .explain_plan import Prepared, describe, prepared
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


def _failure_note(conditions: dict, r: CompiledRule, failure: dict | None, leaves: dict) -> str:
    """Note ``failure`` (a later line's failure of the same part wins) and return its path; a leaf's
    description (it never shows the actual value) is kept in ``leaves`` (per policy)."""
    if failure is None:  # cannot happen while fast and explaining paths agree
        return "conditions"
    path = failure["path"]
    if "any_failed" in failure:
        description = describe(failure)
    else:
        description = leaves.get((r.n, path))
        if description is None:
            description = leaves[(r.n, path)] = describe(failure)
    found = conditions.get(r.rule.id)
    if found is None:
        conditions[r.rule.id] = {path: description}
    else:
        found[path] = description
    return path


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


def _run_general(prep: Prepared, items, rules, misses: int, line, values, conditions):
    """A line whose plan holds a rule that can fail more than one way: ``not_matched`` is built as the
    rules run, in their order. Returns what the fast loop of `traced_accrual` has at its end."""
    v, excluded, stopped_by, failed, seen = ZERO, False, None, 0, 0
    ids, matched, not_matched = [], [], {}
    for (dynamic, fail_bit, rid, fn, name, stop, before, multi), r in zip(items, rules):
        if before != seen:
            not_matched.update(prep.not_matched_of(before & ~seen))
            seen = before
        if dynamic is not None and not dynamic(line, values):
            if fail_bit:
                not_matched[rid] = prep.line_failure[r.n][0]
                failed |= fail_bit
            else:
                not_matched[rid] = _failure_note(conditions, r, r.explain_line(line, values), prep.leaves)
            continue
        ids.append(rid)
        v, excluded, steps = _apply(*(multi or ((name,), (fn,))), v, line)
        matched.append({"rule": rid, "actions": steps})
        if excluded or stop:
            stopped_by = rid
            break
    else:
        if misses != seen:
            not_matched.update(prep.not_matched_of(misses & ~seen))
            seen = misses
    return v, excluded, stopped_by, ids, matched, not_matched, seen | failed


def _plain(values: dict) -> dict:
    """``to_jsonable`` of a flat dict of variables, without its recursion for the usual scalar types."""
    out = {}
    for name, value in values.items():
        kind = type(value)
        if kind is Decimal:
            out[name] = str(value)
        elif kind is str or kind is bool or kind is int or value is None:
            out[name] = value
        else:
            out[name] = to_jsonable(value)
    return out


def _static_failure(rid: str, r: CompiledRule, checks: tuple, values: dict, conditions: dict, leaves: dict) -> str:
    """Note and return the first failing static node of ``r`` (``explain_static``, by the fast checks:
    only a node whose failure is not constant is asked why)."""
    for check, path, description, node in checks:
        if not check(None, values):
            if description is None:
                return _failure_note(conditions, r, node.explain(None, values), leaves)
            conditions[rid] = {path: description}
            return path
    return _failure_note(conditions, r, r.explain_static(values), leaves)  # cannot happen: the mask has it


def _ruled_out(prep: Prepared, policy, mask, at, tz, by_inactive, values, conditions) -> dict:
    """Rule id → "inactive" or the failing document/member condition's path, for the rules of ``mask``."""
    # A rule with a period and no static condition is in the mask only when inactive.
    inactive = mask & prep.period_bits & ~prep.period_static_bits
    if mask & prep.period_static_bits:
        inactive |= policy.inactive_mask(at, tz) & prep.period_static_bits
    ruled_out = {}
    for rid, path, note in prep.ruled_out(mask, inactive, by_inactive):
        if note is None:
            ruled_out[rid] = path
        elif path is None:  # its static part can fail more than one way
            ruled_out[rid] = _static_failure(rid, *note, values, conditions, prep.leaves)
        else:
            ruled_out[rid] = path
            conditions[rid] = {path: note}
    return ruled_out


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
    prep = prepared(policy)
    conditions: dict[str, dict] = {}
    # The fast path's mask says which rules cannot match; only those are asked why, in rule order.
    mask = policy.disabled_mask(values, at, settings.tz)
    plans, doc_items, by_inactive = prep.for_mask(mask)
    ruled_out = _ruled_out(prep, policy, mask, at, settings.tz, by_inactive, values, conditions) if mask else {}
    by_sku, by_group, by_brand = policy.bucket_keys
    not_matched_of, known = prep.not_matched_of, prep.not_matched
    results, line_traces = [], []
    doc_bits, asked = 0, False
    total = ZERO
    for line in doc.lines:
        sku, group, brand = line.sku or "", line.product_group or "", line.brand or ""
        key = (sku if sku in by_sku else None, group if group in by_group else None,
               brand if brand in by_brand else None)
        plan = plans.get(key)
        if plan is None:
            plan = plans[key] = prep.line_plan(key, mask)
        items, missed, general = plan
        if general is not None:
            asked = True
            v, excluded, stopped_by, ids, matched, not_matched, bits = _run_general(
                prep, items, general, missed, line, values, conditions)
            shown = str(v)
        else:  # every failure here is constant: ``not_matched`` follows from the bits
            v, excluded, stopped_by, failed, shown = ZERO, False, None, 0, "0"
            ids, matched = [], []
            for dynamic, fail_bit, rid, fn, name, stop, before, multi in items:
                if dynamic is not None and not dynamic(line, values):
                    failed |= fail_bit
                    continue
                ids.append(rid)
                if multi is None:  # most rules have one action: `_apply` inlined
                    after = fn(v, line)
                    if after is None:
                        matched.append({"rule": rid, "actions": [
                            {"action": name, "contribution": str(-v), "after": "0", "excluded": True}]})
                        v, excluded, shown, stopped_by, missed = ZERO, True, "0", rid, before
                        break
                    shown = str(after)  # the line's points when no later rule matches
                    matched.append({"rule": rid, "actions": [
                        {"action": name, "contribution": str(after - v), "after": shown}]})
                    v = after
                else:
                    v, excluded, steps = _apply(*multi, v, line)
                    matched.append({"rule": rid, "actions": steps})
                    shown = str(v)
                if excluded or stop:
                    stopped_by, missed = rid, before
                    break
            bits = missed | failed
            not_matched = known.get(bits)
            not_matched = (not_matched_of(bits) if not_matched is None else not_matched).copy()
        doc_bits |= bits
        total += v
        results.append(LineResult(line.line_id, v, excluded, tuple(ids)))
        line_traces.append({"line_id": line.line_id, "points": shown, "matched": matched,
                            "not_matched": not_matched, "stopped_by": stopped_by, "excluded": excluded})
    lines_sum = total
    if doc_bits:  # the constant notes, once per trace
        notes = prep.notes.get(doc_bits) or prep.constant_notes(doc_bits)
        if asked:  # a line noted a failure of one of these rules as it ran
            for rid, paths in notes.items():
                found = conditions.get(rid)
                if found is None:
                    conditions[rid] = paths.copy()
                else:
                    found.update(paths)
        else:  # the ruled-out rules noted so far are not line rules of the plans: no id in common
            conditions.update({rid: paths.copy() for rid, paths in notes.items()})
    doc_excluded, doc_stopped, doc_matched, doc_ids = False, None, [], []
    if doc_items:  # the document-scope rules on the lines' sum (their conditions are all static)
        totals = DocTotals(doc, ctx)
        for rid, names, fns, stop in doc_items:
            doc_ids.append(rid)
            total, doc_excluded, steps = _apply(names, fns, total, totals)
            doc_matched.append({"rule": rid, "actions": steps})
            if doc_excluded or stop:
                doc_stopped = rid
                break
    checked_lines(results, policy)
    unrounded = checked(total * multiplier, "the document's points", policy)
    points = checked(settings.round_points(unrounded), "the document's rounded points", policy)
    document_points = checked(total - lines_sum, "what the document rules add", policy)
    trace = {
        "policy": policy.policy,
        "policy_version": policy.version,
        "at": at.isoformat(),
        "variables": _plain(values),
        "ruled_out": ruled_out,
        "lines": line_traces,
        "document": {"lines_total": str(lines_sum), "points": str(total), "matched": doc_matched,
                     "not_matched": {}, "stopped_by": doc_stopped, "excluded": doc_excluded},
        "conditions": conditions,
        "tier_multiplier": str(multiplier),
        "unrounded": str(unrounded),
        "rounding": _plain({"precision": settings.precision, "mode": settings.rounding}),
        "points": str(points),
    }
    return AccrualResult(points, unrounded, tuple(results), document_points, policy.version,
                         tuple(doc_ids), False, trace)
