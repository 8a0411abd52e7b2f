"""Helpers for the rules tests: tiny builders for policies and facts (imported by the tests)."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import rules
from rules.facts import DocumentFacts, LineFacts, MemberFacts

MONDAY = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def make_line(line_id="1", total="100", **kw) -> LineFacts:
    kw.setdefault("quantity", Decimal(1))
    return LineFacts(line_id=line_id, line_total=Decimal(str(total)), **kw)


def make_doc(*lines, **kw) -> DocumentFacts:
    kw.setdefault("placed_at", MONDAY)
    return DocumentFacts(lines=tuple(lines), **kw)


def rule(rule_id, *actions, conditions=None, **kw) -> dict:
    out = {"id": rule_id, "actions": [a if isinstance(a, dict) else {"name": a} for a in actions], **kw}
    if conditions is not None:
        out["conditions"] = conditions
    return out


def act(action_name, /, **params) -> dict:
    return {"name": action_name, "params": params}


def cond(name, operator, value=None) -> dict:
    out = {"name": name, "operator": operator}
    if value is not None:
        out["value"] = value
    return out


def compile_rules(policy, *rule_dicts, version=1):
    return rules.compile_policy(rules.validate_policy({"policy": policy, "rules": list(rule_dicts)}), version)


def accrue(*rule_dicts, doc, member=None, settings=rules.DEFAULT_SETTINGS, **kw):
    compiled = compile_rules("accrual", *rule_dicts)
    member = member or MemberFacts()
    result = rules.evaluate_accrual(compiled, doc, member, settings, **kw)
    # Every semantics example is also checked against the business-rules reference
    # and the explaining evaluator, so the examples pin all three.
    reference = rules.reference_accrual(compiled.document, doc, member, settings,
                                        at=kw.get("at"), tier_multiplier=kw.get("tier_multiplier", 1))
    assert reference == result.points
    explained = rules.evaluate_accrual(compiled, doc, member, settings, explain=True, **kw)
    assert explained.points == result.points and explained.lines == result.lines
    return result
