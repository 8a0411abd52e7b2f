"""``evaluate_redemption``: how much of a cart may be paid with points, and at what value.

Line-scope rules decide which lines points may pay for (``exclude_line``);
document-scope rules set the terms. When several matching rules set the same
term, the stricter one holds: the smallest ``max_percent_of_order`` and
``max_points``, the largest ``min_order_total``; ``set_point_value`` is taken
from the first matching rule (highest priority). Then:

* ``point_value`` = the rule's value, else ``settings.point_value``;
* ``eligible_total`` = the totals of the lines not excluded (never below 0),
  plus ``shipping_total`` when ``include_shipping()``; with ``shipping_only()``
  it is ``shipping_total`` alone [004];
* the payable money is ``eligible_total``, at most ``max_percent_of_order`` %
  of ``order_total`` (lines without shipping, as everywhere in the language);
* ``max_points`` = payable money / point_value, at most ``max_points`` and
  at most the balance, rounded DOWN to the program precision;
* ``allowed`` is False (and ``max_points`` 0) with a ``reason_code``:
  ``member_group_excluded``, ``below_min_order_total`` (order_total below
  ``min_order_total``), ``nothing_eligible``, ``no_balance``, or
  ``balance_does_not_cover`` when ``require_full_coverage()`` is set and the
  balance cannot pay the whole payable amount [002].

A line-scope ``free_for_points(points, units, rounding)`` offers the line's
product free for points per bundle of ``units`` (the first matching rule of
the line sets the price): ``bundles`` = quantity / units rounded ``up`` (a
started bundle costs a whole one, all the quantity is free) or ``down``
(only whole bundles are free: ``free_quantity`` = bundles × units);
``points`` = bundles × points, rounded UP to the program precision (so 3
points per 2 units, rounding up: 3 units cost 6). The offer stands apart
from the money terms above (an ``exclude_line`` line may still be offered)
and is listed in ``free_lines``; the redemption path charges it when the
shop takes a line free. Lines of zero or negative quantity get no offer.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from .compiler import CompiledPolicy
from .facts import ZERO, DocumentFacts, MemberFacts
from .limits import checked, guarded
from .runner import base_trace, check_policy, finish, intents, matching
from .settings import ProgramSettings
from .values import aware_utc, to_jsonable
from .variables import Context

HUNDRED = Decimal(100)
ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class FreeLine:
    """A cart line that can be taken free for points (``free_for_points``)."""

    line_id: str
    rule: str
    bundles: Decimal
    free_quantity: Decimal
    points: Decimal

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable({name: getattr(self, name) for name in self.__slots__})


def free_offer(rule_id: str, params, line, settings: ProgramSettings) -> FreeLine | None:
    """What ``free_for_points`` asks for ``line`` (module docstring), or None for no quantity."""
    if line.quantity <= 0:
        return None
    mode = ROUND_CEILING if params["rounding"] == "up" else ROUND_FLOOR
    units = Decimal(params["units"])
    bundles = (line.quantity / units).to_integral_value(rounding=mode)
    if bundles <= 0:
        return None
    free_quantity = line.quantity if params["rounding"] == "up" else bundles * units
    points = (bundles * params["points"]).quantize(ONE.scaleb(-settings.precision), rounding=ROUND_CEILING)
    return FreeLine(line.line_id, rule_id, bundles, free_quantity, points)


@dataclass(frozen=True, slots=True)
class RedemptionResult:
    point_value: Decimal  # money one point pays for
    eligible_total: Decimal  # money that points may pay for
    max_points: Decimal  # points the member may spend on this cart now
    max_amount: Decimal  # max_points × point_value
    min_order_total: Decimal | None
    allowed: bool
    reason_code: str | None
    excluded_lines: tuple[str, ...]
    rules: tuple[str, ...]
    policy_version: int | None
    trace: dict | None = None
    free_lines: tuple[FreeLine, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__slots__}
        data["free_lines"] = [line.to_dict() for line in self.free_lines]
        return to_jsonable(data)


def _terms(matched_rules) -> dict[str, Any]:
    terms: dict[str, Any] = {"point_value": None, "max_percent": None, "min_total": None, "max_points": None,
                             "shipping_only": False, "include_shipping": False, "full_coverage": False}
    for _rule_id, name, p in intents(matched_rules):
        if name == "set_point_value" and terms["point_value"] is None:
            terms["point_value"] = p["value"]
        elif name == "max_percent_of_order":
            known = terms["max_percent"]
            terms["max_percent"] = p["percent"] if known is None else min(known, p["percent"])
        elif name == "min_order_total":
            terms["min_total"] = p["amount"] if terms["min_total"] is None else max(terms["min_total"], p["amount"])
        elif name == "max_points":
            terms["max_points"] = p["points"] if terms["max_points"] is None else min(terms["max_points"], p["points"])
        elif name == "shipping_only":
            terms["shipping_only"] = True
        elif name == "include_shipping":
            terms["include_shipping"] = True
        elif name == "require_full_coverage":
            terms["full_coverage"] = True
    return terms


@guarded
def evaluate_redemption(policy: CompiledPolicy, cart: DocumentFacts, member: MemberFacts,
                        settings: ProgramSettings, *, balance: Decimal, explain: bool = False,
                        at: datetime | None = None) -> RedemptionResult:
    """What part of ``cart`` the member may pay with points (module docstring: the rules).

    Raises ``EvaluationError`` when an amount would not fit the ledger."""
    check_policy(policy, "redemption")
    at = aware_utc(at or cart.placed_at)
    ctx = Context(doc=cart, member=member, tz=settings.tz)
    values = policy.values(ctx)
    flags = policy.active_flags(at, settings.tz)
    trace = base_trace(policy, at, values) if explain else None
    excluded: list[str] = []
    free: list[FreeLine] = []
    matched_ids: list[str] = []
    line_traces = []
    for line in cart.lines:
        entries: list | None = [] if explain else None
        hits = matching(policy, "line", line, values, flags, entries)
        line_intents = list(intents(hits))
        if any(name == "exclude_line" for _r, name, _p in line_intents):
            excluded.append(line.line_id)
        offer = next((free_offer(r, p, line, settings) for r, name, p in line_intents
                      if name == "free_for_points"), None)
        if offer is not None:
            free.append(offer)
            checked(offer.points, f"the points line {line.line_id} is free for", policy)
        matched_ids.extend(r.rule.id for r in hits if r.rule.id not in matched_ids)
        if explain:
            line_traces.append({"line_id": line.line_id, "excluded": line.line_id in excluded, "rules": entries,
                                "free_for_points": offer.to_dict() if offer is not None else None})
    doc_entries: list | None = [] if explain else None
    doc_hits = matching(policy, "document", None, values, flags, doc_entries)
    matched_ids.extend(r.rule.id for r in doc_hits if r.rule.id not in matched_ids)
    terms = _terms(doc_hits)
    point_value = terms["point_value"] or settings.point_value
    excluded_set = set(excluded)
    if terms["shipping_only"]:
        eligible = max(cart.shipping_total, ZERO)
    else:
        eligible = max(sum((line.line_total for line in cart.lines if line.line_id not in excluded_set), ZERO), ZERO)
        if terms["include_shipping"]:
            eligible += max(cart.shipping_total, ZERO)
    payable = eligible
    if terms["max_percent"] is not None:
        payable = min(payable, max(ctx.order_total, ZERO) * terms["max_percent"] / HUNDRED)
    needed = settings.floor_points(payable / point_value)
    points = needed
    if terms["max_points"] is not None:
        points = min(points, terms["max_points"])
    balance = Decimal(balance)
    points = settings.floor_points(max(min(points, balance), ZERO))
    reason = None
    if settings.is_excluded(member.member_group):
        reason = "member_group_excluded"
    elif terms["min_total"] is not None and ctx.order_total < terms["min_total"]:
        reason = "below_min_order_total"
    elif eligible <= 0:
        reason = "nothing_eligible"
    elif balance <= 0:
        reason = "no_balance"
    elif terms["full_coverage"] and balance < needed:
        reason = "balance_does_not_cover"
    if reason is not None:
        points = settings.floor_points(ZERO)
    checked(eligible, "the total points may pay for", policy)
    checked(points, "the points the member may spend", policy)
    max_amount = checked(points * point_value, "the money those points pay", policy)
    if explain:
        trace.update(lines=line_traces, document={"rules": doc_entries}, terms=to_jsonable(terms),
                     eligible_total=eligible, payable=payable, balance=balance, max_points=points,
                     reason_code=reason)
    return RedemptionResult(point_value, eligible, points, max_amount, terms["min_total"],
                            reason is None, reason, tuple(excluded), tuple(matched_ids), policy.version,
                            finish(trace), tuple(free))
