"""The generic rule loop shared by the non-accrual evaluators.

Rules of one scope run in priority order; a rule outside its active period
or whose conditions fail does not match; ``stop_processing`` on a matching
rule stops the rest. What the matched rules' actions *mean* is up to each
policy's evaluator; this module only decides which rules matched and records
why the others did not (for the trace).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from .compiler import CompiledPolicy, CompiledRule
from .explain import rule_check
from .values import to_jsonable

DEFAULT_ACTION_ORDER = "first rule wins"


def check_policy(policy: CompiledPolicy, *allowed: str) -> None:
    if policy.policy not in allowed:
        raise ValueError(f"this evaluator needs the {' or '.join(allowed)} policy, not {policy.policy!r}")


def matching(policy: CompiledPolicy, scope: str, line, values: dict, flags: list[bool] | None,
             trace: list | None = None) -> list[CompiledRule]:
    """The rules of ``scope`` that match, in order, up to the first stop."""
    matched: list[CompiledRule] = []
    stopped_by = None
    for r in policy.by_scope.get(scope, ()):
        if stopped_by is not None:
            if trace is not None:
                trace.append({"rule": r.rule.id, "matched": False, "reason": "not_reached", "stopped_by": stopped_by})
            continue
        why = rule_check(r, line, values, flags)
        if why is not None:
            if trace is not None:
                trace.append({"rule": r.rule.id, "matched": False, **why})
            continue
        matched.append(r)
        if trace is not None:
            trace.append({"rule": r.rule.id, "matched": True,
                          "actions": [{"action": a.name, "params": dict(a.params)} for a in r.rule.actions]})
        if r.rule.stop_processing:
            stopped_by = r.rule.id
    return matched


def intents(rules: list[CompiledRule]):
    """(rule id, action name, params) of the matched rules, in order."""
    for r in rules:
        for action in r.rule.actions:
            yield r.rule.id, action.name, action.params


def base_trace(policy: CompiledPolicy, at: datetime, values: dict) -> dict[str, Any]:
    return {"policy": policy.policy, "policy_version": policy.version, "at": at, "variables": values}


def finish(trace: dict[str, Any] | None) -> dict | None:
    return None if trace is None else to_jsonable(trace)
