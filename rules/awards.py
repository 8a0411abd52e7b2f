"""``evaluate_award`` (event, birthday, referral policies) and ``evaluate_tier``.

Event attributes reach conditions only through fixed variables, never through
attribute names chosen by a rule: ``event_type``; ``event_amount`` (the
numeric ``amount`` attribute, 0 when absent); ``event_source`` (the text
``source`` attribute); and ``event_attributes``, a select variable holding
every scalar attribute as ``"key=value"`` text, tested with ``contains`` /
``does_not_contain`` (e.g. ``"network=facebook"``).

Awards: ``award``, ``award_referrer`` and ``award_referee`` add up over all
matching rules, each total rounded with the program precision and rounding;
``activation_delay_days`` and ``expire_after_days`` come from the first
matching rule that sets them (0 days delay and None — the expiry policy
decides — otherwise).

Tiers: ``set_tier``, ``tier_discount_percent`` and ``tier_multiplier`` each
come from the first matching rule that sets them (higher priority first);
without one the member has no tier, 0 % discount and multiplier 1. Rules
defining an invitation-only tier are ignored (``rules.tiering``): turnover
never gives that tier. What a member *holds* decides the benefits
(``rules.tiering.tier_catalog``), not this evaluation.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .compiler import CompiledPolicy
from .facts import ZERO, EventFacts, MemberFacts
from .limits import checked, guarded
from .runner import base_trace, check_policy, finish, intents, matching
from .settings import ProgramSettings
from .tiering import invitation_rules
from .values import aware_utc, to_jsonable
from .variables import Context

AWARD_POLICIES = ("event", "birthday", "referral")


@dataclass(frozen=True, slots=True)
class AwardResult:
    points: Decimal  # to the member the event is about
    referrer_points: Decimal
    referee_points: Decimal
    activation_delay_days: int
    expire_after_days: int | None
    rules: tuple[str, ...]
    policy_version: int | None
    trace: dict | None = None

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable({name: getattr(self, name) for name in self.__slots__})


@dataclass(frozen=True, slots=True)
class TierResult:
    tier: str | None
    discount_percent: Decimal
    multiplier: Decimal
    rules: tuple[str, ...]
    policy_version: int | None = None
    trace: dict | None = None

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable({name: getattr(self, name) for name in self.__slots__})


def _now() -> datetime:
    return datetime.now(UTC)


@guarded
def evaluate_award(policy: CompiledPolicy, event: EventFacts, member: MemberFacts, settings: ProgramSettings,
                   *, at: datetime | None = None, explain: bool = False) -> AwardResult:
    """Points an event earns (module docstring: the rules). ``at`` (default now)
    decides which rules are active."""
    check_policy(policy, *AWARD_POLICIES)
    at = aware_utc(at or _now())
    values = policy.values(Context(event=event, member=member, tz=settings.tz))
    entries: list | None = [] if explain else None
    hits = matching(policy, "document", None, values, policy.active_flags(at, settings.tz), entries)
    totals = {"award": ZERO, "award_referrer": ZERO, "award_referee": ZERO}
    delay = expire = None
    for _rule_id, name, p in intents(hits):
        if name in totals:
            totals[name] += p["points"]
        elif name == "activation_delay_days" and delay is None:
            delay = p["days"]
        elif name == "expire_after_days" and expire is None:
            expire = p["days"]
    if settings.is_excluded(member.member_group):
        totals = dict.fromkeys(totals, ZERO)
    points, referrer, referee = (
        checked(settings.round_points(checked(totals[k], f"the {k.replace('_', ' ')} points", policy)),
                f"the {k.replace('_', ' ')} points", policy)
        for k in ("award", "award_referrer", "award_referee"))
    trace = None
    if explain:
        trace = base_trace(policy, at, values)
        trace.update(event_type=event.event_type, rules=entries, totals=totals,
                     member_excluded=settings.is_excluded(member.member_group))
    return AwardResult(points, referrer, referee, delay or 0, expire, tuple(r.rule.id for r in hits),
                       policy.version, finish(trace))


@guarded
def evaluate_tier(policy: CompiledPolicy, member: MemberFacts, settings: ProgramSettings,
                  *, at: datetime | None = None, explain: bool = True) -> TierResult:
    """The member's tier, discount and accrual multiplier [003], with a trace unless ``explain=False``
    (the nightly recalculation of a million members does not keep one)."""
    check_policy(policy, "tier")
    at = aware_utc(at or _now())
    values = policy.values(Context(member=member, tz=settings.tz))
    entries: list | None = [] if explain else None
    hits = matching(policy, "document", None, values, policy.active_flags(at, settings.tz), entries)
    tier = discount = multiplier = None
    invited_only = invitation_rules(policy)
    hits = [r for r in hits if r.rule.id not in invited_only]
    for _rule_id, name, p in intents(hits):
        if name == "set_tier" and tier is None:
            tier = p["name"]
        elif name == "tier_discount_percent" and discount is None:
            discount = p["percent"]
        elif name == "tier_multiplier" and multiplier is None:
            multiplier = p["factor"]
    trace = None
    if explain:
        trace = base_trace(policy, at, values)
        entries = [{"rule": e["rule"], "matched": False, "reason": "invitation_only"}
                   if e["rule"] in invited_only else e for e in entries]
        trace.update(rules=entries, tier=tier)
    return TierResult(tier, discount if discount is not None else ZERO,
                      multiplier if multiplier is not None else Decimal(1),
                      tuple(r.rule.id for r in hits), policy.version, finish(trace))
