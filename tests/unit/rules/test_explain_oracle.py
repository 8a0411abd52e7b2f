"""The explaining evaluator's trace equals the one built the straightforward way (the oracle below).

`rules.explain` prepares per policy and line key what does not depend on the
document (the constant failure of a missed index key) and builds its trace
from JSON-ready values in one pass; the oracle asks every rule why, for every
line, and converts the whole trace at the end — the builder it replaced. The
two must give equal traces (as JSON, key order aside: PostgreSQL's JSONB and
the API's sorted JSON do not keep it) on random policies and documents.
"""
from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rules
from rules.earning import DocTotals, accrual_actions
from rules.facts import ZERO, DocumentFacts, LineFacts, MemberFacts
from rules.values import aware_utc, to_jsonable
from rules.variables import Context

from .rulekit import act, compile_rules, cond, rule
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
    bench_rules = _bench_program()
    compiled = rules.compile_policy(rules.validate_policy(bench_rules.program()), version=1)
    for facts, member in bench_rules.documents(3000, random.Random(5)):
        _same(compiled, facts, member, rules.DEFAULT_SETTINGS)


def _bench_program():
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
    import bench_rules
    return bench_rules


# The sha256 of the benchmark program's traces, as json.dumps writes them (key order included: SQLite
# stores the text as it is), from the builder before the per-policy trace fragments of `rules.explain_plan`.
# The trace is public (stored with every entry, shown by the API and the admin UI): a change of this digest
# is a change of what every stored explanation says, to be made on purpose, never as a side effect of speed.
BENCH_TRACES_SHA256 = "16e1a188811144381f7b1420aeb553790bc93c931b68a23cb1b0f43b020c1039"


def test_benchmark_traces_are_byte_for_byte_those_of_the_earlier_builder():
    bench_rules = _bench_program()
    compiled = rules.compile_policy(rules.validate_policy(bench_rules.program()), version=1)
    digest = hashlib.sha256()
    for facts, member in bench_rules.documents(3000, random.Random(5)):
        for multiplier in (Decimal(1), Decimal("1.5")):
            result = rules.evaluate_accrual(compiled, facts, member, rules.DEFAULT_SETTINGS, explain=True,
                                            tier_multiplier=multiplier)
            digest.update(json.dumps(result.trace).encode())
    assert digest.hexdigest() == BENCH_TRACES_SHA256


def test_every_way_of_the_prepared_trace_equals_the_oracle():
    """Each kind of prepared fragment on purpose: index misses between checked rules, a one-leaf line
    condition (constant), an ``any`` of line conditions (asked as the line runs), a static part of two
    nodes (the second an ``any``, constant) and one whose node is an ``any`` of ``all`` (asked), a rule
    with a period and a static condition (inactive or failing), several actions, a stop before an index miss."""
    def fixed(points):
        return act("earn_fixed", points=points)

    weekend = {"any": [cond("weekday", "equal_to", "saturday"), cond("weekday", "equal_to", "sunday")]}
    compiled = compile_rules(
        "accrual",
        rule("base", act("earn_percent", percent=5), scope="line", priority=100),
        *(rule(f"g{g}", act("multiply", factor=2), scope="line", priority=50,
               conditions={"all": [cond("product_group", "equal_to", g)]}) for g in ("1", "2", "3")),
        rule("big", fixed(3), act("cap", points=20), scope="line", priority=40,
             conditions={"all": [cond("line_total", "greater_than", 100)]}),
        rule("either", fixed(1), scope="line", priority=30, conditions={"all": [
            cond("brand", "equal_to", "A"),
            {"any": [cond("quantity", "greater_than", 5), cond("is_promo", "is_true")]}]}),
        rule("weekend-web", act("multiply", factor=3), scope="line", priority=20,
             conditions={"all": [cond("channel", "equal_to", "web"), weekend]}),
        rule("mixed", fixed(2), scope="line", priority=15, conditions={"any": [
            {"all": [cond("channel", "equal_to", "pos"), cond("member_group", "equal_to", "VIP")]},
            cond("document_type", "equal_to", "correction")]}),
        rule("dated", fixed(7), scope="line", priority=10, active_from="2025-03-01", active_until="2025-03-05",
             conditions={"all": [cond("member_group", "equal_to", "VIP")]}),
        rule("stop", act("cap", points=50), scope="line", priority=5, stop_processing=True,
             conditions={"all": [cond("sku", "equal_to", "S")]}),
        rule("after-stop", fixed(1), scope="line", priority=1),
        rule("last", fixed(1), scope="line", priority=0, conditions={"all": [cond("sku", "equal_to", "T")]}),
        rule("doc", fixed(4), act("multiply", factor="1.5"), scope="document", priority=1,
             conditions={"all": [cond("order_total", "greater_than", 50)]}),
        version=2)

    def line(i, **kw):
        return LineFacts(line_id=str(i), **{"quantity": Decimal(1), "line_total": Decimal("80"), **kw})

    lines = (line(1, product_group="1", brand="A", quantity=Decimal(6)), line(2, product_group="9", brand="A"),
             line(3, product_group="2", sku="S", line_total=Decimal("120")), line(4, brand="B", is_promo=True),
             line(5, product_group="3", brand="A", is_promo=True, line_total=Decimal("150")))
    for day in (1, 4, 8, 9):  # inside the period or not; a Saturday (8 March 2025) or not
        for channel, group, kind in (("web", "VIP", "order"), ("pos", "VIP", "order"), ("erp", "STD", "correction")):
            facts = DocumentFacts(lines=lines, channel=channel, document_type=kind,
                                  placed_at=datetime(2025, 3, day, 12, tzinfo=UTC))
            _same(compiled, facts, MemberFacts(member_group=group), rules.DEFAULT_SETTINGS)
            for part in (lines[1:2], lines[2:4]):  # a line asked as it ran; none (lines of brand B or none)
                _same(compiled, DocumentFacts(lines=part, channel=channel, placed_at=facts.placed_at),
                      MemberFacts(member_group=group), rules.DEFAULT_SETTINGS)
