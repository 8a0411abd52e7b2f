"""A rich scenario for comparing the set-based path with the per-document path.

A program that reads every member fact (turnover, order count, balance,
referrals, registration age, birthday, group, tier), catalog points, a tier
policy, an expiry policy depending on the member group, a holding period;
customers with referrals, a blocked member, an excluded group and an account
in debt; an earlier invoice file (history in the database), then a big file
with many documents per customer, lines far from their document, cancelled
invoices (new ones, and one that cancels an earlier import), duplicates, a
conflicting re-export and zero lines; then credit notes (partial and full).
"""
from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from engine import clock, ledger
from engine.models import Member
from tests.integration.imports import samples

ACCRUAL_RICH = {"policy": "accrual", "rules": [
    {"id": "corrections", "scope": "document", "priority": 1000, "stop_processing": True,
     "conditions": {"all": [{"name": "document_type", "operator": "equal_to", "value": "correction"}]},
     "actions": [{"name": "exclude", "params": {}}]},
    {"id": "base", "scope": "line", "priority": 100,
     "conditions": {"all": [{"name": "line_total", "operator": "greater_than", "value": 0}]},
     "actions": [{"name": "earn_per_amount", "params": {"points": 1, "amount": 10}}]},
    {"id": "catalog", "scope": "line", "priority": 90,
     "conditions": {"all": [{"name": "product_points_per_unit", "operator": "greater_than", "value": 0}]},
     "actions": [{"name": "earn_catalog_points", "params": {}}]},
    {"id": "eco", "scope": "line", "priority": 80,
     "conditions": {"all": [{"name": "line_tags", "operator": "shares_at_least_one_element_with",
                             "value": ["eco", "organic"]}]},
     "actions": [{"name": "earn_per_unit", "params": {"points": "0.5"}}]},
    {"id": "group-110", "scope": "line", "priority": 50,
     "conditions": {"all": [{"name": "product_group", "operator": "equal_to", "value": "110"}]},
     "actions": [{"name": "multiply", "params": {"factor": "1.5"}}]},
    {"id": "old-customers", "scope": "line", "priority": 40,
     "conditions": {"all": [{"name": "days_since_registration", "operator": "greater_than", "value": 400}]},
     "actions": [{"name": "earn_percent", "params": {"percent": "0.7"}}]},
    {"id": "vip", "scope": "line", "priority": 30,
     "conditions": {"all": [{"name": "member_group", "operator": "equal_to", "value": "VIP"}]},
     "actions": [{"name": "multiply", "params": {"factor": "1.25"}}]},
    {"id": "regulars", "scope": "document", "priority": 60,
     "conditions": {"all": [{"name": "orders_count", "operator": "greater_than_or_equal_to", "value": 2}]},
     "actions": [{"name": "multiply", "params": {"factor": "1.1"}}]},
    {"id": "big-spenders", "scope": "document", "priority": 50,
     "conditions": {"all": [{"name": "turnover_12m", "operator": "greater_than", "value": 3000}]},
     "actions": [{"name": "earn_fixed", "params": {"points": 7}}]},
    {"id": "savers", "scope": "document", "priority": 40,
     "conditions": {"all": [{"name": "points_balance", "operator": "greater_than", "value": 50}]},
     "actions": [{"name": "earn_fixed", "params": {"points": 3}}]},
    {"id": "referrers", "scope": "document", "priority": 30,
     "conditions": {"all": [{"name": "referral_count", "operator": "greater_than_or_equal_to", "value": 1}]},
     "actions": [{"name": "earn_fixed", "params": {"points": 2}}]},
    {"id": "birthday", "scope": "document", "priority": 20,
     "conditions": {"all": [{"name": "is_birthday", "operator": "is_true", "value": None}]},
     "actions": [{"name": "multiply", "params": {"factor": 2}}]},
]}
TIER = {"policy": "tier", "rules": [
    {"id": "gold", "priority": 10,
     "conditions": {"all": [{"name": "turnover_12m", "operator": "greater_than_or_equal_to", "value": 2000}]},
     "actions": [{"name": "set_tier", "params": {"name": "gold"}},
                 {"name": "tier_multiplier", "params": {"factor": "1.5"}}], "stop_processing": True}]}
EXPIRY = {"policy": "expiry", "rules": [
    {"id": "vip-longer", "priority": 10, "stop_processing": True,
     "conditions": {"all": [{"name": "member_group", "operator": "equal_to", "value": "VIP"}]},
     "actions": [{"name": "expire_after_months", "params": {"months": 24}}]},
    {"id": "others", "priority": 1, "actions": [{"name": "expire_after_days", "params": {"days": 200}}]}]}

CATALOG_HEADER = "ItemCode;ItemName;ItmsGrpCod;Price;Currency;PictureURL;RedeemableForPoints;PointsPerUnit;Tags"
CATALOG_PROFILE = {"columns": {"points_per_unit": "PointsPerUnit"}}
CUSTOMERS = 24
GROUPS = ("100", "VIP", "200", "X")


def program(publish, settings_doc) -> None:
    settings = {**settings_doc["settings"], "holding_days": 14, "precision": 1, "excluded_groups": ["X"]}
    publish({"policy": "settings", "settings": settings}, policy="settings")
    for document in (ACCRUAL_RICH, TIER, EXPIRY):
        publish(document)


