"""``evaluate_mission``: what a purchase contributes to missions [000].

Line-scope rules run per line in priority order (``stop_processing`` stops
that line's rules); a document-scope rule applies its actions to every line.
``progress_amount()`` counts the line's total, ``progress_quantity()`` its
quantity, ``exclude_from_accrual()`` marks it as a mission purchase that
earns no ordinary points ("no points for mission purchases"): the accrual
service leaves such lines out. A line counts once in the totals however many
rules count it; ``by_rule`` gives each rule's own count, so the engine can tie
a mission to the rule ids that feed it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from .compiler import CompiledPolicy
from .facts import ZERO, DocumentFacts, MemberFacts
from .limits import checked, guarded
from .runner import base_trace, check_policy, finish, matching
from .settings import ProgramSettings
from .values import aware_utc, to_jsonable
from .variables import Context


@dataclass(frozen=True, slots=True)
class MissionLine:
    line_id: str
    amount: Decimal  # counted money (0 when not counted)
    quantity: Decimal  # counted quantity
    exclude_from_accrual: bool
    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MissionResult:
    lines: tuple[MissionLine, ...]
    amount: Decimal
    quantity: Decimal
    by_rule: dict  # rule id -> {"amount": Decimal, "quantity": Decimal}
    excluded_lines: tuple[str, ...]  # line ids that earn no accrual points
    policy_version: int | None
    trace: dict | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__slots__}
        data["lines"] = [{n: getattr(line, n) for n in line.__slots__} for line in self.lines]
        return to_jsonable(data)


@guarded
def evaluate_mission(policy: CompiledPolicy, doc: DocumentFacts, member: MemberFacts, settings: ProgramSettings,
                     *, at: datetime | None = None, explain: bool = False) -> MissionResult:
    """Mission progress of ``doc`` (module docstring: the rules)."""
    check_policy(policy, "mission")
    at = aware_utc(at or doc.placed_at)
    values = policy.values(Context(doc=doc, member=member, tz=settings.tz))
    flags = policy.active_flags(at, settings.tz)
    doc_entries: list | None = [] if explain else None
    doc_hits = matching(policy, "document", None, values, flags, doc_entries)
    by_rule: dict[str, dict[str, Decimal]] = {}
    lines, line_traces = [], []
    for line in doc.lines:
        entries: list | None = [] if explain else None
        hits = matching(policy, "line", line, values, flags, entries) + doc_hits
        amount_counted = quantity_counted = excluded = False
        for r in hits:
            names = {a.name for a in r.rule.actions}
            counts = by_rule.setdefault(r.rule.id, {"amount": ZERO, "quantity": ZERO})
            if "progress_amount" in names:
                counts["amount"] += line.line_total
                amount_counted = True
            if "progress_quantity" in names:
                counts["quantity"] += line.quantity
                quantity_counted = True
            excluded = excluded or "exclude_from_accrual" in names
        lines.append(MissionLine(line.line_id, line.line_total if amount_counted else ZERO,
                                 line.quantity if quantity_counted else ZERO, excluded,
                                 tuple(dict.fromkeys(r.rule.id for r in hits))))
        if explain:
            line_traces.append({"line_id": line.line_id, "rules": entries})
    amount = checked(sum((m.amount for m in lines), ZERO), "the mission amount", policy)
    quantity = checked(sum((m.quantity for m in lines), ZERO), "the mission quantity", policy)
    for rule_id, counts in by_rule.items():
        checked(counts["amount"], f"the amount rule {rule_id} counts", policy)
        checked(counts["quantity"], f"the quantity rule {rule_id} counts", policy)
    trace = None
    if explain:
        trace = base_trace(policy, at, values)
        trace.update(lines=line_traces, document={"rules": doc_entries})
    return MissionResult(tuple(lines), amount, quantity, by_rule,
                         tuple(m.line_id for m in lines if m.exclude_from_accrual), policy.version, finish(trace))
