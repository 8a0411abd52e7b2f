"""The tiers a tier policy defines, their benefits and rank, and the recalculation decision [003].

A tier is defined by the rule that sets it (``set_tier``): the benefits,
invitation and downgrade actions of that rule belong to the tier, whoever
holds it — so a member pinned or invited into a tier gets its discount and
multiplier whatever their turnover. When several rules set the same tier,
the first (higher priority) defines it. Rank follows the rules' order: a
tier set by a higher-priority rule ranks higher.

Downgrade (per tier, the tier the member holds decides): at recalculation
(default), ``tier_downgrade_never()``, or ``tier_downgrade_after_days(days)``
— a grace period counted from the first recalculation that found the
turnover below the tier. Upgrades apply at once. An invitation-only tier is
never given by turnover and never taken away by it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from .compiler import CompiledPolicy

RECALCULATION, NEVER, GRACE = "recalculation", "never", "grace"


@dataclass(frozen=True, slots=True)
class TierSpec:
    name: str
    rank: int  # higher is better
    discount_percent: Decimal = Decimal(0)
    multiplier: Decimal = Decimal(1)
    invitation_only: bool = False
    downgrade: str = RECALCULATION
    grace_days: int = 0
    rule_id: str = ""

    def benefits(self) -> dict:
        return {"discount_percent": self.discount_percent, "multiplier": self.multiplier,
                "invitation_only": self.invitation_only, "downgrade": self.downgrade,
                "grace_days": self.grace_days}


def _build(policy: CompiledPolicy) -> dict[str, TierSpec]:
    ordered = []
    for r in policy.by_scope.get("document", ()):
        acts = {a.name: a.params for a in r.rule.actions}
        name = (acts.get("set_tier") or {}).get("name")
        if not name or any(name == n for n, _ in ordered):
            continue
        ordered.append((name, (r.rule.id, acts)))
    catalog = {}
    for i, (name, (rule_id, acts)) in enumerate(ordered):
        downgrade, grace = RECALCULATION, 0
        if "tier_downgrade_never" in acts:
            downgrade = NEVER
        elif "tier_downgrade_after_days" in acts:
            downgrade, grace = GRACE, int(acts["tier_downgrade_after_days"]["days"])
        catalog[name] = TierSpec(
            name, len(ordered) - i,
            Decimal((acts.get("tier_discount_percent") or {}).get("percent", 0)),
            Decimal((acts.get("tier_multiplier") or {}).get("factor", 1)),
            "tier_invitation_only" in acts, downgrade, grace, rule_id)
    return catalog


def tier_catalog(policy: CompiledPolicy | None) -> dict[str, TierSpec]:
    """Every tier the policy defines, by name (computed once per compiled version)."""
    if policy is None:
        return {}
    return policy.derived("tier_catalog", _build)


def invitation_rules(policy: CompiledPolicy) -> frozenset[str]:
    """Ids of the rules that define invitation-only tiers (evaluation ignores what they set)."""
    return frozenset(s.rule_id for s in tier_catalog(policy).values() if s.invitation_only)


@dataclass(frozen=True, slots=True)
class Decision:
    tier: str
    below_since: datetime | None  # when the turnover first fell below the held tier (grace)
    reason: str | None  # None: no change of tier


def decide(catalog: dict[str, TierSpec], current: str, earned: str, below_since: datetime | None,
           now: datetime) -> Decision:
    """What a recalculation does to a member holding ``current`` whose turnover earns ``earned``
    (pins are the caller's business: a pinned member is not recalculated)."""
    held = catalog.get(current) if current else None
    if current and held is None:
        return Decision(earned, None, "tier_removed")  # the policy no longer defines it
    if earned == current:
        return Decision(current, None, None)
    if held is not None and held.invitation_only:
        return Decision(current, None, None)
    held_rank = held.rank if held else 0
    earned_rank = catalog[earned].rank if earned in catalog else 0
    if held is None or earned_rank > held_rank:
        return Decision(earned, None, "upgrade")
    if held.downgrade == NEVER:
        return Decision(current, None, None)
    if held.downgrade == GRACE:
        since = below_since or now
        if now < since + timedelta(days=held.grace_days):
            return Decision(current, since, None)
    return Decision(earned, None, "downgrade")
