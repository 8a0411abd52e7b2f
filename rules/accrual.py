"""``evaluate_accrual``: points for a purchase document, exactly as SPEC §3 says.

1. Each line starts at 0. Its matching line-scope rules run by priority
   (higher first, ties in document order) and their actions apply in order:
   ``earn_percent(p)`` adds p % of line_total; ``earn_per_amount(points,
   amount)`` adds points × (line_total // amount) — whole amounts only,
   truncated toward zero so a return line mirrors its sale; ``earn_per_unit``
   adds points × quantity; ``earn_catalog_points`` adds the catalog points
   per unit × quantity (0 without catalog points); ``earn_fixed`` adds;
   ``multiply`` scales what the line has so far; ``cap`` limits it;
   ``exclude`` zeroes the line and stops its rules; ``stop_processing`` stops
   after that rule.
2. The line totals are summed; document-scope rules run on that sum with the
   same actions, where "the line" becomes the document: order_total, the
   total quantity, all lines' catalog points; ``exclude`` zeroes the document.
3. The sum is multiplied by the tier multiplier and rounded ONCE with the
   program precision and rounding.

Every result must fit the ledger (``rules.limits``: 14 integer digits, 4
decimals); one that does not, or arithmetic that fails, raises
``EvaluationError`` instead of a bare decimal error.

Rules whose active period does not contain ``at`` (default: the document's
``placed_at``) do not match. Members of a group in ``settings.excluded_groups``
earn nothing.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from .compiler import CompiledPolicy
from .earning import DocTotals, accrual_actions
from .explain import traced_accrual
from .facts import ZERO, DocumentFacts, MemberFacts
from .limits import checked, checked_lines, guarded
from .results import AccrualResult, LineResult
from .settings import ProgramSettings
from .values import aware_utc
from .variables import Context

ONE = Decimal(1)


def _check(policy: CompiledPolicy) -> None:
    if policy.policy != "accrual":
        raise ValueError(f"evaluate_accrual needs the accrual policy, not {policy.policy!r}")


@guarded
def evaluate_accrual(policy: CompiledPolicy, doc: DocumentFacts, member: MemberFacts,
                     settings: ProgramSettings, *, explain: bool = False, at: datetime | None = None,
                     tier_multiplier: Decimal = ONE, _contributions: dict | None = None) -> AccrualResult:
    """Points a document earns under ``policy`` (see the module docstring for the semantics).

    With ``explain=True`` the result carries a JSON-serialisable ``trace``:
    per line and for the document, every rule with whether it matched (and
    the failing condition when not), each action's contribution, and the
    policy version. The numbers are the same either way.

    Raises ``EvaluationError`` when a line, the document or the total would
    fall outside what the ledger holds (``rules.limits.MAX_AMOUNT``), or
    when the arithmetic fails on the way.
    """
    _check(policy)
    at = aware_utc(at or doc.placed_at)
    multiplier = Decimal(tier_multiplier)
    if settings.is_excluded(member.member_group):
        lines = tuple(LineResult(line.line_id, ZERO, True, ()) for line in doc.lines)
        trace = {"policy": policy.policy, "policy_version": policy.version,
                 "member_excluded": member.member_group, "points": "0"} if explain else None
        return AccrualResult(settings.round_points(ZERO), ZERO, lines, ZERO, policy.version,
                             (), True, trace)
    if explain:
        return traced_accrual(policy, doc, member, settings, at, multiplier)
    ctx = Context(doc=doc, member=member, tz=settings.tz)
    values = policy.values(ctx)
    mask = policy.disabled_mask(values, at, settings.tz)
    plans = _plans(policy, mask)
    by_sku, by_group, by_brand = policy.bucket_keys
    contributions = _contributions
    results = []
    total = ZERO
    for line in doc.lines:
        # policy.line_key, inlined: this loop is the hot path of the whole server
        sku, group, brand = line.sku or "", line.product_group or "", line.brand or ""
        key = (sku if sku in by_sku else None, group if group in by_group else None,
               brand if brand in by_brand else None)
        plan = plans.get(key)
        if plan is None:
            plan = plans[key] = _plan(policy, key, mask)
        v = ZERO
        excluded = False
        matched = []
        for dynamic, apply, rule_id, stop in plan:
            if dynamic is not None and not dynamic(line, values):
                continue
            matched.append(rule_id)
            before = v
            v = apply(v, line)
            if contributions is not None:
                contributions[rule_id] = contributions.get(rule_id, ZERO) + ((ZERO if v is None else v) - before)
            if v is None:
                v = ZERO
                excluded = True
                break
            if stop:
                break
        total += v
        results.append(LineResult(line.line_id, v, excluded, tuple(matched)))
    lines_sum = total
    doc_rules = []
    totals = None
    actions = accrual_actions(policy)
    for r in policy.by_scope.get("document", ()):
        if (mask >> r.n) & 1:
            continue
        doc_rules.append(r.rule.id)
        if totals is None:
            totals = DocTotals(doc, ctx)
        before = total
        total = actions[r.n][0](total, totals)
        if contributions is not None:
            contributions[r.rule.id] = contributions.get(r.rule.id, ZERO) + (
                (ZERO if total is None else total) - before)
        if total is None:
            total = ZERO
            break
        if r.rule.stop_processing:
            break
    checked_lines(results, policy)
    unrounded = checked(total * multiplier, "the document's points", policy)
    points = checked(settings.round_points(unrounded), "the document's rounded points", policy)
    document_points = checked(total - lines_sum, "what the document rules add", policy)
    return AccrualResult(points, unrounded, tuple(results), document_points, policy.version, tuple(doc_rules))


def _plans(policy: CompiledPolicy, mask: int) -> dict:
    """line key → plan, for one set of disabled rules (cached on the policy)."""
    by_mask = policy.cache.setdefault("accrual_plans", {})
    plans = by_mask.get(mask)
    if plans is None:
        if len(by_mask) >= 4096:  # many distinct masks: keep memory bounded
            by_mask.clear()
        plans = by_mask[mask] = {}
    return plans


def _plan(policy: CompiledPolicy, key: tuple, mask: int) -> tuple:
    """The line rules to try for a line key, as flat tuples for the hot loop."""
    actions = accrual_actions(policy)
    return tuple((r.dynamic, actions[r.n][0], r.rule.id, r.rule.stop_processing)
                 for r in policy.candidates(key) if not (mask >> r.n) & 1)
