"""Validation messages, the error that carries them, and the error of a failed evaluation."""
from __future__ import annotations

import reprlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

# A validation answer stays short however bad the document: at most MAX_MESSAGES
# messages and about MAX_REPORT_CHARS characters of text (~20 KB of JSON), then
# one "… and N more problems"; a value echoed back is cut to MAX_SHOWN characters.
MAX_MESSAGES = 50
MAX_REPORT_CHARS = 14_000
MAX_SHOWN = 80
_MAX_MESSAGE, _MAX_PATH, _MAX_RULE_ID = 600, 200, 100

_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = _repr.maxlong = MAX_SHOWN
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 6
_repr.maxlevel = 2


def shown(value: Any) -> str:
    """``repr`` of a value from a document, at most ``MAX_SHOWN`` characters (never the whole of it)."""
    try:
        text = _repr.repr(value)
    except ValueError:  # an int too long to print (sys.get_int_max_str_digits)
        return "a number with thousands of digits"
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 1] + "…"


def _clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit - 1] + "…"


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

    def clipped(self) -> ValidationMessage:
        return replace(self, rule_id=_clip(self.rule_id, _MAX_RULE_ID), path=_clip(self.path, _MAX_PATH),
                       message=_clip(self.message, _MAX_MESSAGE))


def _report(found: list[ValidationMessage]) -> list[ValidationMessage]:
    """The first problems, within the size budget, and one message for the rest."""
    out: list[ValidationMessage] = []
    used = 0
    for message in found:
        message = message.clipped()
        size = len(message.message) + len(message.path) + len(message.rule_id or "")
        if out and (len(out) == MAX_MESSAGES or used + size > MAX_REPORT_CHARS):
            break
        out.append(message)
        used += size
    rest = len(found) - len(out)
    if rest:
        out.append(ValidationMessage(
            None, "", "more_problems",
            f"… and {rest} more problem{'s' if rest > 1 else ''} ({len(found)} in all); fix these and "
            "validate again to see the rest."))
    return out


class RuleValidationError(Exception):
    """A rule or settings document is invalid.

    ``errors`` lists the problems found, at most ``MAX_MESSAGES`` of them plus
    a last ``more_problems`` message when there were more; ``problem_count``
    is how many there were in all.
    """

    def __init__(self, errors: Iterable[ValidationMessage]):
        found = list(errors)
        self.problem_count = len(found)
        self.errors: list[ValidationMessage] = _report(found)
        super().__init__(self._summary())

    def _summary(self) -> str:
        if not self.errors:
            return "The document is invalid."
        first = self.errors[0].message
        more = self.problem_count - 1
        return first if not more else f"{first} (and {more} more problem{'s' if more > 1 else ''})"

    def to_dict(self) -> dict[str, Any]:
        return {"code": "invalid_rules", "message": str(self),
                "errors": [e.to_dict() for e in self.errors]}


class EvaluationError(Exception):
    """A published policy could not be evaluated for a document (a result out of
    the ledger's range, or arithmetic out of range); the document is refused.

    ``str(error)`` is a sentence for the operator; ``policy`` and ``version``
    say which policy failed.
    """

    code = "evaluation_error"

    def __init__(self, message: str, *, policy: str | None = None, version: int | None = None):
        super().__init__(message)
        self.message, self.policy, self.version = message, policy, version

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "policy": self.policy, "version": self.version}
