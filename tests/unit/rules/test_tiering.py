"""rules.tiering: what a tier policy defines (benefits, rank, invitation, downgrade) and what a recalculation
decides for each downgrade mode, without a database."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import rules
from rules.tiering import GRACE, NEVER, RECALCULATION, decide, tier_catalog

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)


def catalog():
    return tier_catalog(rules.compile_policy(rules.validate_policy(rules.default_policies()["tier"]), version=1))


def test_the_default_policy_defines_four_tiers_ranked_by_priority():
    found = catalog()
    assert [found[n].rank for n in ("partner", "gold", "silver", "bronze")] == [4, 3, 2, 1]
    assert found["partner"].invitation_only and found["partner"].multiplier == Decimal(2)
    assert (found["gold"].discount_percent, found["gold"].downgrade, found["gold"].grace_days) == (15, GRACE, 30)
    assert found["bronze"].downgrade == RECALCULATION and found["bronze"].multiplier == 1


def test_the_evaluation_never_gives_an_invitation_only_tier():
    compiled = rules.compile_policy(rules.validate_policy(rules.default_policies()["tier"]), version=1)
    facts = rules.facts.MemberFacts(turnover_12m=Decimal(60000))
    result = rules.evaluate_tier(compiled, facts, rules.DEFAULT_SETTINGS, at=NOW, explain=False)
    assert result.tier == "gold" and result.trace is None


def test_each_downgrade_mode():
    found = catalog()
    assert decide(found, "silver", "gold", None, NOW).reason == "upgrade"
    assert decide(found, "bronze", "", None, NOW) == decide(found, "bronze", "", None, NOW)
    assert decide(found, "bronze", "", None, NOW).tier == ""  # at recalculation
    held = decide(found, "gold", "silver", None, NOW)
    assert (held.tier, held.below_since, held.reason) == ("gold", NOW, None)  # grace starts
    assert decide(found, "gold", "silver", NOW, NOW + timedelta(days=29)).tier == "gold"
    late = decide(found, "gold", "silver", NOW, NOW + timedelta(days=30))
    assert (late.tier, late.reason) == ("silver", "downgrade")
    assert decide(found, "gold", "gold", NOW, NOW).below_since is None  # back above: grace ends
    assert decide(found, "partner", "", None, NOW).tier == "partner"  # invitation is not taken by turnover
    assert decide(found, "platinum", "silver", None, NOW).reason == "tier_removed"
    never = {**found, "gold": type(found["gold"])("gold", 3, downgrade=NEVER)}
    assert decide(never, "gold", "", None, NOW + timedelta(days=999)).tier == "gold"
