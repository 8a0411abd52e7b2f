"""The actions of the rule language, as business-rules ``BaseActions`` classes.

Actions record intents (name and params) and never touch a database: the
evaluators (and the ledger, through them) decide what an intent means.
Every action also carries an ``ActionSpec``: each parameter's allowed range
(from the table in ``rules.limits``) and the rule scopes it may appear in,
used by the validator and exported to the editor.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from business_rules.actions import BaseActions, rule_action
from business_rules.fields import FIELD_NUMERIC, FIELD_SELECT, FIELD_TEXT

from .limits import (
    AMOUNT_STEP,
    BUNDLE_POINTS,
    BUNDLE_UNITS,
    DELAY_DAYS,
    FACTOR,
    LIFETIME_DAYS,
    LIFETIME_MONTHS,
    MONEY,
    MULTIPLY_FACTOR,
    PERCENT,
    POINT_VALUE,
    POINTS,
    POINTS_RATE,
    Range,
)

BOTH = ("line", "document")
LINE_ONLY = ("line",)
DOC_ONLY = ("document",)


@dataclass(frozen=True)
class ParamSpec:
    name: str
    field_type: str  # business-rules FIELD_* value
    range: Range | None = None  # every numeric parameter has one (rules.limits)
    help: str = ""
    options: tuple[str, ...] = ()  # the values a FIELD_SELECT parameter may take

    @property
    def minimum(self) -> str | None:
        return None if self.range is None else format(self.range.minimum, "f")

    @property
    def maximum(self) -> str | None:
        return None if self.range is None else format(self.range.maximum, "f")

    @property
    def exclusive_minimum(self) -> bool:
        return False  # every range includes its bounds; kept for the editor's older key

    @property
    def integer(self) -> bool:
        return self.range is not None and self.range.integer

    def describe(self) -> str:
        if self.options:
            return "one of " + ", ".join(self.options)
        if self.field_type == FIELD_TEXT or self.range is None:
            return "a non-empty text"
        return self.range.describe()


@dataclass(frozen=True)
class ActionSpec:
    name: str
    params: tuple[ParamSpec, ...] = ()
    scopes: tuple[str, ...] = BOTH
    help: str = ""
    param_names: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "param_names", tuple(p.name for p in self.params))


def action(*params: ParamSpec, scopes=BOTH, label: str | None = None, help: str = ""):
    """``business_rules.rule_action`` plus our ``ActionSpec`` on the function."""

    def wrapper(func):
        decorated = rule_action(label=label, params={p.name: p.field_type for p in params})(func)
        decorated.spec = ActionSpec(func.__name__, tuple(params), tuple(scopes), help)
        return decorated

    return wrapper


def _num(name: str, allowed: Range, help: str = "") -> ParamSpec:
    return ParamSpec(name, FIELD_NUMERIC, allowed, help)


class IntentRecorder(BaseActions):
    """Base: each action appends ``(name, params)`` to ``self.intents``."""

    def __init__(self):
        self.intents: list[tuple[str, dict[str, Any]]] = []

    def _record(self, name: str, **params: Any) -> None:
        self.intents.append((name, params))

    @classmethod
    def specs(cls) -> dict[str, ActionSpec]:
        return {name: getattr(cls, name).spec for name in dir(cls)
                if getattr(getattr(cls, name), "is_rule_action", False)}


class AccrualActions(IntentRecorder):
    """SPEC §3 accrual actions. In a document-scope rule the line amounts
    become document amounts: order_total, total quantity, all lines' catalog points."""

    @action(_num("percent", PERCENT), help="earn this percent of the line total (document: of the order total)")
    def earn_percent(self, percent):
        self._record("earn_percent", percent=percent)

    @action(_num("points", POINTS_RATE), _num("amount", AMOUNT_STEP),
            help="earn 'points' for each full 'amount' of money spent")
    def earn_per_amount(self, points, amount):
        self._record("earn_per_amount", points=points, amount=amount)

    @action(_num("points", POINTS_RATE), help="earn 'points' per unit bought")
    def earn_per_unit(self, points):
        self._record("earn_per_unit", points=points)

    @action(help="earn the product's own catalog points per unit times the quantity")
    def earn_catalog_points(self):
        self._record("earn_catalog_points")

    @action(_num("points", POINTS), help="earn a fixed number of points")
    def earn_fixed(self, points):
        self._record("earn_fixed", points=points)

    @action(_num("factor", MULTIPLY_FACTOR), help="multiply what the line (or document) has earned so far")
    def multiply(self, factor):
        self._record("multiply", factor=factor)

    @action(help="earn nothing: zero the line (or document) and stop its rules")
    def exclude(self):
        self._record("exclude")

    @action(_num("points", POINTS), help="limit what the line (or document) has earned so far")
    def cap(self, points):
        self._record("cap", points=points)


ROUNDINGS = ("up", "down")


