"""Each ledger entry's explanation as a sentence in the reader's language, from its stored trace."""
from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _

from admin_ui.formatting import signed_points, when
from engine.models import LedgerEntry


def kind_name(kind: str) -> str:
    names = {
        "accrual": _("Purchase"), "redemption": _("Spent"), "reversal": _("Return"),
        "refund": _("Refund of spent points"), "expiry": _("Expired"), "adjustment": _("Manual adjustment"),
        "bonus": _("Bonus"), "referral": _("Referral"), "birthday": _("Birthday"), "event": _("Event"),
        "mission_reward": _("Mission reward"), "promo_code": _("Promo code"), "transfer": _("Transfer"),
        "reward_order": _("Reward order"),
    }
    return names.get(kind, kind)


def _rule_contributions(trace: dict) -> dict[str, Decimal]:
    """Rule id → the points it added (or removed) over all lines and the document."""
    totals: dict[str, Decimal] = {}
    parts = list(trace.get("lines") or []) + [trace.get("document") or {}]
    for part in parts:
        for match in part.get("matched") or ():
            contribution = sum((Decimal(str(step.get("contribution", 0))) for step in match.get("actions", ())),
                               Decimal(0))
            totals[match["rule"]] = totals.get(match["rule"], Decimal(0)) + contribution
    return totals


def sentence(entry: LedgerEntry, order_id: str | None = None) -> str:
    """'Order A-17 under accrual rules v4: rule “base” +12, rule “group-110-x2” +12.'"""
    trace = entry.trace or {}
    if entry.kind == "accrual" and trace.get("policy_version") is not None:
        rules = _rule_contributions(trace)
        parts = ", ".join(_("rule “%(rule)s” %(points)s", rule=rule, points=signed_points(points))
                          for rule, points in rules.items() if points)
        text = _("Order %(order)s under the accrual rules v%(version)s", order=order_id or "—",
                 version=trace["policy_version"])
        text = f"{text}: {parts}." if parts else _("%(text)s: no rule matched.", text=text)
        if trace.get("tier_multiplier") not in (None, "1", 1):
            text += " " + _("Tier multiplier ×%(factor)s.", factor=trace["tier_multiplier"])
        return text
    if entry.kind == "reversal":
        return _("Order %(order)s changed (%(reason)s): points recomputed from %(before)s to %(after)s.",
                 order=order_id or "—", reason=entry.reason or "—",
                 before=trace.get("earned_before", "?"), after=trace.get("earned_after", "?"))
    if entry.kind == "expiry":
        return _("Points of lot %(lot)s expired on %(date)s.", lot=trace.get("lot", "?"),
                 date=when(entry.effective_at))
    if entry.kind == "redemption":
        return _("Spent on order %(order)s.", order=order_id or "—")
    if entry.kind == "refund":
        return _("Given back: the redemption was cancelled or refunded.")
    if entry.kind in ("adjustment", "bonus"):
        return _("%(kind)s by %(actor)s: %(reason)s", kind=kind_name(entry.kind), actor=entry.actor,
                 reason=entry.reason or "—")
    if entry.reason:
        return f"{kind_name(entry.kind)}: {entry.reason}"
    return kind_name(entry.kind)
