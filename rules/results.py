"""What an accrual evaluation returns: the per-line and per-document results."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple


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
