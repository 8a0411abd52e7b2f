"""Redemption, expiry, award (event/birthday/referral), tier and mission evaluation."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

import rules
from rules.facts import EventFacts, LotFacts, MemberFacts

from .rulekit import MONDAY, act, compile_rules, cond, make_doc, make_line, rule

S = rules.DEFAULT_SETTINGS
UTC = UTC


# redemption ------------------------------------------------------------------

def redeem(*rs, cart, balance="1000", member=None, settings=S, **kw):
    policy = compile_rules("redemption", *rs)
    return rules.evaluate_redemption(policy, cart, member or MemberFacts(), settings, balance=D(balance), **kw)


CART = make_doc(make_line("1", "100"), make_line("2", "50", is_promo=True), shipping_total=D("15"))


def test_redemption_without_rules_pays_the_lines_at_the_program_value():
    r = redeem(cart=CART, settings=rules.ProgramSettings(point_value=D("0.5")))
    assert (r.point_value, r.eligible_total, r.max_points, r.max_amount) == (D("0.5"), D(150), D(300), D(150))
    assert r.allowed and r.reason_code is None


def test_exclude_line_and_max_percent_and_point_value():
    r = redeem(rule("promo", act("exclude_line"), scope="line", conditions=cond("is_promo", "is_true")),
               rule("terms", act("set_point_value", value="0.1"), act("max_percent_of_order", percent=50)),
               cart=CART, explain=True)
    assert r.excluded_lines == ("2",) and r.eligible_total == D(100)
    assert r.max_points == D(750)  # min(100, 50% of 150) = 75 PLN at 0.10 PLN per point
    assert r.rules == ("promo", "terms") and r.trace["lines"][1]["excluded"] is True


def test_stricter_terms_win_and_first_point_value_wins():
    r = redeem(rule("a", act("max_points", points=100), act("set_point_value", value=1), priority=2),
               rule("b", act("max_points", points=40), act("set_point_value", value=2)),
               cart=CART)
    assert r.max_points == D(40) and r.point_value == D(1)


def test_balance_limits_and_is_rounded_down_to_precision():
    settings = rules.ProgramSettings(precision=2)
    r = redeem(cart=CART, balance="12.349", settings=settings)
    assert r.max_points == D("12.34")
    r = redeem(cart=make_doc(make_line("1", "10")), balance="1000",
               settings=rules.ProgramSettings(point_value=D(3)))
    assert r.max_points == D(3)  # 10 PLN / 3 = 3.33 → 3, never rounded up


def test_min_order_total_refuses_with_a_reason():
    r = redeem(rule("min", act("min_order_total", amount=200)), rule("min2", act("min_order_total", amount=100)),
               cart=CART)
    assert not r.allowed and r.reason_code == "below_min_order_total" and r.max_points == 0
    assert r.min_order_total == D(200)


def test_shipping_only_and_include_shipping():
    assert redeem(rule("s", act("shipping_only")), cart=CART).eligible_total == D(15)
    assert redeem(rule("s", act("include_shipping")), cart=CART).eligible_total == D(165)


@pytest.mark.parametrize("balance,rules_,reason", [
    ("0", [], "no_balance"),
    ("10", [rule("full", act("require_full_coverage"))], "balance_does_not_cover"),
])
def test_refusals(balance, rules_, reason):
    r = redeem(*rules_, cart=CART, balance=balance)
    assert not r.allowed and r.reason_code == reason
    assert redeem(*rules_, cart=CART, balance="5000").allowed


def test_nothing_eligible_and_excluded_group():
    r = redeem(rule("all", act("exclude_line"), scope="line"), cart=CART)
    assert r.reason_code == "nothing_eligible"
    r = redeem(cart=CART, member=MemberFacts(member_group="EMP"),
               settings=rules.ProgramSettings(excluded_groups=("EMP",)))
    assert r.reason_code == "member_group_excluded" and r.to_dict()["allowed"] is False


# expiry -----------------------------------------------------------------------

LOT = LotFacts(entry_kind="accrual", available_at=datetime(2025, 1, 31, 12, 0, tzinfo=UTC), channel="web")


def expire(*rs, lot=LOT, settings=S):
    return rules.evaluate_expiry(compile_rules("expiry", *rs), lot, MemberFacts(), settings)


def test_default_lifetime_comes_from_settings():
    r = expire()
    assert r.expires_at == datetime(2026, 1, 31, 12, 0, tzinfo=UTC) and r.warn_days_before == 30
    assert r.lifetime["source"] == "settings" and r.warn_at == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert expire(settings=rules.ProgramSettings(default_lifetime_months=None)).expires_at is None


def test_months_clamp_to_the_month_end_and_keep_local_time():
    r = expire(rule("m", act("expire_after_months", months=1)))
    assert r.expires_at == datetime(2025, 2, 28, 12, 0, tzinfo=UTC)
    # across the DST change the Warsaw wall-clock time is kept: 13:00 CET -> 13:00 CEST = 11:00 UTC
    r = expire(rule("m", act("expire_after_months", months=3)))
    assert r.expires_at == datetime(2025, 4, 30, 11, 0, tzinfo=UTC)


def test_end_of_month_in_the_program_time_zone_and_days():
    r = expire(rule("m", act("expire_after_days", days=1), act("expire_end_of_month"), act("warn_days_before", days=7)))
    # 1 Feb 13:00 Warsaw -> end of February 23:59:59 Warsaw = 22:59:59 UTC
    assert r.expires_at == datetime(2025, 2, 28, 22, 59, 59, tzinfo=UTC) and r.warn_days_before == 7


def test_first_lifetime_wins_and_never_expire():
    special = rule("promo-codes", act("never_expire"), priority=5,
                   conditions=cond("entry_kind", "equal_to", "promo_code"))
    normal = rule("normal", act("expire_after_months", months=6))
    assert expire(special, normal).expires_at == datetime(2025, 7, 31, 11, 0, tzinfo=UTC)  # 13:00 Warsaw, summer
    promo_lot = LotFacts(entry_kind="promo_code", available_at=LOT.available_at)
    r = expire(special, normal, lot=promo_lot)
    assert r.expires_at is None and r.warn_at is None and r.rules == ("promo-codes", "normal")
    assert r.trace["lifetime"]["source"] == "promo-codes"


# awards -------------------------------------------------------------------------

def award(policy, *rs, event, member=None, **kw):
    return rules.evaluate_award(compile_rules(policy, *rs), event, member or MemberFacts(), S, **kw)


def test_event_award_with_attributes():
    rs = [rule("reg", act("award", points=150), act("activation_delay_days", days=0),
               conditions=cond("event_type", "equal_to", "registration")),
          rule("fb", act("award", points=5), act("expire_after_days", days=30),
               conditions={"all": [cond("event_type", "equal_to", "social_share"),
                                   cond("event_attributes", "contains", "network=facebook")]}),
          rule("big-review", act("award", points=10), act("activation_delay_days", days=7),
               conditions={"all": [cond("event_type", "equal_to", "review"), cond("event_amount", "greater_than", 3),
                                   cond("event_source", "equal_to", "app")]})]
    assert award("event", *rs, event=EventFacts("registration")).points == D(150)
    share = award("event", *rs, event=EventFacts("social_share", {"network": "Facebook"}), explain=True)
    assert share.points == D(5) and share.expire_after_days == 30 and share.trace["rules"][1]["matched"]
    assert award("event", *rs, event=EventFacts("social_share", {"network": "x"})).points == 0
    review = award("event", *rs, event=EventFacts("review", {"amount": 5, "source": "app"}))
    assert review.points == D(10) and review.activation_delay_days == 7
    assert award("event", *rs, event=EventFacts("review", {"amount": "many", "source": "app"})).points == 0


def test_awards_add_up_and_referral_is_two_sided():
    r = award("referral", rule("a", act("award_referrer", points=100), act("award_referee", points=50)),
              rule("b", act("award_referrer", points="20.5")), event=EventFacts("referral"))
    assert (r.referrer_points, r.referee_points, r.points) == (D(120), D(50), D(0))  # 120.5 rounded down


def test_birthday_and_active_period():
    rs = [rule("bday", act("award", points=50), conditions=cond("is_birthday", "is_true"),
               active_from="2025-01-01", active_until="2025-12-31")]
    member = MemberFacts(is_birthday=True)
    assert award("birthday", *rs, event=EventFacts("birthday"), member=member, at=MONDAY).points == 50
    late = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert award("birthday", *rs, event=EventFacts("birthday"), member=member, at=late).points == 0


def test_award_refuses_other_policies():
    with pytest.raises(ValueError):
        rules.evaluate_award(compile_rules("tier", rule("t", act("set_tier", name="x"))), EventFacts("x"),
                             MemberFacts(), S)


# tier ---------------------------------------------------------------------------

def test_default_tier_policy_by_turnover():
    policy = rules.compile_policy(rules.validate_policy(rules.default_policies()["tier"]), version=2)
    cases = [("0", None, "0", "1"), ("5000", "bronze", "5", "1"), ("19999.99", "bronze", "5", "1"),
             ("20000", "silver", "10", "1.2"), ("75000", "gold", "15", "1.5")]
    for turnover, tier, discount, multiplier in cases:
        r = rules.evaluate_tier(policy, MemberFacts(turnover_12m=D(turnover)), S)
        assert (r.tier, r.discount_percent, r.multiplier) == (tier, D(discount), D(multiplier)), turnover
    r = rules.evaluate_tier(policy, MemberFacts(turnover_12m=D(75000)), S)
    assert r.rules == ("gold",) and r.policy_version == 2 and r.trace["rules"][2]["reason"] == "not_reached"
    assert r.trace["rules"][0] == {"rule": "partner", "matched": False, "reason": "invitation_only"}


# mission ------------------------------------------------------------------------

def test_mission_progress_and_exclusion():
    policy = compile_rules(
        "mission",
        rule("tools", act("progress_amount"), act("exclude_from_accrual"),
             conditions=cond("product_group", "equal_to", "130")),
        rule("units", act("progress_quantity"), scope="document", conditions=cond("channel", "equal_to", "erp")))
    doc = make_doc(make_line("1", "200", product_group="130", quantity=D(4)), make_line("2", "50", quantity=D(2)),
                   channel="erp")
    r = rules.evaluate_mission(policy, doc, MemberFacts(), S, explain=True)
    assert r.amount == D(200) and r.quantity == D(6) and r.excluded_lines == ("1",)
    assert r.by_rule == {"tools": {"amount": D(200), "quantity": D(0)}, "units": {"amount": D(0), "quantity": D(6)}}
    assert r.lines[0].rules == ("tools", "units") and r.to_dict()["lines"][1]["amount"] == "0"
    web = rules.evaluate_mission(policy, make_doc(*doc.lines, channel="web"), MemberFacts(), S)
    assert web.quantity == 0 and web.amount == D(200)
