"""The explaining evaluator's trace equals the one built the straightforward way (the oracle below).

`rules.explain` prepares per policy and line key what does not depend on the
document (the constant failure of a missed index key) and builds its trace
from JSON-ready values in one pass; the oracle asks every rule why, for every
line, and converts the whole trace at the end — the builder it replaced. The
two must give equal traces (as JSON, key order aside: PostgreSQL's JSONB and
the API's sorted JSON do not keep it) on random policies and documents.
"""
from __future__ import annotations

import json
import random
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rules
from rules.earning import DocTotals, accrual_actions
from rules.facts import ZERO
from rules.values import aware_utc, to_jsonable
from rules.variables import Context

from .test_differential import DOCS, MEMBERS, SETTINGS, rule_docs


def _describe(failure):
    if "any_failed" in failure:
        return {"any": [_describe(f) for f in failure["any_failed"]]}
    return {"name": failure["name"], "operator": failure["operator"], "value": failure["value"]}


def _note(conditions, r, failure):
    if failure is None:
        return "conditions"
    conditions.setdefault(r.rule.id, {})[failure["path"]] = _describe(failure)
    return failure["path"]


def _run(rules_, line, values, ruled_out, conditions, actions, target, v):
    excluded, stopped_by, matched, not_matched = False, None, [], {}
    for r in rules_:
        if r.n in ruled_out:
            continue
        if line is not None and (r.index_node is not None or r.dynamic is not None):
            key_ok = r.index is None or (getattr(line, r.index[0]) or "") in r.index_values
            if not key_ok or (r.dynamic is not None and not r.dynamic(line, values)):
                not_matched[r.rule.id] = _note(conditions, r, r.explain_line(line, values))
                continue
        steps = []
        for action, fn in zip(r.rule.actions, actions[r.n][1]):
            after = fn(v, target)
            if after is None:
                steps.append({"action": action.name, "contribution": -v, "after": ZERO, "excluded": True})
                v, excluded = ZERO, True
                break
            steps.append({"action": action.name, "contribution": after - v, "after": after})
            v = after
        matched.append({"rule": r.rule.id, "actions": steps})
        if excluded or r.rule.stop_processing:
            stopped_by = r.rule.id
            break
    return v, {"matched": matched, "not_matched": not_matched, "stopped_by": stopped_by, "excluded": excluded}


def oracle(policy, doc, member, program, multiplier):
    at = aware_utc(doc.placed_at)
    ctx = Context(doc=doc, member=member, tz=program.tz)
    values = policy.values(ctx)
    flags = policy.active_flags(at, program.tz)
    actions, conditions, ruled_out = accrual_actions(policy), {}, {}
    for r in policy.rules:
        if flags is not None and not flags[r.n]:
            ruled_out[r.n] = "inactive"
        elif (failure := r.explain_static(values)) is not None:
            ruled_out[r.n] = _note(conditions, r, failure)
    lines, total = [], ZERO
    for line in doc.lines:
        v, entry = _run(policy.by_scope.get("line", ()), line, values, ruled_out, conditions, actions, line, ZERO)
        total += v
        lines.append({"line_id": line.line_id, "points": v, **entry})
    lines_sum = total
    total, doc_entry = _run(policy.by_scope.get("document", ()), None, values, ruled_out, conditions, actions,
                            DocTotals(doc, ctx), lines_sum)
    unrounded = total * multiplier
    return to_jsonable({
        "policy": policy.policy, "policy_version": policy.version, "at": at, "variables": values,
        "ruled_out": {policy.rules[n].rule.id: reason for n, reason in sorted(ruled_out.items())},
        "lines": lines, "document": {"lines_total": lines_sum, "points": total, **doc_entry},
        "conditions": conditions, "tier_multiplier": multiplier, "unrounded": unrounded,
        "rounding": {"precision": program.precision, "mode": program.rounding},
        "points": program.round_points(unrounded)})


def _same(compiled, facts, member, program, multiplier=Decimal(1)):
    traced = rules.evaluate_accrual(compiled, facts, member, program, tier_multiplier=multiplier, explain=True)
    if traced.member_excluded:
        return
    expected = oracle(compiled, facts, member, program, multiplier)
    assert json.dumps(traced.trace, sort_keys=True) == json.dumps(expected, sort_keys=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_docs(), st.lists(st.tuples(DOCS, MEMBERS), min_size=1, max_size=3), SETTINGS,
       st.sampled_from(["1", "1.5"]).map(Decimal))
def test_trace_equals_the_straightforward_builder(doc, items, program, multiplier):
    compiled = rules.compile_policy(rules.validate_policy(doc), version=3)
    for facts, member in items:  # the same policy twice: the second pass meets the cached plans
        _same(compiled, facts, member, program, multiplier)
        _same(compiled, facts, member, program, multiplier)


def test_trace_equals_the_straightforward_builder_on_the_benchmark_program():
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
    import bench_rules
    compiled = rules.compile_policy(rules.validate_policy(bench_rules.program()), version=1)
    for facts, member in bench_rules.documents(3000, random.Random(5)):
        _same(compiled, facts, member, rules.DEFAULT_SETTINGS)