class RedemptionActions(IntentRecorder):
    """SPEC §3 redemption actions (see ``rules.redemption`` for the semantics)."""

    @action(_num("points", BUNDLE_POINTS), _num("units", BUNDLE_UNITS),
            ParamSpec("rounding", FIELD_SELECT, options=ROUNDINGS,
                      help="up: a started bundle costs a whole one; down: only whole bundles are free"),
            scopes=LINE_ONLY,
            help="the line's product can be taken free for 'points' per 'units' units (a bundle); "
                 "e.g. 3 points per 2 units, rounding up: 3 units cost 6 points")
    def free_for_points(self, points, units, rounding):
        self._record("free_for_points", points=points, units=units, rounding=rounding)

    @action(_num("value", POINT_VALUE), scopes=DOC_ONLY, help="money one point pays for")
    def set_point_value(self, value):
        self._record("set_point_value", value=value)

    @action(_num("percent", PERCENT), scopes=DOC_ONLY,
            help="at most this percent of the order total may be paid with points")
    def max_percent_of_order(self, percent):
        self._record("max_percent_of_order", percent=percent)

    @action(_num("amount", MONEY), scopes=DOC_ONLY, help="points may be used only from this order total up")
    def min_order_total(self, amount):
        self._record("min_order_total", amount=amount)

    @action(_num("points", POINTS), scopes=DOC_ONLY, help="at most this many points per order")
    def max_points(self, points):
        self._record("max_points", points=points)

    @action(scopes=LINE_ONLY, help="this line cannot be paid with points")
    def exclude_line(self):
        self._record("exclude_line")

    @action(scopes=DOC_ONLY, help="points pay for the delivery only")
    def shipping_only(self):
        self._record("shipping_only")

    @action(scopes=DOC_ONLY, help="the delivery may be paid with points too")
    def include_shipping(self):
        self._record("include_shipping")

    @action(scopes=DOC_ONLY, help="points may be used only when the balance covers the whole payable amount")
    def require_full_coverage(self):
        self._record("require_full_coverage")


class AwardActions(IntentRecorder):
    """Actions of the event, birthday and referral policies."""

    @action(_num("points", POINTS), scopes=DOC_ONLY, help="award points to the member")
    def award(self, points):
        self._record("award", points=points)

    @action(_num("points", POINTS), scopes=DOC_ONLY, help="award points to the member who referred")
    def award_referrer(self, points):
        self._record("award_referrer", points=points)

    @action(_num("points", POINTS), scopes=DOC_ONLY, help="award points to the member who was referred")
    def award_referee(self, points):
        self._record("award_referee", points=points)

    @action(_num("days", DELAY_DAYS), scopes=DOC_ONLY,
            help="the points become usable this many days later")
    def activation_delay_days(self, days):
        self._record("activation_delay_days", days=days)

    @action(_num("days", LIFETIME_DAYS), scopes=DOC_ONLY,
            help="the awarded points expire this many days after they become usable")
    def expire_after_days(self, days):
        self._record("expire_after_days", days=days)


class MissionActions(IntentRecorder):
    """Mission progress. A document-scope rule applies to every line."""

    @action(help="the line's money total counts toward the mission")
    def progress_amount(self):
        self._record("progress_amount")

    @action(help="the line's quantity counts toward the mission")
    def progress_quantity(self):
        self._record("progress_quantity")

    @action(help="the line earns no accrual points (mission purchase)")
    def exclude_from_accrual(self):
        self._record("exclude_from_accrual")


class ExpiryActions(IntentRecorder):
    """A lot's lifetime, counted from when it becomes available."""

    @action(_num("months", LIFETIME_MONTHS), scopes=DOC_ONLY,
            help="the points expire this many months after they become available")
    def expire_after_months(self, months):
        self._record("expire_after_months", months=months)

    @action(_num("days", LIFETIME_DAYS), scopes=DOC_ONLY,
            help="the points expire this many days after they become available")
    def expire_after_days(self, days):
        self._record("expire_after_days", days=days)

    @action(scopes=DOC_ONLY, help="move the expiry to the end of its month")
    def expire_end_of_month(self):
        self._record("expire_end_of_month")

    @action(scopes=DOC_ONLY, help="the points never expire")
    def never_expire(self):
        self._record("never_expire")

    @action(_num("days", DELAY_DAYS), scopes=DOC_ONLY,
            help="warn the member this many days before the points expire")
    def warn_days_before(self, days):
        self._record("warn_days_before", days=days)


class TierActions(IntentRecorder):
    """Tier assignment [003]."""

    @action(ParamSpec("name", FIELD_TEXT), scopes=DOC_ONLY, help="put the member in this tier")
    def set_tier(self, name):
        self._record("set_tier", name=name)

    @action(_num("percent", PERCENT), scopes=DOC_ONLY, help="the tier's discount in percent")
    def tier_discount_percent(self, percent):
        self._record("tier_discount_percent", percent=percent)

    @action(_num("factor", FACTOR), scopes=DOC_ONLY, help="multiply accrual points for members of the tier")
    def tier_multiplier(self, factor):
        self._record("tier_multiplier", factor=factor)

    @action(scopes=DOC_ONLY, help="an invitation-only tier: turnover never assigns it, only an admin invites into it")
    def tier_invitation_only(self):
        self._record("tier_invitation_only")

    @action(scopes=DOC_ONLY, help="members of this tier keep it when their turnover falls")
    def tier_downgrade_never(self):
        self._record("tier_downgrade_never")

    @action(_num("days", DELAY_DAYS), scopes=DOC_ONLY,
            help="members of this tier keep it this many days after their turnover fell below it")
    def tier_downgrade_after_days(self, days):
        self._record("tier_downgrade_after_days", days=days)
