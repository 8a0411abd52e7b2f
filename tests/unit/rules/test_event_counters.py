"""The period counters of event and referral policies: limits written as conditions."""
from __future__ import annotations

from decimal import Decimal as D

import pytest
from business_rules import run_all

import rules
from rules.facts import EventFacts, MemberFacts
from rules.variables import Context
from rules.vocabulary import vocabulary

from .rulekit import act, compile_rules, cond, rule

COUNTERS = ("events_today", "events_this_week", "events_this_month", "events_this_year", "events_total")


def award(policy, *rs, event):
    return rules.evaluate_award(compile_rules(policy, *rs), event, MemberFacts(), rules.DEFAULT_SETTINGS)


@pytest.mark.parametrize("counter", COUNTERS)
def test_each_counter_limits_an_event(counter):
    limit = rule("three", act("award", points=20), conditions={"all": [
        cond("event_type", "equal_to", "review"), cond(counter, "less_than", 3)]})
    assert award("event", limit, event=EventFacts("review", **{counter: 2})).points == D(20)
    assert award("event", limit, event=EventFacts("review", **{counter: 3})).points == 0
    # The other counters do not stand in for this one.
    others = {name: 99 for name in COUNTERS if name != counter}
    assert award("event", limit, event=EventFacts("review", **others)).points == D(20)


def test_referrer_cap_leaves_the_referee_award():
    rs = [rule("referee", act("award_referee", points=50)),
          rule("referrer", act("award_referrer", points=100),
               conditions=cond("referrals_this_month", "less_than", 5))]
    open_ = award("referral", *rs, event=EventFacts("referral", referrals_this_month=4))
    capped = award("referral", *rs, event=EventFacts("referral", referrals_this_month=5))
    assert (open_.referrer_points, open_.referee_points) == (D(100), D(50))
    assert (capped.referrer_points, capped.referee_points) == (D(0), D(50))


def test_the_business_rules_reference_reads_the_same_counters():
    vocab = vocabulary("event")
    variables = vocab.variables_class("document")
    seen: list = []
    facts = EventFacts("review", events_this_week=2, referrals_this_month=7)
    ctx = Context(event=facts, member=MemberFacts())
    assert variables(ctx).events_this_week() == 2 and variables(ctx).referrals_this_month() == 7
    fired = run_all([{"conditions": {"all": [cond("events_this_week", "equal_to", 2)]},
                      "actions": [{"name": "award", "params": {"points": 1}}]}],
                    defined_variables=variables(ctx), defined_actions=_Recorder(seen),
                    stop_on_first_trigger=True)
    assert fired and seen == [D(1)]


class _Recorder:
    def __init__(self, seen):
        self.seen = seen

    def award(self, points):
        self.seen.append(D(str(points)))


@pytest.mark.parametrize("value", [-1, "1.5", 1_000_000_001])
def test_counter_values_out_of_range_are_refused(value):
    with pytest.raises(rules.RuleValidationError) as caught:
        compile_rules("event", rule("x", act("award", points=1),
                                    conditions=cond("events_this_month", "less_than", value)))
    assert "events_this_month" in str(caught.value)


def test_the_editor_export_shows_the_counters_with_their_range():
    for policy in ("event", "referral", "birthday"):
        exported = {v["name"]: v for v in rules.export_vocabulary(policy)["variables"]}
        for name in (*COUNTERS, "referrals_this_month"):
            assert exported[name]["field_type"] == "numeric" and exported[name]["kind"] == "event"
            assert (exported[name]["min"], exported[name]["max"], exported[name]["integer"]) == (0, 10**9, True)
    assert "events_this_month" not in {v["name"] for v in rules.export_vocabulary("accrual")["variables"]}
