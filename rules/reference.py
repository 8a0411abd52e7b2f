"""``reference_accrual``: the SPEC §3 accrual semantics on top of ``business_rules``.

Conditions are checked and actions dispatched by ``business_rules.engine``
itself (``run``, and ``do_actions`` for rules without conditions), with the
generated variables classes and the intent-recording actions classes. Only
what business-rules cannot express — priority order, active periods, rule
scope, ``stop_processing`` and what an intent does to the running total — is
the thin loop below; results outside the ledger's range raise
``EvaluationError`` exactly as in the compiled evaluator. Slow on purpose: it is the yardstick for the compiled
evaluator (differential test) and the baseline of ``bench/bench_rules.py``.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from business_rules.engine import do_actions, run

from .facts import ZERO, DocumentFacts, MemberFacts
from .limits import MAX_AMOUNT, checked, guarded
from .model import PolicyDocument
from .settings import ProgramSettings
from .values import aware_utc
from .variables import Context
from .vocabulary import vocabulary

_EXCLUDED = object()


def _apply(intent, v: Decimal, line_total, quantity, catalog) -> object:
    """One recorded intent applied to the running points ``v``."""
    name, params = intent
    if name == "earn_percent":
        return v + line_total * params["percent"] / Decimal(100)
    if name == "earn_per_amount":
        return v + params["points"] * (line_total // params["amount"])
    if name == "earn_per_unit":
        return v + params["points"] * quantity
    if name == "earn_catalog_points":
        return v + catalog
    if name == "earn_fixed":
        return v + params["points"]
    if name == "multiply":
        return v * params["factor"]
    if name == "cap":
        return params["points"] if v > params["points"] else v
    if name == "exclude":
        return _EXCLUDED
    raise KeyError(name)


def _active(rule, at: datetime, tz) -> bool:
    start, end = rule.period(tz)
    return (start is None or start <= at) and (end is None or at < end)


def _run_scope(rules, variables, actions_class, start, line_total, quantity, catalog, at, tz) -> Decimal:
    v = start
    for rule in rules:
        if not _active(rule, at, tz):
            continue
        actions = actions_class()
        plain = rule.to_business_rules()
        if rule.conditions is None:
            do_actions(plain["actions"], actions)
        elif not run(plain, variables, actions):
            continue
        for intent in actions.intents:
            v = _apply(intent, v, line_total, quantity, catalog)
            if v is _EXCLUDED:
                return ZERO
        if rule.stop_processing:
            break
    return v


@guarded
def reference_accrual(doc_policy: PolicyDocument, doc: DocumentFacts, member: MemberFacts,
                      settings: ProgramSettings, at: datetime | None = None,
                      tier_multiplier=1) -> Decimal:
    """The rounded points ``doc`` earns, computed through business-rules."""
    unrounded, _ = reference_detail(doc_policy, doc, member, settings, at, tier_multiplier)
    return checked(settings.round_points(unrounded), "the document's rounded points", doc_policy)


@guarded
def reference_detail(doc_policy: PolicyDocument, doc: DocumentFacts, member: MemberFacts,
                     settings: ProgramSettings, at: datetime | None = None,
                     tier_multiplier=1) -> tuple[Decimal, tuple[Decimal, ...]]:
    """(unrounded total, per-line points): what the differential test compares."""
    if doc_policy.policy != "accrual":
        raise ValueError(f"reference_accrual needs the accrual policy, not {doc_policy.policy!r}")
    if settings.is_excluded(member.member_group):
        return ZERO, tuple(ZERO for _ in doc.lines)
    vocab = vocabulary("accrual")
    tz = settings.tz
    at = aware_utc(at or doc.placed_at)
    ctx = Context(doc=doc, member=member, tz=tz)
    line_vars = vocab.variables_class("line")(ctx)
    total = ZERO
    per_line = []
    line_rules = doc_policy.sorted_rules("line")
    for line in doc.lines:
        ctx.for_line(line)
        per_unit = line.product_points_per_unit
        catalog = ZERO if per_unit is None else per_unit * line.quantity
        per_line.append(_run_scope(line_rules, line_vars, vocab.actions_class, ZERO, line.line_total,
                                   line.quantity, catalog, at, tz))
        total += per_line[-1]
    doc_vars = vocab.variables_class("document")(ctx)
    quantity = sum((line.quantity for line in doc.lines), ZERO)
    catalog = sum((ZERO if line.product_points_per_unit is None else line.product_points_per_unit * line.quantity
                   for line in doc.lines), ZERO)
    total = _run_scope(doc_policy.sorted_rules("document"), doc_vars, vocab.actions_class, total,
                       doc.order_total, quantity, catalog, at, tz)
    for line, points in zip(doc.lines, per_line):
        if not -MAX_AMOUNT <= points <= MAX_AMOUNT:
            checked(points, f"the points of line {line.line_id}", doc_policy)
    return checked(total * Decimal(tier_multiplier), "the document's points", doc_policy), tuple(per_line)
