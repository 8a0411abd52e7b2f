"""Validation messages and the error that carries them."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable


@dataclass(frozen=True, slots=True)
class ValidationMessage:
    """One problem in a rule or settings document.

    ``path`` locates it (``rules[2].conditions.all[0].operator``), ``code`` is a
    stable machine code for the API and tests, ``message`` is a sentence a
    marketer can act on: which rule, which condition, what is wrong, what is allowed.
    """

    rule_id: str | None
    path: str
    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RuleValidationError(Exception):
    """A rule or settings document is invalid; ``errors`` lists every problem found."""

    def __init__(self, errors: Iterable[ValidationMessage]):
        self.errors: list[ValidationMessage] = list(errors)
        super().__init__(self._summary())

    def _summary(self) -> str:
        if not self.errors:
            return "The document is invalid."
        first = self.errors[0].message
        more = len(self.errors) - 1
        return first if not more else f"{first} (and {more} more problem{'s' if more > 1 else ''})"

    def to_dict(self) -> dict[str, Any]:
        return {"code": "invalid_rules", "message": str(self),
                "errors": [e.to_dict() for e in self.errors]}
