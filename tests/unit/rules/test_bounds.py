"""Every number in a rule document has a range: refused on save with the range named, or
evaluated without any error but ``EvaluationError`` (property tests over all policies)."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from business_rules.fields import FIELD_NUMERIC
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import rules
from rules.facts import DocumentFacts, EventFacts, LineFacts, LotFacts, MemberFacts
from rules.limits import MAX_AMOUNT
from rules.vocabulary import VOCABULARIES

NAMES_A_RANGE = re.compile(r"between -?\d+(\.\d+)? and -?\d+(\.\d+)?")
NUMERIC_CODES = {"invalid_param", "param_out_of_range", "too_many_decimals", "invalid_value", "value_out_of_range"}

# Numbers a careless or hostile editor may send: huge, tiny, negative, not numbers at all.
WILD = st.one_of(
    st.sampled_from([
        1e30, 1e40, 1e-30, "1e-30", "1E+30", "-1e30", 10 ** 40, -(10 ** 40), "1e999999", "-1e999999",
        "1e-999999", "NaN", "nan", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", float("inf"), float("-inf"),
        float("nan"), "", " ", "1e", "0x10", "1,5", True, None, [], {}, -1, "-0.01", "0.00001", 101, "100.0001",
        "1000000000.0001", "99999999999999.9999", "1" * 200, 0.1 + 0.2,
    ]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.from_regex(r"-?\d{1,20}(\.\d{1,12})?([eE][+-]?\d{1,4})?", fullmatch=True),
)


def within(allowed):
    """A value inside ``allowed``, often at an edge, as JSON would carry it."""
    number = st.one_of(st.just(allowed.minimum), st.just(allowed.maximum),
                       st.decimals(min_value=allowed.minimum, max_value=allowed.maximum, places=allowed.decimals,
                                   allow_nan=False, allow_infinity=False))
    return number.flatmap(lambda d: st.sampled_from([str(d), int(d) if d == d.to_integral_value() else str(d)]))


def number_for(allowed):
    return st.one_of(within(allowed), within(allowed), within(allowed), WILD)


@st.composite
def leaves(draw, vocab, scope):
    numeric = [v for v in vocab.variables_for(scope) if v.range is not None]
    variable = draw(st.sampled_from(numeric))
    operator = draw(st.sampled_from(["equal_to", "greater_than", "greater_than_or_equal_to", "less_than",
                                     "less_than_or_equal_to"]))
    return {"name": variable.name, "operator": operator, "value": draw(number_for(variable.range))}


@st.composite
def policy_docs(draw, policy):
    vocab = VOCABULARIES[policy]
    out = []
    for i in range(draw(st.integers(1, 4))):
        scope = draw(st.sampled_from(vocab.scopes))
        names = sorted(name for name, spec in vocab.actions.items() if scope in spec.scopes)
        actions = []
        for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=2)):
            params = {}
            for p in vocab.actions[name].params:
                if p.field_type == FIELD_NUMERIC:
                    params[p.name] = draw(number_for(p.range))
                else:  # a choice among its options, else any text
                    params[p.name] = draw(st.sampled_from(p.options)) if p.options else "gold"
            actions.append({"name": name, "params": params})
        rule = {"id": f"r{i}", "scope": scope, "actions": actions, "priority": draw(st.integers(-3, 3))}
        if any(v.range is not None for v in vocab.variables_for(scope)) and draw(st.booleans()):
            rule["conditions"] = {"all": draw(st.lists(leaves(vocab, scope), min_size=1, max_size=2))}
        out.append(rule)
    return {"policy": policy, "rules": out}


def amounts(high: int, places: int = 4):
    """An amount up to ``high``, at the edge half of the time (where overflows live)."""
    return st.one_of(st.just(Decimal(high)), st.just(Decimal(high)), st.just(Decimal(0)),
                     st.decimals(min_value=0, max_value=high, places=places, allow_nan=False, allow_infinity=False))


@st.composite
def lines(draw, i):
    quantity = draw(amounts(10 ** 6)) * draw(st.sampled_from([1, 1, 1, -1]))  # returns are negative
    price = draw(amounts(10 ** 9))
    return LineFacts(line_id=str(i), sku=draw(st.sampled_from(["A", "B"])), product_group="110",
                     quantity=quantity, unit_price=price, line_total=(quantity * price).quantize(Decimal("0.0001")),
                     is_promo=draw(st.booleans()),
                     product_points_per_unit=draw(st.one_of(st.none(), amounts(10 ** 6))))


@st.composite
def documents(draw):
    count = draw(st.integers(1, 4))
    return DocumentFacts(lines=tuple(draw(lines(i)) for i in range(count)),
                         placed_at=datetime(2025, 3, 3, 10, tzinfo=UTC),
                         shipping_total=draw(amounts(10 ** 9)))


MEMBERS = st.builds(
    MemberFacts, days_since_registration=st.integers(0, 36500), orders_count=st.integers(0, 10 ** 9),
    turnover_12m=amounts(10 ** 12), referral_count=st.integers(0, 10 ** 6),
    points_balance=amounts(10 ** 12) | st.just(Decimal(-(10 ** 6))))

PROGRAMS = st.builds(
    lambda precision, rounding, value: rules.ProgramSettings(precision=precision, rounding=rounding,
                                                             point_value=value),
    st.integers(0, 4), st.sampled_from(["down", "half_up", "half_even", "up"]),
    st.sampled_from([Decimal("0.0001"), Decimal("0.01"), Decimal(1), Decimal(10 ** 6)]))


def _fits(value) -> None:
    if isinstance(value, Decimal):
        assert -MAX_AMOUNT <= value <= MAX_AMOUNT, value
        assert abs(value.quantize(Decimal("0.0001"))) <= MAX_AMOUNT


def evaluate(policy: str, compiled, draw) -> None:
    """One evaluation of ``compiled``; anything but EvaluationError escapes and fails the test."""
    doc, member, program = draw(documents()), draw(MEMBERS), draw(PROGRAMS)
    if policy == "accrual":
        multiplier = Decimal(draw(st.sampled_from(["0.01", "1", "100"])))
        result = rules.evaluate_accrual(compiled, doc, member, program, tier_multiplier=multiplier)
        for value in (result.points, result.unrounded, result.document_points, *(x.points for x in result.lines)):
            _fits(value)
        explained = rules.evaluate_accrual(compiled, doc, member, program, tier_multiplier=multiplier, explain=True)
        assert explained.points == result.points
        rules.simulate(compiled, [(doc, member)], program)
    elif policy == "redemption":
        result = rules.evaluate_redemption(compiled, doc, member, program, balance=draw(amounts(10 ** 12)),
                                           explain=draw(st.booleans()))
        for value in (result.max_points, result.max_amount, result.eligible_total,
                      *(f.points for f in result.free_lines)):
            _fits(value)
    elif policy in ("event", "birthday", "referral"):
        event = EventFacts(policy, {"amount": draw(WILD)})
        result = rules.evaluate_award(compiled, event, member, program, explain=draw(st.booleans()))
        for value in (result.points, result.referrer_points, result.referee_points):
            _fits(value)
    elif policy == "tier":
        rules.evaluate_tier(compiled, member, program)
    elif policy == "expiry":
        available = draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(9999, 12, 1),
                                      timezones=st.just(UTC)))
        rules.evaluate_expiry(compiled, LotFacts("accrual", available), member, program)
    else:
        result = rules.evaluate_mission(compiled, doc, member, program, explain=draw(st.booleans()))
        _fits(result.amount)


@pytest.mark.parametrize("policy", rules.POLICY_NAMES)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_a_document_is_refused_naming_the_range_or_evaluates_safely(policy, data):
    doc = data.draw(policy_docs(policy))
    try:
        validated = rules.validate_policy(doc)
    except rules.RuleValidationError as exc:
        event("refused")
        assert exc.errors
        for message in exc.errors:
            assert len(message.message) <= 600
            if message.code in NUMERIC_CODES:
                assert NAMES_A_RANGE.search(message.message), message
        return
    compiled = rules.compile_policy(validated, version=7)
    event("accepted")
    for _ in range(2):
        try:
            evaluate(policy, compiled, data.draw)
            event("evaluated")
        except rules.EvaluationError as exc:
            event("evaluation error")
            assert exc.code == "evaluation_error" and "policy" in str(exc) and exc.version == 7


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(documents(), MEMBERS), min_size=1, max_size=2), PROGRAMS)
def test_the_reference_evaluator_fails_the_same_typed_way(items, program):
    doc = rules.validate_policy({"policy": "accrual", "rules": [
        {"id": "all", "actions": [{"name": "earn_per_amount", "params": {"points": 1000000, "amount": "0.01"}},
                                  {"name": "multiply", "params": {"factor": 100}}]}]})
    compiled = rules.compile_policy(doc)

    def outcome(evaluator, policy, facts, member):
        try:
            result = evaluator(policy, facts, member, program)
        except rules.EvaluationError:
            return "refused"
        return getattr(result, "points", result)

    for facts, member in items:
        assert outcome(rules.evaluate_accrual, compiled, facts, member) == \
            outcome(rules.reference_accrual, doc, facts, member)


# --- the ranges on save ---------------------------------------------------------------------------

def _refusal(doc) -> rules.ValidationMessage:
    with pytest.raises(rules.RuleValidationError) as info:
        rules.validate_policy(doc)
    return info.value.errors[0]


@pytest.mark.parametrize("action,params,path,text", [
    ("multiply", {"factor": 1e30}, "factor", "the factor of multiply must be between 0 and 100 (got 1E+30)."),
    ("earn_fixed", {"points": 1e40}, "points",
     "the points of earn_fixed must be between 0 and 1000000000 (got 1E+40)."),
    ("earn_per_amount", {"points": 1, "amount": 1e-30}, "amount",
     "the amount of earn_per_amount must be between 0.01 and 1000000000 (got 1E-30)."),
    ("earn_percent", {"percent": 150}, "percent", "must be between 0 and 100 (got 150)."),
    ("earn_fixed", {"points": "0.00001"}, "points", "between 0 and 1000000000 with at most 4 decimals (got 0.00001)"),
    ("multiply", {"factor": "Infinity"}, "factor", "must be a number between 0 and 100 with at most 4 decimals"),
    ("multiply", {"factor": -2}, "factor", "must be between 0 and 100 (got -2)."),
])
def test_out_of_range_params_are_refused_with_the_range(action, params, path, text):
    e = _refusal({"policy": "accrual",
                  "rules": [{"id": "boilers-x2", "actions": [{"name": action, "params": params}]}]})
    assert e.path == f"rules[0].actions[0].params.{path}" and e.rule_id == "boilers-x2"
    assert e.message.startswith("Rule 'boilers-x2': ") and text in e.message, e.message


@pytest.mark.parametrize("policy,action,params,text", [
    ("redemption", "set_point_value", {"value": 0}, "between 0.0001 and 1000000"),
    ("redemption", "max_points", {"points": 1e12}, "between 0 and 1000000000"),
    ("event", "award", {"points": -5}, "between 0 and 1000000000"),
    ("event", "expire_after_days", {"days": 36501}, "a whole number between 1 and 36500"),
    ("expiry", "expire_after_months", {"months": 1201}, "a whole number between 1 and 1200"),
    ("tier", "tier_multiplier", {"factor": 0}, "between 0.01 and 100"),
    ("tier", "tier_discount_percent", {"percent": 100.5}, "between 0 and 100"),
])
def test_every_policy_refuses_out_of_range_params(policy, action, params, text):
    e = _refusal({"policy": policy, "rules": [{"id": "x", "actions": [{"name": action, "params": params}]}]})
    assert e.code == "param_out_of_range" and text in e.message, e.message


@pytest.mark.parametrize("name,value,code,text", [
    ("order_total", 1e30, "value_out_of_range", "between -1000000000000 and 1000000000000 (got 1E+30)"),
    ("hour", 25, "value_out_of_range", "a whole number between 0 and 24 (got 25)"),
    ("orders_count", "2.5", "invalid_value", "a whole number between 0 and 1000000000"),
    ("quantity", "1e-30", "too_many_decimals", "with at most 8 decimals"),
    ("line_total", "NaN", "invalid_value", "between -1000000000000 and 1000000000000"),
])
def test_condition_values_are_refused_with_the_range(name, value, code, text):
    e = _refusal({"policy": "accrual", "rules": [{"id": "c", "actions": [{"name": "exclude"}],
                                                  "conditions": {"name": name, "operator": "greater_than",
                                                                 "value": value}}]})
    assert (e.code, e.path) == (code, "rules[0].conditions.value") and text in e.message, e.message


def test_the_bounds_themselves_are_accepted():
    doc = rules.validate_policy({"policy": "accrual", "rules": [
        {"id": "edge", "priority": 1000000, "conditions": {"name": "hour", "operator": "less_than", "value": 24},
         "actions": [{"name": "earn_per_amount", "params": {"points": 1000000, "amount": "0.01"}},
                     {"name": "multiply", "params": {"factor": "0.01"}},
                     {"name": "cap", "params": {"points": 1000000000}}]}]})
    assert doc.rules[0].actions[1].params["factor"] == Decimal("0.01")
    e = _refusal({"policy": "accrual", "rules": [{"id": "p", "priority": 10 ** 7, "actions": [{"name": "exclude"}]}]})
    assert e.code == "out_of_range" and "between -1000000 and 1000000" in e.message


@pytest.mark.parametrize("body,text", [
    ({"point_value": "1e30"}, "between 0.0001 and 1000000"),
    ({"point_value": "0.00001"}, "with at most 4 decimals"),
    ({"holding_days": 10 ** 6}, "between 0 and 3650"),
    ({"default_lifetime_months": 0}, "between 1 and 1200"),
    ({"precision": 9}, "between 0 and 4"),
])
def test_settings_are_bounded(body, text):
    with pytest.raises(rules.RuleValidationError) as info:
        rules.validate_settings(body)
    e = info.value.errors[0]
    assert e.code == "out_of_range" and text in e.message and e.path == f"settings.{next(iter(body))}", e


# --- a short answer however bad the document -----------------------------------------------------

def test_ten_thousand_bad_rules_give_a_short_answer():
    import json
    bad = [{"id": f"rule-{i}-" + "x" * 90, "actions": [{"name": "multiply", "params": {"factor": "9" * 300}}],
            "conditions": {"name": "sku", "operator": "equal_to", "value": "y" * 10_000}} for i in range(10_000)]
    with pytest.raises(rules.RuleValidationError) as info:
        rules.validate_policy({"policy": "accrual", "rules": bad})
    exc = info.value
    body = json.dumps(exc.to_dict())
    assert len(body) < 20_000, len(body)
    assert exc.problem_count > 10_000 and len(exc.errors) <= 51
    assert exc.errors[-1].code == "more_problems" and f"{exc.problem_count - len(exc.errors) + 1} more" in \
        exc.errors[-1].message
    assert "more problems" in str(exc) and len(str(exc)) < 1000


def test_an_echoed_value_is_cut():
    e = _refusal({"policy": "accrual", "rules": [{"id": "v", "actions": [
        {"name": "earn_fixed", "params": {"points": "many " * 10_000}}]}]})
    assert len(e.message) < 300 and "..." in e.message  # reprlib keeps both ends of the value
    e = _refusal({"policy": "accrual", "rules": [{"id": "w" * 5000, "actions": [{"name": "exclude"}]}]})
    assert len(e.message) < 400 and len(e.rule_id or "") <= 100


# --- the ranges in the export ----------------------------------------------------------------------

def test_every_numeric_param_and_variable_has_a_range_in_the_export():
    for policy, exported in rules.export_vocabulary().items():
        for action in exported["actions"]:
            for param in action["params"]:
                if param["fieldType"] == "numeric":
                    assert {"min", "max", "decimals", "minimum", "maximum", "expects"} <= set(param), (policy, param)
                    assert param["min"] < param["max"] and "between" in param["expects"]
        for variable in exported["variables"]:
            if variable["field_type"] == "numeric":
                assert {"min", "max", "decimals", "integer", "expects"} <= set(variable), (policy, variable)
    accrual = rules.export_vocabulary("accrual")
    params = {(a["name"], p["name"]): p for a in accrual["actions"] for p in a["params"]}
    assert (params["multiply", "factor"]["min"], params["multiply", "factor"]["max"]) == (0, 100)
    tier = {(a["name"], p["name"]): p for a in rules.export_vocabulary("tier")["actions"] for p in a["params"]}
    assert (tier["tier_multiplier", "factor"]["min"], tier["tier_multiplier", "factor"]["decimals"]) == (0.01, 4)
    assert (params["earn_percent", "percent"]["min"], params["earn_percent", "percent"]["max"]) == (0, 100)
    assert params["earn_per_amount", "amount"]["minimum"] == "0.01"
    variables = {v["name"]: v for v in accrual["variables"]}
    assert (variables["hour"]["min"], variables["hour"]["max"], variables["hour"]["integer"]) == (0, 24, True)
    assert "1000000" in accrual["rule_fields"]["priority"]


def test_every_numeric_declaration_has_a_range():
    for vocab in VOCABULARIES.values():
        for variable in vocab.line + vocab.document:
            assert (variable.range is not None) == (variable.type_name == "numeric"), variable.name
        for spec in vocab.actions.values():
            for p in spec.params:
                assert (p.range is not None) == (p.field_type == FIELD_NUMERIC), (spec.name, p.name)


# --- evaluation never raises anything but EvaluationError ------------------------------------------

def _line(total, quantity="1"):
    return LineFacts("1", quantity=Decimal(quantity), line_total=Decimal(total))


def test_a_result_out_of_the_ledgers_range_is_an_evaluation_error():
    compiled = rules.compile_policy(rules.validate_policy({"policy": "accrual", "rules": [
        {"id": f"x{i}", "actions": [{"name": "multiply", "params": {"factor": 100}}]} for i in range(8)]
        + [{"id": "base", "priority": 9, "actions": [{"name": "earn_fixed", "params": {"points": 1000}}]}]}), 3)
    doc = DocumentFacts((_line("10"),))
    with pytest.raises(rules.EvaluationError) as info:
        rules.evaluate_accrual(compiled, doc, MemberFacts(), rules.DEFAULT_SETTINGS)
    assert "accrual policy (version 3)" in str(info.value) and "line 1" in str(info.value)
    assert info.value.to_dict()["code"] == "evaluation_error"
    with pytest.raises(rules.EvaluationError):
        rules.evaluate_accrual(compiled, doc, MemberFacts(), rules.DEFAULT_SETTINGS, explain=True)
    with pytest.raises(rules.EvaluationError):
        rules.simulate(compiled, [(doc, MemberFacts())], rules.DEFAULT_SETTINGS)


def test_bad_facts_and_settings_give_an_evaluation_error_not_a_decimal_one():
    accrual = rules.compile_policy(rules.validate_policy({"policy": "accrual", "rules": [
        {"id": "q", "conditions": {"name": "quantity", "operator": "greater_than", "value": 1},
         "actions": [{"name": "earn_fixed", "params": {"points": 1}}]}]}))
    with pytest.raises(rules.EvaluationError):
        rules.evaluate_accrual(accrual, DocumentFacts((_line("10", "NaN"),)), MemberFacts(), rules.DEFAULT_SETTINGS)
    redemption = rules.compile_policy(rules.validate_policy({"policy": "redemption", "rules": []}))
    with pytest.raises(rules.EvaluationError):
        rules.evaluate_redemption(redemption, DocumentFacts((_line("10"),)), MemberFacts(),
                                  rules.ProgramSettings(point_value=Decimal(0)), balance=Decimal(5))
    event = rules.compile_policy(rules.validate_policy({"policy": "event", "rules": [
        {"id": "big", "conditions": {"name": "event_amount", "operator": "greater_than", "value": 5},
         "actions": [{"name": "award", "params": {"points": 5}}]}]}))
    with pytest.raises(rules.EvaluationError):
        rules.evaluate_award(event, EventFacts("custom:x", {"amount": "1e1000000"}), MemberFacts(),
                             rules.DEFAULT_SETTINGS)


def test_an_expiry_past_the_calendar_is_an_evaluation_error():
    compiled = rules.compile_policy(rules.validate_policy({"policy": "expiry", "rules": [
        {"id": "long", "actions": [{"name": "expire_after_months", "params": {"months": 1200}}]}]}))
    lot = LotFacts("accrual", datetime(9990, 1, 1, tzinfo=UTC))
    with pytest.raises(rules.EvaluationError) as info:
        rules.evaluate_expiry(compiled, lot, MemberFacts(), rules.DEFAULT_SETTINGS)
    assert "9999" in str(info.value)
    fine = rules.evaluate_expiry(compiled, LotFacts("accrual", datetime(2025, 1, 1, tzinfo=UTC)),
                                 MemberFacts(), rules.DEFAULT_SETTINGS)
    assert fine.expires_at.year == 2125
