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

Rules whose active period does not contain ``at`` (default: the document's
``placed_at``) do not match. Members of a group in ``settings.excluded_groups``
earn nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from .compiler import CompiledPolicy
from .facts import ZERO, DocumentFacts, MemberFacts
from .model import Action
from .settings import ProgramSettings
from .values import aware_utc
from .variables import Context

HUNDRED = Decimal(100)
ONE = Decimal(1)


class LineResult(NamedTuple):
    line_id: str
    points: Decimal  # unrounded, after the line's own rules
    excluded: bool
    rules: tuple[str, ...]  # ids of the rules that matched, in order

    def to_dict(self) -> dict[str, Any]:
        return {"line_id": self.line_id, "points": str(self.points), "excluded": self.excluded,
                "rules": list(self.rules)}


@dataclass(slots=True)
class AccrualResult:
    """The outcome of one evaluation (treat as read-only; not frozen only because
    it is built on the hot path)."""

    points: Decimal  # rounded once, what the ledger posts
    unrounded: Decimal
    lines: tuple[LineResult, ...]
    document_points: Decimal  # what document rules added (negative when they cut)
    policy_version: int | None
    document_rules: tuple[str, ...] = ()
    member_excluded: bool = False
    trace: dict | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"points": str(self.points), "unrounded": str(self.unrounded),
                "lines": [line.to_dict() for line in self.lines],
                "document_points": str(self.document_points), "document_rules": list(self.document_rules),
                "policy_version": self.policy_version, "member_excluded": self.member_excluded,
                "trace": self.trace}


class DocTotals:
    """What a document-scope action reads in place of a line."""

    __slots__ = ("doc", "line_total")

    def __init__(self, doc: DocumentFacts, ctx: Context | None = None):
        self.doc = doc
        self.line_total = ctx.order_total if ctx is not None else doc.order_total

    @property
    def quantity(self) -> Decimal:
        return sum((line.quantity for line in self.doc.lines), ZERO)

    @property
    def catalog_points(self) -> Decimal:
        return sum((catalog_points(line) for line in self.doc.lines), ZERO)


def catalog_points(line) -> Decimal:
    per_unit = line.product_points_per_unit
    return ZERO if per_unit is None else per_unit * line.quantity


def action_fn(action: Action, scope: str):
    """``f(points_so_far, line_or_totals) -> points`` or None for ``exclude``."""
    p, name = action.params, action.name
    if name == "earn_percent":
        pct = p["percent"]
        return lambda v, t: v + t.line_total * pct / HUNDRED
    if name == "earn_per_amount":
        points, amount = p["points"], p["amount"]
        return lambda v, t: v + points * (t.line_total // amount)
    if name == "earn_per_unit":
        points = p["points"]
        return lambda v, t: v + points * t.quantity
    if name == "earn_catalog_points":
        if scope == "document":
            return lambda v, t: v + t.catalog_points
        return lambda v, t: v + catalog_points(t)
    if name == "earn_fixed":
        points = p["points"]
        return lambda v, t: v + points
    if name == "multiply":
        factor = p["factor"]
        return lambda v, t: v * factor
    if name == "cap":
        limit = p["points"]
        return lambda v, t: limit if v > limit else v
    if name == "exclude":
        return lambda v, t: None
    raise KeyError(name)  # pragma: no cover - validation keeps unknown actions out


def _chain(fns):
    if len(fns) == 1:
        return fns[0]

    def run(v, t):
        for f in fns:
            v = f(v, t)
            if v is None:
                return None
        return v
    return run


def _compiled_actions(policy: CompiledPolicy):
    """Per rule number: (chained fn, tuple of single-action fns), cached on the policy."""
    cached = policy.cache.get("accrual")
    if cached is None:
        cached = []
        for r in policy.rules:
            fns = tuple(action_fn(a, r.rule.scope) for a in r.rule.actions)
            cached.append((_chain(fns), fns))
        policy.cache["accrual"] = cached
    return cached


def _check(policy: CompiledPolicy) -> None:
    if policy.policy != "accrual":
        raise ValueError(f"evaluate_accrual needs the accrual policy, not {policy.policy!r}")


def evaluate_accrual(policy: CompiledPolicy, doc: DocumentFacts, member: MemberFacts,
                     settings: ProgramSettings, *, explain: bool = False, at: datetime | None = None,
                     tier_multiplier: Decimal = ONE, _contributions: dict | None = None) -> AccrualResult:
    """Points a document earns under ``policy`` (see the module docstring for the semantics).

    With ``explain=True`` the result carries a JSON-serialisable ``trace``:
    per line and for the document, every rule with whether it matched (and
    the failing condition when not), each action's contribution, and the
    policy version. The numbers are the same either way.
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
        from .explain import traced_accrual
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
    actions = _compiled_actions(policy)
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
    unrounded = total * multiplier
    return AccrualResult(settings.round_points(unrounded), unrounded, tuple(results), total - lines_sum,
                         policy.version, tuple(doc_rules))


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
    actions = _compiled_actions(policy)
    return tuple((r.dynamic, actions[r.n][0], r.rule.id, r.rule.stop_processing)
                 for r in policy.candidates(key) if not (mask >> r.n) & 1)