def customer_rows() -> list[str]:
    today = date.today()
    rows = []
    for i in range(1, CUSTOMERS + 1):
        created = (today - timedelta(days=100 + 37 * i)).strftime("%Y%m%d")
        birthday = (today - timedelta(days=5 + i % 4)).replace(year=1980).strftime("%Y%m%d")
        rows.append(f"C{i:03d};Klient {i};;;;k{i}@example.pl;{GROUPS[i % 4]};{created};{birthday}")
    return rows


def catalog_rows() -> list[str]:
    tags = ("eco|new", "Eco", "", "sale, new")
    return [f"SKU-{n};Produkt {n};{110 if n % 3 == 0 else 120};{n},50;PLN;;N;{n % 4};{tags[n % 4]}"
            for n in range(12)]


def invoice_lines(rng: random.Random, entry: int, card: int, days_ago: int, lines: int, cancelled="N"):
    out = []
    for line in range(lines):
        sku = rng.randrange(15)
        group = "" if rng.random() < 0.3 else rng.choice(("110", "120", "130"))
        quantity = rng.choice((0, 1, 2, 3, 7)) if line else rng.choice((1, 2, 3, 7))
        cents = rng.randint(50, 90_000)
        total = quantity * cents
        out.append(f"{entry};{9000 + entry};{samples.day(days_ago)};C{card:03d};PLN;{line};SKU-{sku};Pozycja {sku};"
                   f"{group};{quantity};{cents // 100},{cents % 100:02d};{total // 100},{total % 100:02d};{cancelled}")
    return out


def earlier_file(seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    rows = []
    for entry in range(1, 16):
        rows += invoice_lines(rng, entry, 1 + entry % CUSTOMERS, 120 - entry * 3, rng.randint(1, 4))
    return rows


def main_file(seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    rows, held = [], []
    for entry in range(100, 160):
        lines = invoice_lines(rng, entry, 1 + rng.randrange(CUSTOMERS), 60 - (entry - 100) % 50,
                              rng.randint(1, 5), "Y" if entry % 17 == 0 else "N")
        if entry % 9 == 0 and len(lines) > 1:  # a line that arrives far from its document
            held.append(lines.pop())
        rows += lines
        if entry % 13 == 0:
            rows += held
            held = []
    rows += held
    earlier = earlier_file()
    rows += [r for r in earlier if r.startswith(("1;", "2;"))]  # duplicates of the earlier file
    rows += [r.rsplit(";", 1)[0] + ";Y" for r in earlier if r.startswith("3;")]  # cancels an imported invoice
    rows += [r.replace(";PLN;", ";EUR;") for r in earlier if r.startswith("4;")]  # a conflicting re-export
    return rows


def credit_rows(invoices: list[str]) -> list[str]:
    """Credit notes (entry 500+) against lines of the files above: full and partial returns, one of an
    unknown invoice, one returning more than was sold and one of invoice 3, cancelled by the main
    file (all three quarantined)."""
    by_line = {}
    for row in invoices:
        fields = row.split(";")
        by_line.setdefault((int(fields[0]), int(fields[5])), fields)
    out, entry = [], 500

    def credit(base: int, line: int, quantity: str | None = None, total: str | None = None, days_ago: int = 2):
        nonlocal entry
        entry += 1
        f = by_line[(base, line)] if (base, line) in by_line else [str(base), "", "", "C001", "PLN", str(line),
                                                                    "SKU-1", "X", "110", "1", "1,00", "1,00", "N"]
        out.append(f"{entry};{7000 + entry};{samples.day(days_ago)};{f[3]};PLN;0;{f[6]};{f[7]};{f[8]};"
                   f"{quantity or f[9]};{f[10]};{total or f[11]};N;13;{base};{line}")

    invoice_keys = sorted({base for base, _line in by_line})
    for base in invoice_keys[:6]:
        credit(base, 0)  # the whole first line back
    for base in invoice_keys[6:12]:
        fields = by_line[(base, 0)]
        if fields[9] not in ("0", "1"):
            credit(base, 0, "1", "1,00")  # part of a line: rounding must stay honest
    credit(999, 0)  # an invoice that was never imported
    first = by_line[(invoice_keys[0], 0)]
    credit(invoice_keys[0], 0, first[9], first[11])  # the same line again: more than was sold
    return out


CREDIT_HEADER = samples.INVOICES_HEADER + ";CANCELED;BaseType;BaseEntry;BaseLine"
INVOICE_HEADER = samples.INVOICES_HEADER + ";CANCELED"
CUSTOMER_HEADER = samples.CUSTOMERS_HEADER + ";BirthDate"


def setup_members(importer) -> None:
    """Referrals, a blocked member, a tier, and an account with debt (set through the ledger)."""
    with importer.session() as session:
        people = {m.erp_code: m for m in session.execute(select(Member)).scalars()}
        people["C002"].referred_by_id = people["C001"].id
        people["C003"].referred_by_id = people["C001"].id
        people["C005"].status = "blocked"
        people["C006"].tier = "gold"
        account = ledger.lock_account(session, people["C007"].account_id)
        ledger.debit(session, account, kind="adjustment", amount=Decimal(25), key="test:debt:C007",
                     actor="test", now=clock.now(), allow_debt=True)
        session.commit()
