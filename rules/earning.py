"""What each accrual action does to a running point total, as closures compiled once per policy.

Shared by the fast evaluator (``rules.accrual``) and the explaining one
(``rules.explain``), so both apply exactly the same arithmetic. A closure is
``f(points_so_far, target) -> points`` (None for ``exclude``), where the
target is a ``LineFacts`` in a line-scope rule and ``DocTotals`` in a
document-scope rule.
"""
from __future__ import annotations

from decimal import Decimal

from .compiler import CompiledPolicy
from .facts import ZERO, DocumentFacts
from .model import Action
from .variables import Context

HUNDRED = Decimal(100)


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


def chain(fns):
    """One closure applying ``fns`` in order, stopping at an ``exclude``."""
    if len(fns) == 1:
        return fns[0]

    def run(v, t):
        for f in fns:
            v = f(v, t)
            if v is None:
                return None
        return v
    return run


def _build(policy: CompiledPolicy) -> list:
    out = []
    for r in policy.rules:
        fns = tuple(action_fn(a, r.rule.scope) for a in r.rule.actions)
        out.append((chain(fns), fns))
    return out


def accrual_actions(policy: CompiledPolicy) -> list:
    """Per rule number: (chained closure, tuple of single-action closures), built once per policy."""
    return policy.derived("accrual_actions", _build)
