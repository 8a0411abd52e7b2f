"""The allowed range of every number in rule and settings documents, and of every result.

One table, read by the vocabulary (``rules.actions``, ``rules.variables``),
the schemas and the settings; ``export_vocabulary`` shows it to the editor.
The bounds are what a loyalty program can sensibly mean, and they keep every
evaluation inside what the ledger stores: amounts are NUMERIC(18,4), at most
14 integer digits and 4 decimals (``MAX_AMOUNT``). An evaluation whose result
would not fit raises ``EvaluationError``; so does any arithmetic failure
(``guarded``), so a published policy never answers with a bare decimal error.

==========================  =================  ========  =====================================
range                       from .. to         decimals  used by
==========================  =================  ========  =====================================
POINTS                      0 .. 1e9           4         earn_fixed, cap, award*, max_points
POINTS_RATE                 0 .. 1e6           4         earn_per_unit, earn_per_amount points
AMOUNT_STEP                 0.01 .. 1e9        4         earn_per_amount amount (a divisor)
PERCENT                     0 .. 100           4         earn_percent, max_percent_of_order,
                                                         tier_discount_percent
MULTIPLY_FACTOR             0 .. 100           4         multiply (0 drops what was earned so far;
                                                         unlike exclude, later rules still run)
FACTOR                      0.01 .. 100        4         tier_multiplier
POINT_VALUE                 0.0001 .. 1e6      4         set_point_value, settings.point_value
MONEY                       0 .. 1e12          4         min_order_total
DELAY_DAYS                  0 .. 3650          whole     activation_delay_days, warn_days_before,
                                                         tier_downgrade_after_days,
                                                         settings.holding_days
LIFETIME_DAYS               1 .. 36500         whole     expire_after_days
LIFETIME_MONTHS             1 .. 1200          whole     expire_after_months,
                                                         settings.default_lifetime_months
PRECISION                   0 .. 4             whole     settings.precision
PRIORITY                    -1e6 .. 1e6        whole     a rule's priority
BUNDLE_POINTS               0.0001 .. 1e6      4         free_for_points points (per bundle)
BUNDLE_UNITS                1 .. 10000         whole     free_for_points units (a bundle's size)
--- condition values ---
QUANTITY                    -1e6 .. 1e6        8         quantity (returns are negative)
SIGNED_MONEY                -1e12 .. 1e12      8         unit_price, line_total, order_total,
                                                         shipping_total, turnover_12m,
                                                         event_amount
CATALOG_POINTS              0 .. 1e9           8         product_points_per_unit
SIGNED_POINTS               -1e12 .. 1e12      8         points_balance
HOUR                        0 .. 24            whole     hour
LINES                       0 .. 100000        whole     lines_count
DAYS                        0 .. 36500         whole     days_since_registration
COUNT                       0 .. 1e9           whole     orders_count, referral_count,
                                                         events_today/_this_week/_this_month/
                                                         _this_year/_total, referrals_this_month
==========================  =================  ========  =====================================

Condition values may have 8 decimals: business-rules compares numbers within
an EPSILON of 0.000001, so a finer value means nothing more.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .errors import EvaluationError


def _text(number: Decimal) -> str:
    return format(number, "f")


@dataclass(frozen=True)
class Range:
    """Numbers from ``minimum`` to ``maximum`` (both included), with at most
    ``decimals`` decimal places (0: whole numbers only)."""

    minimum: Decimal
    maximum: Decimal
    decimals: int = 4

    @property
    def integer(self) -> bool:
        return self.decimals == 0

    def problem(self, number: Decimal) -> str | None:
        """None when ``number`` is allowed, else ``out_of_range``, ``not_whole`` or ``too_many_decimals``."""
        if not (self.minimum <= number <= self.maximum):
            return "out_of_range"
        # Within the range a quantize cannot overflow: at most 13 + 8 digits.
        if number.quantize(Decimal(1).scaleb(-self.decimals)) != number:
            return "not_whole" if self.integer else "too_many_decimals"
        return None

    def between(self) -> str:
        """``between 0.01 and 100``, or ``a whole number between 1 and 36500``."""
        words = f"between {_text(self.minimum)} and {_text(self.maximum)}"
        return f"a whole number {words}" if self.integer else words

    def describe(self, problem: str | None = None) -> str:
        """What the value must be, in words (the wording follows the problem found)."""
        if self.integer:
            return self.between()
        if problem == "out_of_range":
            return self.between()
        return f"a number {self.between()} with at most {self.decimals} decimals"

    def to_json(self) -> dict[str, Any]:
        return {"min": _json_number(self.minimum), "max": _json_number(self.maximum),
                "decimals": self.decimals, "integer": self.integer}


def _json_number(number: Decimal) -> int | float:
    # For the editor's number inputs; the bounds are short, so a float is exact enough to show.
    return int(number) if number == number.to_integral_value() else float(number)


def _r(minimum: str, maximum: str, decimals: int = 4) -> Range:
    return Range(Decimal(minimum), Decimal(maximum), decimals)


POINTS = _r("0", "1000000000")
POINTS_RATE = _r("0", "1000000")
AMOUNT_STEP = _r("0.01", "1000000000")
PERCENT = _r("0", "100")
MULTIPLY_FACTOR = _r("0", "100")
FACTOR = _r("0.01", "100")
POINT_VALUE = _r("0.0001", "1000000")
MONEY = _r("0", "1000000000000")
DELAY_DAYS = _r("0", "3650", 0)
LIFETIME_DAYS = _r("1", "36500", 0)
LIFETIME_MONTHS = _r("1", "1200", 0)
PRECISION = _r("0", "4", 0)
PRIORITY = _r("-1000000", "1000000", 0)
BUNDLE_POINTS = _r("0.0001", "1000000")
BUNDLE_UNITS = _r("1", "10000", 0)

CONDITION_DECIMALS = 8
QUANTITY = _r("-1000000", "1000000", CONDITION_DECIMALS)
SIGNED_MONEY = _r("-1000000000000", "1000000000000", CONDITION_DECIMALS)
CATALOG_POINTS = _r("0", "1000000000", CONDITION_DECIMALS)
SIGNED_POINTS = _r("-1000000000000", "1000000000000", CONDITION_DECIMALS)
HOUR = _r("0", "24", 0)
LINES = _r("0", "100000", 0)
DAYS = _r("0", "36500", 0)
COUNT = _r("0", "1000000000", 0)

# Results: what NUMERIC(18,4) holds. MAX_AMOUNT lies on the 4-decimal grid, so a
# value within it stays within it after rounding to 4 decimals in any mode.
MAX_AMOUNT = Decimal("99999999999999.9999")


def source(policy) -> str:
    """``the accrual policy (version 3)``: who an ``EvaluationError`` is about."""
    version = getattr(policy, "version", None)
    name = getattr(policy, "policy", "rule")
    return f"the {name} policy" + (f" (version {version})" if version is not None else "")


def checked(value: Decimal, what: str, policy) -> Decimal:
    """``value`` when the ledger can store it, else ``EvaluationError`` naming ``what``
    (``"the points of line 3"``)."""
    try:
        fits = -MAX_AMOUNT <= value <= MAX_AMOUNT
    except (ArithmeticError, TypeError):  # NaN compares with an InvalidOperation
        fits = False
    if not fits:
        shown = str(value)
        shown = shown if len(shown) <= 40 else shown[:39] + "…"
        raise EvaluationError(
            f"{source(policy).capitalize()}: {what} would be {shown}, outside what the ledger can hold "
            f"(from -{_text(MAX_AMOUNT)} to {_text(MAX_AMOUNT)}); the document is refused. "
            "Check the policy's factors and points.", policy=getattr(policy, "policy", None),
            version=getattr(policy, "version", None))
    return value


def checked_lines(lines, policy) -> None:
    """Every ``LineResult``'s points within the ledger's range (one comparison per line)."""
    low, high = -MAX_AMOUNT, MAX_AMOUNT
    for line in lines:
        points = line.points
        if not (low <= points <= high):
            checked(points, f"the points of line {line.line_id}", policy)


def guarded(evaluator):
    """Turn an arithmetic failure inside ``evaluator(policy, ...)`` into ``EvaluationError``.

    Validation bounds every number, yet a chain of rules can still multiply
    past any range, and facts (an event's amount) come from outside; whatever
    happens, the caller gets one typed error it can answer with, never a bare
    ``decimal.InvalidOperation``, ``Overflow`` or ``RecursionError``.
    """

    @functools.wraps(evaluator)
    def run(policy, *args, **kwargs):
        try:
            return evaluator(policy, *args, **kwargs)
        except (ArithmeticError, RecursionError) as exc:
            raise EvaluationError(
                f"{source(policy).capitalize()} cannot be evaluated for this document: a calculation went "
                f"out of range ({type(exc).__name__}); the document is refused. Check the policy's factors "
                "and points.", policy=getattr(policy, "policy", None),
                version=getattr(policy, "version", None)) from exc

    return run
