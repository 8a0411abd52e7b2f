"""``simulate``: the cost of an accrual policy over past documents, and ``compare``.

Each document is evaluated exactly as ``evaluate_accrual`` would (same fast
path), so a draft's simulated total is what publishing it would have posted.
``by_rule`` attributes points to rules by what each rule's actions changed
(a ``multiply`` gets the extra it created, an ``exclude`` or ``cap`` a
negative amount); ``by_product_group`` sums the lines' own points (before
document rules); ``rounding`` is what per-document rounding added or removed.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .accrual import evaluate_accrual
from .compiler import CompiledPolicy
from .errors import EvaluationError
from .facts import ZERO, DocumentFacts, MemberFacts
from .limits import guarded
from .settings import ProgramSettings


@dataclass
class SimulationResult:
    policy_version: int | None
    documents: int = 0
    lines: int = 0
    points: Decimal = ZERO  # sum of the per-document rounded points
    unrounded: Decimal = ZERO
    value: Decimal = ZERO  # points × settings.point_value, in settings.currency
    currency: str = ""
    by_rule: dict[str, Decimal] = field(default_factory=dict)
    by_product_group: dict[str, Decimal] = field(default_factory=dict)
    documents_with_points: int = 0

    @property
    def rounding(self) -> Decimal:
        return self.points - self.unrounded

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy_version": self.policy_version, "documents": self.documents, "lines": self.lines,
            "documents_with_points": self.documents_with_points,
            "points": str(self.points), "unrounded": str(self.unrounded), "rounding": str(self.rounding),
            "value": str(self.value), "currency": self.currency,
            "by_rule": {k: str(v) for k, v in sorted(self.by_rule.items())},
            "by_product_group": {k: str(v) for k, v in sorted(self.by_product_group.items())},
        }


@guarded
def simulate(policy: CompiledPolicy, items: Iterable[tuple[DocumentFacts, MemberFacts]],
             settings: ProgramSettings) -> SimulationResult:
    """Evaluate ``policy`` over ``(document, member snapshot)`` pairs and total the cost.

    Documents are evaluated at their own ``placed_at`` (rules' active periods
    apply as they would have) and without tier multipliers. A document the
    policy cannot evaluate raises ``EvaluationError``, as publishing would.
    """
    result = SimulationResult(policy.version, currency=settings.currency)
    contributions: dict[str, Decimal] = {}
    for doc, member in items:
        accrual = evaluate_accrual(policy, doc, member, settings, _contributions=contributions)
        result.documents += 1
        result.lines += len(doc.lines)
        result.points += accrual.points
        result.unrounded += accrual.unrounded
        if accrual.points:
            result.documents_with_points += 1
        for line, line_result in zip(doc.lines, accrual.lines):
            group = line.product_group or ""
            result.by_product_group[group] = result.by_product_group.get(group, ZERO) + line_result.points
    result.by_rule = contributions
    result.value = result.points * settings.point_value
    return result


def _delta(new: dict[str, Decimal], old: dict[str, Decimal]) -> dict[str, str]:
    return {k: str(new.get(k, ZERO) - old.get(k, ZERO)) for k in sorted(set(new) | set(old))}


def compare(draft: SimulationResult, published: SimulationResult) -> dict[str, Any]:
    """What changes if ``draft`` replaces ``published`` (simulated on the same documents)."""
    change = draft.points - published.points
    try:
        percent = None if not published.points else str((change * 100 / published.points).quantize(Decimal("0.1")))
    except ArithmeticError as exc:
        raise EvaluationError("The simulated change is too large to express as a percentage.") from exc
    return {
        "draft": draft.to_dict(), "published": published.to_dict(),
        "points_change": str(change), "points_change_percent": percent,
        "value_change": str(draft.value - published.value),
        "by_rule": _delta(draft.by_rule, published.by_rule),
        "by_product_group": _delta(draft.by_product_group, published.by_product_group),
    }
