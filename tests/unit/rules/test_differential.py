"""Differential property test: the compiled evaluator equals the business-rules reference."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rules
from rules.facts import DocumentFacts, LineFacts, MemberFacts
from rules.reference import reference_detail
from rules.vocabulary import VOCABULARIES

SKUS = ["A1", "A2", "B1", "C7", ""]
GROUPS = ["110", "120", "130", "140"]
BRANDS = ["Kan", "Tece", "kan", ""]
STORES = ["WAW", "KRK", ""]
GROUPS_M = ["VIP", "STD", "B2B", ""]
TIERS = ["bronze", "silver", "gold", ""]
DEC = st.sampled_from(["0", "0.5", "1", "2.5", "10", "19.99", "50", "100", "-5", "3"]).map(Decimal)
POS = st.sampled_from(["0.01", "0.5", "1", "3", "10", "25", "100"]).map(Decimal)
TEXT_VALUES = {
    "sku": SKUS, "product_group": GROUPS, "brand": BRANDS, "store": STORES, "currency": ["PLN", "EUR"],
    "member_group": GROUPS_M, "tier": TIERS,
}
OPTION_VARS = {"document_type": ["order", "invoice", "correction"], "channel": ["web", "phone", "pos", "erp"],
               "weekday": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]}
NUMERIC_LINE = ["quantity", "unit_price", "line_total", "product_points_per_unit"]
NUMERIC_DOC = ["order_total", "hour", "shipping_total", "lines_count", "days_since_registration",
               "orders_count", "turnover_12m", "referral_count", "points_balance"]
BOOL_LINE = ["is_promo"]
BOOL_DOC = ["is_birthday"]
REGEXES = ["^A", "1$", "[0-9]{2}", "an", "^(110|120)$", "K.n"]
NUM_OPS = ["equal_to", "greater_than", "greater_than_or_equal_to", "less_than", "less_than_or_equal_to"]
TAGS = ["eco", "new", "Sale", "ECO"]
CODES = ["SUMMER10", "summer10", "FREESHIP", "VIP"]
MULTI_OPS = ["contains_all", "is_contained_by", "shares_at_least_one_element_with",
             "shares_exactly_one_element_with", "shares_no_elements_with"]
TEXT_OPS = ["equal_to", "equal_to_case_insensitive", "starts_with", "ends_with", "contains", "matches_regex",
            "non_empty"]


@st.composite
def leaves(draw, line_scope: bool):
    kinds = ["text_doc", "opt", "num_doc", "bool_doc", "codes"] + (
        ["text_line"] * 3 + ["num_line", "bool_line", "tags", "tags"] if line_scope else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "tags":
        return {"name": "line_tags", "operator": draw(st.sampled_from(MULTI_OPS)),
                "value": draw(st.lists(st.sampled_from(TAGS + ["x"]), min_size=1, max_size=3))}
    if kind == "codes":
        return {"name": "order_codes", "operator": draw(st.sampled_from(["contains", "does_not_contain"])),
                "value": draw(st.sampled_from(CODES + ["x"]))}
    if kind in ("text_line", "text_doc"):
        names = ["sku", "product_group", "brand"] if kind == "text_line" else \
            ["store", "currency", "member_group", "tier"]
        name = draw(st.sampled_from(names))
        op = draw(st.sampled_from(TEXT_OPS + ["equal_to"] * 3))
        if op == "non_empty":
            return {"name": name, "operator": op}
        if op == "matches_regex":
            return {"name": name, "operator": op, "value": draw(st.sampled_from(REGEXES))}
        value = draw(st.sampled_from([v for v in TEXT_VALUES[name] if v] + ["1", "A", "k"]))
        if op in ("starts_with", "ends_with", "contains"):
            value = value[: draw(st.integers(1, max(1, len(value))))]
        return {"name": name, "operator": op, "value": value}
    if kind == "opt":
        name = draw(st.sampled_from(sorted(OPTION_VARS)))
        op = draw(st.sampled_from(["equal_to", "equal_to_case_insensitive", "starts_with"]))
        value = draw(st.sampled_from(OPTION_VARS[name]))
        return {"name": name, "operator": op, "value": value if op != "starts_with" else value[:2]}
    if kind in ("num_line", "num_doc"):
        name = draw(st.sampled_from(NUMERIC_LINE if kind == "num_line" else NUMERIC_DOC))
        # Values near the facts' values, sometimes off by less than business-rules' EPSILON,
        # within the range the variable accepts (rules.limits: hour 0..24, counts whole...).
        allowed = VOCABULARIES["accrual"].variables_by_name[name].range
        value = draw(st.sampled_from(["0", "1", "2", "3", "10", "12.5", "24", "50", "100", "19.99", "-5"]))
        jitter = draw(st.sampled_from(["0", "0", "0.0000005", "-0.0000005", "0.000002"]))
        value = Decimal(value) + Decimal(jitter)
        if allowed.problem(value) is not None:
            value = Decimal(draw(st.sampled_from(["0", "1", "3", "10", "24"])))
        return {"name": name, "operator": draw(st.sampled_from(NUM_OPS)),
                "value": str(value) if draw(st.booleans()) or value != int(value) else int(value)}
    name = draw(st.sampled_from(BOOL_LINE if kind == "bool_line" else BOOL_DOC))
    return {"name": name, "operator": draw(st.sampled_from(["is_true", "is_false"]))}


def conditions(line_scope: bool, depth: int = 2):
    base = leaves(line_scope)
    if depth == 0:
        return base
    group = st.builds(lambda kind, children: {kind: children}, st.sampled_from(["all", "any"]),
                      st.lists(conditions(line_scope, depth - 1), min_size=1, max_size=3))
    return st.one_of(base, group, group)


ACTIONS = st.one_of(
    st.builds(lambda p: {"name": "earn_percent", "params": {"percent": str(p)}}, POS),
    st.builds(lambda p, a: {"name": "earn_per_amount", "params": {"points": str(p), "amount": str(a)}}, POS, POS),
    st.builds(lambda p: {"name": "earn_per_unit", "params": {"points": str(p)}}, POS),
    st.just({"name": "earn_catalog_points"}),
    st.builds(lambda p: {"name": "earn_fixed", "params": {"points": str(p)}}, POS),
    st.builds(lambda f: {"name": "multiply", "params": {"factor": str(f)}},
              st.sampled_from(["0", "0.5", "1.5", "2", "3"])),
    st.builds(lambda p: {"name": "cap", "params": {"points": str(p)}}, POS),
    st.just({"name": "exclude"}),
)
BASE_DAY = date(2025, 3, 1)


@st.composite
def rule_docs(draw):
    n = draw(st.integers(1, 30))
    out = []
    for i in range(n):
        scope = draw(st.sampled_from(["line", "line", "document"]))
        rule = {"id": f"r{i}", "scope": scope, "priority": draw(st.integers(-3, 3)),
                "stop_processing": draw(st.booleans()) and draw(st.booleans()),
                "actions": draw(st.lists(ACTIONS, min_size=1, max_size=3))}
        if draw(st.integers(0, 4)):
            rule["conditions"] = draw(conditions(scope == "line"))
        if not draw(st.integers(0, 5)):
            start = BASE_DAY + timedelta(days=draw(st.integers(-3, 3)))
            rule["active_from"] = start.isoformat()
            rule["active_until"] = (start + timedelta(days=draw(st.integers(0, 4)))).isoformat()
        out.append(rule)
    return {"policy": "accrual", "rules": out}


LINES = st.builds(
    lambda i, sku, g, b, q, up, promo, ppu, tags: LineFacts(
        line_id=str(i), sku=sku, product_group=g, brand=b, quantity=q, unit_price=up,
        line_total=(q * up).quantize(Decimal("0.01")), is_promo=promo, product_points_per_unit=ppu,
        line_tags=tuple(tags)),
    st.integers(1, 999), st.sampled_from(SKUS), st.sampled_from(GROUPS), st.sampled_from(BRANDS),
    st.sampled_from(["1", "2", "3", "0.5", "10", "-1"]).map(Decimal),
    st.sampled_from(["0", "9.99", "10", "12.5", "100", "0.4", "49.99"]).map(Decimal),
    st.booleans(), st.one_of(st.none(), st.sampled_from(["1", "2.5", "0"]).map(Decimal)),
    st.lists(st.sampled_from(TAGS), max_size=3))

DOCS = st.builds(
    lambda lines, dt, ch, store, cur, hours, ship, codes: DocumentFacts(
        lines=tuple(lines), document_type=dt, channel=ch, store=store, currency=cur,
        placed_at=datetime(2025, 3, 1, tzinfo=UTC) + timedelta(hours=hours), shipping_total=ship,
        codes=tuple(codes)),
    st.lists(LINES, min_size=1, max_size=8), st.sampled_from(OPTION_VARS["document_type"]),
    st.sampled_from(OPTION_VARS["channel"]), st.sampled_from(STORES), st.sampled_from(["PLN", "EUR"]),
    st.integers(-80, 100), st.sampled_from(["0", "15"]).map(Decimal),
    st.lists(st.sampled_from(CODES), max_size=2))

MEMBERS = st.builds(
    MemberFacts, member_group=st.sampled_from(GROUPS_M), tier=st.sampled_from(TIERS),
    days_since_registration=st.integers(0, 400), orders_count=st.integers(0, 20),
    turnover_12m=DEC, is_birthday=st.booleans(), referral_count=st.integers(0, 3), points_balance=DEC)

SETTINGS = st.builds(
    lambda precision, rounding, tz, excluded: rules.ProgramSettings(
        precision=precision, rounding=rounding, time_zone=tz, excluded_groups=excluded),
    st.integers(0, 2), st.sampled_from(["down", "half_up", "half_even", "up"]),
    st.sampled_from(["Europe/Warsaw", "UTC", "America/New_York", "Asia/Tokyo"]),
    st.sampled_from([(), (), ("B2B",)]))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_docs(), st.lists(st.tuples(DOCS, MEMBERS), min_size=1, max_size=3), SETTINGS,
       st.sampled_from(["1", "1.5", "0.9"]).map(Decimal))
def test_compiled_equals_business_rules_reference(doc, items, program, multiplier):
    policy = rules.validate_policy(doc)
    compiled = rules.compile_policy(policy, version=1)
    for facts, member in items:
        expected = rules.reference_accrual(policy, facts, member, program, tier_multiplier=multiplier)
        unrounded, per_line = reference_detail(policy, facts, member, program, tier_multiplier=multiplier)
        fast = rules.evaluate_accrual(compiled, facts, member, program, tier_multiplier=multiplier)
        assert fast.unrounded == unrounded
        assert tuple(line.points for line in fast.lines) == per_line
        traced = rules.evaluate_accrual(compiled, facts, member, program, tier_multiplier=multiplier,
                                        explain=True)
        assert fast.points == expected
        assert traced.points == fast.points and traced.unrounded == fast.unrounded
        assert traced.lines == fast.lines and traced.document_rules == fast.document_rules
